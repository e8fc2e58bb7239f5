"""What a bored camper with a laptop on the camp Wi-Fi tries: sockets that drip a byte now and
then, floods of silent connections, and calls built to make the node's parser eat its memory.

Every test here runs a real node (or name server) on 127.0.0.1; attackers connect from
127.0.0.2 (the same machine, another address), so per-address bounds can tell them apart from
the honest clients on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import Pyro4
import Pyro4.errors
import Pyro4.message
import Pyro4.util
import pytest
from conftest import (
    NameServer,
    RunningNode,
    closed_by_peer,
    free_port,
    lookup_proxy,
    node_config,
    spawn_node,
    wait_for,
)

from engine.base import pyroconf
from engine.core.plugins import get_plugin_manager
from engine.remote.node import Node

KEY = b"campfire-2024-shared-secret"
MB = 1024 * 1024
ATTACKER = "127.0.0.2"
SERPENT = Pyro4.util.get_serializer("serpent")
Message = Pyro4.message.Message


def limit(daemon: Any, **changes: Any) -> None:
    """Change a running daemon's connection limits (new connections get them)."""
    gate = daemon.pyrostage_gate
    gate.limits = dataclasses.replace(gate.limits, **changes)


def header_bytes(data_size: int = 200, flags: int = 0, msg_type: int = Pyro4.message.MSG_CONNECT,
                 seq: int = 1) -> bytes:
    """A valid Pyro message header announcing ``data_size`` bytes that never come."""
    msg = Message(msg_type, b"", SERPENT.serializer_id, flags, seq)
    msg.data_size = data_size
    return msg.to_bytes()[: Message.header_size]


class Attacker:
    """Raw sockets from 127.0.0.2 that connect and then say (almost) nothing."""

    def __init__(self, host: str, port: int):
        self.where = (host, port)
        self.socks: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def connect(self, n: int) -> None:
        for _ in range(n):
            s = socket.socket()
            s.bind((ATTACKER, 0))
            s.settimeout(5)
            s.connect(self.where)
            self.socks.append(s)

    def drip(self, every: float = 0.2, new_per_round: int = 10) -> None:
        """On a thread: one byte of a header on every socket each round, and new sockets."""
        payload = header_bytes()

        def run() -> None:
            sent = 0
            while not self.stop.wait(every):
                with suppress(OSError):
                    self.connect(new_per_round)
                for s in list(self.socks):
                    try:
                        s.send(payload[sent % len(payload): sent % len(payload) + 1])
                    except OSError:
                        self.socks.remove(s)
                        s.close()
                sent += 1

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(10)
        for s in self.socks:
            s.close()


def honest_calls(connect: Any, n: int = 10, pause: float = 0.1) -> list[float]:
    """Seconds each of ``n`` fresh connections took to answer one call."""
    took = []
    for _ in range(n):
        started = time.monotonic()
        connect()
        took.append(time.monotonic() - started)
        time.sleep(pause)
    return took


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[tuple[NameServer, RunningNode]]:
    """A name server and a node sharing the HMAC key, as a careful camp runs them."""
    ns = NameServer(hmac_key=KEY)
    pm, _ = get_plugin_manager()
    node = RunningNode(Node(node_config(tmp_path, ns, hmac_key=KEY.decode()), pm))
    try:
        yield ns, node
    finally:
        node.stop()
        ns.stop()


# -- 1. handshakes -------------------------------------------------------------------------


def test_drip_fed_handshakes_cannot_lock_honest_clients_out(keyed):
    """A flood of sockets each dripping a header byte by byte: honest callers still get in."""
    _ns, node = keyed
    limit(node.node.daemon, handshake=3.0)
    uri = Pyro4.URI(node.uri)
    attack = Attacker(uri.host, uri.port)
    attack.connect(120)  # more than both bounds (32 handshaking, 100 per address)
    attack.drip(every=0.2, new_per_round=10)
    gate = node.node.daemon.pyrostage_gate
    try:

        def call() -> None:
            with node.proxy() as p:
                assert p.call("get_color") == [0, 0, 0]

        took = honest_calls(call, n=10)
        assert gate.stats()["handshaking"] <= gate.limits.handshaking
        assert gate.evicted > 0
    finally:
        attack.close()
    assert max(took) < 5.0, took  # hang guard; the long run reports the figures


