"""The screen and the main loop: the only code that runs pygame, always on the main thread.

The loop sleeps on the stage's wake event until a change, a button, a snapshot request or an
animation frame needs it; an idle headless node draws nothing and uses no CPU. With a real
window it also wakes at a modest rate to pump window events (pygame's own ``event.wait``
polls every millisecond, so the loop never idles in it).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pygame

from .drawing import fit_text, font

if TYPE_CHECKING:
    from .stage import Stage

log = logging.getLogger(__name__)

WINDOW_EVENT_HZ = 20


class Display:
    """A window, a fullscreen display, or an off-screen surface when headless."""

    def __init__(
        self,
        size: tuple[int, int] = (1280, 720),
        fullscreen: bool = False,
        headless: bool = False,
        fps: int = 30,
        title: str = "pyrostage",
    ):
        self.size = size
        self.fullscreen = fullscreen
        self.headless = headless
        self.fps = max(1, fps)
        self.title = title
        self.window = False
        self.frames = 0
        self.surface: pygame.Surface | None = None

    def open(self) -> pygame.Surface:
        """Open the screen (main thread). Falls back to headless with one warning line."""
        if not self.headless:
            try:
                pygame.display.init()
                flags = pygame.FULLSCREEN if self.fullscreen else 0
                size = (0, 0) if self.fullscreen else self.size
                self.surface = pygame.display.set_mode(size, flags)
                pygame.display.set_caption(self.title)
                if self.fullscreen:
                    pygame.mouse.set_visible(False)
                self.size = self.surface.get_size()
                self.window = pygame.display.get_driver() not in ("dummy", "offscreen")
                if not self.window:
                    log.warning("no screen found (SDL driver %r); running headless",
                                pygame.display.get_driver())
                    self.headless = True
            except pygame.error as exc:
                log.warning("no display could be opened (%s); running headless", exc)
                pygame.display.quit()
                self.headless = True
        if self.surface is None:
            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
            self.surface = pygame.Surface(self.size)
        pygame.font.init()
        return self.surface

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
            if timeout is None or timeout > 0:
                stage.wake.wait(timeout)
            stage.wake.clear()
            if self.window:
                self._pump(stage, stop, on_key)
            stage.run_tasks(surface, draw_now)
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
        try:
            error = stage.draw(surface)
        except TimeoutError:
            return False
        if error is not None:
            banner(surface, f"{stage.active.name}: {type(error).__name__}: {error}")
        if self.window:
            pygame.display.flip()
        self.frames += 1
        return True

    def _pump(
        self, stage: Stage, stop: threading.Event, on_key: Callable[[int, float], None] | None
    ) -> None:
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                stop.set()
            elif event.type == pygame.KEYDOWN:
                at = time.monotonic()
                if event.key == pygame.K_ESCAPE and self.fullscreen:
                    stop.set()
                elif on_key is not None:
                    on_key(event.key, at)
            elif event.type in (pygame.WINDOWEXPOSED, pygame.VIDEOEXPOSE):
                stage.request_redraw()

    def close(self) -> None:
        if self.window:
            pygame.display.quit()
        pygame.font.quit()


def banner(surface: pygame.Surface, message: str) -> None:
    """A small error strip at the bottom instead of a crash when a mode fails to draw."""
    w, h = surface.get_size()
    height = max(18, h // 12)
    pygame.draw.rect(surface, (160, 0, 0), (0, h - height, w, height))
    text = fit_text(message, w - 20, int(height * 0.7))
    rendered = font(text.size).render(text.text, True, (255, 255, 255))
    surface.blit(rendered, (10, h - height + (height - rendered.get_height()) // 2))
