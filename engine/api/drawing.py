"""Small drawing helpers every mode shares: cached fonts, text that fits, centred text.

All of these call pygame, so they are for ``Mode.draw`` (the main thread) only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import pygame

_font_path: str | None = None


def set_font_path(path: str | None) -> None:
    """Use a TTF file for all text (config ``display.font``); None = pygame's built-in font."""
    global _font_path
    _font_path = path
    font.cache_clear()


@lru_cache(maxsize=64)
def font(size: int) -> pygame.font.Font:
    """The node's font at a pixel size (needs no file unless one is configured)."""
    return pygame.font.Font(_font_path, max(6, int(size)))


@dataclass(frozen=True)
class Fitted:
    text: str
    size: int


def fit_text(text: str, max_width: int, size: int) -> Fitted:
    """Shrink the font until ``text`` fits ``max_width`` (long team names stay on screen)."""
    while size > 8 and font(size).size(text)[0] > max_width:
        size = int(size * 0.9)
    return Fitted(text, size)


def centred(
    surface: pygame.Surface,
    text: str,
    size: int,
    colour: tuple[int, int, int],
    centre: tuple[int, int],
    shadow: tuple[int, int, int] | None = None,
    shadow_offset: int = 0,
) -> pygame.Rect:
    """Draw ``text`` centred on ``centre``, optionally over a drop shadow; returns its rect."""
    face = font(size)
    if shadow is not None and shadow_offset:
        back = face.render(text, True, shadow)
        rect = back.get_rect(center=(centre[0] + shadow_offset, centre[1] + shadow_offset))
        surface.blit(back, rect)
    rendered = face.render(text, True, colour)
    rect = rendered.get_rect(center=centre)
    surface.blit(rendered, rect)
    return rect


def contrast(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on ``rgb``."""
    r, g, b = rgb
    return (0, 0, 0) if (0.299 * r + 0.587 * g + 0.114 * b) > 150 else (255, 255, 255)
