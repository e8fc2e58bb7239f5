"""Frames that change a little at a time, for modes that animate (a running clock, a
counting score): a ``Canvas`` keeps the mode's own copy of its last frame and redraws only the
regions that change; ``Text`` draws big text whose characters change a few at a time, each
character blended once and then copied in. pygame, so for ``Mode.draw`` (the main thread).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import NamedTuple

import pygame

from engine.api.colors import RGB
from engine.api.drawing import font


class Canvas:
    """This look's own copy of the frame it last drew. Only what changed is drawn again (its
    region first cleared from ``under``, the layer that stays while its key does), then the
    copy is shown: only the changed regions while the screen still holds the last one
    (``stage.screen_kept``), else whole, which covers whatever else was drawn on the screen
    meanwhile (a banner, an overlay, another mode)."""

    def __init__(self) -> None:
        self.under: pygame.Surface | None = None
        self.frame: pygame.Surface | None = None
        self.key: tuple[object, ...] | None = None
        self.dirty: list[pygame.Rect] = []
        self.cleared: list[pygame.Rect] = []
        """The regions ``begin`` cleared this frame (whatever was drawn there must come back)."""
        self.fresh = True
        """``begin`` made the frame anew from ``under``: everything must be drawn."""
        self.changed: list[pygame.Rect] = []
        """The regions of the frame changed since it was last shown."""

    def begin(self, surface: pygame.Surface, key: tuple[object, ...],
              make: Callable[[pygame.Surface], None]) -> pygame.Surface:
        """The frame to draw on: the last one with its changing regions cleared, or, when the
        size or ``key`` changed, ``under`` drawn anew by ``make(under)`` and copied."""
        size = surface.get_size()
        key = (size, *key)
        self.fresh = self.frame is None or key != self.key
        if self.fresh:
            if self.under is None or self.under.get_size() != size:
                self.under = pygame.Surface(size, 0, surface)  # kept: 3.7 MB at 720p
                self.frame = pygame.Surface(size, 0, surface)
            make(self.under)
            assert self.frame is not None
            self.frame.blit(self.under, (0, 0))
            self.key = key
            self.cleared = []
        else:
            for rect in self.dirty:
                self.restore(rect)
            self.cleared = self.dirty
        self.dirty = []
        assert self.frame is not None
        return self.frame

    def changing(self, rect: pygame.Rect) -> None:
        """``rect`` was drawn over ``under`` this frame: clear it at the next one."""
        self.dirty.append(rect)
        self.changed.append(rect)

    def touched(self, rect: pygame.Rect) -> None:
        """``rect`` of the frame was drawn on this frame (to be shown, not cleared later)."""
        self.changed.append(rect)

    def restore(self, rect: pygame.Rect) -> None:
        """Clear ``rect`` back to ``under`` now."""
        assert self.frame is not None and self.under is not None
        self.frame.blit(self.under, rect, rect)
        self.changed.append(rect)

    def show(self, surface: pygame.Surface, kept: bool = False) -> None:
        """Copy the frame onto ``surface``: whole, or, when ``kept`` (``stage.screen_kept``:
        the screen still shows this canvas's last frame), only the regions that changed since
        (a running clock: its digits' cells, not 3.7 MB of 720p a frame)."""
        assert self.frame is not None
        if kept and not self.fresh:
            for rect in self.changed:
                surface.blit(self.frame, rect, rect)
        else:
            surface.blit(self.frame, (0, 0))
        self.changed = []


class Cell(NamedTuple):
    """One character of a ``Text`` where it is drawn."""

    char: str
    size: int
    colour: RGB
    shadow: RGB
    offset: int
    x: int
    top: int


class Text:
    """Big text that changes a few characters a frame (a running clock, a counting score),
    drawn on a ``Canvas``. Blending antialiased glyphs is what a frame costs, so each
    character at each place is blended once, with its shadow, over what lies under it, and
    kept as an opaque patch: a frame copies in the patches of the characters that changed.
    Characters whose ink (or shadow) would overlap are drawn whole instead."""

    BUDGET = 4_000_000
    """Bytes of patches kept (about 45 digits at 1280x720; the oldest go first)."""

    def __init__(self) -> None:
        self.glyphs: dict[tuple[str, int, RGB], tuple[pygame.Surface, pygame.Rect]] = {}
        self.patches: dict[Cell, pygame.Surface] = {}
        self.bytes = 0
        self.shown: list[tuple[Cell, pygame.Rect]] = []  # each with the box it covers
        self.lines: dict[tuple[int, str], tuple[int, int, list[int]]] = {}
        """(size, layout) -> its width, height and where each character starts: measured
        once (laying text out at 300 px is most of what a clock's frame would cost)."""
        self.widths: dict[tuple[int, str], int] = {}

    def line(self, size: int, layout: str) -> tuple[int, int, list[int]]:
        found = self.lines.get((size, layout))
        if found is None:
            if len(self.lines) >= 64:
                self.lines.clear()
            face = font(size)  # cached per size (engine.api.drawing)
            width, height = face.size(layout)
            starts = [face.size(layout[:i])[0] for i in range(len(layout))]
            found = self.lines[(size, layout)] = (width, height, starts)
        return found

    def width(self, size: int, char: str) -> int:
        found = self.widths.get((size, char))
        if found is None:
            if len(self.widths) >= 512:
                self.widths.clear()
            found = self.widths[(size, char)] = font(size).size(char)[0]
        return found

    def glyph(self, char: str, size: int, colour: RGB) -> tuple[pygame.Surface, pygame.Rect]:
        """A character rendered, and the box of its ink within it."""
        key = (char, size, colour)
        found = self.glyphs.get(key)
        if found is None:
            if len(self.glyphs) >= 128:
                self.glyphs.clear()
            rendered = font(size).render(char, True, colour)
            found = self.glyphs[key] = (rendered, rendered.get_bounding_rect())
        return found

    def draw(self, canvas: Canvas, text: str, size: int, colour: RGB, centre: tuple[int, int],
             shadow: RGB, offset: int, cells: str | None = None) -> None:
        """``text`` centred on ``centre``; with ``cells`` (as long as ``text``, e.g. "88.888")
        each character sits centred in the place ``cells``' character would take, so digits
        keep their places as they change (a proportional font's "1" is narrower)."""
        frame = canvas.frame
        assert frame is not None
        if canvas.fresh:
            self.patches.clear()
            self.bytes = 0
            self.shown = []
        layout = cells if cells is not None and len(cells) == len(text) else text
        width, height, starts = self.line(size, layout)
        left, top = centre[0] - width // 2, centre[1] - height // 2
        now: list[tuple[Cell, pygame.Rect]] = []
        for i, char in enumerate(text):
            x = left + starts[i]  # with the font's kerning, as a line has it
            if layout is not text:
                x += (self.width(size, layout[i]) - self.width(size, char)) // 2
            ink = self.glyph(char, size, colour)[1].move(x, top)
            if not ink.width:
                continue  # a space
            box = ink.union(ink.move(offset, offset))
            now.append((Cell(char, size, colour, shadow, offset, x, top), box))
        boxes = sorted((box for _key, box in now), key=lambda r: r.left)
        if any(a.colliderect(b) for a, b in pairwise(boxes)):
            self._whole(canvas, now)
            return
        drawn = {cell for cell, _box in self.shown}
        wanted = {cell for cell, _box in now}
        gone = [box for cell, box in self.shown if cell not in wanted]
        gone += [r for r in canvas.cleared if any(r.colliderect(b) for _c, b in now)]
        for box in gone:
            canvas.restore(box)
        for cell, box in now:
            if cell not in drawn or box.collidelist(gone) >= 0:
                frame.blit(self.patch(canvas, cell, box), box)
                canvas.touched(box)
        self.shown = now

    def patch(self, canvas: Canvas, cell: Cell, box: pygame.Rect) -> pygame.Surface:
        """``cell``'s character and its shadow over what lies under it at ``box``."""
        found = self.patches.pop(cell, None)
        if found is None:
            assert canvas.under is not None
            found = pygame.Surface(box.size, 0, canvas.under)
            found.blit(canvas.under, (0, 0), box)
            found.blit(self.glyph(cell.char, cell.size, cell.shadow)[0],
                       (cell.x + cell.offset - box.x, cell.top + cell.offset - box.y))
            found.blit(self.glyph(cell.char, cell.size, cell.colour)[0],
                       (cell.x - box.x, cell.top - box.y))
            self.bytes += box.width * box.height * 4
            while self.patches and self.bytes > self.BUDGET:
                gone = self.patches.pop(next(iter(self.patches)))
                self.bytes -= gone.get_width() * gone.get_height() * 4
        self.patches[cell] = found  # the newest last
        return found

    def _whole(self, canvas: Canvas, now: list[tuple[Cell, pygame.Rect]]) -> None:
        """Characters that overlap: every one blended again, over a cleared area."""
        frame = canvas.frame
        assert frame is not None
        rects = [box for _cell, box in [*self.shown, *now]]
        if rects:
            canvas.restore(rects[0].unionall(rects[1:]))
        for cell, _box in now:
            at = (cell.x + cell.offset, cell.top + cell.offset)
            frame.blit(self.glyph(cell.char, cell.size, cell.shadow)[0], at)
        for cell, _box in now:
            frame.blit(self.glyph(cell.char, cell.size, cell.colour)[0], (cell.x, cell.top))
        self.shown = now