def test_the_name_server_gets_the_same_protection():
    port = free_port()
    _uri, daemon, _bc = pyroconf.serve_ns("127.0.0.1", port, KEY)
    thread = threading.Thread(target=daemon.requestLoop, daemon=True)
    thread.start()
    attack = Attacker("127.0.0.1", port)
    try:
        assert daemon.pyrostage_gate.limits.inbound == pyroconf.NS_INBOUND
        attack.connect(150)
        attack.drip(every=0.2, new_per_round=10)

        def lookup() -> None:
            with pyroconf.locate_ns("127.0.0.1", port, KEY) as ns:
                ns.list()

        assert max(honest_calls(lookup, n=5)) < 5.0
        assert daemon.pyrostage_gate.evicted > 0
    finally:
        attack.close()
        daemon.shutdown()
        thread.join(5)


def test_the_whole_handshake_has_a_deadline_not_each_byte(node):
    limit(node.node.daemon, handshake=0.5)
    uri = Pyro4.URI(node.uri)
    s = socket.create_connection((uri.host, uri.port))
    payload = header_bytes()
    sent = 0
    try:
        for byte in payload:  # one byte every 0.3 s: 24 bytes would take 7 s
            s.send(bytes([byte]))
            sent += 1
            time.sleep(0.3)
    except OSError:
        pass
    assert sent < len(payload) or closed_by_peer(s, timeout=1.0)
    assert closed_by_peer(s)
    s.close()


def test_a_request_body_has_a_deadline_but_an_idle_client_has_none(tmp_path, name_server, node):
    limit(node.node.daemon, body=0.5)
    with node.proxy() as idle:
        idle._pyroBind()
        time.sleep(1.0)  # idle twice the body deadline: kept
        assert idle.call("get_color") == [0, 0, 0]
    proxy = node.proxy()
    proxy._pyroBind()
    sock = proxy._pyroConnection.sock
    sock.sendall(header_bytes(1000, msg_type=Pyro4.message.MSG_INVOKE, seq=5))
    sent = 0
    try:
        for _ in range(30):  # 1 000 bytes at this pace would take 9 s
            sock.send(b"x")
            sent += 1
            time.sleep(0.3)
    except OSError:
        pass
    assert sent < 30 or closed_by_peer(sock, timeout=1.0)
    proxy._pyroRelease()


def test_one_address_is_bounded_and_evicts_its_own_handshakes_first(node):
    limit(node.node.daemon, per_peer=5)
    gate = node.node.daemon.pyrostage_gate
    uri = Pyro4.URI(node.uri)
    silent = socket.create_connection((uri.host, uri.port))  # in its handshake
    proxies = [node.proxy() for _ in range(5)]
    try:
        for p in proxies[:4]:
            p._pyroBind()
        wait_for(lambda: gate.stats()["connections"] == 5)
        proxies[4]._pyroBind()  # a sixth connection: the silent one makes room
        assert closed_by_peer(silent)
        extra = node.proxy()
        with pytest.raises(Pyro4.errors.CommunicationError):
            extra._pyroBind()  # all five established: nothing to evict, so refused
        extra._pyroRelease()
        proxies[0]._pyroRelease()
        wait_for(lambda: gate.stats()["connections"] == 4)
        with node.proxy() as again:
            assert again.call("get_color") == [0, 0, 0]
        assert gate.refused >= 1
    finally:
        silent.close()
        for p in proxies:
            p._pyroRelease()


def test_a_full_pool_evicts_a_handshake_instead_of_refusing(node, monkeypatch):
    monkeypatch.setattr(Pyro4.config, "THREADPOOL_SIZE", 12)
    uri = Pyro4.URI(node.uri)
    attack = Attacker(uri.host, uri.port)
    try:
        attack.connect(20)  # fills every worker with a silent handshake
        wait_for(lambda: node.node.daemon.transportServer.pool.num_workers() >= 12)
        with node.proxy() as p:
            assert p.call("get_color") == [0, 0, 0]
    finally:
        attack.close()


