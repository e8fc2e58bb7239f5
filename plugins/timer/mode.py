"""The timer mode: a stopwatch, a countdown and a race start at a set instant, kept in the store
so a restart resumes them.

A race (``start_at``) starts at an instant of the node's own stage clock, which the controller
works out from the clock offset it measured: every screen counts down to it, and the elapsed
time counts from it, whenever a frame happens to show it. When "GO" was first drawn is kept
apart (``race_info``), so a controller reports the screens' skew separately from clock error.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Annotated, Any

from engine import Length, Mode, Printable, Range, Setting, command

from .look import Look, format_time

if TYPE_CHECKING:
    import pygame

log = logging.getLogger(__name__)

RESUME_TOLERANCE = 1.0
"""Seconds the wall and monotonic clocks may disagree before a resume trusts the wall clock."""
LATE_RING = 10.0
"""A countdown found finished later than this (after a power cut) ends without the bell."""

MAX_AHEAD = 60.0
"""The furthest ahead of the node's clock a race may be armed (seconds)."""
MAX_BEHIND = 1.0
"""How far in the past a start instant may already be (the start then shows at once)."""
TICKS = 10
"""The countdown's last seconds that each play a tick."""
GO_SECONDS = 1.0
"""How long "GO!" shows before the digits."""
LATE_SOUND = 1.0
"""A "go" found later than this (after a restart) starts silently."""

Seconds = Annotated[float, Range(0.1, 86_400)]
HistoryLength = Annotated[int, Range(1, 1000)]
Title = Annotated[str, Length(0, 24), Printable()]
Place = Annotated[int, Range(0, 99)]


