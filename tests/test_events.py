"""Events: one generic hook, delivered in order and only once the change behind them is
committed; buttons a mode declares; the ``[plugins.<name>]`` tables by mode name.

Real nodes over Pyro; a throwaway third-party plugin publishes its own events.
"""

from __future__ import annotations

import errno
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import date
from pathlib import Path
from typing import Any

import pluggy
import pygame
import pytest
from conftest import pixel, wait_for
from test_disk_full import cap_pages

from engine import Mode, command, hookimpl
from engine.core.plugins import get_plugin_manager

TEAMS = {"main": (255, 0, 0), "second": (0, 0, 255)}
UNFIT = {  # event data JSON would change or cannot carry
    "set": {"teams": {1, 2}},
    "int_keys": {"scores": {1: 5}},
    "infinite": {"at": float("inf")},
    "object": {"day": date(2027, 8, 14)},
    "nested_bytes": {"photos": [b"\x89PNG"]},
    "tuple": {"teams": ("a", "b")},  # fine: it arrives as a list
    "too_deep": {"tree": [[[[[[[[[[[[[[[[[[[[["leaf"]]]]]]]]]]]]]]]]]]]]]},  # 22 levels
}


class Buzzer(Mode):
    """A throwaway quiz buzzer: the first press of any team's button wins the question."""

    name = "buzzer"
    buttons = ("main", "second")

    winner: str | None = None

    def restore(self) -> None:
        self.winner = self.state.get("winner")

    def on_button(self, button: str, at: float) -> None:
        if self.winner is None:
            self.state.set("winner", button)
            self.winner = button
            self.publish("buzzed", team=button, at=at)

    @command
    def reset(self) -> None:
        """Open the question again."""
        self.state.set("winner", None)
        self.winner = None

    @command
    def buzz_then_fail(self, team: str) -> None:
        """Publish, then raise: the change, and its event, never happened."""
        self.state.set("winner", team)
        self.publish("buzzed", team=team, at=0.0)
        raise ValueError("buzz_then_fail: refused after publishing")

    @command
    def shout(self, name: str, data: str) -> None:
        """Publish ``name`` with the data ``UNFIT[data]`` (what publish refuses)."""
        self.state.set("winner", "shouted")
        self.winner = "shouted"
        self.publish(name, **UNFIT[data])

    @command
    def ping(self, n: int) -> None:
        """Publish without writing anything."""
        self.publish("pinged", n=n)

    @command
    def note(self, n: int) -> None:
        """Write and publish."""
        self.state.set("note", n)
        self.publish("noted", n=n)

    def summary(self) -> dict[str, Any]:
        return {"winner": self.winner}

    def draw(self, surface: pygame.Surface) -> None:
        surface.fill(TEAMS.get(self.winner or "", (0, 0, 0)))


class Recorder:
    """Every event as delivered, with the score on disk at that moment (read through a
    connection of its own: only committed data shows there)."""

    def __init__(self, state_file: Callable[[], Path]) -> None:
        self.state_file = state_file
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.on_disk: list[int | None] = []
        self.threads: set[str] = set()

    @hookimpl
    def register_modes(self, register: Callable[[type[Mode]], None]) -> None:
        register(Buzzer)

    @hookimpl
    def pyrostage_button_pressed(self, stage: Any, button: str, mode: str) -> None:
        if mode == "buzzer" and button == "second":  # a change inside the press's that fails
            with suppress(ValueError):
                stage.call("buzzer.buzz_then_fail", "nobody")

    @hookimpl
    def pyrostage_event(self, stage: Any, source: str, name: str, data: dict[str, Any]) -> None:
        self.events.append((source, name, data))
        self.threads.add(threading.current_thread().name)
        if name == "score_changed":
            self.on_disk.append(stored_score(self.state_file()))

    def named(self, *names: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [event for event in self.events if event[1] in names]


def stored_score(path: Path) -> int | None:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT value FROM state WHERE owner = 'scoreboard' AND key = 'score'"
                           ).fetchone()
        return None if row is None else int(row[0])
    finally:
        conn.close()


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[pluggy.PluginManager, Recorder]]:
    pm, _ = get_plugin_manager()
    recorder = Recorder(lambda: tmp_path / "state" / "red.sqlite3")
    pm.register(recorder, name="recorder")
    try:
        yield pm, recorder
    finally:
        pm.unregister(recorder)


