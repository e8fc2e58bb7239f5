"""What a plugin author subclasses: ``Behaviour`` (commands + state) and ``Mode`` (one that draws).

Commands are plain methods marked ``@command``; their type hints are their validation, and
``commands()`` on the facade describes them to callers from the same declaration.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from engine.api.signature import Signature

if TYPE_CHECKING:
    import pygame

    from engine.api.stageapi import Stage, State

F = TypeVar("F", bound=Callable[..., Any])
COMMAND_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


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
        if not COMMAND_NAME.match(f.__name__):  # a name no caller could ever call
            raise TypeError(
                f"command {f.__qualname__}: command names are lowercase letters, digits and _, "
                f"starting with a letter (callers write them as mode.command)"
            )
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

    It has no screen of its own, but may paint over the shown mode (``overlay``) and be
    ticked at a ``deadline()``. The stage makes one instance per node. ``self.stage`` is the
    engine API, ``self.state`` the durable key/value view for this behaviour, ``self.config``
    its config table.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init__(self, stage: Stage, state: State, config: dict[str, Any]):
        self.stage = stage
        self.state = state
        self.config = config

    @classmethod
    def command_specs(cls) -> dict[str, CommandSpec]:
        """Every declared command by name, each with the method that runs for this class.

        A subclass may override a command without ``@command``: it inherits the declaration
        (checks, doc, options) and its own method is what runs. ``TypeError`` if a parameter's
        type cannot be resolved or checked, or an override does not take exactly the declared
        parameters (the registry calls this when a plugin registers the class).
        """
        specs: dict[str, CommandSpec] = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                spec = getattr(attr, "__pyrostage_command__", None)
                if isinstance(spec, CommandSpec):
                    spec.signature.resolve()
                    specs[spec.name] = spec
        return {name: _running(cls, spec) for name, spec in specs.items()}

    def restore(self) -> None:
        """Set in-memory fields from ``self.state``: at start, and again whenever the engine
        undoes changes (a change that raised, a commit that failed). Cheap, idempotent, no side
        effects: no hooks, no ``stage.call``, no I/O besides reading state."""

    def summary(self) -> dict[str, Any]:
        """A small dict of the current state, shown under ``status()["state"][name]`` to every
        controller (``pyrostage ctl NODE status``, the web page). Keep it cheap and plain data
        (str, int, float, bool, None, lists and dicts): it is called on a Pyro worker thread,
        outside any change, so read fields only. An exception here shows as ``{"error": ...}``
        for this behaviour and the rest of the status is unaffected. Default: ``{}``."""
        return {}

    def tick(self, now: float) -> None:
        """Advance time-driven state, as a change on the serialized path (all or nothing,
        ``self.state.set`` is committed, ``stage.source`` is ``"tick"``): a countdown that
        reaches zero and rings, a notice whose time is up.

        Called on the main loop, with ``now = stage.clock()``: for a behaviour, or a mode that
        is not shown, when the time its ``deadline()`` returned has come (then again on every
        pass of the loop until ``deadline()`` moves on or returns None, so clear it in
        ``tick``); for the shown mode once per frame, before ``draw``, while ``animating()`` is
        True. The shown mode ticks only while animating, whatever its deadline. Not called
        while the state cannot be saved. An exception undoes the tick's changes and is logged.
        Default: nothing.
        """

    def deadline(self) -> float | None:
        """A ``stage.clock()`` time at which this behaviour (or mode, while not shown) needs
        ``tick``: a countdown in the background that must ring at zero, an overlay that must
        go at its time; None = no need. Asked on every pass of the main loop: keep it cheap.
        Default: None."""
        return None

    def overlay(self, surface: pygame.Surface) -> bool | None:
        """Paint over the shown mode's picture, whatever mode it is (a QR code to join).

        Called on the main thread, under the engine lock, right after the shown mode's
        ``draw`` (also when that failed), for every behaviour and mode that overrides it, in
        load order; the finished frame is then turned for a rotated screen, so paint upright
        on ``surface`` as ``draw`` does. It has no frames of its own: call
        ``stage.request_redraw()`` when what it shows changes (in the command that changed it,
        or in ``tick`` at its ``deadline()``). Cache what you render and blit it; draw nothing
        when there is nothing to show, and then return False: the shown mode may then copy in
        only what changed next frame (``stage.screen_kept``). An exception is logged once and
        the frame goes on without this overlay. Default: nothing.
        """
        return False

    def publish(self, name: str, /, **data: Any) -> None:
        """Publish event ``name`` from this behaviour (its ``source`` is ``self.name``) to
        every ``pyrostage_event`` hook and the controllers' event streams.

        Inside a change (a command, a press, a tick) it is delivered after the change is
        committed, in order, and never if the change raises or its commit fails. ``name`` is
        lowercase letters, digits and ``_``; ``data`` plain JSON data (tuples become lists);
        anything else raises ``ValueError``/``TypeError``, which fails the change."""
        self.stage.publish(self.name, name, data)


def _running(cls: type[Behaviour], spec: CommandSpec) -> CommandSpec:
    """``spec`` with the method ``cls`` runs for it: an override without ``@command`` keeps
    the declaration but must take the same parameters (names, types, defaults)."""
    method = inspect.getattr_static(cls, spec.name, None)
    if method is spec.func:
        return spec
    declared = f"{spec.func.__qualname__}{spec.signature}"
    hint = ("override it with the same parameters, or declare it again with @command "
            "to change them")
    if not inspect.isfunction(method) or isinstance(
        getattr(method, "__pyrostage_command__", None), CommandSpec
    ):
        what = "None" if method is None else f"a {type(method).__name__}"
        raise TypeError(
            f"{cls.__qualname__}.{spec.name} replaces command {declared} with {what}, "
            f"not a method; {hint}"
        )
    try:
        signature = Signature(method)
        params = signature.resolve()
    except TypeError as exc:
        raise TypeError(f"{exc} (it overrides command {declared}; {hint})") from None
    if [(p.name, p.annotation, p.default) for p in params] != [
        (p.name, p.annotation, p.default) for p in spec.signature.params
    ]:
        raise TypeError(
            f"{method.__qualname__}{signature} overrides command {declared} with other "
            f"parameters; {hint}"
        )
    doc = (method.__doc__ or "").strip().splitlines()
    return replace(spec, func=method, signature=signature, doc=doc[0] if doc else spec.doc)


class Mode(Behaviour):
    """A behaviour that owns the screen while it is active.

    ``draw`` runs on the main thread only; ``animating`` asks for frames (a running timer, a
    score counting up) and the loop sleeps whenever no mode asks and nothing changed. The
    engine redraws the active mode after every change made through it (a command, a button,
    a tick), so most modes never call ``redraw``.
    """

    buttons: ClassVar[tuple[str, ...]] = ()
    """The buttons this mode uses, e.g. ``("main", "second", "third", "fourth")`` (every node
    has ``main``): each can be pressed over the network (``press("second")``) and with the
    ``sim`` backend's keys, and is wired to a pin by the config
    (``[gpio] buttons = { second = 15 }``). ``on_button`` gets presses of every button."""

    def draw(self, surface: pygame.Surface) -> None:
        """Paint the whole screen for the current state (main thread only, under the engine
        lock: no change runs meanwhile). Called when something changed, every frame while
        ``animating()``; an exception shows as a banner over the last frame and is logged."""
        raise NotImplementedError

    def animating(self) -> bool:
        """True while the mode wants a new frame (and a ``tick``) at the display's frame
        rate; False lets the loop sleep until something changes. Default: False."""
        return False

    def on_button(self, button: str, at: float) -> None:
        """A debounced press of ``button`` (``"main"`` is the big one) while this mode is
        active; ``at`` is the ``stage.clock()`` time the edge was seen, so a timer stops at the
        press, not when the press is handled.

        Runs as a change on the serialized path, like a command (``stage.source`` is
        ``"button"``); the ``pyrostage_button_pressed`` hook follows in the same change. It
        returns nothing: every press reaches the hook whatever the mode did; an exception
        undoes the press's changes (the hook's too) and is logged. Default: nothing.
        """

    def on_enter(self) -> None:
        """This mode became the active one (inside the switch's change; also once at start for
        the mode shown first). Default: nothing."""

    def on_exit(self) -> None:
        """This mode stops being the active one (inside the switch's change). Default:
        nothing."""

    def redraw(self) -> None:
        """Ask the main loop to draw this mode again soon: for a picture that changed outside
        a change (an image decoded in the background). After a command, a button or a tick
        the engine redraws by itself. Safe from any thread; no effect while another mode is
        shown (it is drawn in full when it becomes active)."""
        self.stage.request_redraw(self.name)