def test_senders_that_stall_cannot_hold_large_requests_hostage(node):
    """Two connections announce 2 MB bodies and send nothing: a third large call is told the
    node is busy (not dropped), and goes through once they are gone."""
    limit(node.node.daemon, wait=0.5)
    stalled = []
    for _ in range(2):
        p = node.proxy()
        p._pyroBind()
        p._pyroConnection.sock.sendall(header_bytes(2 * MB, msg_type=Pyro4.message.MSG_INVOKE))
        stalled.append(p)
    try:
        with node.proxy() as p:
            wait_for(lambda: node.node.daemon.pyrostage_gate.large._value == 0)
            with pytest.raises(TimeoutError, match="busy"):
                p.call("set_team", "x" * 100_000)
            for s in stalled:
                s._pyroRelease()
            with pytest.raises(ValueError, match="name must have"):  # parsed, then refused
                p.call("scoreboard.set_team", "x" * 100_000)
    finally:
        for s in stalled:
            s._pyroRelease()


def test_compressed_or_oversized_first_messages_are_dropped_at_once(node):
    limit(node.node.daemon, handshake=60.0)
    uri = Pyro4.URI(node.uri)
    for header in (header_bytes(10 * MB), header_bytes(100, Pyro4.message.FLAGS_COMPRESSED)):
        s = socket.create_connection((uri.host, uri.port))
        s.sendall(header)
        assert closed_by_peer(s)  # not after 60 s
        s.close()


# -- 2. what a message costs to parse ------------------------------------------------------


def test_many_small_items_are_refused_before_parsing(proxy):
    with pytest.raises(ValueError, match="items") as info:
        proxy.call("colorsquare.set_color", [0] * 1_000_000)  # 2 MB, within the byte cap
    assert len(str(info.value)) < 300
    with pytest.raises(ValueError, match="nests"):
        proxy.call("colorsquare.set_color", [nested(20)] * 5 + ["x" * 2000])
    with pytest.raises(ValueError, match="nests"):
        proxy.call("colorsquare.set_color", [nested(150), "x" * 2000])
    assert proxy.call("set_color", [1, 2, 3]) == [1, 2, 3]


def test_compressed_and_blob_calls_are_refused_with_a_clear_error(proxy, monkeypatch):
    monkeypatch.setattr(Pyro4.config, "COMPRESSION", True)
    with pytest.raises(ValueError, match="compressed"):
        proxy.call("set_color", "x" * 5000)  # big enough that Pyro compresses it
    monkeypatch.setattr(Pyro4.config, "COMPRESSION", False)
    proxy._pyroBind()
    raw = proxy._pyroConnection
    data = SERPENT.dumpsCall("pyrostage.red", "call", ("get_color",), {})
    msg = Message(Pyro4.message.MSG_INVOKE, data, SERPENT.serializer_id,
                  Pyro4.message.FLAGS_KEEPSERIALIZED, 77, annotations={"BLBI": b"\x00"})
    raw.send(msg.to_bytes())
    reply = Message.recv(raw)
    assert reply.seq == 77 and reply.flags & Pyro4.message.FLAGS_EXCEPTION
    assert "blob" in str(SERPENT.deserializeData(reply.data))
    assert proxy.call("get_color") == [0, 0, 0]  # the same connection serves on


def test_text_serpent_never_writes_is_refused(node, proxy):
    proxy._pyroBind()
    raw = proxy._pyroConnection
    for text, why in ((b"('pyrostage.red','call',(f'{[0]*9}',),{})" + b" " * 2000, "prefix"),
                      (b"('pyrostage.red','call',('''x''',),{})" + b" " * 2000, "triple"),
                      (b"('pyrostage.red','call',('x" + b" " * 2000, "not closed")):
        msg = Message(Pyro4.message.MSG_INVOKE, text, SERPENT.serializer_id, 0, 9)
        raw.send(msg.to_bytes())
        reply = Message.recv(raw)
        assert reply.flags & Pyro4.message.FLAGS_EXCEPTION
        assert why in str(SERPENT.deserializeData(reply.data))
    assert proxy.call("get_color") == [0, 0, 0]


