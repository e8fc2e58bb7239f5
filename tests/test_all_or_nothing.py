"""A change is all or nothing, the loop never dies of a plugin, and background work happens.

Each test is one way a plugin can misbehave around the engine's serialized path; the node is
real and is driven over Pyro.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any

import pluggy
import pytest
from conftest import pixel, wait_for

from engine import Mode, command, hookimpl
from engine.core.plugins import get_plugin_manager

RELEASE = threading.Event()


class Flaky(Mode):
    """A mode whose ``deadline`` raises: the main loop must survive it."""

    name = "flaky"

    def deadline(self) -> float | None:
        raise RuntimeError("no idea when")

    def draw(self, surface: Any) -> None:
        surface.fill((9, 9, 9))


class Stuck(Mode):
    """A mode with a command that holds the engine lock until released."""

    name = "stuck"

    @command
    def hold(self) -> None:
        """Hold the engine until the test lets go."""
        RELEASE.wait(30)

    def draw(self, surface: Any) -> None:
        surface.fill((1, 1, 1))


class Plugin:
    @hookimpl
    def register_modes(self, register: Callable[[type[Mode]], None]) -> None:
        register(Flaky)
        register(Stuck)

    @hookimpl
    def pyrostage_mode_changed(self, stage: Any, old: str | None, new: str) -> None:
        if new == "timer" and stage.behaviour("colorsquare").color == (1, 2, 3):
            raise RuntimeError("the timer may not be shown in this colour")

    @hookimpl
    def pyrostage_button_pressed(self, stage: Any, button: str, mode: str) -> None:
        if mode == "scoreboard" and stage.behaviour("scoreboard").score == 13:
            # a hook tries a command that fails inside the press's change, and swallows it
            with suppress(ValueError):
                stage.call("scoreboard.add_points", 999_999)  # past the top score


@pytest.fixture
def pm() -> Iterator[pluggy.PluginManager]:
    RELEASE.clear()
    manager, _ = get_plugin_manager()
    plugin = Plugin()
    manager.register(plugin, name="misbehaving")
    try:
        yield manager
    finally:
        RELEASE.set()
        manager.unregister(plugin)


def held(lock: Any) -> bool:
    """True while another thread holds ``lock``."""
    if lock.acquire(timeout=0):
        lock.release()
        return False
    return True


def test_a_countdown_started_in_the_background_rings(start_node, pm):
    node = start_node(pm=pm, outputs={"bell": 17}, plugins={"timer": {"bell_seconds": 5}})
    with node.proxy() as p:
        assert p.mode == "colorsquare"
        p.call("timer.countdown", 0.3)  # the timer is not on screen
        wait_for(lambda: node.node.pins.outputs.level("bell"), timeout=10)
        # the bell rings inside the tick's change, a moment before that change is committed
        (result,) = wait_for(lambda: p.call("timer.results", 1))
        assert result["elapsed"] == pytest.approx(0.3)
        assert p.mode == "colorsquare"


def test_a_failing_switch_leaves_the_old_mode_on_screen(start_node, pm):
    node = start_node(pm=pm)
    with node.proxy() as p:
        p.call("set_color", [1, 2, 3])
        with pytest.raises(RuntimeError, match="may not be shown"):
            p.switch("timer")
        assert p.mode == "colorsquare"
        assert p.status()["mode"] == "colorsquare"
        assert pixel(p.snapshot()) == (1, 2, 3)
    node.stop()
    with start_node(pm=pm).proxy() as p:
        assert p.mode == "colorsquare"


def test_a_swallowed_failure_inside_a_change_keeps_memory_and_disk_equal(start_node, pm):
    node = start_node(pm=pm)
    with node.proxy() as p:
        p.switch("scoreboard")
        p.call("scoreboard.set_team", "Owls")
        assert p.call("scoreboard.add_points", 13) == 13
        assert p.press() is True
        assert p.call("scoreboard.get_score") == 13
        assert p.status()["state"]["scoreboard"]["team"] == "Owls"
    node.stop()
    with start_node(pm=pm).proxy() as p:
        assert p.call("scoreboard.get_score") == 13


def test_a_mode_whose_deadline_raises_does_not_stop_the_loop(start_node, pm):
    node = start_node(pm=pm, outputs={"bell": 17}, plugins={"timer": {"bell_seconds": 5}})
    with node.proxy() as p:
        p.call("timer.countdown", 0.2)
        wait_for(lambda: node.node.pins.outputs.level("bell"), timeout=10)
        assert node.thread.is_alive()
        p.call("set_color", "red")
        assert pixel(p.snapshot()) == (255, 0, 0)


def test_a_stuck_command_does_not_stop_the_node_from_stopping(start_node, pm):
    node = start_node(pm=pm)
    p = node.proxy()
    p.switch("timer")
    p.call("start")  # the loop wants a frame every tick
    holder = threading.Thread(target=lambda: node.proxy().call("stuck.hold"), daemon=True)
    holder.start()
    wait_for(lambda: held(node.node.stage.lock))
    node.node.stop()
    node.thread.join(timeout=10)
    assert not node.thread.is_alive(), "the main loop ignored stop while a command was stuck"
    RELEASE.set()
    holder.join(timeout=10)
    p._pyroRelease()
