"""Bad input gets a builtin error that says what is accepted, and changes nothing."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal, Optional

import pytest
from conftest import pixel

from engine import Behaviour, Convert, Length, Printable, Range, command, hookimpl
from engine.api.signature import Signature
from engine.api.validation import type_name
from engine.core.plugins import get_plugin_manager

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


# -- huge integers, and checks that fail in unexpected ways -------------------------------


def test_huge_int_for_the_countdown_is_a_clear_value_error(proxy):
    before = proxy.status()["state"]
    for seconds in (10**400, -(10**400)):
        with pytest.raises(ValueError) as info:
            proxy.call("timer.countdown", seconds)
        message = str(info.value)
        assert "timer.countdown: seconds must be a finite number" in message
        assert "between 0.1 and 86400" in message  # what is accepted
        assert "401 digits" in message
    with pytest.raises(ValueError, match=r"timer\.countdown: seconds must be between"):
        proxy.call("timer.countdown", 10**300)  # fits in a float, out of range
    assert proxy.status()["state"] == before
    assert proxy.call("timer.running") is False


class Gauges(Behaviour):
    """A throwaway plugin with float parameters of every shape, and a converter with a bug."""

    name = "gauges"

    @command
    def plain(self, x: float) -> float:
        return x

    @command
    def maybe(self, x: float | None = None) -> float | None:
        return x

    @command
    def many(self, xs: list[float]) -> list[float]:
        return xs

    @command
    def pair(self, xy: tuple[float, float]) -> list[float]:
        return list(xy)

    @command
    def keyword(self, label: str = "", scale: float = 1.0) -> float:
        return scale

    @command
    def buggy(self, thing: Annotated[str, Convert(lambda v: {}[v], "thing")]) -> str:
        """Its converter raises KeyError for every value: a plugin bug, not a caller's."""
        return thing

    @command
    def attribute_bug(self, thing: Annotated[Any, Convert(lambda v: v.nope, "thing")]) -> Any:
        return thing


class GaugesPlugin:
    @hookimpl
    def register_commands(self, register):
        register(Gauges)


@pytest.fixture
def gauges(start_node):
    pm, _ = get_plugin_manager()
    pm.register(GaugesPlugin(), name="gauges")
    node = start_node(pm=pm)
    with node.proxy() as p:
        yield p


HUGE = 10**400


@pytest.mark.parametrize(
    ("command", "args", "kwargs", "where"),
    [
        ("gauges.plain", (HUGE,), {}, "x"),
        ("gauges.plain", (), {"x": -HUGE}, "x"),
        ("gauges.maybe", (HUGE,), {}, "x"),
        ("gauges.many", ([1.5, HUGE],), {}, "xs[1]"),
        ("gauges.pair", ([HUGE, 2],), {}, "xy[0]"),
        ("gauges.keyword", ("a",), {"scale": HUGE}, "scale"),
    ],
)
def test_huge_int_for_any_float_parameter(gauges, command, args, kwargs, where):
    with pytest.raises(ValueError) as info:
        gauges.call(command, *args, **kwargs)
    assert f"{command}: {where} must be a finite number" in str(info.value)
    assert gauges.call("gauges.plain", 2**1000) == float(2**1000)  # big, but a float
    assert gauges.call("gauges.plain", 3) == 3.0


def test_a_check_that_fails_oddly_still_gives_a_value_or_type_error(gauges, caplog):
    with pytest.raises(ValueError) as info:
        gauges.call("gauges.buggy", "x")
    assert "gauges.buggy: thing was refused (KeyError" in str(info.value)
    with pytest.raises(TypeError) as info:
        gauges.call("gauges.attribute_bug", 5)
    assert "gauges.attribute_bug: thing was refused (AttributeError" in str(info.value)
    assert gauges.call("gauges.plain", 1) == 1.0  # the node carries on
    assert "gauges.buggy: checking thing raised KeyError" in caplog.text  # the bug is logged


# -- declared types are checked when the command is declared ------------------------------


@pytest.mark.parametrize(
    ("annotation", "words"),
    [
        (dict, "dict is not a type a command can declare"),
        (dict[str, int], "dict[str, int] is not a type"),
        (list[set[int]], "set[int] is not a type"),
        (int | dict, "dict is not a type"),
        (Annotated[int, Length(1, 3)], "checks str, bytes, lists and tuples only, not int"),
        (Annotated[str, Range(0, 1)], "checks numbers (int, float) only, not str"),
        (Annotated[list[str], Printable()], "checks str only"),
        (Annotated[str, "just a note"], "'just a note' is not a check"),
        (object, "object is not a type"),
        (None, "has no type annotation: declare its type, Any to accept anything"),
        (Literal[2.5], "Literal values may be str, int or bool, not 2.5"),
        (Literal["a", None], "write Literal[...] | None for an optional choice"),
        (list[Literal[b"x"]], "Literal values may be str, int or bool"),
        (Annotated[Literal["a", 1], Length(1, 3)], "checks str, bytes, lists and tuples only"),
    ],
)
def test_unsupported_declared_types_fail_at_decoration(annotation, words):
    def things(self, stuff):
        return stuff

    things.__annotations__ = {} if annotation is None else {"stuff": annotation}
    with pytest.raises(TypeError) as info:
        command(things)
    message = str(info.value)
    assert "things" in message and "parameter 'stuff'" in message
    assert words in message
    assert "supported types: int, float, str, bool, bytes" in message