class Timer(Mode):
    name = "timer"
    description = "a stopwatch, countdown and race start that the main button stops"
    settings = {
        "bell_seconds": Setting(float, 1.0, "How long the bell rings when a countdown ends "
                                "(0: it does not ring).", Range(0, 60)),
    }

    is_running: bool = False
    started: float = 0.0
    limit: float | None = None
    result: float = 0.0
    race: bool = False
    """The start is a race's: at a set instant, with a countdown to it."""
    go_sent: bool = True
    """``timer_started`` went out for the race's instant (memory only: the go frame is not
    held up by a write)."""
    title: str = ""
    position: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.look = Look()
        self._resumed = False
        self._announced: int | None = None  # the countdown second last announced; 0: go
        self._go_shown: float | None = None  # main thread: the first frame at/after the instant

    def restore(self) -> None:
        state = self.state
        limit = state.get("limit")
        self.limit = float(limit) if limit is not None else None
        self.result = float(state.get("last", 0.0))
        self.race = bool(state.get("race", False))
        self.title = str(state.get("title", ""))
        self.position = int(state.get("place", 0))
        if state.get("running", False):
            self.started = self._resume(
                float(state.get("start_clock", 0.0)), float(state.get("start_wall", time.time()))
            )
            self.is_running = True
        else:
            self.is_running = False
        if not self._resumed:  # a new process: a start whose instant had come was announced
            self.go_sent = not (self.race and self.is_running
                                and self.stage.clock() < self.started)
            self._announced = 0 if self.go_sent else None
        self._resumed = True

    def _resume(self, start_clock: float, start_wall: float) -> float:
        """When a running timer started (a race: starts), in this process's clock."""
        if self._resumed:  # the same process, after a change was rolled back
            return start_clock
        now = self.stage.clock()
        by_wall = time.time() - start_wall
        if abs((now - start_clock) - by_wall) <= RESUME_TOLERANCE:
            return start_clock  # the same boot: the monotonic start is still exact
        # after a reboot the monotonic clock restarted: go by the wall (only a race's start
        # may lie ahead)
        return now - max(by_wall, -MAX_AHEAD if self.race else 0.0)

    # -- commands -------------------------------------------------------------------------

    @command
    def start(self) -> None:
        """Start the stopwatch from zero (a running timer starts again)."""
        self._begin(None)

    @command
    def countdown(self, seconds: Seconds) -> None:
        """Count down from ``seconds`` to zero, then ring the bell if the node has one."""
        self._begin(seconds)

    @command
    def start_at(self, at: float, title: Title = "") -> float:
        """Start a race at instant ``at`` of this node's clock (see clock()); counts down to it.

        ``at`` is at most 60 s ahead and at most 1 s past; ``title`` (the team) shows above
        the digits. The elapsed time counts from ``at``; a press before it is no stop.
        Returns the seconds still to go.
        """
        now = self.stage.clock()
        ahead = at - now
        if not -MAX_BEHIND <= ahead <= MAX_AHEAD:
            raise ValueError(
                f"at must be an instant of this node's clock at most {MAX_AHEAD:g} s ahead and at "
                f"most {MAX_BEHIND:g} s past (the clock reads {now:.3f} now; see clock()), got "
                f"{at:.3f}, {abs(ahead):.3f} s {'ahead' if ahead > 0 else 'past'}"
            )
        self._begin(None, at=at, title=title)
        return ahead

    @command(idempotent=True)
    def place(self, n: Place) -> None:
        """Show the race's place under the time: 1 shows WINNER, 2 "2nd" ...; 0 clears it."""
        if n == self.position:
            return
        self.state.set("place", n)
        self.position = n
        if n:
            self.publish("timer_placed", place=n, title=self.title, elapsed=self.elapsed())
            self.stage.play("winner" if n == 1 else "place")

    @command(idempotent=True)
    def stop(self) -> float:
        """Stop a running timer; returns the elapsed seconds (the last result if stopped).
        Before a race's start instant it calls the start off."""
        if self.is_running:
            now = self.stage.clock()
            if now < self.started:
                self.state.set("running", False)
                self.is_running = False
                self.publish("timer_cancelled", at=self.started, title=self.title)
            else:
                self._announce_go(now)
                self._finish(now - self.started)
        return self.result

    @command(idempotent=True)
    def reset(self) -> None:
        """Stop without keeping a result and show zero (a race's title and place go too)."""
        for key, value in (("running", False), ("last", 0.0), ("limit", None), ("race", False),
                           ("title", ""), ("place", 0)):
            self.state.set(key, value)
        self.is_running, self.result, self.limit = False, 0.0, None
        self.race, self.go_sent, self.title, self.position = False, True, "", 0
        self._go_shown = None

    @command(read=True)
    def elapsed(self) -> float:
        """Seconds since the start (while running; 0 before a race's instant) or of the last
        result."""
        if not self.is_running:
            return self.result
        return self._capped(max(0.0, self.stage.clock() - self.started))

    @command(read=True)
    def running(self) -> bool:
        """True while the timer runs (not yet before a race's instant; a countdown has stopped
        once it reaches zero)."""
        if not self.is_running or self.stage.clock() < self.started:
            return False
        return self.limit is None or self.elapsed() < self.limit

    @command(read=True)
    def race_info(self) -> dict[str, Any]:
        """The race: at (its instant), go_shown (when GO was first drawn), title, place, state.

        Both times are in this node's clock; ``go_shown - at`` is the screen's own lateness,
        apart from any clock error. ``go_shown`` is None until a frame showed GO (never while
        another mode is shown). ``state`` is ready, armed, running or stopped.
        """
        return {"at": self.started if self.race else None, "go_shown": self._go_shown,
                "title": self.title, "place": self.position, "state": self._phase()}

    @command(read=True)
    def results(self, n: HistoryLength = 10) -> list[dict[str, Any]]:
        """The last n results, newest first: elapsed, countdown, source, at, undone."""
        return self.state.entries("result", n)

    # -- events ---------------------------------------------------------------------------

    def on_button(self, button: str, at: float) -> None:
        if button != "main" or not self.is_running:
            return
        if at < self.started:  # an edge from before the start is no stop
            if self.race:
                self.publish("false_start", at=at, early=round(self.started - at, 6),
                             title=self.title)
            return
        self._announce_go(self.stage.clock())
        self._finish(at - self.started)

    def tick(self, now: float) -> None:
        """A race's countdown seconds tick and its instant says go; a countdown reaching zero
        ends and rings the bell, once."""
        if not self.is_running:
            return
        if self.race and not self.go_sent:
            number = self._number(now)
            if number != self._announced:
                self._announced = number
                if number == 0:
                    self._announce_go(now)
                elif number <= TICKS:
                    self.stage.play("tick")
            return
        if self.limit is None:
            return
        late = now - self.started - self.limit
        if late < 0:
            return
        self._finish(self.limit)
        self.publish("countdown_finished")
        seconds = self.config["bell_seconds"]
        if late <= LATE_RING and seconds > 0:
            try:
                self.stage.ring(seconds)
            except Exception:  # a broken bell must not keep the countdown from ending
                log.exception("the bell could not ring")

    def deadline(self) -> float | None:
        """A countdown must end (and ring) on time even while another mode is shown; a race
        says go at its instant, and while shown wakes the loop for each countdown second."""
        if self.is_running and self.race and not self.go_sent:
            now = self.stage.clock()
            if now < self.started:
                return self.started - (self._number(now) - 1)
            return self.started
        if self.is_running and self.limit is not None:
            return self.started + self.limit
        return None

    def _begin(self, limit: float | None, at: float | None = None, title: str = "") -> None:
        now = self.stage.clock()
        start = now if at is None else at
        race = at is not None
        for key, value in (
            ("start_clock", start), ("start_wall", time.time() + (start - now)), ("limit", limit),
            ("running", True), ("race", race), ("title", title), ("place", 0),
        ):
            self.state.set(key, value)
        self.started, self.limit, self.is_running = start, limit, True
        self.race, self.go_sent, self.title, self.position = race, not race, title, 0
        self._announced, self._go_shown = None, None
        if race:
            self.publish("timer_armed", at=start, title=title, ahead=round(start - now, 6))
        else:
            self.publish("timer_started")

    def _announce_go(self, now: float) -> None:
        """A race's instant has come: say so once (from the first tick, press or stop after
        it), with how late that was."""
        if not self.race or self.go_sent:
            return
        self.go_sent, self._announced = True, 0
        late = now - self.started
        self.publish("timer_started", at=self.started, title=self.title, late=round(late, 6))
        if late <= LATE_SOUND:
            self.stage.play("go")

    def _number(self, now: float) -> int:
        """The countdown's number at ``now``: whole seconds to the instant, rounded up; 0 once
        it has come."""
        return max(0, math.ceil(self.started - now))

    def _phase(self) -> str:
        if self.is_running:
            return "armed" if self.stage.clock() < self.started else "running"
        return "stopped" if self.result or self.position else "ready"

    def _finish(self, elapsed: float) -> None:
        """Stop after ``elapsed`` seconds (for a button: up to the moment its edge was seen)."""
        elapsed = round(self._capped(max(0.0, elapsed)), 6)
        source = self.stage.source
        self.state.set("running", False)
        self.state.set("last", elapsed)
        self.state.journal("result", source, elapsed=elapsed, countdown=self.limit)
        self.result, self.is_running = elapsed, False
        if self.race:  # whose start it was: a race tells its own stops from a restarted timer
            self.publish("timer_stopped", elapsed=elapsed, source=source, at=self.started)
        else:
            self.publish("timer_stopped", elapsed=elapsed, source=source)

    def _capped(self, elapsed: float) -> float:
        return elapsed if self.limit is None else min(elapsed, self.limit)

    # -- the screen -----------------------------------------------------------------------

    def animating(self) -> bool:
        """Frames while the time runs; before a race's instant, one per countdown second."""
        if not self.is_running:
            return False
        if self.race and not self.go_sent:
            now = self.stage.clock()
            if now < self.started:
                return self._number(now) != self._announced
        return True

    def shown(self) -> float:
        """What the display shows: time elapsed, or for a countdown the time left."""
        elapsed = self.elapsed()
        return elapsed if self.limit is None else max(0.0, self.limit - elapsed)

    def text(self, now: float) -> str:
        """The big text: a race's countdown number, then GO! for a moment, else the time."""
        if self.race and self.is_running:
            if now < self.started:
                return str(self._number(now))
            if now - self.started < GO_SECONDS:
                return "GO!"
        return format_time(self.shown())

    def caption(self) -> str:
        if self.is_running:
            if self.stage.clock() < self.started:
                return "get ready"
            return "countdown" if self.limit is not None else "running"
        if self.limit is not None and self.result >= self.limit:
            return "time!"
        return "stopped" if self.result else "ready"

    def draw(self, surface: pygame.Surface) -> None:
        now = self.stage.clock()
        progress = None
        if self.limit is not None:
            progress = self.shown() / self.limit
        self.look.draw(surface, self.text(now), self.caption(), progress, self.title,
                       self.position, self.stage.screen_kept)
        if self.race and self._go_shown is None and now >= self.started:
            self._go_shown = self.stage.clock()  # as late as this mode can see: drawn

    def summary(self) -> dict[str, Any]:
        out = {
            "running": self.running(),
            "elapsed": round(self.elapsed(), 3),
            "countdown": self.limit,
            "shown": self.text(self.stage.clock()),
        }
        if self.race or self.title or self.position:
            out.update(armed=self._phase() == "armed", title=self.title, place=self.position)
        return out
