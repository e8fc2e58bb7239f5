"""timer: a race stopwatch and countdown, stopped by the big button.

The main button stops a running timer at the moment its edge was seen, not when the main loop
got round to it. It publishes ``timer_started``, ``timer_stopped`` (elapsed, source) and
``countdown_finished`` events, and journals every result (``results``).
"""

from __future__ import annotations

from collections.abc import Callable

from engine import Mode, hookimpl

from .mode import Timer

__all__ = ["Timer"]


@hookimpl
def register_modes(register: Callable[[type[Mode]], None]) -> None:
    register(Timer)
