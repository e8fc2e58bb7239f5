"""Short synthesised sounds for a race (``stage.play``), with the mixer open only while used.

An open pygame mixer keeps an SDL audio thread mixing all the time, so the mixer is opened for
a burst of sounds and closed once it has been quiet for ``idle`` seconds: an idle node stays at
~0 % CPU. SDL wants its subsystems started and stopped on the main thread, so every pygame call
here runs there (the stage hands ``play`` to the main loop; the idle timer posts the close back
to it). A node without a sound device stays quiet: what ALSA prints while the mixer fails to
open goes to /dev/null, the failure is remembered and reported, and not tried again for
``RETRY`` seconds. Tones are computed with ``array``: no audio files, no numpy.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pygame

from engine.base.text import short

log = logging.getLogger(__name__)

TONES: dict[str, tuple[tuple[float, float], ...]] = {
    "tick": ((880.0, 0.08),),
    "go": ((1318.5, 0.45),),
    "winner": ((523.25, 0.12), (659.25, 0.12), (783.99, 0.12), (1046.5, 0.45)),
    "place": ((659.25, 0.15), (523.25, 0.3)),
}
"""Each sound's notes: (frequency in Hz, seconds)."""
NAMES = tuple(TONES)
RATE = 22050
VOLUME = 0.45
FADE = 0.005
"""Seconds of fade in and out per note, so notes start and end without a click."""
IDLE = 5.0
"""Seconds of quiet after which the mixer is closed again."""
RETRY = 60.0
"""Seconds before a mixer that failed to open is tried again (a speaker plugged in later)."""


def samples(name: str, rate: int = RATE, channels: int = 1) -> bytes:
    """Signed 16-bit samples of sound ``name`` in the machine's byte order (the mixer's)."""
    mono = array("h")
    amplitude = 32767 * VOLUME
    for frequency, seconds in TONES[name]:
        n = int(rate * seconds)
        step = 2 * math.pi * frequency / rate
        wave = [amplitude * math.sin(step * i) for i in range(n)]
        fade = min(int(rate * FADE), n // 2)
        for i in range(fade):
            wave[i] *= i / fade
            wave[n - 1 - i] *= i / fade
        mono.extend(int(v) for v in wave)
    if channels == 1:
        return mono.tobytes()
    frames = array("h", bytes(2 * channels * len(mono)))
    for channel in range(channels):
        frames[channel::channels] = mono
    return frames.tobytes()


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """File descriptor 2 to /dev/null for a moment: ALSA's C library prints its complaints
    there ("cannot find card '0'") however Python is set up. Whatever another thread writes to
    stderr meanwhile is lost too, so keep the moment short."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class Sound:
    """The node's sounds: ``play`` and ``close`` on the main thread, the rest from anywhere."""

    def __init__(self, enabled: bool = True, idle: float = IDLE):
        self.enabled = bool(enabled)
        self.idle = idle
        self.on_main: Callable[[Callable[[], Any]], None] | None = None
        """Runs a job on the main loop soon (the stage sets it); without it the mixer stays
        open until ``close``."""
        self.error: str | None = None
        self.played = 0
        self.opened = 0
        self._open = False
        self._failed_at: float | None = None
        self._sounds: dict[str, Any] = {}
        self._quiet_at = 0.0
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    @staticmethod
    def check(name: Any) -> str:
        """``name`` if it is a sound's name; ``TypeError``/``LookupError`` saying which are."""
        known = ", ".join(NAMES)
        if not isinstance(name, str):
            raise TypeError(f"a sound's name is a string ({known}), got {type(name).__name__}")
        if name not in TONES:
            raise LookupError(f"unknown sound {short(name)}; the sounds are: {known}")
        return name

    @property
    def usable(self) -> bool:
        """Worth handing a sound to the main loop: switched on, and no device failure lately."""
        failed = self._failed_at
        return self.enabled and (failed is None or time.monotonic() - failed >= RETRY)

    def play(self, name: str) -> bool:
        """Play sound ``name`` now (main thread); False if there is no sound. Never raises."""
        name = self.check(name)
        if not self.usable or (not self._open and not self._open_mixer()):
            return False
        try:
            sound = self._sounds[name]
            sound.play()
            length = float(sound.get_length())
        except Exception as exc:  # a device that went away mid-race: stay quiet, say why
            self._failed(exc)
            self.close()
            return False
        self.played += 1
        self._close_later(length)
        return True

    def _open_mixer(self) -> bool:
        try:
            with quiet_stderr():
                pygame.mixer.init(RATE, -16, 1, 512)
            rate, size, channels = pygame.mixer.get_init()
            if size != -16:
                raise RuntimeError(f"the mixer offers {size}-bit samples, not signed 16-bit")
            self._sounds = {name: pygame.mixer.Sound(buffer=_cached(name, rate, channels))
                            for name in TONES}
        except Exception as exc:  # no device, no SDL_mixer, a driver that does not exist ...
            self._failed(exc)
            self._quit()
            return False
        self._open, self.error, self._failed_at = True, None, None
        self.opened += 1
        log.debug("sound: mixer open (%s Hz, %s channel(s))", rate, channels)
        return True

    def _failed(self, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)
        if message != self.error:
            log.warning("no sound on this node (%s); trying again in %g s at the earliest",
                        message, RETRY)
        self.error, self._failed_at = message, time.monotonic()

    def _close_later(self, length: float) -> None:
        """Close the mixer once it has been quiet for ``idle`` seconds after this sound."""
        with self._lock:
            self._quiet_at = time.monotonic() + length + self.idle
            if self.on_main is None or self._timer is not None:
                return  # no way back to the main loop; or a timer is already waiting
            self._timer = threading.Timer(length + self.idle, self._idle)
            self._timer.daemon = True
            self._timer.name = "pyrostage-sound-idle"
            self._timer.start()

    def _idle(self) -> None:
        """Timer thread: the quiet time may have come; check (and close) on the main loop."""
        with self._lock:
            self._timer = None
            wait = self._quiet_at - time.monotonic()
            if wait > 0:  # sounds played meanwhile: wait for the rest
                self._timer = threading.Timer(wait, self._idle)
                self._timer.daemon = True
                self._timer.name = "pyrostage-sound-idle"
                self._timer.start()
                return
        if self.on_main is not None:
            self.on_main(self._close_if_quiet)

    def _close_if_quiet(self) -> None:
        if time.monotonic() >= self._quiet_at:
            self.close()

    def close(self) -> None:
        """Close the mixer (main thread); it opens again with the next sound."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if self._open:
            self._quit()
            log.debug("sound: mixer closed")
        self._open = False
        self._sounds = {}

    def _quit(self) -> None:
        try:
            with quiet_stderr():
                pygame.mixer.quit()
        except Exception:
            log.debug("sound: the mixer did not close cleanly", exc_info=True)

    def report(self) -> dict[str, Any]:
        """For ``status()``: switched on, mixer open now, a device found (None: not tried
        yet), the last error, sounds played."""
        available = None if not self.opened and self.error is None else self.error is None
        return {"enabled": self.enabled, "open": self._open, "available": available,
                "error": self.error, "played": self.played}


_CACHE: dict[tuple[str, int, int], bytes] = {}


def _cached(name: str, rate: int, channels: int) -> bytes:
    """Samples are computed once per process (a Pi takes a moment for them)."""
    key = (name, rate, channels)
    if key not in _CACHE:
        _CACHE[key] = samples(name, rate, channels)
    return _CACHE[key]
