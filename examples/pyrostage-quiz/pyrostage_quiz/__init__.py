"""pyrostage-quiz: a quiz buzzer mode for pyrostage nodes.

Four teams, one button each (``main``, ``second``, ``third``, ``fourth``); the first press
locks out the others and shows who buzzed, big and in the team's colour, until ``award`` or
``reset`` opens the buzzers again. Every buzz is published as a ``buzzed`` event.
"""

from __future__ import annotations

from collections.abc import Callable

from engine import Mode, hookimpl

from .mode import BUTTONS, COLOURS, NAMES, Quiz

__all__ = ["BUTTONS", "COLOURS", "NAMES", "Quiz"]


@hookimpl
def register_modes(register: Callable[[type[Mode]], None]) -> None:
    register(Quiz)
