"""The easter egg: presses on the scoreboard score, but only while it is on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest

LAST_DAY = date(2027, 8, 14)


class Calendar:
    """The node's ``today``, turned by the test."""

    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


def press(p, times: int = 3) -> None:
    for _ in range(times):
        assert p.press() is True


@contextmanager
def armed(node, score: int = 0) -> Iterator[Any]:
    """A controller on the scoreboard at ``score`` with the egg switched on."""
    with node.proxy() as p:
        p.switch("scoreboard")
        p.call("set_score", score)
        p.call("easter_egg.enable")
        yield p


@pytest.fixture
def egg_node(start_node):
    return start_node(debounce_ms=0)


def test_three_presses_score_thirty_only_while_enabled_and_only_on_the_scoreboard(egg_node):
    with egg_node.proxy() as p:
        p.switch("scoreboard")
        assert p.call("easter_egg.enabled") is False
        press(p)
        assert p.call("get_score") == 0

        assert p.call("easter_egg.enable") is True
        assert p.call("easter_egg.enabled") is True
        press(p)
        assert p.call("get_score") == 30
        assert [(e["delta"], e["source"]) for e in p.call("history", 3)] == [(10, "button")] * 3

        for mode in ("colorsquare", "timer"):
            p.switch(mode)
            press(p)
        assert p.call("scoreboard.get_score") == 30

        p.switch("scoreboard")
        p.call("easter_egg.disable")
        press(p)
        assert p.call("get_score") == 30


def test_one_undo_fixes_a_mis_press(egg_node):
    with armed(egg_node, 100) as p:
        press(p, 1)
        assert p.call("undo") == 100


def test_points_come_from_the_config(start_node):
    node = start_node(debounce_ms=0, plugins={"easter_egg": {"points": 7}})
    with armed(node) as p:
        press(p, 2)
        assert p.call("get_score") == 14
        assert p.status()["state"]["easter_egg"]["points"] == 7


def test_a_press_at_the_top_score_scores_nothing_and_breaks_nothing(egg_node):
    with armed(egg_node, 999_995) as p:
        press(p, 2)
        assert p.call("get_score") == 999_995
        assert p.call("add_points", 4) == 999_999


def test_on_for_the_whole_configured_day(start_node):
    calendar = Calendar(LAST_DAY - timedelta(days=1))
    node = start_node(debounce_ms=0, today=calendar,
                      plugins={"easter_egg": {"enable_on": LAST_DAY.isoformat()}})
    with node.proxy() as p:
        p.switch("scoreboard")
        assert p.call("easter_egg.enabled") is False
        press(p, 1)

        calendar.day = LAST_DAY
        assert p.call("easter_egg.enabled") is True
        press(p, 3)
        assert p.call("get_score") == 30
        assert p.status()["state"]["easter_egg"]["enable_on"] == "2027-08-14"

        p.call("easter_egg.disable")  # disabling on the day wins for that day
        assert p.call("easter_egg.enabled") is False
        press(p, 1)

        calendar.day = LAST_DAY + timedelta(days=1)
        assert p.call("easter_egg.enabled") is False
        press(p, 1)
        assert p.call("get_score") == 30

        p.call("easter_egg.enable")  # switched on by hand: on until switched off
        calendar.day += timedelta(days=30)
        assert p.call("easter_egg.enabled") is True


def test_the_switch_survives_a_restart(start_node):
    calendar = Calendar(LAST_DAY)
    config = {"easter_egg": {"enable_on": LAST_DAY}}
    first = start_node(today=calendar, plugins=config)
    with first.proxy() as p:
        p.call("easter_egg.disable")
        assert p.call("easter_egg.enabled") is False
    first.stop()

    second = start_node(today=calendar, plugins=config)
    with second.proxy() as p:
        assert p.call("easter_egg.enabled") is False  # still off for the rest of the day
        p.call("easter_egg.enable")
    second.stop()

    calendar.day = LAST_DAY + timedelta(days=2)
    with start_node(today=calendar, plugins=config).proxy() as p:
        assert p.call("easter_egg.enabled") is True


def test_the_egg_is_a_plugin_not_a_mode(proxy):
    assert "easter_egg" not in proxy.modes()
    commands = proxy.commands("easter_egg")
    assert set(commands) == {"enable", "disable", "enabled"}
    assert commands["enabled"]["read"] is True
