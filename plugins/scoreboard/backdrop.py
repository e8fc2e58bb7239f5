"""A custom background, decoded and scaled where neither writers nor frames wait for it.

``set_background``'s argument check (on the caller's thread, before the engine lock) decodes
the PNG in full, refusing one that cannot be drawn, and scales it for the screen, so the
command only stores the bytes and swaps the pixels in. What is not ready then (the stored PNG
after a restart, a screen size not seen yet) is prepared on one worker thread per scoreboard
and swapped in when done; the previous background stays on screen until then.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import pygame

from engine import decode_png, png_size, scaled_rgb, surface_of

log = logging.getLogger(__name__)

Size = tuple[int, int]

LIMIT = 2 * 1024 * 1024
MAX_SIDE = 8192
MAX_PIXELS = 4096 * 4096
CHEAP = 512 * 512
"""Pixels in and out of a scaling cheap enough to do within a frame (a few ms) when a PNG is not
ready for the screen, rather than on the worker (small PNGs on small screens)."""
_one_at_a_time = threading.Lock()  # a decoded 4096x4096 PNG alone takes ~130 MB


class _Screens:
    """The screen sizes scoreboards in this process drew on lately (one, on a node): what an
    upload is scaled for before its command knows which scoreboard it is for."""

    def __init__(self) -> None:
        self.sizes: tuple[Size, ...] = ()

    def saw(self, size: Size) -> None:
        if size not in self.sizes:
            self.sizes = (size, *self.sizes)[:2]


screens = _Screens()


@dataclass(frozen=True)
class Picture:
    """A PNG that decodes in full, with its pixels scaled for each screen size seen."""

    data: bytes
    size: Size
    scaled: dict[Size, bytes]

    def describe(self) -> str:
        return f"{self.size[0]}x{self.size[1]} PNG"


def prepare(data: bytes) -> Picture:
    """Decode, check and scale an upload: the ``Convert`` of ``set_background``."""
    with _one_at_a_time:
        image = decode_png(data, LIMIT, max_side=MAX_SIDE, max_pixels=MAX_PIXELS)
        scaled = {size: scaled_rgb(image, size) for size in screens.sizes}
    return Picture(data, image.size, scaled)


@dataclass(frozen=True)
class _Pixels:
    generation: int
    data: bytes
    size: Size
    rgb: bytes


class Backdrop:
    """What one scoreboard shows behind the score: the wanted PNG, the newest pixels ready
    for it (or, until those are, for the one before), and at most one worker thread."""

    def __init__(self, on_ready: Callable[[], None]) -> None:
        self._on_ready = on_ready
        self._lock = threading.Lock()
        self._generation = 0
        self._wanted: bytes | None = None
        self._wanted_pixels = 0
        self._size: Size | None = None
        self._ready: _Pixels | None = None
        self._before: _Pixels | None = None
        self._job: tuple[int, bytes, Size] | None = None
        self._asked: tuple[int, Size] | None = None
        self._working = False
        self._surface: tuple[_Pixels, pygame.Surface] | None = None
        self.error: str | None = None

    def show(self, picture: Picture | bytes | None) -> None:
        """Want ``picture`` (None = the built-in background) from now on; cheap, so it runs
        under the engine lock: pixels already scaled or shown before are swapped in at once."""
        data = picture.data if isinstance(picture, Picture) else picture
        with self._lock:
            self._generation += 1
            self._wanted, self.error = data, None
            if data is None:
                return
            self._wanted_pixels = _pixels(picture if isinstance(picture, Picture) else data)
            sizes = (self._size,) if self._size else screens.sizes
            for size in sizes:
                for pixels in (self._ready, self._before):
                    if pixels is not None and pixels.size == size and pixels.data == data:
                        self._swap(replace(pixels, generation=self._generation))
                        return
                if isinstance(picture, Picture) and size in picture.scaled:
                    self._swap(_Pixels(self._generation, data, size, picture.scaled[size]))
                    return
            if self._size is not None and not self._cheap(self._size):
                self._ask(self._size)  # else the next frame prepares it

    def surface(self, size: Size) -> pygame.Surface | None:
        """The custom background for a frame of ``size`` (main thread); None = built-in."""
        screens.saw(size)
        with self._lock:
            self._size = size
            wanted, generation, ready = self._wanted, self._generation, self._ready
            if wanted is None:
                return None
            missing = ready is None or ready.generation != generation or ready.size != size
            cheap = self._cheap(size)
            if missing and self.error is None and not cheap:
                self._ask(size)
        if missing and self.error is None and cheap:
            self._finish(generation, wanted, size, *_prepare(wanted, size))
            ready = self._ready
        if ready is None or ready.size != size:
            return None
        if self._surface is None or self._surface[0] is not ready:
            self._surface = (ready, surface_of(ready.rgb, ready.size))
        return self._surface[1]

    def _cheap(self, size: Size) -> bool:
        return self._wanted_pixels + size[0] * size[1] <= CHEAP

    def _swap(self, pixels: _Pixels) -> None:
        if self._ready is not None and self._ready.data != pixels.data:
            self._before = self._ready
        self._ready = pixels

    def _ask(self, size: Size) -> None:
        """Have the worker prepare the wanted PNG for ``size`` (called with the lock held)."""
        if self._asked == (self._generation, size) or self._wanted is None:
            return
        self._asked = (self._generation, size)
        self._job = (self._generation, self._wanted, size)
        if not self._working:
            self._working = True
            threading.Thread(target=self._work, name="scoreboard-background", daemon=True).start()

    def _work(self) -> None:
        """Prepare the newest job until none is left; a job replaced meanwhile is dropped."""
        while True:
            with self._lock:
                job, self._job = self._job, None
                if job is None:
                    self._working = False
                    return
            generation, data, size = job
            if generation != self._generation:
                continue
            with _one_at_a_time:
                rgb, error = _prepare(data, size)
            if self._finish(generation, data, size, rgb, error):
                self._on_ready()

    def _finish(
        self, generation: int, data: bytes, size: Size, rgb: bytes | None, error: str | None
    ) -> bool:
        """Swap prepared pixels in (or note why there are none) unless a newer PNG is wanted."""
        with self._lock:
            if generation != self._generation:
                return False  # replaced while it was decoded: dropped
            if rgb is not None:
                self._swap(_Pixels(generation, data, size, rgb))
            else:
                log.warning("the stored background cannot be drawn: %s", error)
                self.error, self._ready = error, None
            return True


def _pixels(picture: Picture | bytes) -> int:
    """How many pixels a PNG declares (what decoding it costs)."""
    try:
        width, height = picture.size if isinstance(picture, Picture) else png_size(picture)
    except ValueError:
        return 0  # not decodable at all: finding that out costs nothing
    return width * height


def _prepare(data: bytes, size: Size) -> tuple[bytes | None, str | None]:
    """(RGB pixels of the PNG scaled to ``size``, None) or (None, why it cannot be drawn)."""
    try:
        image = decode_png(data, LIMIT, max_side=MAX_SIDE, max_pixels=MAX_PIXELS)
        return scaled_rgb(image, size), None
    except ValueError as exc:
        return None, str(exc)
    except Exception as exc:
        log.exception("the background could not be prepared")
        return None, f"{type(exc).__name__}: {exc}"
