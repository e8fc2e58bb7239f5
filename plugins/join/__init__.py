"""join: "scan to control" — a QR code of the web page's address over whatever mode is shown.

Every camper sees the TV, so the code carries the address only (never the token: the page
asks for it once on the phone)::

    pyrostage ctl all join.show http://10.0.0.5:8080/
    pyrostage ctl all join.show http://10.0.0.5:8080/ "Scan to play" 120
    pyrostage ctl all join.hide

It paints through ``Behaviour.overlay``, so the scoreboard, the timer or the colour square
goes on underneath; with ``seconds`` it goes by itself at its ``deadline()``. What it shows
is kept in the node's state, so a restarted node shows it again (unless its time is up).
Showing and hiding publish ``join_shown`` / ``join_hidden``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from engine import Behaviour, Length, Printable, Range, Setting, command, hookimpl

from .address import WebAddress
from .card import Place, render

if TYPE_CHECKING:
    import pygame

DEFAULT_CAPTION = "Scan to control"
MAX_SECONDS = 86_400

Url = Annotated[str, Length(1, 300), Printable(), WebAddress()]
Caption = Annotated[str, Length(0, 60), Printable()]
Seconds = Annotated[float, Range(0, MAX_SECONDS)]


@dataclass(frozen=True)
class Shown:
    """What is shown: assigned whole, so readers on other threads see one or the other."""

    url: str
    caption: str
    until: float | None
    """Epoch seconds it goes at (survives a reboot); None = until hidden."""
    ends: float | None
    """The same instant on ``stage.clock()`` (what ``deadline()`` answers)."""


class Join(Behaviour):
    name = "join"
    description = "a QR code of the web page's address over any mode"
    settings: dict[str, Setting] = {}  # none: a [plugins.join] key is a mistake

    showing: Shown | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._card: tuple[tuple[str, str, tuple[int, int]], pygame.Surface, Place] | None = None

    def restore(self) -> None:
        url = self.state.get("url")
        if not url:
            self.showing = None
            return
        until = self.state.get("until")
        ends = None if until is None else self.stage.clock() + (float(until) - time.time())
        self.showing = Shown(str(url), str(self.state.get("caption", DEFAULT_CAPTION)),
                             until, ends)

    @command(idempotent=True)
    def show(self, url: Url, caption: Caption = DEFAULT_CAPTION, seconds: Seconds = 0.0) -> str:
        """Show a QR code of url (no token) over any mode; for seconds if more than 0."""
        until = time.time() + seconds if seconds else None
        ends = self.stage.clock() + seconds if seconds else None
        for key, value in (("url", url), ("caption", caption), ("until", until)):
            self.state.set(key, value)
        self.showing = Shown(url, caption, until, ends)
        self.stage.request_redraw()
        self.publish("join_shown", url=url, caption=caption, until=until)
        return url

    @command(idempotent=True)
    def hide(self) -> bool:
        """Take the QR code off the screen; False if none was shown."""
        return self._hide("hidden")

    @command(read=True)
    def shown(self) -> str | None:
        """The address whose QR code is on the screen, or None."""
        showing = self._visible()
        return showing.url if showing is not None else None

    def deadline(self) -> float | None:
        showing = self.showing
        return showing.ends if showing is not None else None

    def tick(self, now: float) -> None:
        showing = self.showing
        if showing is not None and showing.ends is not None and now >= showing.ends:
            self._hide("expired")

    def _hide(self, reason: str) -> bool:
        showing = self.showing
        if showing is None:
            return False
        for key in ("url", "caption", "until"):
            self.state.set(key, None)
        self.showing = None
        self.stage.request_redraw()
        self.publish("join_hidden", url=showing.url, reason=reason)
        return True

    def _visible(self) -> Shown | None:
        showing = self.showing
        if showing is None or (showing.ends is not None and self.stage.clock() >= showing.ends):
            return None
        return showing

    def overlay(self, surface: pygame.Surface) -> bool:
        showing = self._visible()
        if showing is None:
            return False  # nothing drawn: the mode may copy in only what changed
        key = (showing.url, showing.caption, surface.get_size())
        if self._card is None or self._card[0] != key:
            card, where = render(showing.url, showing.caption, key[2])
            self._card = (key, card, where)
        _, card, where = self._card
        surface.blit(card, (where.x, where.y))
        return True

    def summary(self) -> dict[str, Any]:
        showing = self._visible()
        until = showing.until if showing is not None else None
        return {
            "shown": showing is not None,
            "url": showing.url if showing is not None else None,
            "caption": showing.caption if showing is not None else None,
            "until": (datetime.fromtimestamp(until).astimezone().isoformat(timespec="seconds")
                      if until is not None else None),
        }


@hookimpl
def register_commands(register: Callable[[type[Behaviour]], None]) -> None:
    register(Join)
