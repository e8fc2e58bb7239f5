"""colorsquare: the whole screen one colour, named in a small caption.

The original camp demo, with any colour pygame knows; the main button steps to the next
colour.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pygame

from engine import (
    RGB,
    Color,
    Mode,
    Setting,
    centred,
    color_name,
    command,
    contrast,
    hookimpl,
)

CYCLE: list[RGB] = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 255, 255)]


class ColorSquare(Mode):
    name = "colorsquare"
    description = "the whole screen in one colour"
    settings: dict[str, Setting] = {}  # none: a [plugins.<name>] key is a mistake

    color: RGB = (0, 0, 0)

    def restore(self) -> None:
        r, g, b = self.state.get("color", [0, 0, 0])
        self.color = (r, g, b)

    def _set(self, rgb: RGB) -> None:
        self.state.set("color", list(rgb))
        self.color = rgb

    @command(idempotent=True)
    def set_color(self, color: Color) -> list[int]:
        """Fill the screen with a colour: a name (any pygame knows), [r, g, b] or "r,g,b"."""
        self._set(color)  # type: ignore[arg-type]  # Convert made it (r, g, b)
        return list(self.color)

    @command(idempotent=True)
    def red(self) -> str:
        """Shortcut for set_color("red")."""
        self._set((255, 0, 0))
        return "RED"

    @command(idempotent=True)
    def green(self) -> str:
        """Shortcut for set_color("green")."""
        self._set((0, 255, 0))
        return "GREEN"

    @command(idempotent=True)
    def blue(self) -> str:
        """Shortcut for set_color("blue")."""
        self._set((0, 0, 255))
        return "BLUE"

    @command(read=True)
    def get_color(self) -> list[int]:
        """The colour shown, as [r, g, b]."""
        return list(self.color)

    @command(read=True)
    def get_time(self) -> float:
        """Seconds the node has been up."""
        return round(self.stage.uptime, 3)

    def on_button(self, button: str, at: float) -> None:
        if button == "main":
            index = CYCLE.index(self.color) + 1 if self.color in CYCLE else 0
            self._set(CYCLE[index % len(CYCLE)])

    def draw(self, surface: pygame.Surface) -> None:
        surface.fill(self.color)
        w, h = surface.get_size()
        size = max(10, h // 18)
        centred(surface, color_name(self.color), size, contrast(self.color),
                (w // 2, h - size))

    def summary(self) -> dict[str, Any]:
        return {"color": list(self.color), "name": color_name(self.color)}


@hookimpl
def register_modes(register: Callable[[type[Mode]], None]) -> None:
    register(ColorSquare)
