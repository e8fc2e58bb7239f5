"""A fair race across screens: one start instant, given to each node in its own clock.

The original camp page started four timers one after another (the last 0.4 s late) and then
polled every screen in a tight loop. Here the controller measures each node's clock offset
(``engine.control.clock``), picks one instant a few seconds ahead, and sends each node that
instant in its own monotonic clock (``timer.start_at``): every screen counts down and starts
together, and each elapsed time counts from that instant. Stops arrive as pushed events
(``timer_stopped``), are ranked by elapsed time as they come, and each screen is told its place.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.control.clock import MAX_ERROR, Offset
from engine.control.fleet import Fleet, Results

START_IN = 3.0
TIMEOUT = 60.0
EXCHANGES = 12
"""Clock exchanges per node per measurement (the quickest one counts)."""
PLACE_WAIT = 1.0
"""Seconds the ranking waits for a screen to take its place (it is sent on regardless): a
frozen screen must not hold up the stops that follow."""
REMEASURE_BEFORE = 1.0
"""Seconds before the start at which the clocks are measured again (and the start corrected)."""

TIMER_EVENTS = {
    "timer_stopped": "",
    "timer_armed": "its timer was armed again outside this race",
    "timer_started": "its timer was started again outside this race",
    "timer_cancelled": "its start was called off on the node",
}
"""The timer's events a race follows; each but a stop, when not about this race's start, takes
the node out of it (with this reason)."""

Report = Callable[[dict[str, Any]], None]
"""Where the race tells what happens: one dict per step (``"event"`` says which)."""


@dataclass
class Lane:
    """One node in the race."""

    node: str
    title: str
    offset: Offset
    start: float = 0.0
    """The start instant in the node's own stage clock."""
    sent: list[float] = field(default_factory=list)
    """Every start instant sent to it (a re-armed node may still report the first)."""
    elapsed: float | None = None
    place: int | None = None

    def error_bound(self, local_start: float) -> float:
        return self.offset.error_at(local_start)

    def ours(self, data: dict[str, Any]) -> bool:
        """Whether an event's ``at`` is a start this race sent (not a timer restarted by hand,
        nor another race's)."""
        at = data.get("at")
        return isinstance(at, int | float) and any(abs(at - s) < 1e-6 for s in self.sent)


