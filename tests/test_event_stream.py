"""Live events: each node's numbered event log, pushed to subscribers that cannot slow it, and
the controller's listener that turns the pushes into one ordered stream per node, catching up
with ``events_since`` and saying so when it cannot.

Real nodes, a real name server, real Pyro on 127.0.0.1; the frozen subscriber is a process.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import Pyro4
import pytest
from conftest import ROOT, node_config, wait_for

from engine.base import pyroconf, serialized
from engine.base.payload import Limits as ParseLimits
from engine.base.payload import cost
from engine.base.transport import GuardedSerpent
from engine.control.controller import Controller
from engine.control.events import NOTICE, Listener
from engine.remote import events as node_events
from engine.remote.node import Node
from engine.testing import NameServer, RunningNode

GUARD = 20.0
KEYS = {"node", "boot", "seq", "source", "name", "data", "at"}


@contextmanager
def sink(pushes: list[list[dict[str, Any]]] | None = None, hold: threading.Event | None = None
         ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A bare Pyro callback (what any client may subscribe): its URI string, what it got
    (and each push's records in ``pushes``, if given; the first push waits for ``hold``)."""
    got: list[dict[str, Any]] = []

    @Pyro4.expose
    class Sink:
        def events(self, records: list[dict[str, Any]]) -> None:
            if hold is not None and not got:
                hold.wait(GUARD)
            got.extend(records)
            if pushes is not None:
                pushes.append(records)

    daemon = pyroconf.serve_daemon("127.0.0.1", 0, None)
    uri = str(daemon.register(Sink()))
    thread = threading.Thread(target=daemon.requestLoop, daemon=True)
    thread.start()
    try:
        yield uri, got
    finally:
        daemon.shutdown()


@contextmanager
def listening(name_server, nodes=("red",), renew: float = 1.0
              ) -> Iterator[tuple[Listener, list[dict[str, Any]]]]:
    """A listener in this process, subscribed to ``nodes``; what it delivered, in order."""
    got: list[dict[str, Any]] = []
    with Controller(name_server.host, name_server.port) as ctl, \
            Listener(ctl, list(nodes), got.append, lease=max(5.0, 3 * renew),
                     renew=renew) as listener:
        assert listener.wait(GUARD) == []
        assert listener.subscribed == sorted(nodes)
        yield listener, got


def real(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["source"] != NOTICE]


def subscribers(proxy) -> int:
    return int(proxy.status()["events"]["subscribers"])


def test_every_event_is_one_numbered_record(node, proxy):
    proxy.switch("scoreboard")
    proxy.call("add_points", 10)
    assert proxy.press() is True
    answer = proxy.events_since(0)
    records = answer["events"]
    assert answer["complete"] is True and answer["more"] is False and answer["missed"] == 0
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert answer["seq"] == records[-1]["seq"] == proxy.status()["events"]["seq"]
    assert all(set(r) == KEYS and r["node"] == "red" for r in records)
    boot = records[0]["boot"]
    assert {r["boot"] for r in records} == {boot} and len(boot) >= 6
    int(boot, 16)
    named = {r["name"]: r for r in records}
    assert named["mode_switched"]["data"] == {"old": "colorsquare", "new": "scoreboard"}
    score = named["score_changed"]
    assert score["source"] == "scoreboard"
    assert score["data"]["delta"] == 10 and score["data"]["score"] == 10
    assert named["button_pressed"]["data"]["button"] == "main"
    assert abs(score["at"] - proxy.clock()["wall"]) < 60  # the node's wall clock, seconds
    later = proxy.events_since(score["seq"], boot)
    assert [r["seq"] for r in later["events"]] == [r["seq"] for r in records if
                                                   r["seq"] > score["seq"]]
    assert proxy.events_since(answer["seq"], boot)["events"] == []


