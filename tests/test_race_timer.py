"""The node's side of a race: a start at an instant of the node's own clock, a countdown on the
screen until then, times counted from that instant, and the place shown at the end."""

from __future__ import annotations

import time

import pytest
from conftest import image, wait_for

from engine import hookimpl
from engine.core.plugins import get_plugin_manager
from plugins.timer.look import CAPTIONS, PLACES, place_text


class ManualClock:
    """The node's monotonic clock, moved by the test (frames still come at the real rate)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    @hookimpl
    def pyrostage_event(self, source, name, data):
        if source == "timer":
            self.events.append((name, data))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def data(self, name: str) -> dict:
        return next(data for event, data in self.events if event == name)


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def race(start_node, clock, recorder):
    pm, _ = get_plugin_manager()
    pm.register(recorder, name="recorder")
    node = start_node(pm=pm, clock=clock)
    with node.proxy() as p:
        p.switch("timer")
        yield node, p


def timer(p) -> dict:
    return p.status()["state"]["timer"]


def region(png, box: tuple[float, float, float, float]):
    """The part of the screen between fractions (left, top, right, bottom) of its size."""
    picture = image(png)
    w, h = picture.size
    left, top, right, bottom = box
    return picture.crop((int(left * w), int(top * h), int(right * w), int(bottom * h)))


TITLE = (0.0, 0.0, 1.0, 0.2)
DIGITS = (0.0, 0.22, 1.0, 0.66)
LOWER = (0.0, 0.68, 1.0, 0.92)  # the caption, or the place's banner


def has_colour(picture, rgb: tuple[int, int, int], tolerance: int = 12, least: int = 20) -> bool:
    """At least ``least`` pixels within ``tolerance`` of ``rgb`` on every channel."""
    colours = picture.getcolors(maxcolors=picture.width * picture.height) or []
    return sum(n for n, pixel in colours
               if all(abs(a - b) <= tolerance for a, b in zip(pixel, rgb, strict=True))) >= least


def test_a_race_counts_down_then_times_from_its_instant(race, clock, recorder):
    _, p = race
    ready = p.snapshot()
    assert p.call("start_at", 1003.0, "Red Foxes") == pytest.approx(3.0)
    state = timer(p)
    assert state["armed"] is True and state["running"] is False and state["shown"] == "3"
    assert state["title"] == "Red Foxes" and p.call("elapsed") == 0.0
    three = p.snapshot()
    assert region(three, TITLE).tobytes() != region(ready, TITLE).tobytes()  # the team's name
    assert region(three, DIGITS).tobytes() != region(ready, DIGITS).tobytes()
    assert has_colour(region(three, LOWER), CAPTIONS["get ready"])

    clock.now = 1001.0
    assert p.press() is True  # before the instant: a false start, no stop
    assert p.call("running") is False and p.call("results") == []
    clock.now = 1002.5
    wait_for(lambda: region(p.snapshot(), DIGITS).tobytes() != region(three, DIGITS).tobytes())
    assert timer(p)["shown"] == "1"

    clock.now = 1003.2  # the instant has passed: GO, and the time runs from 1003.0
    info = wait_for(lambda: (i := p.call("race_info"))["go_shown"] is not None and i)
    assert info["at"] == 1003.0 and info["go_shown"] == pytest.approx(1003.2)
    assert info["state"] == "running" and p.call("running") is True
    assert p.call("elapsed") == pytest.approx(0.2)
    go = p.snapshot()
    assert timer(p)["shown"] == "GO!"

    clock.now = 1005.25
    wait_for(lambda: timer(p)["shown"] == "02.250")
    assert p.press() is True
    assert p.call("running") is False
    assert p.call("elapsed") == pytest.approx(2.25, abs=1e-9)
    result = p.call("results", 1)[0]
    assert result["source"] == "button" and result["elapsed"] == pytest.approx(2.25)
    stopped = p.snapshot()
    assert region(stopped, DIGITS).tobytes() != region(go, DIGITS).tobytes()
    assert region(stopped, TITLE).tobytes() == region(three, TITLE).tobytes()  # name kept

    assert recorder.names() == ["timer_armed", "false_start", "timer_started", "timer_stopped"]
    assert recorder.data("timer_armed") == {"at": 1003.0, "title": "Red Foxes", "ahead": 3.0}
    assert recorder.data("false_start")["early"] == pytest.approx(2.0)
    started = recorder.data("timer_started")
    assert started["at"] == 1003.0 and started["title"] == "Red Foxes"
    assert 0 <= started["late"] <= 0.2 + 1e-9


def test_the_winner_and_the_places_keep_the_name_and_the_time(race, clock, recorder):
    node, p = race
    p.call("start_at", 1002.0, "Blue Jays")
    clock.now = 1004.5
    node.node.buttons.edge("main", 1003.75, wait=True)
    assert p.call("elapsed") == pytest.approx(1.75)
    before = p.snapshot()

    p.call("place", 1)
    winner = p.snapshot()
    assert region(winner, LOWER).tobytes() != region(before, LOWER).tobytes()
    assert has_colour(region(winner, LOWER), PLACES[1], least=200)  # the gold banner
    assert region(winner, TITLE).tobytes() == region(before, TITLE).tobytes()
    assert region(winner, DIGITS).tobytes() == region(before, DIGITS).tobytes()
    info = p.call("race_info")
    assert info["place"] == 1 and info["title"] == "Blue Jays" and info["state"] == "stopped"
    assert timer(p)["place"] == 1 and timer(p)["shown"] == "01.750"
    assert recorder.data("timer_placed") == {"place": 1, "title": "Blue Jays", "elapsed": 1.75}

    p.call("place", 1)  # again: nothing new
    assert recorder.names().count("timer_placed") == 1
    p.call("place", 3)
    third = p.snapshot()
    assert region(third, LOWER).tobytes() != region(winner, LOWER).tobytes()
    assert has_colour(region(third, LOWER), PLACES[3], least=200)
    p.call("place", 0)
    assert region(p.snapshot(), LOWER).tobytes() == region(before, LOWER).tobytes()


def test_a_new_start_or_a_reset_clears_the_race(race, clock):
    _, p = race
    p.call("start_at", 1001.0, "Reds")
    clock.now = 1002.0
    p.call("stop")
    p.call("place", 2)
    p.call("start")
    assert p.call("race_info") == {"at": None, "go_shown": None, "title": "", "place": 0,
                                   "state": "running"}
    p.call("start_at", 1005.0, "Reds")
    p.call("place", 4)
    p.call("reset")
    assert p.call("race_info") == {"at": None, "go_shown": None, "title": "", "place": 0,
                                   "state": "ready"}
    assert timer(p)["shown"] == "00.000"


def test_stop_before_the_instant_calls_the_race_off(race, clock, recorder):
    _, p = race
    p.call("start_at", 1010.0, "Greens")
    assert p.call("stop") == 0.0
    assert p.call("running") is False and p.call("results") == []
    clock.now = 1011.0
    assert p.call("race_info")["state"] == "ready" and p.call("elapsed") == 0.0
    assert recorder.names() == ["timer_armed", "timer_cancelled"]


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        (("soon",), TypeError, "number"),
        ((True,), TypeError, "number"),
        ((float("nan"),), ValueError, "finite"),
        ((1060.5,), ValueError, "at most 60 s ahead"),
        ((998.5,), ValueError, "1.500 s past"),
        ((1003.0, "x" * 25), ValueError, "title"),
        ((1003.0, "two\nlines"), ValueError, "printable"),
        ((1003.0, 7), TypeError, "title"),
    ],
)
def test_bad_starts_are_refused_and_change_nothing(race, args, error, words):
    _, p = race
    before = (p.call("race_info"), timer(p), p.call("results"))
    with pytest.raises(error, match=words):
        p.call("start_at", *args)
    assert (p.call("race_info"), timer(p), p.call("results")) == before


@pytest.mark.parametrize(("n", "error"), [(-1, ValueError), (100, ValueError), ("1", TypeError),
                                          (1.5, TypeError), (True, TypeError)])
def test_bad_places_are_refused_and_change_nothing(race, n, error):
    _, p = race
    p.call("place", 2)
    with pytest.raises(error, match="n must be"):
        p.call("place", n)
    assert p.call("race_info")["place"] == 2


@pytest.mark.parametrize(("n", "text"), [(1, "WINNER"), (2, "2nd"), (3, "3rd"), (4, "4th"),
                                         (11, "11th"), (12, "12th"), (13, "13th"), (21, "21st"),
                                         (22, "22nd"), (99, "99th")])
def test_place_names(n, text):
    assert place_text(n) == text


def test_elapsed_counts_from_the_instant_not_from_the_call(start_node):
    """The real clock: the start instant is given ahead; a press's time counts from it."""
    node = start_node()
    with node.proxy() as p:
        p.switch("timer")
        at = p.clock()["monotonic"] + 0.4
        p.call("start_at", at, "Reds")
        wait_for(lambda: p.call("running"))
        time.sleep(0.2)
        before = time.monotonic()
        assert p.press() is True
        after = time.monotonic()
        elapsed = p.call("elapsed")
    assert before - at <= elapsed <= after - at