def test_the_limits_follow_the_commands_not_the_screen(tmp_path, name_server):
    pm, _ = get_plugin_manager()
    sizes = {}
    for size in ((320, 180), (3840, 2160)):
        cfg = node_config(tmp_path / f"{size[0]}", name_server, name=f"n{size[0]}", size=size)
        node = RunningNode(Node(cfg, pm))
        try:
            sizes[size] = node.node.daemon.pyrostage_gate.limits.inbound
        finally:
            node.stop()
    assert sizes[(320, 180)] == sizes[(3840, 2160)] < 4 * MB


def peak_rss(pid: int) -> int:
    """Bytes of the process's peak resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


WORST_PAYLOADS = {
    "many small ints": ("colorsquare.set_color", [0] * 1_300_000),
    "many one-char strings": ("colorsquare.set_color", ["a"] * 600_000),
    "deep nesting": ("colorsquare.set_color", [nested(150)] * 5_000),
    "one big string": ("scoreboard.set_team", "x" * 2_700_000),
    "a big dict": ("colorsquare.set_color", {i: i for i in range(250_000)}),
}


def attack_with_payloads(tmp_path: Path, ns: NameServer, rounds: int = 1) -> dict[str, Any]:
    """A node subprocess fed the worst payloads while another client keeps reading; returns
    its peak RSS growth and the reader's slowest call."""
    with spawn_node(tmp_path, ns, "red") as proc:
        wait_for(lambda: lookup_proxy(ns, "red").call("get_color") == [0, 0, 0])
        before = peak_rss(proc.pid)
        reads: list[float] = []
        stop = threading.Event()

        def reader() -> None:
            with lookup_proxy(ns, "red") as p:
                while not stop.is_set():
                    started = time.monotonic()
                    p.call("get_color")
                    reads.append(time.monotonic() - started)
                    time.sleep(0.01)

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        errors = {}
        with lookup_proxy(ns, "red") as p:
            for _ in range(rounds):
                for what, (command, arg) in WORST_PAYLOADS.items():
                    with pytest.raises((ValueError, TypeError)) as info:
                        p.call(command, arg)
                    errors[what] = str(info.value)[:120]
            assert p.call("get_color") == [0, 0, 0]
        stop.set()
        thread.join(10)
        grown = peak_rss(proc.pid) - before
    return {"grown": grown, "slowest_read": max(reads), "p50_read": statistics.median(reads),
            "errors": errors}


def test_no_payload_costs_the_node_much_memory(tmp_path, name_server):
    found = attack_with_payloads(tmp_path, name_server)
    assert found["grown"] < 150 * MB, found  # 6.6 GB before
    assert found["slowest_read"] < 5.0, found  # hang guard (24.5 s before)


@pytest.mark.long
def test_long_attacks_with_figures(tmp_path, name_server, keyed, capsys):
    """The attacks of the two tests above, longer, with the figures for the closing note."""
    found = attack_with_payloads(tmp_path, name_server, rounds=3)
    _ns, node = keyed
    uri = Pyro4.URI(node.uri)
    attack = Attacker(uri.host, uri.port)
    attack.connect(200)
    attack.drip(every=0.1, new_per_round=20)
    try:

        def call() -> None:
            with node.proxy() as p:
                p.call("get_color")

        took = honest_calls(call, n=50, pause=0.05)
    finally:
        attack.close()
    with capsys.disabled():
        print(f"\nworst payloads: peak RSS +{found['grown'] / MB:.0f} MB, reads p50 "
              f"{found['p50_read'] * 1000:.1f} ms, slowest {found['slowest_read'] * 1000:.0f} ms")
        print(f"drip attack (200+ sockets): honest calls p50 {statistics.median(took) * 1000:.1f}"
              f" ms, slowest {max(took) * 1000:.0f} ms")
    assert found["grown"] < 150 * MB
    assert max(took) < 5.0
