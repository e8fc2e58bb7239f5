"""How the quiz looks: the question on top, who buzzed in the middle (big, in the team's
colour), every team's name and score along the bottom.

pygame, so ``draw`` on the main thread only. A frame is painted once per state and screen
size and then only blitted; rendered text is kept, so a new score renders just that score.
"""

from __future__ import annotations

from typing import NamedTuple

import pygame
from engine import RGB, contrast, fit_text, font

BACKGROUND: RGB = (14, 16, 26)
TEXT: RGB = (240, 240, 245)
DIM: RGB = (110, 115, 135)
QUESTION_LINES = 3
KEPT_TEXTS = 256


class Team(NamedTuple):
    name: str
    score: int
    colour: RGB


class View(NamedTuple):
    """Everything the screen shows; equal views look the same."""

    question: str
    teams: tuple[Team, ...]
    buzzed: int | None  # index into teams


def dimmed(colour: RGB) -> RGB:
    r, g, b = colour
    return ((r + 2 * BACKGROUND[0]) // 3, (g + 2 * BACKGROUND[1]) // 3,
            (b + 2 * BACKGROUND[2]) // 3)


class Look:
    def __init__(self) -> None:
        self._frame: tuple[tuple[tuple[int, int], View], pygame.Surface] | None = None
        self._texts: dict[tuple[str, int, RGB], pygame.Surface] = {}

    def draw(self, surface: pygame.Surface, view: View) -> None:
        key = (surface.get_size(), view)
        if self._frame is None or self._frame[0] != key:
            frame = pygame.Surface(surface.get_size())
            self._paint(frame, view)
            self._frame = (key, frame)
        surface.blit(self._frame[1], (0, 0))

    def _text(self, text: str, size: int, colour: RGB) -> pygame.Surface:
        key = (text, size, colour)
        rendered = self._texts.get(key)
        if rendered is None:
            if len(self._texts) >= KEPT_TEXTS:
                self._texts.clear()
            rendered = self._texts[key] = font(size).render(text, True, colour)
        return rendered

    def _centred(self, surface: pygame.Surface, text: str, size: int, colour: RGB,
                 centre: tuple[int, int]) -> None:
        rendered = self._text(text, size, colour)
        surface.blit(rendered, rendered.get_rect(center=centre))

    def _paint(self, surface: pygame.Surface, view: View) -> None:
        w, h = surface.get_size()
        surface.fill(BACKGROUND)
        top, bottom = int(h * 0.30), int(h * 0.70)
        self._question(surface, view.question, pygame.Rect(0, 0, w, top))
        middle = pygame.Rect(0, top, w, bottom - top)
        if view.buzzed is None:
            self._centred(surface, "buzzers open", max(8, h // 14), DIM, middle.center)
        else:
            team = view.teams[view.buzzed]
            surface.fill(team.colour, middle)
            size = fit_text(team.name, int(w * 0.9), int(middle.height * 0.75)).size
            self._centred(surface, team.name, size, contrast(team.colour), middle.center)
        self._teams(surface, view, pygame.Rect(0, bottom, w, h - bottom))

    def _question(self, surface: pygame.Surface, text: str, area: pygame.Rect) -> None:
        if not text:
            self._centred(surface, "quiz", max(8, area.height // 3), DIM, area.center)
            return
        lines, size = wrap(text, int(area.width * 0.92), area.height // QUESTION_LINES,
                           QUESTION_LINES)
        step = font(size).get_linesize()
        y = area.centery - step * (len(lines) - 1) // 2
        for line in lines:
            self._centred(surface, line, size, TEXT, (area.centerx, y))
            y += step

    def _teams(self, surface: pygame.Surface, view: View, area: pygame.Rect) -> None:
        cell_w = area.width // len(view.teams)
        strip = max(3, area.height // 12)
        for i, team in enumerate(view.teams):
            out = view.buzzed is not None and view.buzzed != i
            colour = dimmed(team.colour) if out else team.colour
            cell = pygame.Rect(area.x + i * cell_w, area.y, cell_w, area.height)
            surface.fill(colour, (cell.x + 2, cell.y, cell.width - 4, strip))
            label = fit_text(team.name, int(cell_w * 0.9), max(8, area.height // 4)).size
            self._centred(surface, team.name, label, DIM if out else TEXT,
                          (cell.centerx, cell.y + strip + label // 2 + 2))
            score = str(team.score)
            digits = fit_text(score, int(cell_w * 0.9), max(8, area.height // 2)).size
            self._centred(surface, score, digits, colour,
                          (cell.centerx, cell.bottom - digits // 2 - 2))


def wrap(text: str, width: int, size: int, lines: int) -> tuple[list[str], int]:
    """``text`` broken into at most ``lines`` lines that fit ``width`` pixels, at the largest
    font size up to ``size`` where that works (it stops shrinking at 8)."""
    words = text.split()
    while True:
        face = font(size)
        rows: list[str] = []
        for word in words:
            if rows and face.size(f"{rows[-1]} {word}")[0] <= width:
                rows[-1] = f"{rows[-1]} {word}"
            else:
                rows.append(word)
        if size <= 8 or (len(rows) <= lines and all(face.size(r)[0] <= width for r in rows)):
            return rows[:lines], size
        size = max(8, int(size * 0.9))
