"""A buggy or stuck plugin must not take the node down, hang its callers or corrupt its state.

Throwaway plugins are registered on a fresh PluginManager next to the built-in ones; the node
is real (Pyro4 daemon, name server, headless pygame, SQLite) and is driven as a controller
would drive it. Both ways of serializing changes (``lock`` and ``inbox``) are covered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pluggy
import pygame
import pytest
from conftest import RunningNode, image, pixel

from engine import Behaviour, Mode, command, hookimpl
from engine.core.plugins import get_plugin_manager

HANG_GUARD = 10.0  # generous: a caller must get an answer long before this
BANNER = (160, 0, 0)
DISPATCHES = ["lock", "inbox"]


class PluginBroke(Exception):
    """A plugin's own exception class: no plain client could rebuild it."""


class BadLevel(ValueError):
    """A plugin's subclass of a builtin error."""


class Signals:
    """Events the tests and the plugins share (everything runs in this process)."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.release = threading.Event()
        self.napping = threading.Event()


SIGNALS = Signals()


class Buggy(Behaviour):
    name = "buggy"
    level = 0

    def restore(self) -> None:
        self.level = int(self.state.get("level", 0))

    def summary(self) -> dict[str, Any]:
        return {"level": self.level}

    def _set(self, level: int) -> None:
        self.state.set("level", level)
        self.level = level

    @command
    def set_level(self, level: int) -> int:
        """Set the level (a well-behaved command)."""
        self._set(level)
        return level

    @command
    def set_then_fail(self, level: int) -> None:
        """Change this plugin's state and the colour square's, then fail."""
        self._set(level)
        square: Any = self.stage.behaviour("colorsquare")
        square._set((1, 2, 3))
        raise PluginBroke(f"failed after setting level {level}")

    @command
    def bad_level(self, level: int) -> None:
        """Fail with a plugin subclass of ValueError after changing state."""
        self._set(level)
        raise BadLevel(f"level {level} is not allowed here")

    @command
    def hold(self, level: int) -> int:
        """Hold the engine (lock or main loop) until the test releases it, then set a level."""
        SIGNALS.held.set()
        SIGNALS.release.wait(HANG_GUARD)
        self._set(level)
        return level


class Broken(Mode):
    name = "broken"

    def draw(self, surface: pygame.Surface) -> None:
        surface.fill((0, 0, 255))
        raise RuntimeError("cannot draw")


class Sleepy(Mode):
    """A mode whose next draw blocks the main loop (and the engine lock) until released."""

    name = "sleepy"
    nap = False

    @command
    def nap_next_draw(self) -> None:
        """Block in the next draw."""
        self.nap = True
        self.redraw()

    def draw(self, surface: pygame.Surface) -> None:
        surface.fill((0, 128, 0))
        if self.nap:
            self.nap = False
            SIGNALS.napping.set()
            SIGNALS.release.wait(HANG_GUARD)


class ThrowawayPlugin:
    @hookimpl
    def register_modes(self, register: Callable[[type[Mode]], None]) -> None:
        register(Broken)
        register(Sleepy)

    @hookimpl
    def register_commands(self, register: Callable[[type[Behaviour]], None]) -> None:
        register(Buggy)


@pytest.fixture
def pm() -> Iterator[pluggy.PluginManager]:
    global SIGNALS
    SIGNALS = Signals()
    manager, _ = get_plugin_manager()
    plugin = ThrowawayPlugin()
    manager.register(plugin, name="throwaway")
    try:
        yield manager
    finally:
        SIGNALS.release.set()
        manager.unregister(plugin)


def logged(caplog: pytest.LogCaptureFixture, message: str, detail: str) -> bool:
    """The node logged ``message`` at ERROR with the exception (``detail``) attached."""
    return any(
        r.levelname == "ERROR" and message in r.getMessage() and detail in (r.exc_text or "")
        for r in caplog.records
    )


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds taken, result or the exception raised)."""
    start = time.monotonic()
    try:
        result: Any = fn()
    except Exception as exc:
        result = exc
    return time.monotonic() - start, result


