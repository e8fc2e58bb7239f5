"""The plugin contract: every hook pyrostage calls, always with keyword arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

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
    """The node has loaded every mode, restored its state and is about to serve.

    :param stage: the node's engine API.
    """


@hookspec
def pyrostage_shutdown(stage: Stage) -> None:
    """The node is stopping; release what the plugin holds.

    :param stage: the node's engine API.
    """


@hookspec
def pyrostage_button_pressed(stage: Stage, button: str, at: float, mode: str) -> None:
    """A debounced button press, after the active mode handled it.

    :param stage: the node's engine API.
    :param button: the button's configured name (``main`` is the big one).
    :param at: ``time.monotonic()`` when the edge was seen.
    :param mode: the name of the mode that was active.
    """


@hookspec
def pyrostage_mode_changed(stage: Stage, old: str | None, new: str) -> None:
    """The active mode changed (``old`` is None at start).

    :param stage: the node's engine API.
    :param old: the previous mode's name.
    :param new: the new mode's name.
    """


@hookspec
def pyrostage_score_changed(stage: Stage, team: str, score: int, delta: int, source: str) -> None:
    """The scoreboard's score changed.

    :param stage: the node's engine API.
    :param team: the team name shown.
    :param score: the new score.
    :param delta: the change (new minus old).
    :param source: who changed it: ``controller``, ``button``, ``web`` or ``undo``.
    """


@hookspec
def pyrostage_timer_stopped(stage: Stage, elapsed: float, source: str) -> None:
    """A running timer was stopped.

    :param stage: the node's engine API.
    :param elapsed: seconds from start to the stop (for a button: to the edge's timestamp).
    :param source: ``button``, ``controller`` (or ``web``), or ``tick`` when a countdown
        reached zero.
    """
