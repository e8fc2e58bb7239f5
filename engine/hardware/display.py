"""The screen and the main loop: the only code that runs pygame, always on the main thread.

The loop sleeps on the stage's wake event until a change, a button, a snapshot request or an
animation frame needs it; an idle headless node draws nothing and uses no CPU. With a real
window it also wakes at a modest rate to pump window events (pygame's own ``event.wait``
polls every millisecond, so the loop never idles in it).

A fullscreen node quits only on Escape pressed twice within ``QUIT_CONFIRM`` seconds (the
first shows how on screen), so a stray key at a camp's TV does not black it out.

A portrait TV: ``rotate`` turns the picture clockwise on the screen, 90 for a TV turned a
quarter turn anticlockwise (its top edge now on the left; the top of what the modes draw runs
down the screen's right edge), 270 for one turned the other way. Modes draw upright on a
canvas of the turned size (720x1280 for a 1280x720 screen at 90) and each frame is turned onto
the screen; ``snapshot()`` shows the screen as it is, turned, the way a camera on the TV sees
it. At 0 the modes draw on the screen itself and nothing is turned.

``PYROSTAGE_TRACE=1`` in the environment makes the loop keep a ``Trace`` of the frames it
presents, which ``status()`` reports: the benchmark measures "call -> frame shown" from it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import pygame

from engine.api.drawing import fit_text, font
from engine.base.text import short
from engine.core.stage import DRAW_LOCK_WAIT

if TYPE_CHECKING:
    from engine.core.stage import Stage

log = logging.getLogger(__name__)

WINDOW_EVENT_HZ = 20
QUIT_CONFIRM = 3.0
"""Seconds after a first Escape in which a second one quits a fullscreen node."""
ROTATIONS = (0, 90, 180, 270)
NOTICE_COLOUR = (170, 100, 0)
ERROR_COLOUR = (160, 0, 0)
TRACE_ENV = "PYROSTAGE_TRACE"
TRACE_FRAMES = 512
"""Frames a trace keeps (17 s at 30 fps)."""


class Trace:
    """The last frames presented, each as ``[drawn, shown, change]``: when its drawing began
    and when it was on screen (stage clock), and the store's change ticket it was drawn at,
    so a frame shows every change up to that ticket (``Store.mark``). Read under the engine
    lock, so no change falls between the ticket and the drawing."""

    def __init__(self, size: int = TRACE_FRAMES):
        self.frames: deque[tuple[float, float, int]] = deque(maxlen=size)
        self.lock = threading.Lock()

    def add(self, drawn: float, shown: float, change: int) -> None:
        with self.lock:
            self.frames.append((drawn, shown, change))

    def report(self, stage: Stage) -> dict[str, object]:
        with self.lock:
            frames = [list(f) for f in self.frames]
        return {"change": stage.store.mark(), "now": stage.clock(), "frames": frames}


class Display:
    """A window, a fullscreen display, or an off-screen surface when headless."""

    def __init__(
        self,
        size: tuple[int, int] = (1280, 720),
        fullscreen: bool = False,
        headless: bool = False,
        fps: int = 30,
        title: str = "pyrostage",
        rotate: int = 0,
    ):
        self.rotate = check_rotate(rotate)
        self.size = size
        """The screen's own size (the TV's, whatever way it stands)."""
        self.fullscreen = fullscreen
        self.headless = headless
        self.fps = max(1, fps)
        self.title = title
        self.window = False
        self.events = False
        """Window events are pumped: a real window, or SDL's dummy driver standing in for one."""
        self.frames = 0
        self.screen: pygame.Surface | None = None
        """What is shown: the window, the fullscreen display, or an off-screen surface."""
        self.surface: pygame.Surface | None = None
        """What the modes draw on: the screen itself, or a canvas of the turned size."""
        self.quit_confirm = QUIT_CONFIRM
        self._quit_until: float | None = None
        self._runtime_dir: str | None = None
        self._notices_failed = False
        self.trace = Trace() if os.environ.get(TRACE_ENV, "") not in ("", "0") else None

    def open(self) -> pygame.Surface:
        """Open the screen (main thread). Falls back to headless with one warning line."""
        if not self.headless:
            self._quiet_probe()
            try:
                pygame.display.init()
                flags = pygame.FULLSCREEN if self.fullscreen else 0
                size = (0, 0) if self.fullscreen else self.size
                self.screen = pygame.display.set_mode(size, flags)
                pygame.display.set_caption(self.title)
                if self.fullscreen:
                    pygame.mouse.set_visible(False)
                self.size = self.screen.get_size()
                self.events = True
                self.window = pygame.display.get_driver() not in ("dummy", "offscreen")
                if not self.window:
                    log.warning("no screen found (SDL driver %r); running headless",
                                pygame.display.get_driver())
                    self.headless = True
            except pygame.error as exc:
                log.warning("no display could be opened (%s); running headless", exc)
                pygame.display.quit()
                self.headless = True
        if self.screen is None:
            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
            self.screen = pygame.Surface(self.size)
        if self.rotate:
            self.surface = pygame.Surface(self.canvas_size, 0, self.screen)
        else:
            self.surface = self.screen
        pygame.font.init()
        return self.surface

    @property
    def canvas_size(self) -> tuple[int, int]:
        """The size the modes draw at: the screen's, turned."""
        w, h = self.size
        return (h, w) if self.rotate in (90, 270) else (w, h)

    def run(
        self,
        stage: Stage,
        stop: threading.Event,
        on_key: Callable[[int, float], None] | None = None,
        ready: threading.Event | None = None,
    ) -> None:
        """The main loop: wake, apply queued work, draw if something changed, sleep again.

        Frames are paced at ``fps``: the first change after a quiet spell is drawn at once,
        and a burst of changes within one frame is drawn once (a controller streaming 1 000
        changes a second costs 30 frames, not 1 000).
        """
        surface = self.surface if self.surface is not None else self.open()
        screen = self.screen if self.screen is not None else surface
        stage.loop_thread = threading.get_ident()
        frame = 1.0 / self.fps
        next_frame = 0.0

        def draw_now() -> None:
            self.draw(stage, surface)

        if ready is not None:
            ready.set()
        while not stop.is_set():
            animating = stage.animating()
            if animating or stage.dirty:
                timeout: float | None = max(0.0, next_frame - time.monotonic())
            elif self.window:
                timeout = 1.0 / WINDOW_EVENT_HZ
            else:
                timeout = None
            deadline = stage.next_deadline()
            if deadline is not None:
                until = max(0.0, deadline - stage.clock())
                timeout = until if timeout is None else min(timeout, until)
            if self._quit_until is not None:  # take the "press Escape again" strip away
                until = max(0.0, self._quit_until - time.monotonic())
                timeout = until if timeout is None else min(timeout, until)
            if timeout is None or timeout > 0:
                stage.wake.wait(timeout)
            stage.wake.clear()
            if self.events:
                self._pump(stage, stop, on_key)
            if self._quit_until is not None and time.monotonic() >= self._quit_until:
                self._quit_until = None
                stage.request_redraw()
            stage.run_tasks(screen, draw_now)  # snapshots read the screen, turned
            if deadline is not None:
                stage.tick_due()
            now = time.monotonic()
            if now >= next_frame and (animating or stage.dirty):
                if animating:
                    stage.tick()
                if self.draw(stage, surface):
                    next_frame = now + frame

    def draw(self, stage: Stage, surface: pygame.Surface) -> bool:
        """Draw and show a frame; False if it was skipped (a stuck change holds the engine)."""
        if self.trace is not None:
            return self._traced(stage, surface)
        try:
            error = stage.draw(surface)
        except TimeoutError:
            return False
        self._present(stage, surface, error)
        return True

    def _traced(self, stage: Stage, surface: pygame.Surface) -> bool:
        """``draw``, noting the change ticket under the engine lock and the time it is shown."""
        assert self.trace is not None
        if not stage.lock.acquire(timeout=DRAW_LOCK_WAIT):
            return False
        try:
            drawn, change = stage.clock(), stage.store.mark()
            error = stage.draw(surface)  # the lock is re-entrant
        except TimeoutError:
            return False
        finally:
            stage.lock.release()
        self._present(stage, surface, error)
        self.trace.add(drawn, stage.clock(), change)
        return True

    def _present(self, stage: Stage, surface: pygame.Surface, error: Exception | None) -> None:
        rows = [] if error is None else [f"{stage.active.name}: {type(error).__name__}: {error}"]
        notices = self._notices(stage)
        for row, message in enumerate(rows):
            banner(surface, message, row, ERROR_COLOUR)
        for row, message in enumerate(notices, start=len(rows)):
            banner(surface, message, row, NOTICE_COLOUR)
        if self._quit_until is not None:
            banner(surface, f"Press Escape again within {self.quit_confirm:g} s to quit", -1)
        if rows or notices or self._quit_until is not None:
            stage.screen_covered()  # the mode's next frame covers the banners' place again
        if self.screen is not None and surface is not self.screen:
            self.screen.blit(turn(surface, self.rotate), (0, 0))
        if self.window:
            pygame.display.flip()
        self.frames += 1

    def _pump(
        self, stage: Stage, stop: threading.Event, on_key: Callable[[int, float], None] | None
    ) -> None:
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                stop.set()
            elif event.type == pygame.KEYDOWN:
                at = time.monotonic()
                if event.key == pygame.K_ESCAPE and self.fullscreen:
                    if self._quit_until is not None and at < self._quit_until:
                        stop.set()
                    else:
                        self._quit_until = at + self.quit_confirm
                        stage.request_redraw()
                elif on_key is not None:
                    on_key(event.key, at)
            elif event.type in (pygame.WINDOWEXPOSED, pygame.VIDEOEXPOSE):
                stage.request_redraw()

    def _notices(self, stage: Stage) -> list[str]:
        """The stage's short messages for the screen (the state cannot be saved ...)."""
        notices = getattr(stage, "notices", None)
        if notices is None:
            return []
        try:
            return [str(n) for n in notices()]
        except Exception:
            if not self._notices_failed:  # once, not once per frame
                self._notices_failed = True
                log.exception("the stage's notices could not be read")
            return []

    def _quiet_probe(self) -> None:
        """SDL's Wayland probe prints "XDG_RUNTIME_DIR is invalid" from C when that variable is
        unset (a node started by systemd or over ssh). No Wayland session can be found then
        anyway, so this process gets a private, empty runtime directory: the probe fails
        quietly, and a screen that cannot be opened is still reported (``open``)."""
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        if not runtime or not os.path.isdir(runtime):
            self._runtime_dir = tempfile.mkdtemp(prefix="pyrostage-runtime-")
            os.environ["XDG_RUNTIME_DIR"] = self._runtime_dir

    def close(self) -> None:
        if self.events:
            pygame.display.quit()
        pygame.font.quit()
        if self._runtime_dir is not None:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)