SUPPORTED_TYPES = [
    int, float, str, bool, bytes, None, Any, list, tuple, list[int], tuple[int, str],
    tuple[float, ...], int | None, Optional[list[str]], str | list[int],  # noqa: UP045
    Annotated[int, Range(0, 5)], Annotated[str, Length(1, 3), Printable()],
    Annotated[str | None, Length(1, 3)], Annotated[tuple[int, ...], Length(0, 4)],
    Annotated[str, Convert(int, "int"), Range(0, 5)],
    Literal["main", "second"], Literal[1, 2, True], Literal["a"] | None,
    Annotated[Literal["a", "bb"], Length(1, 2)], Annotated[Literal[1, 5], Range(0, 3)],
    enum.Enum("Button", ["main", "second"]), list[enum.IntEnum("Level", ["LOW", "HIGH"])],
]


@pytest.mark.parametrize("annotation", SUPPORTED_TYPES)
def test_supported_declared_types_are_accepted(annotation):
    def things(self, stuff):
        return stuff

    things.__annotations__ = {"stuff": annotation}
    assert command(things).__pyrostage_command__.signature.params[0].name == "stuff"


def test_a_forward_reference_is_resolved_later_and_checked_then():
    class Later(Behaviour):
        name = "later"

        @command
        def keep(self, stuff: NotYetDefined) -> None:  # defined below, on purpose
            pass

    global NotYetDefined
    NotYetDefined = dict[str, int]
    try:
        with pytest.raises(TypeError, match=r"Later.keep: parameter 'stuff': dict\[str, int\]"):
            Later.command_specs()
    finally:
        del NotYetDefined


def test_an_unresolvable_forward_reference_fails_when_the_commands_are_listed():
    class Never(Behaviour):
        name = "never"

        @command
        def keep(self, stuff: NoSuchName) -> None:  # noqa: F821 - never defined, on purpose
            pass

    with pytest.raises(TypeError, match=r"Never\.keep: its type hints cannot be resolved"):
        Never.command_specs()


# -- tuples ---------------------------------------------------------------------------------


def bind(annotation: Any, value: Any) -> Any:
    def spot(self, where):
        return where

    spot.__annotations__ = {"where": annotation}
    return Signature(spot).bind("m.spot", (value,), {})["where"]


def test_fixed_length_tuples_check_length_and_each_position():
    assert bind(tuple[int, str], [3, "a"]) == (3, "a")
    assert bind(tuple[int, str], (3, "a")) == (3, "a")
    with pytest.raises(TypeError, match=r"m.spot: where\[1\] must be a string, got int 4"):
        bind(tuple[int, str], [3, 4])
    with pytest.raises(TypeError, match=r"m.spot: where\[0\] must be an integer"):
        bind(tuple[int, str], ["3", "a"])
    with pytest.raises(ValueError, match=r"where must have exactly 2 items \(tuple\[int, int\]\), "
                       r"got 3"):
        bind(tuple[int, int], [1, 2, 3])
    with pytest.raises(ValueError, match="exactly 2 items"):
        bind(tuple[int, int], [1])
    with pytest.raises(TypeError, match=r"where must be a list of 2 items \(tuple\[int, int\]\)"):
        bind(tuple[int, int], "12")
    assert bind(tuple[()], []) == ()
    with pytest.raises(ValueError, match="exactly 0 items"):
        bind(tuple[()], [1])
    assert bind(tuple[int, int] | None, None) is None
    with pytest.raises(ValueError, match="exactly 2 items"):
        bind(tuple[int, int] | None, [1, 2, 3])


def test_variable_length_tuples_check_every_item():
    assert bind(tuple[int, ...], []) == ()
    assert bind(tuple[int, ...], [1, 2, 3]) == (1, 2, 3)
    with pytest.raises(TypeError, match=r"where\[2\] must be an integer"):
        bind(tuple[int, ...], [1, 2, "3"])
    with pytest.raises(TypeError, match="where must be a list of int"):
        bind(tuple[int, ...], 5)
    assert bind(tuple, [1, "a"]) == (1, "a")
    assert bind(Annotated[tuple[int, ...], Length(1, 2)], [7]) == (7,)
    with pytest.raises(ValueError, match="must have 1 to 2"):
        bind(Annotated[tuple[int, ...], Length(1, 2)], [1, 2, 3])


