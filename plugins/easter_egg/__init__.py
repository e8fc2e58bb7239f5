"""easter_egg: while it is on, each main-button press on the scoreboard adds 10 points.

The camp's scoreboards added points on every button press, and the campers found out. Here
that is a behaviour of its own, off by default, switched with ``easter_egg.enable()`` /
``easter_egg.disable()``, and on for the whole of a configured day ("the last day")::

    [plugins.easter_egg]
    points = 10
    enable_on = 2027-08-14

It listens to the button hook, inside the press's change (the press and its points are saved
together, or neither), and scores through the scoreboard's own ``add_points``; the scoreboard
does not know it exists. Switching it publishes a ``toggled`` event.

What the main button does, by mode:

- ``timer``: stops a running timer at the moment the edge was seen;
- ``scoreboard``: nothing visible, unless the easter egg is on: then it adds its points;
- ``colorsquare``: steps to the next colour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from engine import Behaviour, Range, Setting, command, hookimpl

if TYPE_CHECKING:
    from engine import Stage

log = logging.getLogger(__name__)

DEFAULT_POINTS = 10


class EasterEgg(Behaviour):
    name = "easter_egg"
    description = "button presses on the scoreboard add points while it is on"
    settings = {
        "points": Setting(int, DEFAULT_POINTS, "Points a press on the scoreboard adds while "
                          "the egg is on.", Range(-999_999, 999_999)),
        "enable_on": Setting(date, None, "A day the egg is on all day, unless disabled that "
                             "day (the last day of camp).", example=date(2027, 8, 14)),
    }

    @property
    def day(self) -> date | None:
        """The configured day on which the egg is on unless disabled that day."""
        day: date | None = self.config["enable_on"]
        return day

    @property
    def points(self) -> int:
        points: int = self.config["points"]
        return points

    def is_on(self) -> bool:
        today = self.stage.today()
        if today == self.day:
            return self.state.get("off_on") != today.isoformat()
        return bool(self.state.get("on", False))

    @command(idempotent=True)
    def enable(self) -> bool:
        """Switch the egg on until disable()."""
        was = self.is_on()
        self.state.set("on", True)
        self.state.set("off_on", None)
        self._toggled(was)
        return True

    @command(idempotent=True)
    def disable(self) -> bool:
        """Switch the egg off (on the configured day too, for the rest of that day)."""
        was = self.is_on()
        self.state.set("on", False)
        today = self.stage.today()
        self.state.set("off_on", today.isoformat() if today == self.day else None)
        self._toggled(was)
        return False

    def _toggled(self, was: bool) -> None:
        if self.is_on() != was:
            self.publish("toggled", enabled=self.is_on())

    @command(read=True)
    def enabled(self) -> bool:
        """True while presses on the scoreboard add points."""
        return self.is_on()

    def summary(self) -> dict[str, Any]:
        day = self.day
        return {
            "enabled": self.is_on(),
            "points": self.points,
            "enable_on": day.isoformat() if day else None,
        }


@hookimpl
def register_commands(register: Callable[[type[Behaviour]], None]) -> None:
    register(EasterEgg)


@hookimpl
def pyrostage_button_pressed(stage: Stage, button: str, at: float, mode: str) -> None:
    """The egg itself: a main-button press on the scoreboard scores while the egg is on."""
    if button != "main" or mode != "scoreboard":
        return
    egg = stage.behaviour(EasterEgg.name)
    if not isinstance(egg, EasterEgg) or not egg.is_on():
        return
    try:
        stage.call("scoreboard.add_points", egg.points, source="button")
    except ValueError as exc:  # the score is at its limit: the press scores nothing
        log.info("easter egg press not counted: %s", exc)
