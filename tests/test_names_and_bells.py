"""Names no caller could use are refused where they are written, and a plugin's bell is held
to the same bounds as a controller's."""

from __future__ import annotations

from typing import Any

import pytest

from engine import Mode, command, hookimpl
from engine.core.plugins import get_plugin_manager


def test_a_command_name_no_caller_could_call_is_refused_at_declaration():
    with pytest.raises(TypeError, match="command names are lowercase letters, digits and _"):

        class Loud(Mode):
            name = "loud"

            @command
            def setColour(self) -> None:  # the mistake under test
                """Camel case: listed, but every call would be refused."""


class Bell(Mode):
    name = "bell"

    @command
    def forever(self, seconds: float) -> bool:
        """Ring for as long as asked (a plugin bug, if long)."""
        return self.stage.ring(seconds)

    def draw(self, surface: Any) -> None:
        surface.fill((0, 0, 0))


class BellPlugin:
    @hookimpl
    def register_modes(self, register: Any) -> None:
        register(Bell)


def test_a_plugin_cannot_ring_the_bell_for_ever(start_node):
    pm, _ = get_plugin_manager()
    plugin = BellPlugin()
    pm.register(plugin, name="bell-test")
    try:
        node = start_node(pm=pm, outputs={"bell": 17})
        with node.proxy() as p:
            with pytest.raises(ValueError, match="more than 0 and at most 30"):
                p.call("bell.forever", 1e9)
            assert p.call("bell.forever", 0.05) in (True, False)
    finally:
        pm.unregister(plugin)


class Board(Mode):
    name = "board"

    @command
    def finish(self, which: str) -> None:
        """Publish an event whose data has a key called name."""
        self.publish("finished", name=which)

    def draw(self, surface: Any) -> None:
        surface.fill((0, 0, 0))


class BoardPlugin:
    heard: list[tuple[str, str, dict[str, Any]]]

    def __init__(self) -> None:
        self.heard = []

    @hookimpl
    def register_modes(self, register: Any) -> None:
        register(Board)

    @hookimpl
    def pyrostage_event(self, stage: Any, source: str, name: str, data: dict[str, Any]) -> None:
        if source == "board":
            self.heard.append((source, name, data))


def test_an_event_may_carry_a_key_called_name(start_node):
    pm, _ = get_plugin_manager()
    plugin = BoardPlugin()
    pm.register(plugin, name="board-test")
    try:
        node = start_node(pm=pm)
        with node.proxy() as p:
            p.call("board.finish", "eggs")
        assert plugin.heard == [("board", "finished", {"name": "eggs"})]
    finally:
        pm.unregister(plugin)


def test_engine_exports_exactly_the_plugin_api():
    """``engine.__all__`` is written out for type checkers; it must say what ``engine.api``
    says, so a name added to one is never missing from the other."""
    import engine
    import engine.api

    assert sorted(engine.__all__) == sorted([*engine.api.__all__, "__version__"])
    for name in engine.api.__all__:
        assert getattr(engine, name) is getattr(engine.api, name)
