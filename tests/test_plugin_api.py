"""The plugin API as a third-party author meets it: overrides, declared types, limits, Mode."""

from __future__ import annotations

import enum
import inspect
from typing import Annotated, Any, Literal

import pygame
import pytest
from conftest import wait_for

import engine
from engine import Behaviour, Length, Mode, Printable, Range, command, hookimpl
from engine.api.signature import Signature
from engine.api.validation import type_name
from engine.api.wire import wire_cost
from engine.control.convert import convert_text
from engine.core.plugins import collect, get_plugin_manager, new_plugin_manager

# -- a command overridden in a subclass ---------------------------------------------------


class Greeter(Behaviour):
    name = "greeter"

    @command
    def greet(self, who: Annotated[str, Length(1, 20)], times: int = 1) -> str:
        """Say hello."""
        return " ".join([f"hello {who}"] * times)


class LoudGreeter(Greeter):
    """Overrides ``greet`` without ``@command``: the declaration is inherited, this code runs."""

    name = "loud"

    def greet(self, who: Annotated[str, Length(1, 20)], times: int = 1) -> str:
        return super().greet(who, times).upper()


class Register:
    def __init__(self, *classes: type[Behaviour]):
        self.classes = classes

    @hookimpl
    def register_commands(self, register):
        for cls in self.classes:
            register(cls)


def test_an_override_without_command_is_what_runs(start_node):
    pm, _ = get_plugin_manager()
    plugin = Register(Greeter, LoudGreeter)
    pm.register(plugin, name="greeters")
    try:
        node = start_node(pm=pm)
        with node.proxy() as p:
            assert p.call("loud.greet", "ann") == "HELLO ANN"
            assert p.call("loud.greet", who="bo", times=2) == "HELLO BO HELLO BO"
            assert p.call("greeter.greet", "ann") == "hello ann"  # the parent is untouched
            described = p.commands("*")["loud.greet"]
            assert described["doc"] == "Say hello."  # the declaration is inherited
            assert described["signature"] == "(who: str, times: int = 1)"
            with pytest.raises(ValueError, match=r"loud\.greet: who must have 1 to 20"):
                p.call("loud.greet", "")  # and so are its checks
    finally:
        pm.unregister(plugin)


class Renamed(Greeter):
    name = "renamed"

    def greet(self, whom: Annotated[str, Length(1, 20)], times: int = 1) -> str:
        return whom


class Retyped(Greeter):
    name = "retyped"

    def greet(self, who: Annotated[str, Length(1, 20)], times: float = 1) -> str:
        return who


class Redefaulted(Greeter):
    name = "redefaulted"

    def greet(self, who: Annotated[str, Length(1, 20)], times: int = 2) -> str:
        return who


class Shortened(Greeter):
    name = "shortened"

    def greet(self, who: Annotated[str, Length(1, 20)]) -> str:  # type: ignore[override]
        return who


class Untyped(Greeter):
    name = "untyped"

    def greet(self, who, times=1):  # type: ignore[no-untyped-def]
        return who


class Hidden(Greeter):
    name = "hidden"
    greet = None  # type: ignore[assignment]


class Static(Greeter):
    name = "static"

    @staticmethod
    def greet(who: Annotated[str, Length(1, 20)], times: int = 1) -> str:  # type: ignore[override]
        return who


@pytest.mark.parametrize(
    ("cls", "words"),
    [
        (Renamed, "(whom: str, times: int = 1)"),
        (Retyped, "(who: str, times: float = 1)"),
        (Redefaulted, "(who: str, times: int = 2)"),
        (Shortened, "(who: str)"),
        (Untyped, "parameter 'who' has no type annotation"),
        (Hidden, "None"),
        (Static, "staticmethod"),
    ],
)
def test_an_override_that_does_not_match_is_refused(cls, words):
    with pytest.raises(TypeError) as info:
        cls.command_specs()
    message = str(info.value)
    assert f"{cls.__name__}.greet" in message and "Greeter.greet" in message
    assert words in message
    assert "@command" in message  # says how to declare a different command


class Redeclared(Greeter):
    """Declaring the override again with ``@command`` makes it a command of its own."""

    name = "redeclared"

    @command(read=True)
    def greet(self, whom: str) -> str:  # type: ignore[override]
        """Greet, quietly."""
        return f"hi {whom}"