def test_type_names_describe_tuples():
    assert type_name(tuple[int, int]) == "tuple[int, int]"
    assert type_name(tuple[int, str]) == "tuple[int, str]"
    assert type_name(tuple[float, ...]) == "tuple[float, ...]"
    assert type_name(tuple) == "tuple[any, ...]"
    assert type_name(tuple[()]) == "tuple[()]"
    assert type_name(list[int]) == "list[int]"
    assert type_name(tuple[int, int] | None) == "tuple[int, int]|None"


# -- choices: Literal and Enum --------------------------------------------------------------


class Team(enum.Enum):
    HOME = "home"
    AWAY = "away"
    GUESTS = "away"  # an alias: named, never shown


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


def test_a_literal_accepts_its_values_and_their_text_only():
    assert bind(Literal["main", "second"], "main") == "main"
    assert bind(Literal[1, 2], 2) == 2
    assert bind(Literal[1, 2], "2") == 2  # the text a CLI sends
    assert bind(Literal[True, "auto"], "true") is True
    with pytest.raises(ValueError, match=r"m.spot: where must be one of 1, 2, got '3'"):
        bind(Literal[1, 2], "3")
    with pytest.raises(TypeError, match=r"where must be one of 1, 2, got float 1\.0"):
        bind(Literal[1, 2], 1.0)
    with pytest.raises(TypeError, match="got bool True"):
        bind(Literal[1, 2], True)  # True == 1, but it is not the choice 1
    assert bind(Literal["a"] | None, None) is None
    assert bind(Literal["auto"] | Annotated[str, Length(1, 3)], "abc") == "abc"
    assert bind(Literal["auto"] | int, "auto") == "auto"
    assert bind(Annotated[str, Length(1, 3)] | Literal["auto"], "auto") == "auto"
    with pytest.raises(ValueError, match="where must be one of 'auto', got 'automatic'"):
        bind(Literal["auto"] | int, "automatic")
    assert bind(Annotated[Literal[1, 5], Range(0, 3)], 1) == 1
    with pytest.raises(ValueError, match="between 0 and 3"):
        bind(Annotated[Literal[1, 5], Range(0, 3)], 5)


def test_an_enum_is_named_by_name_or_value_and_the_command_gets_the_member():
    assert bind(Team, "HOME") is Team.HOME
    assert bind(Team, "away") is Team.AWAY
    assert bind(Team, "GUESTS") is Team.AWAY  # an alias names its member
    assert bind(Team, Team.AWAY) is Team.AWAY
    assert bind(Level, 2) is Level.HIGH
    assert bind(Level, "2") is Level.HIGH
    assert bind(Level, Level.LOW) is Level.LOW
    with pytest.raises(ValueError, match="where must be one of 'HOME', 'AWAY', got 'home '"):
        bind(Team, "home ")
    with pytest.raises(TypeError, match="where must be one of 'LOW', 'HIGH', got bool True"):
        bind(Level, True)
    with pytest.raises(TypeError, match="got Team"):
        bind(Level, Team.HOME)


def test_long_choice_lists_are_cut_in_messages_not_in_commands():
    many = enum.Enum("Many", [f"c{i}" for i in range(50)])
    with pytest.raises(ValueError, match=r"one of 'c0', .*'c19' \(and 30 more\), got 'x'"):
        bind(many, "x")

    def pick(self, c: Any) -> None:
        pass

    pick.__annotations__ = {"c": many}
    described = command(pick).__pyrostage_command__.describe()["params"][0]
    assert described["type"] == "choice" and len(described["limits"]["choices"]) == 50


def test_type_names_of_choices():
    assert type_name(Literal["a", "b"]) == "choice"
    assert type_name(Team) == "choice"
    assert type_name(Literal[1, 2] | None) == "choice|None"
    assert type_name(list[Level]) == "list[choice]"


class Even:
    """A plugin's own check that is not hashable (it defines ``__eq__`` only)."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Even)

    def check(self, name: str, value: int) -> int:
        self.seen.append(value)
        if value % 2:
            raise ValueError(f"{name} must be even, got {value}")
        return value

    def describe(self) -> str:
        return "even"


def test_checks_are_worked_out_once_per_type_and_still_exact():
    """Declared types are taken apart once (a cache); unhashable checks, equal types with
    their own check objects, and every message stay exactly as before."""
    even = Even()
    assert bind(Annotated[int, even], 4) == 4
    with pytest.raises(ValueError, match=r"m\.spot: where must be even, got 3"):
        bind(Annotated[int, even], 3)
    assert even.seen == [4, 3]  # the plugin's own object, called each time
    for _ in range(3):  # the cached check answers like the first time
        with pytest.raises(TypeError, match=r"where\[1\] must be an integer, got str 'x'"):
            bind(list[int], [1, "x"])
        assert bind(list[int] | None, None) is None
        with pytest.raises(ValueError, match=r"where must be between 0 and 10, got 11"):
            bind(Annotated[int, Range(0, 10)], 11)
    assert bind(Annotated[int, Range(0, 100)], 50) == 50  # an equal-looking type, other limits
    with pytest.raises(ValueError, match=r"where must be between 0 and 5, got 50"):
        bind(Annotated[int, Range(0, 5)], 50)