def test_events_since_pages_and_says_what_the_log_no_longer_holds(start_node, monkeypatch):
    monkeypatch.setattr(node_events, "RING", 30)
    monkeypatch.setattr(node_events, "BATCH", 8)
    node = start_node()
    with node.proxy() as proxy:
        proxy.switch("scoreboard")
        for _ in range(20):
            proxy.call("add_points", 1)
        newest = proxy.status()["events"]["seq"]
        assert newest > 30
        answer = proxy.events_since(0)
        assert answer["complete"] is False
        assert answer["missed"] == newest - 30
        assert answer["events"][0]["seq"] == newest - 30 + 1
        assert len(answer["events"]) == 8 and answer["more"] is True
        seen, seq = [], 0
        while True:  # paging from a seq still held: complete, 8 at a time
            page = proxy.events_since(seq or newest - 30)
            seen += page["events"]
            seq = seen[-1]["seq"]
            if not page["more"]:
                break
            assert page["complete"] is True
        assert [r["seq"] for r in seen] == list(range(newest - 29, newest + 1))
        other = proxy.events_since(3, "0000beef")  # a boot that is not this one
        assert other["complete"] is False and other["boot"] != "0000beef"
        assert other["events"][0]["seq"] == newest - 29


SINCE_ERRORS = [
    ((-1,), ValueError, ["0 or more"]),
    (("5",), TypeError, ["whole number"]),
    ((True,), TypeError, ["whole number"]),
    ((0, 42), TypeError, ["boot"]),
    ((10**6,), ValueError, ["beyond", "newest"]),
]


def test_events_since_refuses_what_it_cannot_answer(proxy):
    for args, error, words in SINCE_ERRORS:
        with pytest.raises(error) as err:
            proxy.events_since(*args)
        assert all(w in str(err.value) for w in words), err.value


SUBSCRIBE_ERRORS = [
    (42, 10, TypeError, ["PYRO:", "never a proxy"]),
    ({"state": "a proxy"}, 10, TypeError, ["never a proxy"]),
    ("PYRONAME:pyrostage.red", 10, ValueError, ["PYRONAME"]),
    ("PYRO:obj@./u:/tmp/sock", 10, ValueError, ["unix socket"]),
    ("not a uri", 10, ValueError, ["PYRO:"]),
    ("PYRO:obj@127.0.0.1:9" + "9" * 400, 10, ValueError, ["at most"]),
    ("PYRO:obj@127.0.0.1:9", 0, ValueError, ["1 to 3600"]),
    ("PYRO:obj@127.0.0.1:9", 3601, ValueError, ["1 to 3600"]),
    ("PYRO:obj@127.0.0.1:9", float("nan"), ValueError, ["1 to 3600"]),
    ("PYRO:obj@127.0.0.1:9", "60", TypeError, ["1 to 3600"]),
    ("PYRO:obj@127.0.0.1:9", True, TypeError, ["1 to 3600"]),
]


def test_a_bad_subscription_is_a_clear_builtin_error(proxy):
    for uri, lease, error, words in SUBSCRIBE_ERRORS:
        with pytest.raises(error) as err:
            proxy.subscribe(uri, lease)
        assert all(w in str(err.value) for w in words), (uri, lease, err.value)
    assert subscribers(proxy) == 0
    assert proxy.call("get_color") is not None  # the node goes on


def test_subscribers_are_bounded_and_renewing_keeps_the_id(proxy):
    first = proxy.subscribe("PYRO:obj@127.0.0.1:9", 60)
    assert set(first) == {"id", "boot", "seq"}
    assert proxy.subscribe("PYRO:obj@127.0.0.1:9", 60)["id"] == first["id"]
    for port in range(10, 10 + node_events.MAX_SUBSCRIBERS - 1):
        proxy.subscribe(f"PYRO:obj@127.0.0.1:{port}", 60)
    with pytest.raises(ValueError, match="already has 16 event subscribers"):
        proxy.subscribe("PYRO:obj@127.0.0.1:99", 60)
    assert proxy.unsubscribe(first["id"]) is True
    assert proxy.unsubscribe(first["id"]) is False
    with pytest.raises(TypeError, match="id must be"):
        proxy.unsubscribe(7)
    proxy.subscribe("PYRO:obj@127.0.0.1:99", 60)  # a place came free
    assert subscribers(proxy) == node_events.MAX_SUBSCRIBERS