@dataclass
class Race:
    """Run with ``Race(fleet, "@teams", listen=...).run()``; ``listen(nodes, consumer)`` is a
    context manager that pushes each node's event records to ``consumer`` while it is open."""

    fleet: Fleet
    selector: str
    listen: Callable[[list[str], Callable[[dict[str, Any]], None]], Any]
    start_in: float = START_IN
    timeout: float = TIMEOUT
    award: int = 0
    report: Report = field(default=lambda step: None)
    lanes: dict[str, Lane] = field(default_factory=dict)
    start: float = 0.0
    """The start instant in this controller's ``time.monotonic()`` (once armed)."""
    failed: dict[str, str] = field(default_factory=dict)
    called_off: threading.Event = field(default_factory=threading.Event)
    """Set by ``call_off()`` (another thread): the race ends now, unstopped timers stopped."""
    _stops: queue.SimpleQueue[dict[str, Any]] = field(default_factory=queue.SimpleQueue)

    def run(self) -> dict[str, Any]:
        """Arm, start, rank the stops, tell each screen its place; the final report."""
        if not 0.5 <= self.start_in <= 60:
            raise ValueError(f"--in must be between 0.5 and 60 seconds, got {self.start_in:g}")
        if not 1 <= self.timeout <= 3600:
            raise ValueError(f"--timeout must be between 1 and 3600 seconds, got "
                             f"{self.timeout:g}")
        nodes = [n.name for n in self.fleet.select(self.selector)]
        ready = self._keep(self.fleet.member(nodes, "switch", "timer"), "switch to the timer")
        if not ready:
            raise ConnectionError("no node could join the race: " + self._why())
        titles = self.fleet.call(ready, "scoreboard.get_team")
        with self.listen(ready, self._heard):
            offsets = self._offsets(ready)
            self._keep(offsets, "measure its clock")
            for node, outcome in offsets.items():
                if not outcome.ok:
                    continue
                offset = outcome.result
                title = titles[node].result if titles[node].ok else node
                self.lanes[node] = Lane(node, str(title or node), offset)
            if not self.lanes:
                raise ConnectionError("no node could join the race: " + self._why())
            start = self.start = time.monotonic() + self.start_in
            self._arm(start, list(self.lanes))
            self.report({"event": "armed", "start_in": round(start - time.monotonic(), 3),
                         "nodes": {n: lane.title for n, lane in self.lanes.items()}})
            self._remeasure(start)
            self.report({"event": "clocks", "nodes": {n: self._clock_report(lane, start)
                                                      for n, lane in self.lanes.items()}})
            self._wait(start)
        return self._finish(start)

    def _keep(self, results: Results, what: str) -> list[str]:
        """The nodes that did ``what``; the others leave the race with the reason."""
        for outcome in results.failed:
            self.failed[outcome.node] = f"could not {what}: {outcome.error}"
            self.lanes.pop(outcome.node, None)
            self.report({"event": "left", "node": outcome.node,
                         "reason": self.failed[outcome.node]})
        return [name for name, o in results.items() if o.ok]

    def _why(self) -> str:
        return "; ".join(f"{n}: {why}" for n, why in self.failed.items()) or "none selected"

    def _arm(self, start: float, nodes: Iterable[str]) -> None:
        def job(ctl: Any, node: str) -> Any:
            lane = self.lanes[node]
            lane.start = lane.offset.node_instant(start)
            lane.sent.append(lane.start)
            return ctl.call(node, "timer.start_at", lane.start, lane.title)

        self._keep(self.fleet.run(list(nodes), job), "start its timer")

    def _remeasure(self, start: float) -> None:
        """Just before the start: measure again, learn the drift, correct the start sent."""
        wait = start - REMEASURE_BEFORE - time.monotonic()
        if wait > 0 and self.called_off.wait(wait):
            return
        again = self._offsets(list(self.lanes))
        moved = []
        for node, outcome in again.items():
            if outcome.ok and node in self.lanes:
                lane = self.lanes[node]
                lane.offset = lane.offset.remeasured(outcome.result)
                if abs(lane.offset.node_instant(start) - lane.start) > 0.0005:
                    moved.append(node)
        if moved and start - time.monotonic() > 0.1:
            self._arm(start, moved)

    def _offsets(self, nodes: list[str]) -> Results:
        """Each node's clock offset, one node after another: measured in parallel, the
        controller's own threads would delay each other's timestamps and widen the bound."""
        found = Results()
        for node in nodes:
            found.update(self.fleet.offsets([node], exchanges=EXCHANGES))
        return found

    def _clock_report(self, lane: Lane, start: float) -> dict[str, Any]:
        bound = lane.error_bound(start)
        return {"round_trip": round(lane.offset.round_trip, 6),
                "drift_ppm": round(lane.offset.drift * 1e6, 1),
                "error_bound": round(bound, 6), "warn": bound > MAX_ERROR}

    def _heard(self, record: dict[str, Any]) -> None:
        if record.get("name") in TIMER_EVENTS:
            self._stops.put(record)

    def _wait(self, start: float) -> None:
        """Take stops until every lane stopped or the timeout passed."""
        deadline = start + self.timeout
        while any(lane.elapsed is None for lane in self.lanes.values()):
            left = deadline - time.monotonic()
            if left <= 0 or self.called_off.is_set():
                break
            try:
                record = self._stops.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            lane = self.lanes.get(record.get("node", ""))
            data = record.get("data")
            if lane is None or lane.elapsed is not None or not isinstance(data, dict):
                continue
            if record["name"] != "timer_stopped":
                if not lane.ours(data) or record["name"] == "timer_cancelled":
                    self._leave(lane, TIMER_EVENTS[record["name"]])
                continue
            elapsed = data.get("elapsed")
            if lane.ours(data) and isinstance(elapsed, int | float):
                lane.elapsed = float(elapsed)
                self._rank(lane)

    def _leave(self, lane: Lane, why: str) -> None:
        """A lane whose timer is no longer the race's leaves it (its timer is left alone)."""
        del self.lanes[lane.node]
        self.failed[lane.node] = why
        self.report({"event": "left", "node": lane.node, "reason": why})

    def _rank(self, newest: Lane) -> None:
        """Places by elapsed time; screens whose place changed are told (a stop that arrives
        late but was quicker moves the others down)."""
        done = sorted((lane for lane in self.lanes.values() if lane.elapsed is not None),
                      key=lambda lane: lane.elapsed or 0.0)
        best = done[0].elapsed or 0.0
        changed = []
        for place, lane in enumerate(done, 1):
            if lane.place != place:
                lane.place = place
                changed.append(lane.node)
        places = {lane.node: lane.place for lane in done}
        self.fleet.run(changed, lambda ctl, node: ctl.call(node, "timer.place", places[node]),
                       timeout=PLACE_WAIT)
        self.report({"event": "stopped", "node": newest.node, "place": newest.place,
                     "elapsed": newest.elapsed, "gap": round((newest.elapsed or 0) - best, 6)})

    def call_off(self) -> None:
        """End a running ``run()`` from another thread: it stops the timers that have not
        stopped and returns its report (``"called_off": True``)."""
        self.called_off.set()

    def cancel(self) -> None:
        """Stop the timers that have not stopped (an armed one is disarmed)."""
        unfinished = [n for n, lane in self.lanes.items() if lane.elapsed is None]
        if unfinished:
            self.fleet.call(unfinished, "timer.stop")

    def _finish(self, start: float) -> dict[str, Any]:
        unfinished = [n for n, lane in self.lanes.items() if lane.elapsed is None]
        if unfinished:
            self.fleet.call(unfinished, "timer.stop")
        ranking = sorted((lane for lane in self.lanes.values() if lane.elapsed is not None),
                         key=lambda lane: lane.elapsed or 0.0)
        winner = ranking[0] if ranking else None
        awarded = None
        if winner is not None and self.award and not self.called_off.is_set():
            done = self.fleet.run([winner.node], lambda ctl, node: ctl.call_as(
                "race", node, "scoreboard.add_points", self.award))
            awarded = {"node": winner.node, "points": self.award,
                       "error": None if done.ok else str(done[winner.node].error)}
        shown = self.fleet.call(list(self.lanes), "timer.race_info")
        skew = {}
        for node, outcome in shown.items():
            info = outcome.result if outcome.ok else None
            if isinstance(info, dict) and info.get("go_shown") is not None:
                skew[node] = round(float(info["go_shown"]) - self.lanes[node].start, 6)
        best = winner.elapsed if winner is not None and winner.elapsed is not None else 0.0
        return {
            "event": "finished",
            "ranking": [{"node": lane.node, "place": lane.place, "elapsed": lane.elapsed,
                         "gap": round((lane.elapsed or 0.0) - best, 6), "title": lane.title}
                        for lane in ranking],
            "unfinished": unfinished,
            "failed": self.failed,
            "clock": {n: self._clock_report(lane, start) for n, lane in self.lanes.items()},
            "visual_skew": skew,
            "award": awarded,
            "called_off": self.called_off.is_set(),
        }
