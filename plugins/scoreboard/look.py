"""How the scoreboard looks: a background, the team name, the score over its drop shadow.

Everything here calls pygame, so it runs inside ``draw`` on the main thread only. Sizes are
fractions of the screen height (the camp's 1280x720 is the reference), so the same layout
reads on a 320x180 test surface and on a 4K television.
"""

from __future__ import annotations

import math

import pygame

from engine import RGB, centred, fit_text

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
    """Draws the scoreboard; keeps the built-in background so a frame is a blit and two texts."""

    def __init__(self) -> None:
        self._built_in: pygame.Surface | None = None

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
    ) -> None:
        w, h = surface.get_size()
        scale = h / REFERENCE_HEIGHT
        surface.blit(background, (0, 0))

        title = fit_text(team, int(w * 0.9), int(h * 0.2))
        rect = centred(
            surface, title.text, title.size, title_colour, (w // 2, int(h * 0.19)),
            shadow=SHADOW, shadow_offset=max(1, round(TITLE_SHADOW_PX * scale)),
        )
        rule = max(2, round(4 * scale))
        width = min(int(w * 0.8), rect.width + int(60 * scale))
        pygame.draw.rect(
            surface, title_colour, (w // 2 - width // 2, int(h * 0.33), width, rule),
            border_radius=rule // 2,
        )

        digits = fit_text(score, int(w * 0.92), int(h * 0.5))
        centred(
            surface, digits.text, digits.size, SCORE_COLOUR, (w // 2, int(h * 0.65)),
            shadow=SHADOW, shadow_offset=max(1, round(SCORE_SHADOW_PX * scale)),
        )