@pytest.mark.parametrize("dispatch", ["lock", "inbox"])
def test_events_arrive_in_order_and_only_after_their_commit(start_node, recorded, dispatch):
    pm, recorder = recorded
    node = start_node(pm=pm, dispatch=dispatch)
    with node.proxy() as p:
        p.switch("scoreboard")
        p.call("set_team", "Owls")
        for delta in (3, 4, -2):
            p.call("add_points", delta)
        p.call("timer.start")  # a mode in the background: no screen change
        p.call("easter_egg.enable")
        p.call("easter_egg.enable")  # already on: nothing toggled
    assert recorder.events == [
        ("engine", "mode_switched", {"old": "colorsquare", "new": "scoreboard"}),
        ("engine", "screen_changed", {"mode": "scoreboard"}),
        ("engine", "screen_changed", {"mode": "scoreboard"}),
        ("scoreboard", "score_changed", {"team": "Owls", "score": 3, "delta": 3,
                                         "source": "controller"}),
        ("engine", "screen_changed", {"mode": "scoreboard"}),
        ("scoreboard", "score_changed", {"team": "Owls", "score": 7, "delta": 4,
                                         "source": "controller"}),
        ("engine", "screen_changed", {"mode": "scoreboard"}),
        ("scoreboard", "score_changed", {"team": "Owls", "score": 5, "delta": -2,
                                         "source": "controller"}),
        ("engine", "screen_changed", {"mode": "scoreboard"}),
        ("timer", "timer_started", {}),
        ("easter_egg", "toggled", {"enabled": True}),
    ]
    assert recorder.on_disk == [3, 7, 5]  # each was on disk before anyone heard of it