def test_a_lapsed_lease_drops_the_subscriber(proxy):
    with sink() as (uri, got):
        proxy.subscribe(uri, 1)
        proxy.call("set_color", "red")
        wait_for(lambda: any(r["name"] == "screen_changed" for r in got), timeout=GUARD)
        assert subscribers(proxy) == 1
        wait_for(lambda: subscribers(proxy) == 0, timeout=GUARD)
        pushed = len(got)
        proxy.call("set_color", "blue")
        assert proxy.events_since(0)["seq"] > got[-1]["seq"]
        assert len(got) == pushed


def test_a_changes_records_go_out_together_in_one_push(node, proxy):
    """Each sender pushes what is queued as soon as it runs, without waiting for more: the
    thread delivering a change's records holds the interpreter until it has queued them all,
    so a change reaches a subscriber as one push (an OS preempting that thread on a loaded
    machine may split one now and then: most, not all, are asserted)."""
    batches: list[list[dict[str, Any]]] = []
    with sink(batches) as (uri, _got):
        proxy.switch("scoreboard")
        proxy.subscribe(uri, 60)
        for points in range(1, 21):
            proxy.call("add_points", points)
            newest = proxy.status()["events"]["seq"]
            wait_for(lambda seq=newest: batches and batches[-1][-1]["seq"] == seq,
                     timeout=GUARD)
    changes = [b for b in batches if any(r["name"] == "score_changed" for r in b)]
    whole = [b for b in changes if [r["name"] for r in b] == ["score_changed", "screen_changed"]]
    assert sum(len(b) for b in batches) == 40
    assert len(whole) >= 16, [[r["name"] for r in b] for b in batches]


def test_a_backlog_goes_out_in_pushes_a_listener_takes(monkeypatch):
    """A subscriber that was slow has a backlog: it goes out oldest first in pushes of at most
    ``PUSH_BYTES`` of records (one record at least), each of which a controller's listener
    parses."""
    monkeypatch.setattr(GuardedSerpent, "limits", serialized.PUSH_PARSING)  # a listener's
    pushes: list[list[dict[str, Any]]] = []
    first = threading.Event()
    log = node_events.EventLog("red")
    with sink(pushes, hold=first) as (uri, got):
        try:
            log.subscribe(uri, 60)
            for i in range(40):
                log.pyrostage_event(source="quiz", name="answers",
                                    data={"i": i, "text": "x" * 9_000, "marks": [1, 2, 3] * 50})
            first.set()
            wait_for(lambda: len(got) == 40, timeout=GUARD)
        finally:
            log.close(0)
    assert [r["data"]["i"] for r in got] == list(range(40))
    sizes = [sum(len(serialized.text(r)) for r in push) for push in pushes]
    assert all(size <= serialized.PUSH_BYTES for size in sizes), sizes
    assert len(pushes) >= 40 * 9_000 // serialized.PUSH_BYTES
    assert max(len(push) for push in pushes) > 1  # the backlog went out a few a push


def test_a_listener_takes_the_biggest_push_a_node_makes(name_server, node, monkeypatch):
    """Even in a process whose other daemons parse calls as a name server's does (at most
    1 000 items): a 200-record push was refused, the subscriber dropped after three tries, and
    the events came only with the next renewal's catch-up."""
    monkeypatch.setattr(GuardedSerpent, "limits", ParseLimits(items=1_000, depth=10))
    waiting = deque((r, serialized.text(r)) for r in (
        {"node": "red", "boot": "b", "seq": i, "source": "quiz", "name": "answers",
         "data": {"marks": list(range(40)), "nested": [[[[[[[[i]]]]]]]]}, "at": 1.5}
        for i in range(1, 400)))
    batch = node_events._batch(waiting)
    assert cost(serialized.call("obj", "events", batch)).items > 20_000
    with listening(name_server) as (listener, _got), \
            pyroconf.proxy(listener.uri) as callback:
        callback.events(batch)  # not "ValueError: the message has more than 1000 items"
        # its own daemon's limits: the process's other daemons (a node's) parse as before
        assert GuardedSerpent.limits == ParseLimits(items=1_000, depth=10)


