"""Entries that answer, but slowly: a byte every half second keeps Pyro's per-read timeout
happy for hours, so only a deadline ends the wait. ``pyrostage list`` gives such an entry its
line after PROBE_TIMEOUT, closes the connection it gave up on and does not open another while
the first still hangs; ``ctl`` (and the controller) give up on it after CONNECT_TIMEOUT."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import Pyro4.message
import Pyro4.util
import pytest
from conftest import NameServer, RunningNode
from test_cli import pyrostage

from engine.control.controller import CONNECT_TIMEOUT, Controller, NodeInfo

GUARD = 20.0  # hang guard: without a deadline the list below never ends
EVERY = 0.5  # seconds between bytes: well inside Pyro's per-read timeout (the probe's)


class Drip:
    """A listening socket that answers each connection a byte every ``EVERY`` seconds: a Pyro
    handshake answer that never ends, or with ``upstream`` a real daemon's answers relayed
    (the handshake at full speed, then the reply to the first call a byte at a time)."""

    def __init__(self, upstream: tuple[str, int] | None = None):
        self.upstream = upstream
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        self.closed_by_client = threading.Event()
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            if self.upstream is None:
                self._drip(client, endless_reply_header())
                return
            with socket.create_connection(self.upstream) as server:
                threading.Thread(target=self._forward, args=(client, server),
                                 daemon=True).start()
                header = recv_exactly(server, Pyro4.message.Message.header_size)
                first = Pyro4.message.Message.from_header(header)
                rest = recv_exactly(server, first.annotations_size + first.data_size)
                client.sendall(header + rest)
                self._drip(client, server.recv(65536))

    def _drip(self, client: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            if self.stop.wait(EVERY):
                return
            try:
                client.send(data[i:i + 1])
            except OSError:
                return

    def _forward(self, client: socket.socket, server: socket.socket) -> None:
        with suppress(OSError):
            while data := client.recv(65536):
                server.sendall(data)
        self.closed_by_client.set()

    def close(self) -> None:
        self.stop.set()
        self.server.close()


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def endless_reply_header() -> bytes:
    """A valid Pyro handshake answer announcing 60 kB that will never all arrive."""
    msg = Pyro4.message.Message(Pyro4.message.MSG_CONNECTOK, b"",
                                Pyro4.util.get_serializer("serpent").serializer_id, 0, 0)
    msg.data_size = 60_000
    return msg.to_bytes()[:Pyro4.message.Message.header_size] + b"x" * 60_000


@contextmanager
def drip(upstream: tuple[str, int] | None = None) -> Iterator[Drip]:
    d = Drip(upstream)
    try:
        yield d
    finally:
        d.close()


@pytest.fixture
def slow_entry(name_server: NameServer) -> Iterator[Drip]:
    """pyrostage.slow: an entry whose handshake answer drips for hours."""
    with drip() as d:
        with name_server.proxy() as ns:
            ns.register("pyrostage.slow", f"PYRO:pyrostage.slow@127.0.0.1:{d.port}",
                        metadata={"pyrostage.node"})
        yield d


def test_list_gives_a_slow_entry_its_line_and_ends(node, slow_entry, name_server):
    start = time.monotonic()
    out = pyrostage("list", "--ns-host", name_server.host, "--ns-port", str(name_server.port),
                    timeout=GUARD)
    print(f"\nlist with a dripping entry took {time.monotonic() - start:.1f} s")
    assert out.returncode == 0, out.stderr
    lines = {line.split()[1]: line for line in out.stdout.splitlines()
             if len(line.split()) > 1 and line.split()[1] in ("red", "slow")}
    assert "colorsquare" in lines["red"]
    assert "unreachable: did not answer within 3 s" in lines["slow"]
    assert "Traceback" not in out.stdout + out.stderr


def test_probe_asks_a_hanging_entry_only_once(node, slow_entry, name_server):
    """A shell or web page that lists every few seconds does not pile up connections (and
    threads) on an entry that is still dripping its first answer."""
    with Controller(name_server.host, name_server.port) as ctl:
        infos = ctl.nodes()
        for _ in range(2):
            probes = {p.info.name: p for p in ctl.probe(infos, timeout=1.0)}
            assert probes["red"].status is not None and probes["red"].status["node"] == "red"
            assert probes["slow"].problem == "unreachable: did not answer within 1 s"
    assert slow_entry.accepted == 1


def test_the_deadline_closes_a_connection_whose_answer_drips(node: RunningNode, name_server):
    """The handshake is quick, the answer to status() drips: the probe gives up at its
    deadline and closes that connection, so its thread ends and the node's worker is free."""
    host, port = node.uri.split("@")[1].rsplit(":", 1)
    with drip(upstream=(host, int(port))) as slow:
        info = NodeInfo("red", f"PYRO:pyrostage.red@127.0.0.1:{slow.port}", frozenset())
        with Controller(name_server.host, name_server.port) as ctl:
            (probe,) = ctl.probe([info], timeout=1.0)
            assert probe.problem == "unreachable: did not answer within 1 s"
            assert slow.closed_by_client.wait(GUARD), "the connection was left open"


@pytest.mark.parametrize("timeout", [1.0, pytest.param(None, marks=pytest.mark.long)],
                         ids=["timeout-1", "default-timeout"])
def test_ctl_on_a_slow_entry_is_one_clear_line(slow_entry, name_server, timeout):
    given = [] if timeout is None else ["--timeout", f"{timeout:g}"]
    out = pyrostage("ctl", "--ns-host", name_server.host, "--ns-port", str(name_server.port),
                    *given, "slow", "status", timeout=GUARD)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"slow  error: ConnectionError: node 'slow' did not answer within "
        f"{timeout or CONNECT_TIMEOUT:g} s of connecting: it is busy or not a pyrostage node; "
        f"not retried"
    ]


def test_the_controller_gives_up_on_a_slow_entry_and_goes_on(node, slow_entry, name_server):
    """The connection still hanging holds its proxy's lock: the controller drops that proxy
    without waiting on it, drives the other nodes, and closes."""
    with Controller(name_server.host, name_server.port, timeout=1.0) as ctl:
        for _ in range(2):
            with pytest.raises(ConnectionError, match=r"'slow' did not answer within 1 s"):
                ctl.call("slow", "set_color", "red")
            assert ctl.call("red", "set_color", "navy") == [0, 0, 128]