@pytest.mark.parametrize("dispatch", ["lock", "inbox"])
def test_every_caller_hears_back_after_its_own_events_went_out(start_node, recorded, dispatch):
    """Eight controllers at once, changes that write and changes that only publish (behind
    one still committing): each call returns only once its own event was delivered, and
    every event is delivered once."""
    pm, recorder = recorded
    node = start_node(pm=pm, dispatch=dispatch)
    late: list[tuple[str, int]] = []

    def controller(k: int) -> None:
        with node.proxy() as p:
            for i in range(25):
                n = k * 1000 + i
                command, name = ("ping", "pinged") if i % 2 else ("note", "noted")
                p.call(f"buzzer.{command}", n)
                if ("buzzer", name, {"n": n}) not in recorder.events:
                    late.append((command, n))

    threads = [threading.Thread(target=controller, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert late == []
    heard = [data["n"] for _, name, data in recorder.named("pinged", "noted")]
    assert sorted(heard) == sorted(k * 1000 + i for k in range(8) for i in range(25))


def test_a_press_publishes_after_everything_it_caused(start_node, recorded):
    pm, recorder = recorded
    node = start_node(pm=pm, debounce_ms=0)
    with node.proxy() as p:
        p.switch("scoreboard")
        p.call("easter_egg.enable")
        del recorder.events[:]
        assert p.press() is True  # the egg scores inside the press's change
        assert p.call("get_score") == 10
        p.switch("timer")
        p.call("start")
        frames = node.node.display.frames
        wait_for(lambda: node.node.display.frames > frames + 2)  # frames tick: no events
        assert p.press() is True
        elapsed = p.call("elapsed")
    first, second = (data["at"] for _, _, data in recorder.named("button_pressed"))
    assert recorder.events == [
        ("engine", "button_pressed", {"button": "main", "at": first, "mode": "scoreboard"}),
        ("scoreboard", "score_changed", {"team": "Team", "score": 10, "delta": 10,
                                         "source": "button"}),
        ("engine", "screen_changed", {"mode": "scoreboard"}),
        ("engine", "mode_switched", {"old": "scoreboard", "new": "timer"}),
        ("engine", "screen_changed", {"mode": "timer"}),
        ("timer", "timer_started", {}),
        ("engine", "screen_changed", {"mode": "timer"}),
        ("engine", "button_pressed", {"button": "main", "at": second, "mode": "timer"}),
        ("timer", "timer_stopped", {"elapsed": elapsed, "source": "button"}),
        ("engine", "screen_changed", {"mode": "timer"}),
    ]


def test_a_change_that_fails_publishes_nothing(start_node, recorded):
    pm, recorder = recorded
    node = start_node(pm=pm)
    with node.proxy() as p:
        p.switch("buzzer")
        del recorder.events[:]
        with pytest.raises(ValueError, match="refused after publishing"):
            p.call("buzz_then_fail", "main")
        assert p.status()["state"]["buzzer"] == {"winner": None}
        p.call("scoreboard.add_points", 999_999)
        with pytest.raises(ValueError, match="score range"):
            p.call("scoreboard.add_points", 1)
        p.call("reset")
    assert recorder.events == [
        ("scoreboard", "score_changed", {"team": "Team", "score": 999_999, "delta": 999_999,
                                         "source": "controller"}),
        ("engine", "screen_changed", {"mode": "buzzer"}),
    ]


def test_a_change_whose_commit_fails_publishes_nothing(start_node, recorded):
    pm, recorder = recorded
    node = start_node(pm=pm)
    with node.proxy() as p:
        p.switch("scoreboard")
        score = p.call("add_points", 1)
        cap_pages(node.node.store)
        with pytest.raises(OSError) as info:
            for _ in range(500):  # journal rows fill the last page, then one more is needed
                score = p.call("add_points", 1)
        assert info.value.errno == errno.ENOSPC
        published = [data["score"] for _, _, data in recorder.named("score_changed")]
        assert published == list(range(1, score + 1))  # not score + 1, which was not saved
        assert recorder.on_disk == published
        cap_pages(node.node.store, cap=False)
        assert p.call("add_points", 100) == score + 100
    assert recorder.named("score_changed")[-1][2]["score"] == score + 100


@pytest.mark.parametrize("dispatch", ["lock", "inbox"])
def test_an_event_hook_may_make_a_change_of_its_own(start_node, dispatch):
    """The hook runs after the commit, outside the engine lock: its ``stage.call`` is a
    change of its own, committed, and its events follow."""

    class Echo:
        def __init__(self) -> None:
            self.events: list[tuple[str, Any]] = []

        @hookimpl
        def pyrostage_event(self, stage: Any, source: str, name: str,
                            data: dict[str, Any]) -> None:
            self.events.append((name, data.get("score")))
            if name == "score_changed" and data["score"] == 5:
                stage.call("scoreboard.add_points", 100)

    pm, _ = get_plugin_manager()
    echo = Echo()
    pm.register(echo, name="echo")
    try:
        node = start_node(pm=pm, dispatch=dispatch)
        with node.proxy() as p:
            p.call("scoreboard.add_points", 5)
            assert p.call("scoreboard.get_score") == 105
            p.press()  # delivered on the main loop this time
            wait_for(lambda: ("button_pressed", None) in echo.events)
    finally:
        pm.unregister(echo)
    assert echo.events[:2] == [("score_changed", 5), ("score_changed", 105)]
    node.stop()
    with start_node().proxy() as p:
        assert p.call("scoreboard.get_score") == 105


def test_a_third_party_mode_publishes_its_own_event_and_declares_buttons(start_node, recorded):
    pm, recorder = recorded
    node = start_node(pm=pm, gpio="sim", debounce_ms=0)
    with node.proxy() as p:
        p.switch("buzzer")
        gpio = p.status()["gpio"]
        assert gpio["buttons"][:2] == ["main", "second"]
        assert gpio["pins"]["second"] is None and "second" in gpio["unwired"]
        assert p.press("second") is True
        assert pixel(p.snapshot()) == TEAMS["second"]
        assert p.press("main") is True  # too late: second buzzed first
        assert pixel(p.snapshot()) == TEAMS["second"]
        p.call("reset")
        node.node._key(ord("2"), time.monotonic())  # key 2 on the sim backend: the 2nd button
        wait_for(lambda: p.status()["state"]["buzzer"] == {"winner": "second"})
        assert pixel(p.snapshot()) == TEAMS["second"]
        with pytest.raises(LookupError, match=r"unknown button 'fifth'.*main, second"):
            p.press("fifth")
    # the failed change inside each press of second published nothing, and set nothing
    buzzed = [(source, data["team"]) for source, _, data in recorder.named("buzzed")]
    assert buzzed == [("buzzer", "second"), ("buzzer", "second")]


@pytest.mark.parametrize(("name", "data", "error", "words"), [
    ("Buzzed!", "tuple", ValueError, "an event name is lowercase"),
    ("buzzed", "set", TypeError, "event 'buzzed' data['teams'] is a set"),
    ("buzzed", "int_keys", TypeError, "data['scores'] has the key 1 (int)"),
    ("buzzed", "infinite", ValueError, "data['at'] is inf"),
    ("buzzed", "object", TypeError, "data['day'] is a date"),
    ("buzzed", "nested_bytes", TypeError, "data['photos'][0] is bytes"),
    ("buzzed", "too_deep", ValueError, "nests lists and dicts more than 20 deep"),
])
def test_what_an_event_cannot_carry_fails_the_change(start_node, recorded, name, data, error,
                                                     words):
    pm, recorder = recorded
    node = start_node(pm=pm)
    with node.proxy() as p:
        p.switch("buzzer")
        with pytest.raises(error, match=re.escape(words)):
            p.call("shout", name, data)
        assert p.status()["state"]["buzzer"] == {"winner": None}  # the change did not happen
        p.call("shout", "buzzed", "tuple")
    assert recorder.named("buzzed") == [("buzzer", "buzzed", {"teams": ["a", "b"]})]


def test_a_declared_button_is_wired_by_the_config(tmp_path):
    from engine.base.config import load

    file = tmp_path / "node.toml"
    file.write_text("[gpio]\nbuttons = { second = 15 }\n")
    config = load(file)
    assert config.buttons["second"] == {"pin": 15, "pull": "up", "edge": "falling"}
    assert config.buttons["main"]["pin"] == 14  # main keeps its pin


def test_plugin_tables_are_keyed_by_mode_name(start_node, recorded, caplog):
    pm, _ = recorded
    node = start_node(pm=pm, plugins={"timer": {"bell_seconds": 2}, "recorder": {"x": 1},
                                      "scorebord": {}})
    with node.proxy() as p:
        plugins = p.status()["plugins"]
    assert "[plugins.recorder]" in plugins["recorder"]["warning"]
    assert "[plugins.buzzer]" in plugins["recorder"]["warning"]  # what it should have been
    assert "names no mode or behaviour" in plugins["scorebord"]["warning"]
    assert "warning" not in plugins["timer"]
    assert "[plugins.scorebord]" in caplog.text


def test_a_press_and_the_points_the_egg_scores_for_it_are_saved_together(start_node, recorded):
    pm, recorder = recorded
    node = start_node(pm=pm, debounce_ms=0)
    with node.proxy() as p:
        p.switch("scoreboard")
        p.call("easter_egg.enable")
        score = p.call("add_points", 1)
        cap_pages(node.node.store)
        with pytest.raises(OSError) as info:
            for _ in range(500):  # each press journals its points, until a page is needed
                assert p.press() is True
                score += 10
        assert info.value.errno == errno.ENOSPC
        assert p.call("get_score") == score == p.call("history", 1)[0]["score"]
        published = [data["score"] for _, _, data in recorder.named("score_changed")]
        assert published[-1] == score and recorder.on_disk[-1] == score
        presses = recorder.named("button_pressed")
        assert len(presses) == len(published) - 1  # each saved press scored; the last neither
        cap_pages(node.node.store, cap=False)
        assert p.press() is True
        assert p.call("get_score") == score + 10
    node.stop()
    with start_node().proxy() as p:
        assert p.call("get_score") == score + 10


def test_a_change_to_a_mode_off_screen_says_state_changed_once_it_changed(start_node,
                                                                           recorded):
    pm, recorder = recorded
    node = start_node(pm=pm)
    with node.proxy() as p:
        p.switch("colorsquare")
        del recorder.events[:]
        p.call("scoreboard.set_team", "Owls")
        p.call("scoreboard.set_team", "Owls")  # the same again: nothing changed
        p.call("scoreboard.get_team")
    assert recorder.events == [("engine", "state_changed", {"behaviour": "scoreboard"})]
