"""Small drawing helpers every mode shares: cached fonts, text that fits, centred text.

All of these call pygame, so they are for ``Mode.draw`` (the main thread) only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import pygame

from engine.api.colors import RGB

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


class Fitted(NamedTuple):
    """What ``fit_text`` found: the text and the font size (pixels) at which it fits;
    ``text, size = fit_text(...)`` unpacks it."""

    text: str
    size: int


def fit_text(text: str, max_width: int, size: int) -> Fitted:
    """The largest font size up to ``size`` at which ``text`` fits ``max_width`` pixels (long
    team names stay on screen), shrinking by 10 % steps and stopping at 8; the text is
    returned unchanged, so pass the result straight to ``centred``."""
    while size > 8 and font(size).size(text)[0] > max_width:
        size = int(size * 0.9)
    return Fitted(text, size)


def centred(
    surface: pygame.Surface,
    text: str,
    size: int,
    colour: RGB,
    centre: tuple[int, int],
    shadow: RGB | None = None,
    shadow_offset: int = 0,
) -> pygame.Rect:
    """Draw ``text`` at font ``size`` in ``colour``, centred on ``centre`` (x, y); returns the
    text's rect.

    :param shadow: the colour of a drop shadow drawn under the text (e.g. ``(0, 0, 0)``),
        or None for none.
    :param shadow_offset: how many pixels right and down the shadow sits; a shadow is drawn
        only when this is non-zero.
    """
    face = font(size)
    if shadow is not None and shadow_offset:
        back = face.render(text, True, shadow)
        rect = back.get_rect(center=(centre[0] + shadow_offset, centre[1] + shadow_offset))
        surface.blit(back, rect)
    rendered = face.render(text, True, colour)
    rect = rendered.get_rect(center=centre)
    surface.blit(rendered, rect)
    return rect


def contrast(rgb: RGB) -> RGB:
    """Black or white, whichever reads better on ``rgb``."""
    r, g, b = rgb
    return (0, 0, 0) if (0.299 * r + 0.587 * g + 0.114 * b) > 150 else (255, 255, 255)
