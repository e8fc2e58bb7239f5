"""The page's race: one at a time, run on a thread of its own, its progress on the event
stream as a whole state (a phone that joins late sees the same table as the rest)."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from engine.control.events import Listener, Record
from engine.control.fleet import Fleet
from engine.control.race import Race
from engine.web.errors import Problem
from engine.web.hub import Hub

log = logging.getLogger(__name__)

IDLE: dict[str, Any] = {"id": None, "state": "idle", "selector": None, "lanes": {},
                        "ranking": [], "winner": None, "error": None, "left": {},
                        "started_local": None, "start_in": None}


class RaceDesk:
    """Starts, follows and calls off the race (``POST``/``GET``/``DELETE /api/race``)."""

    def __init__(self, fleet: Callable[[], Fleet], hub: Hub):
        self._fleet = fleet
        self.hub = hub
        self._lock = threading.Lock()
        self._state: dict[str, Any] = dict(IDLE)
        self._race: Race | None = None
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> dict[str, Any]:
        with self._lock:
            return _copy(self._state)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, selector: str, start_in: float, timeout: float, award: int
              ) -> dict[str, Any]:
        with self._lock:
            if self.running:
                raise Problem(409, "a race is already running: wait for it to finish or "
                                   "call it off (DELETE /api/race)")
            fleet = self._fleet()
            try:
                fleet.select(selector)  # an unknown node or group: 404 now, not later
            except BaseException:
                fleet.close()
                raise
            race = self._race = Race(fleet, selector, listen=self._listen, start_in=start_in,
                                     timeout=timeout, award=award, report=self._step)
            self._state = dict(IDLE, id=secrets.token_hex(4), state="arming",
                               selector=selector, start_in=start_in)
            self._thread = threading.Thread(target=self._run, args=(race, fleet),
                                            name="web race", daemon=True)
            self._thread.start()
            state = _copy(self._state)
        self.hub.publish("race", state)
        return state

    def call_off(self) -> dict[str, Any]:
        race, thread = self._race, self._thread
        if race is None or thread is None or not thread.is_alive():
            raise Problem(404, "no race is running (start one with POST /api/race)")
        race.call_off()
        thread.join(timeout=10)
        return self.state

    def close(self) -> None:
        if self._race is not None and self.running:
            self._race.call_off()
            if self._thread is not None:
                self._thread.join(timeout=5)

    # -- the race's thread -----------------------------------------------------------------

    def _run(self, race: Race, fleet: Fleet) -> None:
        try:
            final = race.run()
        except Exception as exc:
            log.info("web: race failed: %s", exc)
            self._update(state="failed", error=" ".join(str(exc).split())[:400])
        else:
            self._step(final)
        finally:
            fleet.close()

    @contextmanager
    def _listen(self, nodes: list[str], consumer: Callable[[Record], None]) -> Iterator[None]:
        """The race's events: through the hub's listener, or one of its own if the hub
        could not start (the name server came up after the web)."""
        wanted = set(nodes)

        def mine(record: Record) -> None:
            if record.get("node") in wanted:
                consumer(record)

        if self.hub.started:
            with self.hub.watching(mine):
                yield
        else:
            race_fleet = self._race.fleet if self._race else None
            assert race_fleet is not None
            with Listener(race_fleet.controller, nodes, consumer):
                yield

    def _step(self, step: dict[str, Any]) -> None:
        kind = step.get("event")
        with self._lock:
            s = self._state
            if kind == "armed":
                s["state"] = "running"
                s["lanes"] = {n: {"title": t, "elapsed": None, "place": None}
                              for n, t in step["nodes"].items()}
                start = time.time() + float(step["start_in"])
                s["started_local"] = datetime.fromtimestamp(start).strftime("%H:%M:%S")
            elif kind == "clocks":
                for node, clock in step["nodes"].items():
                    if node in s["lanes"]:
                        s["lanes"][node]["error_bound"] = clock["error_bound"]
            elif kind == "left":
                s["lanes"].pop(step["node"], None)
                s["left"][step["node"]] = step["reason"]
            elif kind == "stopped":
                lane = s["lanes"].get(step["node"])
                if lane is not None:
                    lane["elapsed"] = step["elapsed"]
                self._rank(s)
            elif kind == "finished":
                for row in step["ranking"]:
                    lane = s["lanes"].get(row["node"])
                    if lane is not None:
                        lane["elapsed"] = row["elapsed"]
                self._rank(s)
                s["state"] = "cancelled" if step.get("called_off") else "finished"
                s["unfinished"] = step.get("unfinished", [])
                s["award"] = step.get("award")
            state = _copy(s)
        self.hub.publish("race", state)

    @staticmethod
    def _rank(s: dict[str, Any]) -> None:
        done = sorted(((n, lane) for n, lane in s["lanes"].items()
                       if lane["elapsed"] is not None), key=lambda item: item[1]["elapsed"])
        best = done[0][1]["elapsed"] if done else 0.0
        s["ranking"] = []
        for place, (node, lane) in enumerate(done, 1):
            lane["place"] = place
            s["ranking"].append({"node": node, "title": lane["title"], "place": place,
                                 "elapsed": lane["elapsed"],
                                 "gap": round(lane["elapsed"] - best, 6)})
        s["winner"] = done[0][0] if done else None

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._state.update(changes)
            state = _copy(self._state)
        self.hub.publish("race", state)


def _copy(state: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(state)