def test_the_listener_delivers_each_record_once_in_order(name_server, node, proxy):
    with listening(name_server) as (_listener, got):
        proxy.switch("scoreboard")
        for points in (1, 2, 3):
            proxy.call("add_points", points)
        proxy.press()
        newest = proxy.status()["events"]["seq"]
        wait_for(lambda: got and got[-1]["seq"] == newest, timeout=GUARD)
    assert got == proxy.events_since(0)["events"]


def test_a_gap_is_filled_from_the_log(name_server, node, proxy):
    """The node dropped records meant for the listener (its queue overflowed): the next push
    skips seqs, and the listener fetches them with ``events_since``."""
    with listening(name_server, renew=30) as (listener, got):
        proxy.switch("scoreboard")
        before = proxy.status()["events"]["seq"]
        wait_for(lambda: got and got[-1]["seq"] == before, timeout=GUARD)
        proxy.unsubscribe(proxy.subscribe(listener.uri, 30)["id"])  # nothing is pushed now
        for _ in range(5):
            proxy.call("add_points", 1)
        newest = proxy.events_since(0)["events"][-1]
        assert got[-1]["seq"] == before
        with pyroconf.proxy(listener.uri) as callback:  # the push after the dropped ones
            callback.events([newest])
        wait_for(lambda: got[-1]["seq"] == newest["seq"], timeout=GUARD)
    assert got == proxy.events_since(0)["events"]
    assert [r["data"]["score"] for r in got if r["name"] == "score_changed"] == [1, 2, 3, 4, 5]


def test_what_the_log_no_longer_holds_is_a_missed_notice(name_server, start_node, monkeypatch):
    monkeypatch.setattr(node_events, "RING", 6)
    node = start_node()
    with node.proxy() as proxy, listening(name_server, renew=30) as (listener, got):
        proxy.switch("scoreboard")
        before = proxy.status()["events"]["seq"]
        wait_for(lambda: got and got[-1]["seq"] == before, timeout=GUARD)
        proxy.unsubscribe(proxy.subscribe(listener.uri, 30)["id"])
        for _ in range(10):  # 20 records, of which the log keeps 6
            proxy.call("add_points", 1)
        held = proxy.events_since(0)["events"]
        with pyroconf.proxy(listener.uri) as callback:
            callback.events([held[-1]])
        wait_for(lambda: got[-1]["seq"] == held[-1]["seq"], timeout=GUARD)
    notices = [r for r in got if r["source"] == NOTICE]
    assert [n["name"] for n in notices] == ["missed"]
    missed = notices[0]
    assert missed["data"]["count"] == 14
    assert (missed["data"]["first"], missed["data"]["last"]) == (before + 1, before + 14)
    assert "no longer holds" in missed["data"]["reason"]
    assert set(missed) == KEYS and missed["node"] == "red"
    assert real(got)[-6:] == held


LISTENER = """
import json, sys
from engine.control.controller import Controller
from engine.control.events import Listener
ctl = Controller(sys.argv[1], int(sys.argv[2]))
with Listener(ctl, ["red"], lambda r: print(json.dumps(r), flush=True), lease=30, renew=1):
    sys.stdin.read()  # until the test closes it
"""