def in_background(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        out.append(timed(fn)[1])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


@pytest.mark.parametrize("dispatch", DISPATCHES)
def test_command_errors_reach_the_caller_and_change_nothing(start_node, pm, dispatch, caplog):
    node: RunningNode = start_node(pm=pm, dispatch=dispatch)
    with node.proxy() as p:
        assert p.call("buggy.set_level", 5) == 5
        p.call("set_color", "red")

        with pytest.raises(RuntimeError, match="PluginBroke: failed after setting level 9"):
            p.call("buggy.set_then_fail", 9)
        with pytest.raises(ValueError, match="BadLevel: level 7 is not allowed here"):
            p.call("buggy.bad_level", 7)
        assert logged(caplog, "call 'buggy.set_then_fail' failed", "PluginBroke")

        # nothing the failed commands did is visible: not in status, not on screen
        state = p.status()["state"]
        assert state["buggy"] == {"level": 5}
        assert state["colorsquare"]["color"] == [255, 0, 0]
        assert p.call("get_color") == [255, 0, 0]
        assert pixel(p.snapshot()) == (255, 0, 0)
        # and the node keeps serving
        assert p.call("buggy.set_level", 6) == 6

    node.stop()
    node = start_node(pm=pm, dispatch=dispatch)  # same state dir: what the store kept
    with node.proxy() as p:
        state = p.status()["state"]
        assert state["buggy"] == {"level": 6}
        assert state["colorsquare"]["color"] == [255, 0, 0]
        assert pixel(p.snapshot()) == (255, 0, 0)


@pytest.mark.parametrize("dispatch", DISPATCHES)
def test_a_failing_draw_shows_a_banner_and_the_node_keeps_serving(
    start_node, pm, dispatch, caplog
):
    node: RunningNode = start_node(pm=pm, dispatch=dispatch)
    with node.proxy() as p:
        p.call("set_color", "white")
        assert p.switch("broken") == "broken"
        shot = image(p.snapshot())
        w, h = shot.size
        for x in (1, w // 3, w - 2):
            assert shot.getpixel((x, h - 2)) == BANNER
        assert shot.getpixel((w // 2, h // 3)) != BANNER  # a strip, not the whole screen
        assert p.status()["draw_error"] == "broken: RuntimeError: cannot draw"
        assert logged(caplog, "mode 'broken' failed to draw", "cannot draw")

        # still serving: commands, reads, switching back to a mode that draws
        assert p.call("colorsquare.set_color", "lime") == [0, 255, 0]
        assert p.switch("colorsquare") == "colorsquare"
        shot = image(p.snapshot())
        assert shot.getpixel((1, h - 2)) == (0, 255, 0)
        assert shot.getpixel((w // 2, h // 2)) == (0, 255, 0)
        assert p.status()["draw_error"] is None


@pytest.mark.parametrize("dispatch", DISPATCHES)
def test_a_command_holding_the_engine_times_out_other_changes(start_node, pm, dispatch):
    node: RunningNode = start_node(pm=pm, dispatch=dispatch)
    with node.proxy() as p, node.proxy() as holder:
        p.call("set_color", "red")
        thread, held_result = in_background(lambda: holder.call("buggy.hold", 4))
        assert SIGNALS.held.wait(HANG_GUARD)

        took, result = timed(lambda: p.call("set_color", "blue"))
        assert isinstance(result, TimeoutError), result
        assert "could not apply the change within 2 s" in str(result)
        assert "the change was not made" in str(result)
        assert took < HANG_GUARD

        # reads answer while the engine is held
        assert p.call("get_color") == [255, 0, 0]
        assert p.status()["state"]["buggy"] == {"level": 0}

        SIGNALS.release.set()
        thread.join(HANG_GUARD)
        assert not thread.is_alive()
        if dispatch == "lock":  # its own caller waited: the change is made and acknowledged
            assert held_result == [4]
        else:  # its caller gave up after the timeout and was told the change may still land
            assert isinstance(held_result[0], TimeoutError)
            assert "still running" in str(held_result[0])

        # recovered: the timed-out change was not made, new changes are
        assert wait_for_level(p, 4) == 4
        assert p.call("get_color") == [255, 0, 0]
        assert p.call("set_color", "blue") == [0, 0, 255]
        assert pixel(p.snapshot()) == (0, 0, 255)


def wait_for_level(p: Any, level: int) -> int:
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline:
        current = int(p.status()["state"]["buggy"]["level"])
        if current == level:
            return current
        time.sleep(0.02)
    raise AssertionError(f"level never became {level}")


@pytest.mark.parametrize("dispatch", DISPATCHES)
def test_a_draw_blocking_the_main_loop_times_out_callers(start_node, pm, dispatch):
    node: RunningNode = start_node(pm=pm, dispatch=dispatch)
    with node.proxy() as p:
        p.call("colorsquare.set_color", "red")
        p.switch("sleepy")
        p.call("sleepy.nap_next_draw")
        assert SIGNALS.napping.wait(HANG_GUARD)

        took, result = timed(lambda: p.call("colorsquare.set_color", "blue"))
        assert isinstance(result, TimeoutError), result
        assert "a plugin is holding the main loop or the engine lock" in str(result)
        assert took < HANG_GUARD
        took, result = timed(p.snapshot)
        assert isinstance(result, TimeoutError), result
        assert "main loop did not answer" in str(result)
        assert took < HANG_GUARD

        # reads do not wait for the main loop
        assert p.call("colorsquare.get_color") == [255, 0, 0]
        assert p.status()["mode"] == "sleepy"

        SIGNALS.release.set()
        assert pixel(p.snapshot()) == (0, 128, 0)
        assert p.call("colorsquare.set_color", "blue") == [0, 0, 255]
        assert p.switch("colorsquare") == "colorsquare"
        assert pixel(p.snapshot()) == (0, 0, 255)
