"""scoreboard: a team name in a big title font over its score, as on the camp's Pis.

The score counts toward each new value over a few frames; every change is journaled with
who made it (``history``) and one ``undo`` fixes a mis-tap. The main button does nothing
visible here: plugins that want presses to score (the easter egg) listen to the hook.
"""

from __future__ import annotations

from collections.abc import Callable

from engine import Mode, hookimpl

from .mode import Scoreboard

__all__ = ["Scoreboard"]


@hookimpl
def register_modes(register: Callable[[type[Mode]], None]) -> None:
    register(Scoreboard)
