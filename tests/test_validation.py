"""Bad input gets a builtin error that says what is accepted, and changes nothing."""

from __future__ import annotations

import pytest
from conftest import pixel

BAD = [
    # (args, kwargs, exception, words in the message)
    ((), {}, TypeError, "missing a required argument: 'color'"),
    (("red", "blue"), {}, TypeError, "too many positional arguments"),
    ((), {"colour": "red"}, TypeError, "unexpected keyword argument 'colour'"),
    (("no-such-colour",), {}, ValueError, "unknown colour"),
    (("256,0,0",), {}, ValueError, "0-255"),
    (("1,2",), {}, ValueError, "3 values"),
    (("a,b,c",), {}, ValueError, "three integers"),
    (([1, 2, 3, 4],), {}, ValueError, "3 values"),
    (([-1, 0, 0],), {}, ValueError, "0-255"),
    (([1.5, 0, 0],), {}, TypeError, "integer"),
    (([True, 0, 0],), {}, TypeError, "integer"),
    ((12,), {}, TypeError, "color must be str or list"),
    ((None,), {}, TypeError, "color must be str or list"),
    (({"r": 1},), {}, TypeError, "color must be str or list"),
    ((b"red",), {}, TypeError, "color must be str or list"),
    ((float("nan"),), {}, TypeError, "color must be str or list"),
]


@pytest.mark.parametrize(("args", "kwargs", "exc", "words"), BAD)
def test_bad_set_color(proxy, args, kwargs, exc, words):
    proxy.call("set_color", "navyblue")
    before = proxy.status()["state"]
    with pytest.raises(exc) as info:
        proxy.call("set_color", *args, **kwargs)
    assert words in str(info.value)
    assert "set_color" in str(info.value)
    assert proxy.status()["state"] == before
    assert pixel(proxy.snapshot()) == (0, 0, 128)


@pytest.mark.parametrize(
    ("command", "exc", "words"),
    [
        ("no_such_command", LookupError, "has no command 'no_such_command'"),
        ("nomode.set_color", LookupError, "unknown mode or plugin 'nomode'"),
        ("colorsquare.nothing", LookupError, "'colorsquare' has no command 'nothing'"),
        ("Set_Color", LookupError, "lowercase"),
        ("_set", LookupError, "lowercase"),
        ("__init__", LookupError, "lowercase"),
        ("colorsquare._set", LookupError, "lowercase"),
        ("colorsquare.restore", LookupError, "has no command 'restore'"),
        ("colorsquare.draw", LookupError, "has no command 'draw'"),
        ("status", LookupError, "has no command 'status'"),
        ("eval", LookupError, "has no command 'eval'"),
    ],
)
def test_bad_command_names(proxy, command, exc, words):
    before = proxy.status()["state"]
    with pytest.raises(exc, match=words):
        proxy.call(command)
    assert proxy.status()["state"] == before


def test_non_string_command_and_bad_switch(proxy):
    with pytest.raises(TypeError, match="a command name is a string"):
        proxy.call(42)
    with pytest.raises(LookupError, match="unknown mode 'nope'; this node has: colorsquare"):
        proxy.switch("nope")
    with pytest.raises(TypeError, match="a mode name is a string"):
        proxy.switch(["colorsquare"])
    with pytest.raises(LookupError, match="unknown mode or plugin 'nope'"):
        proxy.commands("nope")
    assert proxy.mode == "colorsquare"


def test_reads_take_no_arguments(proxy):
    with pytest.raises(TypeError, match=r"get_color\(\): too many positional arguments"):
        proxy.call("get_color", 1)