def test_a_redeclared_override_is_its_own_command():
    spec = Redeclared.command_specs()["greet"]
    assert spec.func is Redeclared.greet and spec.read and spec.doc == "Greet, quietly."
    assert LoudGreeter.command_specs()["greet"].func is LoudGreeter.greet
    assert Greeter.command_specs()["greet"].func is Greeter.greet


def test_a_plugin_with_a_mismatched_override_is_skipped_at_registration(caplog):
    pm = new_plugin_manager()
    pm.register(Register(Renamed), name="renamed-plugin")
    pm.register(Register(LoudGreeter), name="loud-plugin")
    registry = collect(pm)
    assert "renamed" not in registry.behaviours and "loud" in registry.behaviours
    assert "plugin 'renamed-plugin' failed while registering" in caplog.text
    assert "Renamed.greet" in caplog.text


# -- every parameter declares its type ----------------------------------------------------


def test_a_parameter_without_an_annotation_is_refused_at_declaration():
    def keep(self, stuff: int, other):  # type: ignore[no-untyped-def]
        return stuff

    with pytest.raises(TypeError) as info:
        command(keep)
    message = str(info.value)
    assert "keep" in message and "parameter 'other' has no type annotation" in message
    assert "Any" in message  # says how to accept anything on purpose


def test_any_written_out_accepts_anything():
    def keep(self, stuff: Any) -> Any:
        return stuff

    spec = command(keep).__pyrostage_command__
    assert spec.signature.bind("m.keep", ({"a": [1]},), {}) == {"stuff": {"a": [1]}}
    assert spec.describe()["params"][0]["type"] == "any"


def test_every_builtin_command_parameter_is_annotated():
    pm, _ = get_plugin_manager()
    registry = collect(pm)
    for cls in [*registry.modes.values(), *registry.behaviours.values()]:
        for spec in cls.command_specs().values():
            for param in spec.signature.params:
                assert param.annotation is not inspect.Parameter.empty, f"{cls.name}.{spec.name}"


# -- Literal and Enum parameters ----------------------------------------------------------


class Level(enum.Enum):
    LOW = 1
    HIGH = 2


class Side(enum.StrEnum):
    LEFT = "left"
    RIGHT = "right"


class Picker(Behaviour):
    name = "picker"

    @command
    def button(self, button: Literal["main", "second"]) -> str:
        return button

    @command
    def number(self, n: Literal[1, 2, 3] = 1) -> int:
        return n

    @command
    def level(self, level: Level) -> str:
        assert isinstance(level, Level)  # the command gets the member, however it was named
        return f"{type(level).__name__}.{level.name}"

    @command(read=True)
    def levelled(self, level: Level = Level.HIGH) -> str:
        return level.name

    @command
    def side(self, side: Side | None = None) -> str:
        return "none" if side is None else side.name

    @command
    def sides(self, sides: list[Side]) -> list[str]:
        return [s.name for s in sides]


@pytest.fixture
def picker(start_node):
    pm, _ = get_plugin_manager()
    plugin = Register(Picker, Greeter)
    pm.register(plugin, name="picker")
    try:
        node = start_node(pm=pm)
        with node.proxy() as p:
            yield p
    finally:
        pm.unregister(plugin)


def test_literal_and_enum_parameters_over_pyro(picker):
    assert picker.call("picker.button", "second") == "second"
    with pytest.raises(ValueError, match=r"picker.button: button must be one of 'main', "
                                         r"'second', got 'third'"):
        picker.call("picker.button", "third")
    with pytest.raises(TypeError, match="button must be one of 'main', 'second', got int 5"):
        picker.call("picker.button", 5)
    assert picker.call("picker.number", 3) == 3
    with pytest.raises(TypeError, match="one of 1, 2, 3"):
        picker.call("picker.number", True)
    with pytest.raises(ValueError, match="one of 1, 2, 3"):
        picker.call("picker.number", 4)
    assert picker.call("picker.level", "HIGH") == "Level.HIGH"  # by name
    assert picker.call("picker.level", 1) == "Level.LOW"  # by value
    with pytest.raises(ValueError, match="level must be one of 'LOW', 'HIGH', got 'medium'"):
        picker.call("picker.level", "medium")
    with pytest.raises(ValueError, match="one of 'LOW', 'HIGH'"):
        picker.call("picker.level", 3)
    assert picker.call("picker.side", "right") == "RIGHT"  # a str enum's value
    assert picker.call("picker.side", "LEFT") == "LEFT"
    assert picker.call("picker.side", None) == "none"
    assert picker.call("picker.sides", ["left", "RIGHT"]) == ["LEFT", "RIGHT"]
    with pytest.raises(ValueError, match=r"sides\[1\] must be one of 'LEFT', 'RIGHT'"):
        picker.call("picker.sides", ["left", "up"])


