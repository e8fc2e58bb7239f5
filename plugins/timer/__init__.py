"""timer: a race stopwatch and countdown, stopped by the big button.

The main button stops a running timer at the moment its edge was seen, not when the main loop
got round to it. A race (``start_at``) starts at an instant of the node's clock after a
countdown on the screen; ``place`` shows WINNER, 2nd ... under the team's name. It publishes
``timer_armed`` (at, title, ahead), ``timer_started`` (a race's: at, title, late),
``false_start`` (at, early, title), ``timer_cancelled``, ``timer_stopped`` (elapsed, source;
a race's: at), ``timer_placed`` (place, title, elapsed) and ``countdown_finished`` events,
journals every result (``results``), and plays short sounds where the node has them.
"""

from __future__ import annotations

from collections.abc import Callable

from engine import Mode, hookimpl

from .mode import Timer

__all__ = ["Timer"]


@hookimpl
def register_modes(register: Callable[[type[Mode]], None]) -> None:
    register(Timer)
