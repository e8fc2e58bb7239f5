"""What a plugin may use of the node it runs in: the stage API and its state view.

The engine hands every behaviour ``self.stage`` and ``self.state``; these Protocols are the
whole of what a plugin may call on them (the concrete classes in ``engine.core`` have more,
for the host's own use, and may change). Hook implementations annotate ``stage: Stage``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine.api.modes import Behaviour


class Stage(Protocol):
    """The node's engine API, as plugins see it."""

    name: str
    """The node's name."""
    clock: Callable[[], float]
    """The stage's monotonic clock (seconds); button ``at`` times and deadlines use it."""
    today: Callable[[], date]
    """Today's date on the node (the easter egg's ``enable_on``)."""

    @property
    def uptime(self) -> float:
        """Seconds since the node started."""
        ...

    @property
    def source(self) -> str:
        """Who made the change running now: ``controller``, ``web``, ``shell``, ``button``,
        ``tick``, ``plugin`` ... (what the journal records)."""
        ...

    def call(self, command: str, *args: Any, source: str = "plugin", **kwargs: Any) -> Any:
        """Run a command (``"scoreboard.add_points"``) on the serialized path; inside a change
        it joins that change (all or nothing together)."""
        ...

    def switch(self, mode: str, source: str = "controller") -> str:
        """Make ``mode`` the active mode; returns its name."""
        ...

    def behaviour(self, name: str) -> Behaviour:
        """Another plugin's behaviour or mode by name (``KeyError`` if not installed)."""
        ...

    def publish(self, source: str, name: str, data: dict[str, Any] | None = None) -> None:
        """Publish event ``name`` from mode or behaviour ``source`` (``Behaviour.publish``
        calls this): delivered to ``pyrostage_event`` after the change running now is
        committed (outside a change: soon, on the main loop). ``LookupError`` for an unknown
        source, ``ValueError``/``TypeError`` for a bad name or data that is not plain."""
        ...

    def ring(self, seconds: float = 1.0, output: str = "bell") -> bool:
        """Drive an output for ``seconds`` without blocking; False if there is none."""
        ...

    def play(self, name: str) -> bool:
        """Play a short synthesised sound without blocking: ``"tick"`` (a countdown second),
        ``"go"``, ``"winner"`` or ``"place"``. True once handed to the main loop, which plays
        it; False when the node has no sound device or ``[display] sound = false``;
        ``LookupError`` for another name. Like ``ring`` it is not undone if the change later
        raises."""
        ...

    def request_redraw(self, mode: str | None = None) -> None:
        """Draw ``mode`` (default: the active one) again on the next frame."""
        ...

    @property
    def screen_kept(self) -> bool:
        """In ``Mode.draw``: whether the screen still shows exactly what this mode's last
        ``draw`` left there (no overlay, banner, snapshot or other mode since), so a mode that
        keeps its own frame may copy in only what changed (``Canvas.show(surface, kept)``)."""
        ...


class State(Protocol):
    """One behaviour's durable key/value state and journal in the node's store."""

    def get(self, key: str, default: Any = None) -> Any:
        """The stored value (lists and dicts come as copies)."""
        ...

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` with the change running now (committed before its caller hears)."""
        ...

    def journal(self, kind: str, source: str, **data: Any) -> None:
        """Add an entry to this behaviour's journal (``history``, ``results``)."""
        ...

    def entries(self, kind: str, n: int, include_undone: bool = True) -> list[dict[str, Any]]:
        """The last ``n`` journal entries of ``kind``, newest first."""
        ...

    def mark_undone(self, entry_id: int) -> None:
        """Mark a journal entry undone (``scoreboard.undo``)."""
        ...