def test_choices_typed_as_text_reach_the_command(picker):
    """The CLI, the shell and the web form send what was typed: the text of a choice."""
    commands = picker.commands("*")
    for command_name, text, expected in [
        ("picker.number", "2", 2),
        ("picker.level", "LOW", "Level.LOW"),
        ("picker.level", "2", "Level.HIGH"),
        ("picker.button", "main", "main"),
    ]:
        declared = commands[command_name]["params"][0]
        assert declared["type"] == "choice"
        assert picker.call(command_name, convert_text(declared["type"], text)) == expected


def test_commands_show_choices_and_limits(picker):
    commands = picker.commands("*")
    button = commands["picker.button"]["params"][0]
    assert button == {"name": "button", "type": "choice", "required": True,
                      "limits": {"choices": ["main", "second"]}}
    number = commands["picker.number"]["params"][0]
    assert number["limits"] == {"choices": [1, 2, 3]} and number["default"] == 1
    assert commands["picker.level"]["params"][0]["limits"] == {"choices": ["LOW", "HIGH"]}
    levelled = commands["picker.levelled"]["params"][0]
    assert levelled["default"] == "HIGH" and picker.call("picker.levelled") == "HIGH"
    assert commands["picker.side"]["params"][0]["type"] == "choice|None"
    assert commands["picker.side"]["params"][0]["limits"] == {"choices": ["LEFT", "RIGHT"]}
    greet = commands["greeter.greet"]["params"]
    assert greet[0]["limits"] == {"min_length": 1, "max_length": 20}
    assert greet[1]["limits"] == {}
    scoreboard = commands["scoreboard.add_points"]["params"][0]
    assert scoreboard["limits"] == {"min": -1_999_998, "max": 1_999_998}
    team = commands["scoreboard.set_team"]["params"][0]
    assert team["limits"] == {"min_length": 1, "max_length": 24, "printable": True}
    countdown = commands["timer.countdown"]["params"][0]
    assert countdown["limits"] == {"min": 0.1, "max": 86_400}


@pytest.mark.parametrize(
    ("annotation", "words"),
    [
        (Literal[1.5, 2.5], "Literal values may be str, int or bool"),
        (Literal[b"x"], "Literal values may be str, int or bool"),
        (Annotated[Level, Range(0, 3)], "checks numbers (int, float) only"),
        (Annotated[Literal["a", "b"], Range(0, 3)], "checks numbers (int, float) only"),
        (enum.Enum("Empty", {}), "has no members"),
    ],
)
def test_bad_choices_are_refused_at_declaration(annotation, words):
    def pick(self, choice):  # type: ignore[no-untyped-def]
        return choice

    pick.__annotations__ = {"choice": annotation}
    with pytest.raises(TypeError, match="parameter 'choice'") as info:
        command(pick)
    assert words in str(info.value)


def test_choices_cost_what_their_longest_form_does():
    assert wire_cost(Literal["a", "bbbb"]).size == wire_cost(Annotated[str, Length(0, 4)]).size
    assert wire_cost(Level).size < wire_cost(Annotated[str, Length(0, 8)]).size
    assert wire_cost(Side | None).size < 100
    assert type_name(Literal["a", "b"]) == "choice" and type_name(Level) == "choice"


# -- constraints a plugin declares itself -------------------------------------------------


