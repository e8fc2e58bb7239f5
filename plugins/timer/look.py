"""How the timer looks: big digits, a caption saying what the timer is doing, for a
countdown a bar of the time left, and in a race the team's name above and its place below.
pygame, so ``draw`` on the main thread only.

A running timer draws 30 frames a second, so a frame redraws only what changes (digits,
caption, bar) on a copy of the last one, then shows that copy whole (see ``Canvas``).
"""

from __future__ import annotations

import pygame

from engine import RGB, Canvas, Text, centred, contrast, fit_text, font

TOP: RGB = (20, 24, 38)
BOTTOM: RGB = (6, 7, 12)
DIGITS: RGB = (255, 255, 255)
SHADOW: RGB = (0, 0, 0)
CAPTIONS: dict[str, RGB] = {
    "ready": (150, 160, 180),
    "running": (90, 220, 120),
    "countdown": (90, 200, 255),
    "stopped": (255, 196, 60),
    "time!": (255, 80, 80),
    "get ready": (90, 200, 255),
}
TITLE: RGB = (225, 230, 245)
PLACES: dict[int, RGB] = {1: (255, 196, 40), 2: (200, 206, 218), 3: (214, 140, 70)}
OTHER_PLACE: RGB = (110, 140, 210)


def place_text(place: int) -> str:
    """``WINNER`` for 1, else the ordinal: ``2nd``, ``3rd``, ``4th`` ... ``11th``, ``21st``."""
    if place == 1:
        return "WINNER"
    suffix = "th" if 10 <= place % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(place % 10, "th")
    return f"{place}{suffix}"


def format_time(seconds: float) -> str:
    """``SS.mmm`` below a minute, ``M:SS.mmm`` above; milliseconds cut, as stopwatches do."""
    millis = int(max(0.0, seconds) * 1000 + 1e-6)
    minutes, millis = divmod(millis, 60_000)
    whole, millis = divmod(millis, 1000)
    if minutes:
        return f"{minutes}:{whole:02d}.{millis:03d}"
    return f"{whole:02d}.{millis:03d}"


class Look:
    """Draws the timer: background and title made once, digits and caption as they change."""

    def __init__(self) -> None:
        self._background: pygame.Surface | None = None
        self.canvas = Canvas()
        self.digits = Text()
        self._fits: dict[tuple[str, int, int], int] = {}
        self._captions: dict[tuple[str, int, RGB], pygame.Surface] = {}

    def background(self, size: tuple[int, int]) -> pygame.Surface:
        if self._background is None or self._background.get_size() != size:
            ends = pygame.Surface((1, 2))
            ends.set_at((0, 0), TOP)
            ends.set_at((0, 1), BOTTOM)
            self._background = pygame.transform.smoothscale(ends, size)
        return self._background

    def draw(
        self, surface: pygame.Surface, text: str, caption: str, progress: float | None,
        title: str = "", place: int = 0, kept: bool = False,
    ) -> None:
        """The big ``text``; above it the ``title`` (the team); below it the caption, or for a
        race that is over the ``place`` on a banner. ``kept``: ``stage.screen_kept``."""
        w, h = surface.get_size()
        accent = CAPTIONS.get(caption, DIGITS)
        frame = self.canvas.begin(surface, (title, place),
                                  lambda under: self._under(under, title, place))
        # fit the widest text of this length, so the digits do not jump size as they change
        template = "".join("8" if c.isdigit() else c for c in text)
        size = self._fit(template, int(w * 0.9), int(h * 0.42))
        self.digits.draw(self.canvas, text, size, DIGITS, (w // 2, int(h * 0.45)), SHADOW,
                         max(1, round(5 * h / 720)), cells=template)
        if not place:  # drawn each frame (a cached text), so "GO" is no frame made anew
            label = self._caption(caption.upper(), max(8, h // 11), accent)
            at = label.get_rect(center=(w // 2, int(h * 0.76)))
            frame.blit(label, at)
            self.canvas.changing(at)
        if progress is not None and not place:
            bar_w, bar_h = int(w * 0.6), max(3, h // 60)
            x, y = (w - bar_w) // 2, int(h * 0.86)
            bar = pygame.Rect(x, y, bar_w, bar_h)
            pygame.draw.rect(frame, (40, 46, 64), bar, border_radius=bar_h // 2)
            filled = int(bar_w * max(0.0, min(1.0, progress)))
            if filled:
                pygame.draw.rect(frame, accent, (x, y, filled, bar_h), border_radius=bar_h // 2)
            self.canvas.changing(bar)
        self.canvas.show(surface, kept)

    def _caption(self, text: str, size: int, colour: RGB) -> pygame.Surface:
        key = (text, size, colour)
        found = self._captions.get(key)
        if found is None:
            if len(self._captions) > 16:
                self._captions.clear()
            found = self._captions[key] = font(size).render(text, True, colour)
        return found

    def _under(self, under: pygame.Surface, title: str, place: int) -> None:
        """What stays while the timer runs: the background, the title, a place's banner."""
        w, h = size = under.get_size()
        under.blit(self.background(size), (0, 0))
        if title:
            fitted = fit_text(title, int(w * 0.9), max(8, h // 9))
            centred(under, fitted.text, fitted.size, TITLE, (w // 2, int(h * 0.12)))
        if place:
            self.banner(under, place)

    def _fit(self, template: str, width: int, size: int) -> int:
        key = (template, width, size)
        if key not in self._fits:
            if len(self._fits) > 64:
                self._fits.clear()
            self._fits[key] = fit_text(template, width, size).size
        return self._fits[key]

    def banner(self, surface: pygame.Surface, place: int) -> pygame.Rect:
        """The place across the lower part of the screen: gold, silver, bronze, then blue."""
        w, h = surface.get_size()
        colour = PLACES.get(place, OTHER_PLACE)
        band = pygame.Rect(int(w * 0.15), int(h * 0.68), int(w * 0.7), int(h * 0.22))
        pygame.draw.rect(surface, colour, band, border_radius=max(2, band.height // 5))
        fitted = fit_text(place_text(place), int(band.width * 0.9), int(band.height * 0.8))
        centred(surface, fitted.text, fitted.size, contrast(colour), band.center)
        return band
