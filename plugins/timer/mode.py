"""The timer mode: a stopwatch and a countdown, kept in the store so a restart resumes them."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Annotated, Any

from engine import Mode, Range, command

from .look import Look, format_time

if TYPE_CHECKING:
    import pygame

log = logging.getLogger(__name__)

RESUME_TOLERANCE = 1.0
"""Seconds the wall and monotonic clocks may disagree before a resume trusts the wall clock."""
LATE_RING = 10.0
"""A countdown found finished later than this (after a power cut) ends without the bell."""

Seconds = Annotated[float, Range(0.1, 86_400)]
HistoryLength = Annotated[int, Range(1, 1000)]


class Timer(Mode):
    name = "timer"
    description = "a stopwatch and countdown that the main button stops"

    is_running: bool = False
    started: float = 0.0
    limit: float | None = None
    result: float = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.look = Look()
        self._resumed = False

    def restore(self) -> None:
        state = self.state
        limit = state.get("limit")
        self.limit = float(limit) if limit is not None else None
        self.result = float(state.get("last", 0.0))
        if state.get("running", False):
            self.started = self._resume(
                float(state.get("start_clock", 0.0)), float(state.get("start_wall", time.time()))
            )
            self.is_running = True
        else:
            self.is_running = False
        self._resumed = True

    def _resume(self, start_clock: float, start_wall: float) -> float:
        """When a running timer started, in this process's clock."""
        if self._resumed:  # the same process, after a change was rolled back
            return start_clock
        now = self.stage.clock()
        by_wall = max(0.0, time.time() - start_wall)
        if abs((now - start_clock) - by_wall) <= RESUME_TOLERANCE:
            return start_clock  # the same boot: the monotonic start is still exact
        return now - by_wall  # after a reboot the monotonic clock restarted: go by the wall

    # -- commands -------------------------------------------------------------------------

    @command
    def start(self) -> None:
        """Start the stopwatch from zero (a running timer starts again)."""
        self._begin(None)

    @command
    def countdown(self, seconds: Seconds) -> None:
        """Count down from ``seconds`` to zero, then ring the bell if the node has one."""
        self._begin(seconds)

    @command(idempotent=True)
    def stop(self) -> float:
        """Stop a running timer; returns the elapsed seconds (the last result if stopped)."""
        if self.is_running:
            self._finish(self.stage.clock() - self.started)
        return self.result

    @command(idempotent=True)
    def reset(self) -> None:
        """Stop without keeping a result and show zero."""
        for key, value in (("running", False), ("last", 0.0), ("limit", None)):
            self.state.set(key, value)
        self.is_running, self.result, self.limit = False, 0.0, None

    @command(read=True)
    def elapsed(self) -> float:
        """Seconds since the start (while running) or of the last result."""
        if not self.is_running:
            return self.result
        return self._capped(self.stage.clock() - self.started)

    @command(read=True)
    def running(self) -> bool:
        """True while the timer runs (a countdown has stopped once it reaches zero)."""
        return self.is_running and (self.limit is None or self.elapsed() < self.limit)

    @command(read=True)
    def results(self, n: HistoryLength = 10) -> list[dict[str, Any]]:
        """The last n results, newest first: elapsed, countdown, source, at, undone."""
        return self.state.entries("result", n)

    # -- events ---------------------------------------------------------------------------

    def on_button(self, button: str, at: float) -> None:
        # an edge from before the start (queued while start() was applied) is no stop
        if button == "main" and self.is_running and at >= self.started:
            self._finish(at - self.started)

    def tick(self, now: float) -> None:
        """A countdown reaching zero ends and rings the bell, once."""
        if not self.is_running or self.limit is None:
            return
        late = now - self.started - self.limit
        if late < 0:
            return
        self._finish(self.limit)
        self.publish("countdown_finished")
        seconds = self.config.get("bell_seconds", 1.0)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            log.warning("[plugins.timer] bell_seconds must be a number, got %r", seconds)
            seconds = 1.0
        if late <= LATE_RING and seconds > 0:
            try:
                self.stage.ring(float(seconds))
            except Exception:  # a broken bell must not keep the countdown from ending
                log.exception("the bell could not ring")

    def deadline(self) -> float | None:
        """A countdown must end (and ring) on time even while another mode is shown."""
        if self.is_running and self.limit is not None:
            return self.started + self.limit
        return None

    def _begin(self, limit: float | None) -> None:
        now = self.stage.clock()
        for key, value in (
            ("start_clock", now), ("start_wall", time.time()), ("limit", limit), ("running", True)
        ):
            self.state.set(key, value)
        self.started, self.limit, self.is_running = now, limit, True
        self.publish("timer_started")

    def _finish(self, elapsed: float) -> None:
        """Stop after ``elapsed`` seconds (for a button: up to the moment its edge was seen)."""
        elapsed = round(self._capped(max(0.0, elapsed)), 6)
        source = self.stage.source
        self.state.set("running", False)
        self.state.set("last", elapsed)
        self.state.journal("result", source, elapsed=elapsed, countdown=self.limit)
        self.result, self.is_running = elapsed, False
        self.publish("timer_stopped", elapsed=elapsed, source=source)

    def _capped(self, elapsed: float) -> float:
        return elapsed if self.limit is None else min(elapsed, self.limit)

    # -- the screen -----------------------------------------------------------------------

    def animating(self) -> bool:
        return self.is_running

    def shown(self) -> float:
        """What the display shows: time elapsed, or for a countdown the time left."""
        elapsed = self.elapsed()
        return elapsed if self.limit is None else max(0.0, self.limit - elapsed)

    def caption(self) -> str:
        if self.is_running:
            return "countdown" if self.limit is not None else "running"
        if self.limit is not None and self.result >= self.limit:
            return "time!"
        return "stopped" if self.result else "ready"

    def draw(self, surface: pygame.Surface) -> None:
        progress = None
        if self.limit is not None:
            progress = self.shown() / self.limit
        self.look.draw(surface, format_time(self.shown()), self.caption(), progress)

    def summary(self) -> dict[str, Any]:
        return {
            "running": self.running(),
            "elapsed": round(self.elapsed(), 3),
            "countdown": self.limit,
            "shown": format_time(self.shown()),
        }
