"""What a plugin author subclasses: ``Behaviour`` (commands + state) and ``Mode`` (one that draws).

Commands are plain methods marked ``@command``; their type hints are their validation, and
``commands()`` on the facade describes them to callers from the same declaration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from engine.api.signature import Signature

if TYPE_CHECKING:
    import pygame

    from engine.api.stageapi import Stage, State

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CommandSpec:
    """A declared command: its name, checked signature and how callers may use it."""

    name: str
    func: Callable[..., Any]
    signature: Signature
    doc: str
    read: bool
    oneway: bool
    idempotent: bool

    def describe(self) -> dict[str, Any]:
        return {
            "params": [p.describe() for p in self.signature.params],
            "signature": str(self.signature),
            "doc": self.doc,
            "oneway": self.oneway,
            "idempotent": self.idempotent,
            "read": self.read,
        }


@overload
def command(func: F) -> F: ...
@overload
def command(
    *, read: bool = False, oneway: bool = False, idempotent: bool | None = None
) -> Callable[[F], F]: ...
def command(
    func: Any = None,
    *,
    read: bool = False,
    oneway: bool = False,
    idempotent: bool | None = None,
) -> Any:
    """Declare a method callable from controllers.

    :param read: it only reads state; it runs on the caller's thread without waiting.
    :param oneway: controllers may fire it without waiting for an answer.
    :param idempotent: repeating it is harmless, so a controller may retry it after a
        lost connection (reads are idempotent by default, changes are not).
    """

    def mark(f: F) -> F:
        doc = (f.__doc__ or "").strip().splitlines()
        f.__pyrostage_command__ = CommandSpec(  # type: ignore[attr-defined]
            name=f.__name__,
            func=f,
            signature=Signature(f),
            doc=doc[0] if doc else "",
            read=read,
            oneway=oneway,
            idempotent=read if idempotent is None else idempotent,
        )
        return f

    return mark(func) if func is not None else mark


class Behaviour:
    """A named set of commands with state kept in the node's store (e.g. the easter egg).

    The stage makes one instance per node. ``self.stage`` is the engine API, ``self.state``
    the durable key/value view for this behaviour, ``self.config`` its config table.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init__(self, stage: Stage, state: State, config: dict[str, Any]):
        self.stage = stage
        self.state = state
        self.config = config

    @classmethod
    def command_specs(cls) -> dict[str, CommandSpec]:
        """Every declared command by name; ``TypeError`` if a parameter's type cannot be
        resolved or checked (the registry calls this when a plugin registers the class)."""
        specs: dict[str, CommandSpec] = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                spec = getattr(attr, "__pyrostage_command__", None)
                if spec is not None:
                    spec.signature.resolve()
                    specs[spec.name] = spec
        return specs

    def restore(self) -> None:
        """Set in-memory fields from ``self.state``: at start, and again whenever the engine
        undoes changes (a change that raised, a commit that failed). Cheap, idempotent, no side
        effects: no hooks, no ``stage.call``, no I/O besides reading state."""

    def summary(self) -> dict[str, Any]:
        """A small dict of the current state for ``status()``."""
        return {}


class Mode(Behaviour):
    """A behaviour that owns the screen while it is active.

    ``draw`` runs on the main thread only; ``animating`` asks for frames (a running timer, a
    score counting up) and the loop sleeps whenever no mode asks and nothing changed.
    """

    def draw(self, surface: pygame.Surface) -> None:
        """Paint the whole screen for the current state."""
        raise NotImplementedError

    def animating(self) -> bool:
        """True while the mode wants a new frame every tick."""
        return False

    def deadline(self) -> float | None:
        """A ``stage.clock()`` time at which this mode needs ``tick`` even while not shown
        (a countdown in the background that must ring at zero); None = no need."""
        return None

    def on_button(self, button: str, at: float) -> None:
        """A debounced button press while this mode is active; ``at`` is its monotonic time."""

    def on_enter(self) -> None:
        """This mode became the active one."""

    def on_exit(self) -> None:
        """This mode stops being the active one."""

    def redraw(self) -> None:
        """Ask the main loop to draw this mode again (no effect while inactive)."""
        self.stage.request_redraw(self.name)