class Even:
    """A plugin's own check: ``check`` and, for ``commands()``, ``describe`` and ``limits``."""

    def check(self, name: str, value: Any) -> Any:
        if value % 2:
            raise ValueError(f"{name} must be even, got {value}")
        return value

    def describe(self) -> str:
        return "an even number"

    def limits(self) -> dict[str, Any]:
        return {"multiple_of": 2}


class Quiet:
    """Only ``check``: nothing extra to show."""

    def check(self, name: str, value: Any) -> Any:
        return value


def _params(func: Any) -> list[dict[str, Any]]:
    return command(func).__pyrostage_command__.describe()["params"]


def test_custom_constraints_are_checked_and_shown():
    def pair(self, n: Annotated[int, Range(0, 10), Even()], note: Annotated[str, Quiet()],
             words: list[Annotated[str, Length(1, 5), Printable()]]) -> int:
        return n

    n, note, words = _params(pair)
    assert n["limits"] == {"min": 0, "max": 10, "multiple_of": 2, "rules": ["an even number"]}
    assert note["limits"] == {"max_length": 10_000}  # the default length still applies
    assert words["limits"] == {"max_length": 1_000,
                               "items": {"min_length": 1, "max_length": 5, "printable": True}}
    signature = command(pair).__pyrostage_command__.signature
    with pytest.raises(ValueError, match=r"m\.pair: n must be even, got 3"):
        signature.bind("m.pair", (3, "", []), {})


class Opaque(Even):
    def limits(self) -> dict[str, Any]:
        return {"when": (1, 2)}  # a tuple: JSON clients would see a list


def test_limits_that_are_not_plain_data_are_refused_at_declaration():
    def pair(self, n: Annotated[int, Opaque()]) -> int:
        return n

    with pytest.raises(TypeError, match=r"parameter 'n': .*limits\(\) must return a dict of "
                                        "plain data"):
        command(pair)


# -- Mode's own methods -------------------------------------------------------------------


class Ticker(Mode):
    """Animates, and counts its ticks through the documented default ``Mode.tick``."""

    name = "ticker"

    def restore(self) -> None:
        self.ticks = self.state.get("ticks", 0)

    def animating(self) -> bool:
        return self.ticks < 3

    def tick(self, now: float) -> None:
        super().tick(now)
        self.ticks += 1
        self.state.set("ticks", self.ticks)

    @command(read=True)
    def count(self) -> int:
        return self.ticks

    def draw(self, surface: pygame.Surface) -> None:
        fitted = engine.fit_text(str(self.ticks), surface.get_width() // 2, 200)
        text, size = fitted
        engine.centred(surface, text, size, (255, 255, 255), surface.get_rect().center,
                       shadow=(0, 0, 0), shadow_offset=2)


class TickerPlugin:
    @hookimpl
    def register_modes(self, register):
        register(Ticker)


def test_a_mode_may_call_the_default_tick(start_node):
    pm, _ = get_plugin_manager()
    plugin = TickerPlugin()
    pm.register(plugin, name="ticker")
    try:
        node = start_node(pm=pm)
        with node.proxy() as p:
            p.switch("ticker")
            assert wait_for(lambda: p.call("ticker.count") == 3)
    finally:
        pm.unregister(plugin)


def test_mode_methods_are_defined_and_documented():
    for name in ("tick", "draw", "animating", "deadline", "on_button", "on_enter", "on_exit",
                 "redraw", "summary", "restore"):
        method = getattr(Mode, name)
        assert method.__doc__ and len(method.__doc__.split()) > 8, name
    assert "deadline" in Mode.tick.__doc__ and "animating" in Mode.tick.__doc__
    assert Mode.on_button.__annotations__["return"] == "None"


def test_fit_text_returns_a_documented_named_pair():
    pygame.font.init()
    fitted = engine.fit_text("a long team name", 60, 100)
    assert isinstance(fitted, engine.Fitted)
    text, size = fitted
    assert (text, size) == (fitted.text, fitted.size) and 8 <= size < 100
    assert engine.Fitted.__doc__ and "Fitted" in engine.__all__
    assert engine.centred.__annotations__["shadow"] == "RGB | None"


def test_signature_str_of_choices():
    def pick(self, side: Side, n: Literal[1, 2] = 2) -> None:
        pass

    assert str(Signature(pick)) == "(side: choice, n: choice = 2)"
