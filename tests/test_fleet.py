"""The fleet library: selectors over name-server groups, parallel calls with per-node results,
and a frozen node that holds up nobody. Four real subprocess nodes, one real name server."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from engine.control.clock import Exchange, Offset, best, measure
from engine.control.controller import Controller, NodeInfo
from engine.control.fleet import Fleet, parse_selector, select


@pytest.fixture
def fleet(camp) -> Iterator[Fleet]:
    ns, _ = camp
    with Controller(ns.host, ns.port, ns.hmac_key) as ctl, Fleet(ctl, timeout=4) as f:
        yield f


def names(infos: list[NodeInfo]) -> list[str]:
    return [i.name for i in infos]


def test_selectors_name_groups_and_all(fleet):
    assert names(fleet.select("red")) == ["red"]
    assert names(fleet.select("blue, red")) == ["blue", "red"]
    assert names(fleet.select("@teams")) == ["blue", "green", "red"]
    assert names(fleet.select("@stage,red")) == ["gold", "green", "red"]
    assert names(fleet.select("all")) == ["blue", "gold", "green", "red"]
    assert names(fleet.select("red,@teams,red")) == ["red", "blue", "green"]
    assert fleet.groups() == {"stage": ["gold", "green"], "teams": ["blue", "green", "red"]}


@pytest.mark.parametrize("selector, words", [
    ("purple", ["'purple'", "blue, gold, green, red"]),
    ("@nobody", ["'nobody'", "groups: stage, teams"]),
    ("red,,blue", ["empty part"]),
    ("", ["red,blue"]),
    ("@", ["empty part"]),
])
def test_a_bad_selector_says_what_there_is(fleet, selector, words):
    with pytest.raises((LookupError, ValueError)) as err:
        fleet.select(selector)
    for word in words:
        assert word in str(err.value)


def test_one_call_to_many_nodes_returns_each_result(fleet):
    done = fleet.call("@teams", "colorsquare.set_color", "orange")
    assert list(done) == ["blue", "green", "red"] and done.ok
    colours = fleet.call("all", "colorsquare.get_color")
    assert colours["green"].result == [255, 165, 0]
    assert colours["gold"].result != [255, 165, 0]
    assert fleet.member("gold", "status")["gold"].result["node"] == "gold"


def test_typed_words_are_converted_by_each_nodes_declaration(fleet):
    fleet.call_words("red,blue", "scoreboard.set_team", ["2024"])
    fleet.call_words("red,blue", "scoreboard.set_score", ["7"])
    assert fleet.call("red,blue", "scoreboard.get_team").values_or_raise() == {
        "red": "2024", "blue": "2024"}
    assert fleet.call("blue", "scoreboard.get_score")["blue"].result == 7


def test_one_node_failing_leaves_the_others_applied(fleet):
    fleet.call("all", "colorsquare.set_color", "black")
    done = fleet.call("red,blue", "colorsquare.set_color", "not-a-colour")
    assert not done.ok and {o.node for o in done.failed} == {"red", "blue"}
    assert isinstance(done["red"].error, ValueError) and "not-a-colour" in str(done["red"].error)
    fleet.member("red", "switch", "timer")
    mixed = fleet.call("red,blue", "start")  # only the timer has start()
    assert mixed["red"].ok and isinstance(mixed["blue"].error, LookupError)
    fleet.member("red", "switch", "colorsquare")


def test_a_frozen_node_delays_nobody(fleet, camp):
    _, procs = camp
    frozen = procs["gold"]
    fleet.call("all", "colorsquare.get_color")  # every worker connected
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        began = time.monotonic()
        done = fleet.call("all", "colorsquare.set_color", "teal", timeout=2)
        took = time.monotonic() - began
        assert [o.node for o in done.failed] == ["gold"]
        assert isinstance(done["gold"].error, TimeoutError)
        assert "gold" in str(done["gold"].error) and "2 s" in str(done["gold"].error)
        assert all(done[n].ok for n in ("red", "blue", "green"))
        assert max(done[n].seconds for n in ("red", "blue", "green")) < took
        assert took < 20  # a hang guard: the frozen node costs the timeout once
        again = fleet.call("red,gold", "colorsquare.get_color", timeout=1)
        assert again["red"].result == [0, 128, 128] and isinstance(again["gold"].error,
                                                                   TimeoutError)
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    back = fleet.call("gold", "colorsquare.set_color", "teal", timeout=15)
    assert back.ok


def test_clock_offsets_of_real_nodes_are_small_and_bounded(fleet):
    found = fleet.offsets("red,blue", exchanges=4).values_or_raise()
    for node, offset in found.items():
        assert offset.node == node and offset.round_trip > 0
        assert abs(offset.wall) < 1 + offset.error  # one machine: one wall clock


def test_parse_selector_strips_spaces():
    assert parse_selector(" red , @x ") == ["red", "@x"]
    with pytest.raises(LookupError, match="no nodes in here"):
        select([], "all", "here")


def test_the_best_exchange_pins_the_offset():
    exchanges = [Exchange(10.0, 110.4, 10.6), Exchange(11.0, 111.02, 11.04),
                 Exchange(12.0, 112.5, 12.9)]
    pick = best(exchanges)
    assert pick.round_trip == pytest.approx(0.04) and pick.offset == pytest.approx(100.0)


class FakeNode:
    """A node whose clock runs ``offset`` seconds ahead and ``drift`` faster than ours,
    answering after ``delays`` (the way there, the way back)."""

    def __init__(self, offset: float, drift: float, delays: list[tuple[float, float]]):
        self.now = 1000.0
        self.offset, self.drift, self.delays = offset, drift, list(delays)

    def local(self) -> float:
        return self.now

    def ask(self) -> dict[str, float]:
        there, back = self.delays.pop(0)
        self.now += there
        node = self.now * (1 + self.drift) + self.offset
        self.now += back
        return {"monotonic": node, "wall": node + 5e8}


@pytest.mark.parametrize("offset, drift", [(0.0, 0.0), (37.25, 0.0), (-512.0, 2e-4),
                                           (3.0, -1e-3)])
def test_offsets_and_drift_of_a_skewed_clock(offset, drift):
    # asymmetric, noisy round trips; the quickest (2 ms, symmetric) exchange wins
    delays = [(0.004, 0.020), (0.030, 0.001), (0.001, 0.001), (0.010, 0.003)]
    node = FakeNode(offset, drift, delays * 2)
    first = measure("n", node.ask, 4, local=node.local, local_wall=node.local)
    assert first.round_trip == pytest.approx(0.002)
    truth = first.at * (1 + drift) + offset - first.at
    assert abs(first.monotonic - truth) <= first.error + 1e-9 + abs(drift) * 0.002
    node.now += 30.0
    later = first.remeasured(measure("n", node.ask, 4, local=node.local,
                                     local_wall=node.local))
    assert later.drift == pytest.approx(drift, abs=1e-4)
    start = later.at + 3.0
    expected = start * (1 + drift) + offset
    assert abs(later.node_instant(start) - expected) <= later.error_at(start) + 1e-6
    assert later.error_at(start) >= later.error


def test_an_offset_turns_node_wall_times_into_ours():
    o = Offset("n", monotonic=5.0, wall=-3600.0, round_trip=0.002, at=0.0)
    assert o.local_time(1_000_000.0) == 1_003_600.0
    assert o.error == 0.001 and o.node_instant(10.0) == 15.0
