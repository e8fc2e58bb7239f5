"""The plugin contract: every hook pyrostage calls, always with keyword arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from engine.api.modes import Behaviour, Mode
    from engine.api.stageapi import Stage

hookspec = pluggy.HookspecMarker("pyrostage")
hookimpl = pluggy.HookimplMarker("pyrostage")


@hookspec
def register_modes(register: Callable[[type[Mode]], None]) -> None:
    """Register display modes: call ``register(ModeClass)`` once per mode.

    :param register: takes a ``Mode`` subclass; its ``name`` is the mode's name.
    """


@hookspec
def register_commands(register: Callable[[type[Behaviour]], None]) -> None:
    """Register commands of a plugin that is not a mode: ``register(BehaviourClass)``.

    Its commands are called qualified, ``<behaviour name>.<command>``.

    :param register: takes a ``Behaviour`` subclass with ``@command`` methods.
    """


@hookspec
def pyrostage_startup(stage: Stage) -> None:
    """The node has loaded every mode, restored its state and is about to serve (outside any
    change; a hook that raises is reported and the node starts anyway).

    :param stage: the node's engine API.
    """


@hookspec
def pyrostage_shutdown(stage: Stage) -> None:
    """The node is stopping, after its last events went out; release what the plugin holds.

    :param stage: the node's engine API.
    """


@hookspec
def pyrostage_button_pressed(stage: Stage, button: str, at: float, mode: str) -> None:
    """A debounced button press, after the active mode's ``on_button``, **inside the press's
    change**: what the hook changes (``stage.call``) is committed with the press, all or
    nothing, and a hook that raises undoes the whole press. To only hear of presses, use
    the ``button_pressed`` event instead.

    :param stage: the node's engine API.
    :param button: the button's name (``main`` is the big one).
    :param at: the ``stage.clock()`` time the edge was seen.
    :param mode: the name of the mode that was active.
    """


@hookspec
def pyrostage_mode_changed(stage: Stage, old: str | None, new: str) -> None:
    """The active mode changed, **inside the switch's change** (a hook that raises undoes the
    switch); once at start with ``old`` None, outside any change. To only hear of switches,
    use the ``mode_switched`` event instead.

    :param stage: the node's engine API.
    :param old: the previous mode's name (None at start).
    :param new: the new mode's name.
    """


@hookspec
def pyrostage_event(stage: Stage, source: str, name: str, data: dict[str, Any]) -> None:
    """An event, **after the change that published it was committed**: in the order the
    changes ran, never for a change that raised or could not be saved. Called outside the
    engine lock on the thread that delivers events (the caller's, or the main loop's), one
    event at a time; ``stage.call`` works here and makes a change of its own (its events
    follow this one). A hook that raises is logged and reported; the others still get the
    event. Keep it quick: the caller of the change hears back after it.

    :param stage: the node's engine API.
    :param source: who published it: a mode's or behaviour's name, or ``"engine"``.
    :param name: the event's name: ``score_changed``, ``button_pressed``, ``buzzed`` ...
    :param data: its details, plain JSON data (a copy of its own for each hook).
    """