def test_a_race_armed_behind_another_mode_still_starts_on_time(start_node, recorder):
    pm, _ = get_plugin_manager()
    pm.register(recorder, name="recorder")
    node = start_node(pm=pm)
    with node.proxy() as p:
        at = p.clock()["monotonic"] + 0.3
        p.call("timer.start_at", at, "Reds")
        assert p.mode == "colorsquare"
        wait_for(lambda: "timer_started" in recorder.names())
        assert p.call("timer.running") is True
        assert p.call("timer.race_info")["go_shown"] is None  # never on a screen


def test_a_node_restarted_mid_race_resumes_it(start_node):
    first = start_node()
    with first.proxy() as p:
        p.switch("timer")
        at = p.clock()["monotonic"] + 30
        p.call("start_at", at, "Reds")
    first.stop()

    second = start_node()
    with second.proxy() as p:
        info = p.call("race_info")
        assert info["at"] == pytest.approx(at) and info["state"] == "armed"
        assert info["title"] == "Reds" and timer(p)["armed"] is True
        assert p.press() is True  # still before the instant: no stop
        assert p.call("race_info")["state"] == "armed"
        p.call("stop")
        p.call("place", 2)
    second.stop()

    third = start_node()
    with third.proxy() as p:
        assert p.call("race_info")["place"] == 2 and p.call("race_info")["title"] == "Reds"


def test_a_node_restarted_after_the_instant_keeps_timing_from_it(start_node, recorder):
    first = start_node()
    with first.proxy() as p:
        p.switch("timer")
        at = p.clock()["monotonic"] + 0.2
        p.call("start_at", at, "Reds")
        wait_for(lambda: p.call("running"))
    first.stop()

    pm, _ = get_plugin_manager()
    pm.register(recorder, name="recorder")
    second = start_node(pm=pm)
    with second.proxy() as p:
        assert p.call("running") is True and p.call("race_info")["at"] == pytest.approx(at)
        before = time.monotonic()
        assert p.press() is True
        assert p.call("elapsed") >= before - at
    assert recorder.names() == ["timer_stopped"]  # the start was announced before the restart
