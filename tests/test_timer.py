"""The race timer: start it, press the big button, read the time the button was pressed."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import wait_for

from engine import hookimpl
from engine.core.plugins import get_plugin_manager
from plugins.timer.look import format_time


class ManualClock:
    """The node's monotonic clock, moved by the test (frames still come at the real rate)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def shown(p) -> str:
    return p.status()["state"]["timer"]["shown"]


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def timer(start_node, clock):
    node = start_node(clock=clock)
    with node.proxy() as p:
        p.switch("timer")
        yield node, p


def test_button_edge_sets_the_time_not_when_it_was_handled(timer, clock):
    node, p = timer
    p.call("start")
    assert p.call("running") is True
    clock.now = 1005.0
    assert p.call("elapsed") == pytest.approx(5.0)
    # the GPIO callback's timestamp is what counts, although the loop handles it "later"
    assert node.node.buttons.edge("main", 1012.345, wait=True)
    clock.now = 1020.0
    assert p.call("running") is False
    assert p.call("elapsed") == pytest.approx(12.345, abs=1e-9)
    assert shown(p) == "12.345"
    result = p.call("results", 1)[0]
    assert result["source"] == "button" and result["elapsed"] == pytest.approx(12.345)


def test_press_over_pyro_stops_at_the_press_even_when_the_loop_is_busy(start_node):
    node = start_node()
    stage = node.node.stage
    with node.proxy() as p, node.proxy() as presser:
        p.switch("timer")
        started_before = time.monotonic()
        p.call("start")
        started_after = time.monotonic()
        with stage.lock:  # a slow plugin holds the engine: the press must wait to be applied
            pressed_before = time.monotonic()
            thread = threading.Thread(target=presser.press)
            thread.start()
            wait_for(lambda: node.node.buttons.presses == 1)
            pressed_after = time.monotonic()
            time.sleep(0.3)
        thread.join(10)
        elapsed = p.call("elapsed")
    assert pressed_before - started_after <= elapsed <= pressed_after - started_before
    assert p.call("running") is False


def test_stop_reset_and_what_the_screen_shows(timer, clock):
    _, p = timer
    assert shown(p) == "00.000" and p.status()["state"]["timer"]["running"] is False
    p.call("start")
    clock.now += 83.5
    wait_for(lambda: shown(p) == "1:23.500")
    assert p.call("stop") == pytest.approx(83.5)
    clock.now += 10
    assert p.call("stop") == pytest.approx(83.5)  # stopping again changes nothing
    assert shown(p) == "1:23.500"
    p.call("reset")
    assert p.call("elapsed") == 0.0 and shown(p) == "00.000"
    assert [r["elapsed"] for r in p.call("results")] == [pytest.approx(83.5)]


def test_a_running_timer_redraws_and_a_stopped_one_does_not(timer, clock):
    _, p = timer
    p.call("start")
    frames = p.status()["display"]["frames"]
    clock.now += 1.25
    wait_for(lambda: p.status()["display"]["frames"] > frames + 2)
    p.call("stop")
    p.snapshot()
    frames = p.status()["display"]["frames"]
    threading.Event().wait(0.3)
    assert p.status()["display"]["frames"] == frames


def test_countdown_rings_the_bell_once(start_node, clock):
    node = start_node(clock=clock, outputs={"bell": 17},
                      plugins={"timer": {"bell_seconds": 5}})
    bell = node.node.pins.outputs
    with node.proxy() as p:
        p.switch("timer")
        p.call("countdown", 5)
        clock.now += 2
        wait_for(lambda: shown(p) == "03.000")
        assert p.call("running") is True and bell.level("bell") is False
        clock.now += 3.5
        assert p.call("running") is False  # at once, though the loop ends it on its next frame
        results = wait_for(lambda: p.call("results"))
        assert bell.level("bell") is True
        assert p.call("elapsed") == pytest.approx(5.0) and shown(p) == "00.000"
        assert len(results) == 1 and results[0]["source"] == "tick"
        assert results[0]["countdown"] == 5


def test_countdown_without_a_bell_just_ends(start_node, clock):
    node = start_node(clock=clock, outputs={})
    with node.proxy() as p:
        p.call("timer.countdown", 1)
        p.switch("timer")
        clock.now += 1.5
        assert wait_for(lambda: p.call("results"))[0]["elapsed"] == pytest.approx(1.0)
        assert p.call("elapsed") == pytest.approx(1.0)


@pytest.mark.parametrize("seconds", [0, -1, 86_401, float("nan"), "5"])
def test_bad_countdowns_are_refused(timer, seconds):
    _, p = timer
    with pytest.raises((ValueError, TypeError)):
        p.call("countdown", seconds)
    assert p.call("running") is False


class Recorder:
    def __init__(self) -> None:
        self.stops: list[tuple[float, str]] = []

    @hookimpl
    def pyrostage_event(self, source, name, data):
        if source == "timer" and name == "timer_stopped":
            self.stops.append((round(data["elapsed"], 6), data["source"]))


def test_stops_are_published(start_node, clock):
    pm, _ = get_plugin_manager()
    recorder = Recorder()
    pm.register(recorder, name="recorder")
    try:
        node = start_node(pm=pm, clock=clock)
        with node.proxy() as p:
            p.switch("timer")
            p.call("start")
            clock.now += 2.5
            p.call("stop")
            p.call("start")
            node.node.buttons.edge("main", clock.now + 1.25, wait=True)
            p.call("stop")  # not running: nothing to publish
    finally:
        pm.unregister(recorder)
    assert recorder.stops == [(2.5, "controller"), (1.25, "button")]


def test_a_press_from_before_the_start_does_not_stop_the_race(timer, clock):
    node, p = timer
    p.call("start")
    assert node.node.buttons.edge("main", clock.now - 0.5, wait=True)
    assert p.call("running") is True and p.call("results") == []


def test_button_does_nothing_to_a_stopped_timer(timer):
    _, p = timer
    assert p.press() is True
    assert p.call("results") == [] and p.call("running") is False


def test_results_and_a_running_timer_survive_a_restart(start_node):
    first = start_node()
    with first.proxy() as p:
        p.switch("timer")
        p.call("start")
        p.call("stop")
        last = p.call("elapsed")
        p.call("start")
        running_for = p.call("elapsed")
    first.stop()

    second = start_node()
    with second.proxy() as p:
        assert p.mode == "timer"
        assert p.call("running") is True
        assert p.call("elapsed") >= running_for
        assert p.call("stop") > running_for
        assert p.call("results", 2)[1]["elapsed"] == pytest.approx(last)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "00.000"), (12.345, "12.345"), (5.1, "05.100"), (59.9999, "59.999"),
     (60, "1:00.000"), (83.5, "1:23.500"), (3725.25, "62:05.250"), (-1, "00.000")],
)
def test_time_format(seconds, text):
    assert format_time(seconds) == text


def test_a_countdown_in_the_background_still_rings_on_time(start_node):
    """The loop wakes for a background mode's deadline, not only for the mode on screen."""
    node = start_node(outputs={"bell": 17}, plugins={"timer": {"bell_seconds": 5}})
    bell = node.node.pins.outputs
    with node.proxy() as p:
        p.switch("timer")
        p.call("countdown", 0.3)
        p.switch("colorsquare")
        p.snapshot()  # the switch is on screen
        frames = p.status()["display"]["frames"]
        wait_for(lambda: bell.level("bell"), timeout=10)
        assert p.call("timer.results", 1)[0]["source"] == "tick"
        assert p.mode == "colorsquare"
        # the tick changed the timer, not the screen: nothing was redrawn for it
        assert p.status()["display"]["frames"] == frames
