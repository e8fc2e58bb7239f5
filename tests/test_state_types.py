"""What a plugin stores reads back the same after a restart: ``state.set`` turns tuples into
lists at once and refuses what JSON would change, naming the key and what it accepts."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pluggy
import pygame
import pytest

from engine import Mode, command, hookimpl
from engine.core.plugins import get_plugin_manager


class Level(enum.IntEnum):
    LOW = 1


class Name(str):
    pass


KEPT: dict[str, tuple[Any, Any]] = {  # sample -> (value stored, what every read gives)
    "tuple": ((1, 2), [1, 2]),
    "nested": ({"teams": [("Owls", 3), ("Foxes", 5)], "note": None},
               {"teams": [["Owls", 3], ["Foxes", 5]], "note": None}),
    "flags": ([True, False, 0, 1, 2.5, -0.0], [True, False, 0, 1, 2.5, -0.0]),
    "big": (2**70, 2**70),
    "text": ("Ünïcode 🦉 \x00\n", "Ünïcode 🦉 \x00\n"),
    "png": (bytearray(b"\x89PNG\r\n"), b"\x89PNG\r\n"),
    "empty": ({}, {}),
}
REFUSED: dict[str, tuple[Any, type[Exception], str]] = {  # sample -> (value, error, words)
    "int_keys": ({1: "one"}, TypeError, "int_keys has the key 1 (int): dict keys must be str"),
    "set": ({"teams": {"Owls"}}, TypeError, "set['teams'] is a set"),
    "nested_bytes": ([b"x"], TypeError, "nested_bytes[0] is bytes inside a list or dict"),
    "nan": ([1.0, float("nan")], ValueError, "nan[1] is nan: a stored float must be finite"),
    "object": (date(2027, 8, 14), TypeError, "object is a date"),
    "enum": (Level.LOW, TypeError, "enum is a Level"),
    "str_subclass": ({"who": Name("Owls")}, TypeError, "str_subclass['who'] is a Name"),
    "surrogates": (["\ud83e\udd89"], ValueError, "surrogates[0] is a str with surrogate code"),
}
ACCEPTED = "accepted: None, bool, int, float (finite), str, lists (tuples are stored as lists)"


class Keeper(Mode):
    """A throwaway mode that stores the samples above and shows what it reads back."""

    name = "keeper"

    @command
    def keep(self, sample: str) -> str:
        """Store a sample under its own name; returns what a read gives now."""
        value = {**KEPT, **REFUSED}[sample][0]
        self.state.set(sample, value)
        return self.read(sample)

    @command(read=True)
    def read(self, sample: str) -> str:
        """The stored value's repr (types and all, whatever Pyro would make of it)."""
        return repr(self.state.get(sample, "missing"))

    def draw(self, surface: pygame.Surface) -> None:
        surface.fill((0, 0, 0))


class Plugin:
    @hookimpl
    def register_modes(self, register: Callable[[type[Mode]], None]) -> None:
        register(Keeper)


@pytest.fixture
def pm() -> Iterator[pluggy.PluginManager]:
    manager, _ = get_plugin_manager()
    plugin = Plugin()
    manager.register(plugin, name="keeper")
    try:
        yield manager
    finally:
        manager.unregister(plugin)


def test_what_is_stored_reads_back_the_same_after_a_restart(start_node, pm):
    node = start_node(pm=pm)
    with node.proxy() as p:
        before = {sample: p.call("keeper.keep", sample) for sample in KEPT}
    assert before == {sample: repr(read) for sample, (_, read) in KEPT.items()}
    node.stop()
    with start_node(pm=pm).proxy() as p:
        after = {sample: p.call("keeper.read", sample) for sample in KEPT}
    assert after == before


@pytest.mark.parametrize("sample", list(REFUSED))
def test_what_json_would_change_is_refused_and_nothing_is_stored(start_node, pm, sample):
    _value, error, words = REFUSED[sample]
    node = start_node(pm=pm)
    with node.proxy() as p:
        with pytest.raises(error, match=re.escape(words)) as info:
            p.call("keeper.keep", sample)
        message = str(info.value)
        assert message.startswith(f"state.set('{sample}', ...): ") and ACCEPTED in message
        assert p.call("keeper.read", sample) == repr("missing")
        assert p.call("keeper.keep", "tuple") == "[1, 2]"  # the node carries on
    node.stop()
    with start_node(pm=pm).proxy() as p:
        assert p.call("keeper.read", sample) == repr("missing")
