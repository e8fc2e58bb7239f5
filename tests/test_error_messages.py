"""Errors say what was wrong in a few lines, whatever a caller sends; and the small members
(``ring``, unqualified commands of another mode) say what they accept instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import Pyro4
import pytest
from conftest import wait_for

SIZES = {"1MB": 1_000_000, "9MB": 9_000_000}


def _members(big: str) -> dict[str, Callable[[Pyro4.Proxy], Any]]:
    """Every facade member that takes a name, each fed ``big`` where a name goes."""
    return {
        "press": lambda p: p.press(big),
        "switch": lambda p: p.switch(big),
        "mode": lambda p: setattr(p, "mode", big),
        "commands": lambda p: p.commands(big),
        "call_as source": lambda p: p.call_as(big, "get_color"),
        "call_as command": lambda p: p.call_as("web", big + ".x"),
        "call mode": lambda p: p.call(big + ".x"),
        "call command": lambda p: p.call(big),
    }


@pytest.mark.parametrize("size", SIZES)
def test_huge_names_give_short_errors_and_the_node_keeps_serving(proxy, size):
    big = "x" * SIZES[size]
    for member, use in _members(big).items():
        with pytest.raises((ValueError, TypeError, LookupError)) as info:
            use(proxy)
        message = str(info.value)
        assert len(message) < 1000, f"{member}: a {len(message)}-character error"
        if size == "1MB":  # (a larger call may be refused by size before it reaches the member)
            assert "xxx..." in message, f"{member}: the value is not quoted shortened: {message}"
        assert proxy.call("get_color") == [0, 0, 0], member  # the same connection still works
    assert proxy.mode == "colorsquare"


# -- ring --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "exc", "words"),
    [
        ((-1,), ValueError, "seconds must be more than 0 and at most 30, got -1"),
        ((0,), ValueError, "seconds must be more than 0 and at most 30, got 0"),
        ((60,), ValueError, "seconds must be more than 0 and at most 30, got 60"),
        ((float("nan"),), ValueError, "seconds must be"),
        (("abc",), TypeError, "seconds must be a number .*got 'abc'"),
        ((True,), TypeError, "seconds must be a number"),
        ((1, "horn"), ValueError, "output must be one of bell, light; got 'horn'"),
        ((1, 7), TypeError, "output must be"),
    ],
)
def test_ring_refuses_what_it_cannot_do(start_node, args, exc, words):
    node = start_node(outputs={"bell": 17, "light": 18})
    with node.proxy() as p:
        with pytest.raises(exc, match=words):
            p.ring(*args)
        assert not node.node.pins.outputs.level("bell")


def test_ring_drives_the_output_in_the_background(start_node):
    node = start_node(outputs={"bell": 17})
    outputs = node.node.pins.outputs
    with node.proxy() as p:
        assert p.ring(30) is True  # returns at once although the bell rings for 30 s
        assert outputs.level("bell")
        assert p.call("get_color") == [0, 0, 0]  # the node answers while it rings
        assert p.ring(0.05) is True
        wait_for(lambda: not outputs.level("bell"))


def test_ring_without_a_bell_says_so(start_node):
    with start_node(outputs={}).proxy() as p:
        assert p.ring(0.05) is False


# -- a command of another mode -------------------------------------------------------------


def test_an_unqualified_command_of_another_mode_is_suggested(proxy):
    assert proxy.switch("colorsquare") == "colorsquare"
    with pytest.raises(LookupError, match=r"did you mean scoreboard\.add_points\?"):
        proxy.call("add_points", 5)
    with pytest.raises(LookupError, match=r"did you mean timer\.countdown\?"):
        proxy.call_as("web", "countdown", 5)
    with pytest.raises(LookupError, match=r"did you mean scoreboard\.set_team\?"):
        proxy.call("colorsquare.set_team", "Owls")
    with pytest.raises(LookupError) as info:
        proxy.call("no_such_command")
    assert "did you mean" not in str(info.value)
    assert proxy.call("scoreboard.get_score") == 0
