"""How the scoreboard looks: a background, the team name, the score over its drop shadow.

Everything here calls pygame, so it runs inside ``draw`` on the main thread only. Sizes are
fractions of the screen height (the camp's 1280x720 is the reference), so the same layout
reads on a 320x180 test surface and on a 4K television.

The score counts up frame by frame, so a frame redraws only the digits that changed on a copy
of the last one (background and team are made once), then shows that copy whole (``Canvas``).
``Canvas`` and ``Text`` are the timer's too (plugins do not import each other).
"""

from __future__ import annotations

import math

import pygame

from engine import RGB, Canvas, Text, centred, fit_text

REFERENCE_HEIGHT = 720
SCORE_COLOUR: RGB = (255, 255, 255)
SHADOW: RGB = (0, 0, 0)
SCORE_SHADOW_PX = 5
TITLE_SHADOW_PX = 3


def built_in_background(size: tuple[int, int]) -> pygame.Surface:
    """Night-blue with a soft light behind the score and faint diagonal stripes; no file."""
    w, h = size
    cols, rows = 64, 36
    small = pygame.Surface((cols, rows))
    for y in range(rows):
        v = y / (rows - 1)
        for x in range(cols):
            u = x / (cols - 1)
            glow = math.exp(-((u - 0.5) ** 2 / 0.09 + (v - 0.62) ** 2 / 0.06))
            shade = 1.0 - 0.75 * ((u - 0.5) ** 2 + (v - 0.5) ** 2)
            r = (18 + 22 * u + 44 * glow) * shade
            g = (26 - 6 * u + 40 * glow - 10 * v) * shade
            b = (70 - 30 * v + 12 * u + 80 * glow) * shade
            small.set_at((x, y), (_channel(r), _channel(g), _channel(b)))
    surface = pygame.transform.smoothscale(small, size)
    stripes = pygame.Surface(size, pygame.SRCALPHA)
    step = max(8, h // 9)
    for x in range(-h, w + h, step * 2):
        pygame.draw.polygon(
            stripes, (255, 255, 255, 6), [(x, h), (x + step, h), (x + step + h, 0), (x + h, 0)]
        )
    surface.blit(stripes, (0, 0))
    return surface


def _channel(value: float) -> int:
    return max(0, min(255, int(value)))


class Look:
    """Draws the scoreboard; background and team are drawn once, digits as they change."""

    def __init__(self) -> None:
        self._built_in: pygame.Surface | None = None
        self.canvas = Canvas()
        self.digits = Text()
        self._fits: dict[tuple[str, int, int], int] = {}

    def built_in(self, size: tuple[int, int]) -> pygame.Surface:
        """The built-in background for this screen size, made once."""
        if self._built_in is None or self._built_in.get_size() != size:
            self._built_in = built_in_background(size)
        return self._built_in

    def draw(
        self,
        surface: pygame.Surface,
        team: str,
        score: str,
        title_colour: RGB,
        background: pygame.Surface,
        kept: bool = False,
    ) -> None:
        w, h = surface.get_size()
        self.canvas.begin(surface, (team, title_colour, background),
                          lambda under: self._under(under, team, title_colour, background))
        # fitted as if every digit were an 8, so the digits keep size and place as they count
        cells = "".join("8" if c.isdigit() else c for c in score)
        size = self._fit(cells, int(w * 0.92), int(h * 0.5))
        self.digits.draw(self.canvas, score, size, SCORE_COLOUR, (w // 2, int(h * 0.65)), SHADOW,
                         max(1, round(SCORE_SHADOW_PX * h / REFERENCE_HEIGHT)), cells=cells)
        self.canvas.show(surface, kept)  # kept: stage.screen_kept

    def _under(self, under: pygame.Surface, team: str, title_colour: RGB,
               background: pygame.Surface) -> None:
        """What stays while the score counts: the background, the team name and its rule."""
        w, h = under.get_size()
        scale = h / REFERENCE_HEIGHT
        under.blit(background, (0, 0))
        title = fit_text(team, int(w * 0.9), int(h * 0.2))
        rect = centred(
            under, title.text, title.size, title_colour, (w // 2, int(h * 0.19)),
            shadow=SHADOW, shadow_offset=max(1, round(TITLE_SHADOW_PX * scale)),
        )
        rule = max(2, round(4 * scale))
        width = min(int(w * 0.8), rect.width + int(60 * scale))
        pygame.draw.rect(
            under, title_colour, (w // 2 - width // 2, int(h * 0.33), width, rule),
            border_radius=rule // 2,
        )

    def _fit(self, cells: str, width: int, size: int) -> int:
        key = (cells, width, size)
        if key not in self._fits:
            if len(self._fits) > 64:
                self._fits.clear()
            self._fits[key] = fit_text(cells, width, size).size
        return self._fits[key]
