"""A race across nodes whose clocks disagree: the start instant reaches each node in its own
clock, presses at known moments rank the nodes, elapsed times follow the gaps, the winner's
screen says so and ``--award`` lands once. Real in-process nodes, real name server, real
event subscriptions; the nodes' clocks are given offsets and drift (on one machine all nodes
share a clock, so the offsets would otherwise be zero)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from conftest import wait_for

from engine.control.controller import Controller
from engine.control.events import Listener
from engine.control.fleet import Fleet
from engine.control.race import Race

SKEWS = {"red": (1000.0, 5e-4), "blue": (-50.0, -3e-4), "green": (0.0, 0.0)}


class SkewedClock:
    """A node's clock: ``offset`` seconds off ours and running ``drift`` faster."""

    def __init__(self, offset: float, drift: float):
        self.base, self.offset, self.drift = time.monotonic(), offset, drift

    def at(self, ours: float) -> float:
        """What this clock reads at our monotonic instant ``ours``."""
        return self.base + (ours - self.base) * (1 + self.drift) + self.offset

    def __call__(self) -> float:
        return self.at(time.monotonic())


def skewed(offset: float, drift: float) -> SkewedClock:
    return SkewedClock(offset, drift)


@pytest.fixture
def racers(start_node, name_server):
    """Three nodes whose clocks run ahead/behind ours and faster/slower: name -> its clock."""
    clocks = {name: skewed(*SKEWS[name]) for name in SKEWS}
    for name in SKEWS:
        start_node(name=name, clock=clocks[name], groups=["teams"])
    with Controller(name_server.host, name_server.port) as ctl:
        wait_for(lambda: {n.name for n in ctl.nodes()} >= set(SKEWS) or None, timeout=30)
    return clocks


def run_race(ctl: Controller, selector: str, presses: dict[str, float], **kw: Any):
    """Run a race in the background; press each node ``presses[node]`` s after the start.
    Returns the final report, the steps, the race and, per node, our clock just before and
    just after its press (the node saw the press somewhere in between)."""
    steps: list[dict[str, Any]] = []
    armed = threading.Event()
    pressed: dict[str, tuple[float, float]] = {}

    def report(step: dict[str, Any]) -> None:
        steps.append(step)
        if step["event"] == "armed":
            armed.set()

    with Fleet(ctl, timeout=5) as fleet:
        race = Race(fleet, selector, listen=lambda nodes, consumer: Listener(
            ctl, nodes, consumer), start_in=1.5, report=report, **kw)
        result: dict[str, Any] = {}
        runner = threading.Thread(target=lambda: result.update(race.run()))
        runner.start()
        assert armed.wait(30)
        for node, after in sorted(presses.items(), key=lambda kv: kv[1]):
            time.sleep(max(0.0, race.start + after - time.monotonic()))
            with ctl.clone() as own:
                own.proxy(node)._pyroBind()  # connected first: the press itself is one call
                before = time.monotonic()
                own.member(node, "press")
                pressed[node] = (before, time.monotonic())
        runner.join(60)
        assert not runner.is_alive()
    return result, steps, race, pressed


def test_a_race_ranks_by_presses_and_elapsed_follows_the_gaps(racers, name_server):
    presses = {"blue": 0.4, "red": 0.9, "green": 1.5}
    with Controller(name_server.host, name_server.port) as ctl:
        ctl.call("red", "scoreboard.set_team", "Red Foxes")
        before = ctl.call("red", "scoreboard.get_score")
        result, steps, race, pressed = run_race(ctl, "@teams", presses, award=10)
        ranking = result["ranking"]
        assert [r["node"] for r in ranking] == ["blue", "red", "green"]
        assert [r["place"] for r in ranking] == [1, 2, 3]
        for r in ranking:
            node, lane = r["node"], race.lanes[r["node"]]
            clock = racers[node]
            # the instant each node was given is our start instant in its own clock,
            # within the error bound the race reported for it
            bound = result["clock"][node]["error_bound"]
            assert abs(lane.start - clock_at(clock, race.start)) <= bound + 0.002
            # elapsed counts from that instant to when the node saw its press
            low, high = (clock_at(clock, t) - lane.start for t in pressed[node])
            assert low - 1e-5 <= r["elapsed"] <= high + 1e-5
        gaps = {r["node"]: r["gap"] for r in ranking}
        assert gaps["blue"] == 0 and 0 < gaps["red"] < gaps["green"]
        assert [s["node"] for s in steps if s["event"] == "stopped"] == ["blue", "red", "green"]
        for node, (offset, _drift) in SKEWS.items():
            assert race.lanes[node].offset.monotonic == pytest.approx(offset, abs=0.05)
        assert ctl.call("blue", "timer.race_info")["place"] == 1
        assert ctl.call("red", "timer.race_info")["place"] == 2
        assert ctl.call("red", "timer.race_info")["title"] == "Red Foxes"
        assert set(result["visual_skew"]) == set(SKEWS)
        # the winner is blue: its scoreboard got the award, once, journaled as the race's
        assert ctl.call("blue", "scoreboard.get_score") == 10
        assert ctl.call("red", "scoreboard.get_score") == before
        entry = ctl.call("blue", "scoreboard.history", 1)[0]
        assert entry["source"] == "race" and entry["delta"] == 10


def clock_at(clock: SkewedClock, ours: float) -> float:
    return clock.at(ours)


def test_nobody_stopping_ends_at_the_timeout(racers, name_server):
    with Controller(name_server.host, name_server.port) as ctl:
        result, _steps, _race, _pressed = run_race(ctl, "red,green", {}, timeout=1.0)
        assert result["ranking"] == [] and result["unfinished"] == ["red", "green"]
        assert ctl.call("red", "timer.running") is False


def test_a_bad_selector_or_option_starts_nothing(racers, name_server):
    with Controller(name_server.host, name_server.port) as ctl, Fleet(ctl) as fleet:
        with pytest.raises(LookupError, match="purple"):
            Race(fleet, "purple", listen=lambda n, c: None).run()
        with pytest.raises(ValueError, match="--in"):
            Race(fleet, "red", listen=lambda n, c: None, start_in=0.1).run()
        assert ctl.member("red", "mode") == "colorsquare"


def test_the_race_command_prints_json_lines_and_a_final_ranking(racers, name_server):
    import json
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "engine", "race", "red,blue", "--in", "1", "--timeout", "10",
           "--json", "--ns-host", name_server.host, "--ns-port", str(name_server.port)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as race, \
            Controller(name_server.host, name_server.port) as ctl:
        assert race.stdout is not None
        armed = json.loads(race.stdout.readline())
        assert armed["event"] == "armed" and set(armed["nodes"]) == {"red", "blue"}
        time.sleep(armed["start_in"] + 0.3)
        ctl.member("red", "press")
        time.sleep(0.3)
        ctl.member("blue", "press")
        out, err = race.communicate(timeout=60)
    lines = [json.loads(line) for line in out.splitlines()]
    assert race.returncode == 0, err
    assert [s["node"] for s in lines if s["event"] == "stopped"] == ["red", "blue"]
    final = lines[-1]
    assert [(r["node"], r["place"]) for r in final["ranking"]] == [("red", 1), ("blue", 2)]
    assert final["ranking"][1]["elapsed"] > final["ranking"][0]["elapsed"]
    assert "Traceback" not in err