def check_rotate(rotate: object) -> int:
    """``rotate`` as one of ``ROTATIONS``, or a ValueError that says which are accepted."""
    if isinstance(rotate, bool) or not isinstance(rotate, int) or rotate not in ROTATIONS:
        raise ValueError(
            f"rotate must be 0, 90, 180 or 270 (degrees clockwise), got {short(rotate)}"
        )
    return rotate


def turn(surface: pygame.Surface, rotate: int) -> pygame.Surface:
    """``surface`` turned ``rotate`` degrees clockwise (pygame turns anticlockwise)."""
    if rotate == 180:
        return pygame.transform.flip(surface, True, True)
    return pygame.transform.rotate(surface, -rotate)


def banner(
    surface: pygame.Surface, message: str, row: int = 0, colour: tuple[int, int, int] = (0, 0, 0)
) -> None:
    """A strip of white text across the screen: ``row`` 0 is the bottom strip, 1 the one above
    it ..., -1 the top. Errors and notices show this way instead of a crash or silence."""
    w, h = surface.get_size()
    height = max(18, h // 12)
    top = 0 if row < 0 else h - height * (row + 1)
    pygame.draw.rect(surface, colour, (0, top, w, height))
    text = fit_text(message[:200], w - 20, int(height * 0.7))
    rendered = font(text.size).render(text.text, True, (255, 255, 255))
    surface.blit(rendered, (10, top + (height - rendered.get_height()) // 2))