def test_a_frozen_subscriber_slows_nobody_is_dropped_and_catches_up(
    name_server, start_node, monkeypatch
):
    monkeypatch.setattr(node_events, "SEND_TIMEOUT", 1.0)
    node = start_node()
    proxy = node.proxy()
    proxy.switch("scoreboard")
    proc = subprocess.Popen([sys.executable, "-c", LISTENER, name_server.host,
                             str(name_server.port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, cwd=ROOT, text=True)
    lines: list[dict[str, Any]] = []

    def read() -> None:
        assert proc.stdout is not None
        lines.extend(map(json.loads, proc.stdout))

    threading.Thread(target=read, daemon=True).start()
    try:
        with listening(name_server) as (_listener, got):
            wait_for(lambda: subscribers(proxy) == 2, timeout=GUARD)
            start = proxy.status()["events"]["seq"]
            proc.send_signal(signal.SIGSTOP)

            def calls() -> None:
                with node.proxy() as p:
                    for _ in range(20):
                        p.call("add_points", 1)

            caller = threading.Thread(target=calls)
            caller.start()
            caller.join(GUARD)  # each push to the frozen one would wait 1 s: 40 s in all
            assert not caller.is_alive(), "the node's calls waited for a frozen subscriber"
            newest = proxy.status()["events"]["seq"]
            wait_for(lambda: got and got[-1]["seq"] == newest, timeout=GUARD)
            wait_for(lambda: subscribers(proxy) == 1, timeout=GUARD)  # the frozen one went
            proc.send_signal(signal.SIGCONT)
            wait_for(lambda: subscribers(proxy) == 2, timeout=GUARD)  # it came back ...
            wait_for(lambda: any(r["seq"] == newest and r["source"] != NOTICE
                                 for r in lines), timeout=GUARD)  # ... and caught up
        assert [r["seq"] for r in real(got) if r["seq"] > start] == list(
            range(start + 1, newest + 1))
        assert [r["seq"] for r in real(lines) if r["seq"] > start] == list(
            range(start + 1, newest + 1))
        assert not [r for r in lines if r["source"] == NOTICE]
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(GUARD)
        proxy._pyroRelease()


def test_a_restarted_node_is_followed_into_its_new_boot(name_server, start_node):
    node = start_node()
    with node.proxy() as proxy:
        proxy.switch("scoreboard")
        proxy.call("add_points", 7)
    with listening(name_server) as (_listener, got):
        with node.proxy() as proxy:
            proxy.call("add_points", 1)
            old_boot = proxy.events_since(0)["boot"]
        node.stop()
        node = start_node()
        with node.proxy() as proxy:
            proxy.call("add_points", 2)  # kept state: 8 + 2
            new = proxy.events_since(0)
        assert new["boot"] != old_boot
        wait_for(lambda: got[-1]["boot"] == new["boot"] and got[-1]["seq"] == new["seq"],
                 timeout=GUARD)
    scores = [(r["boot"], r["data"]["score"]) for r in got if r["name"] == "score_changed"]
    assert scores == [(old_boot, 8), (new["boot"], 10)]
    restarted = [r for r in got if r["source"] == NOTICE and r["name"] == "restarted"]
    assert len(restarted) == 1 and restarted[0]["data"]["previous_boot"] == old_boot
    assert real(got)[-len(new["events"]):] == new["events"]


def test_status_counts_subscribers_and_the_listener_unsubscribes(name_server, node, proxy):
    with listening(name_server):
        assert subscribers(proxy) == 1
        report = proxy.status()["events"]
        assert report["boot"] == proxy.events_since(0)["boot"]
    wait_for(lambda: subscribers(proxy) == 0, timeout=GUARD)


def test_pushes_and_subscriptions_carry_the_shared_key(tmp_path):
    key = b"camp-secret"
    ns = NameServer(hmac_key=key)
    node = RunningNode(Node(node_config(tmp_path, ns, hmac_key=key.decode())))
    try:
        got: list[dict[str, Any]] = []
        with Controller(ns.host, ns.port, hmac_key=key) as ctl, \
                Listener(ctl, ["red"], got.append, lease=5, renew=1) as listener:
            assert listener.wait(GUARD) == []
            ctl.call("red", "set_color", "blue")
            wait_for(lambda: any(r["name"] == "screen_changed" for r in got), timeout=GUARD)
            with Pyro4.Proxy(listener.uri) as stranger, \
                    pytest.raises(Pyro4.errors.CommunicationError, match="hmac"):
                stranger.events([{**got[-1], "seq": got[-1]["seq"] + 1}])  # no key: refused
        keyless: list[dict[str, Any]] = []
        with Controller(ns.host, ns.port) as ctl, Listener(ctl, ["red"], keyless.append):
            wait_for(lambda: keyless, timeout=GUARD)
        assert keyless[0]["name"] == "unreachable" and keyless[0]["source"] == NOTICE
        assert "HMAC key" in keyless[0]["data"]["error"]
    finally:
        node.stop()
        ns.stop()
