"""The picture: a QR code of the address on a white card, its caption under it, centred.

The code takes about half the screen's height so a phone reads it from across a room; each
module is a whole number of pixels (crisp edges), with the standard's quiet zone of white
around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame
import segno

from engine import RGB, centred, fit_text

QUIET = 4
"""Modules of white around the code (the QR standard's quiet zone)."""
SHARE = 0.55
"""The part of the screen's height the code takes, quiet zone included (to the nearest
whole pixel per module; at most 70 %, and 90 % of the width on a TV stood on its side)."""
DARK: RGB = (0, 0, 0)
LIGHT: RGB = (255, 255, 255)


def code(url: str) -> segno.QRCode:
    """The QR code of ``url``: error level M or better (segno raises it when that costs no
    size), never a Micro QR (phones' cameras do not read those)."""
    return segno.make_qr(url, error="m")


@dataclass(frozen=True)
class Place:
    """Where the code goes on a screen: its top-left corner (quiet zone included), the
    pixels per module, the modules per side (quiet zone included), the caption's height."""

    x: int
    y: int
    scale: int
    modules: int
    caption: int

    @property
    def side(self) -> int:
        return self.modules * self.scale


def place(size: tuple[int, int], modules: int, caption: bool = True) -> Place:
    """The code's place on a ``size`` screen, centred with its caption under it."""
    w, h = size
    band = max(12, h // 12) if caption else 0
    most = min(w * 0.9, h * 0.7, h - band)
    scale = max(1, round(min(h * SHARE, most) / modules))  # whole pixels: crisp modules
    if modules * scale > most:
        scale = max(1, int(most // modules))
    side = modules * scale
    return Place((w - side) // 2, (h - side - band) // 2, scale, modules, band)


def render(url: str, caption: str, size: tuple[int, int]) -> tuple[pygame.Surface, Place]:
    """The card (code and caption) for a ``size`` screen, and where it goes (main thread)."""
    qr = code(url)
    modules = int(qr.symbol_size(border=QUIET)[0])
    where = place(size, modules, bool(caption))
    data = bytes(value for row in qr.matrix_iter(border=QUIET) for dark in row
                 for value in (DARK if dark else LIGHT))
    small = pygame.image.frombuffer(data, (modules, modules), "RGB")
    card = pygame.Surface((where.side, where.side + where.caption))
    card.fill(LIGHT)
    card.blit(pygame.transform.scale(small, (where.side, where.side)), (0, 0))
    if caption:
        text, points = fit_text(caption, where.side - 2 * where.scale, int(where.caption * 0.8))
        centred(card, text, points, DARK, (where.side // 2, where.side + where.caption // 2 - 2))
    return card, where
