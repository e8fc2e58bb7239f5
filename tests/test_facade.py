"""The remote contract, from a controller's point of view: a real node, a real name server."""

from __future__ import annotations

import threading

import Pyro4
import pytest
from conftest import pixel


def test_set_color_shows_on_screen(proxy):
    assert proxy.call("set_color", "red") == [255, 0, 0]
    assert pixel(proxy.snapshot()) == (255, 0, 0)
    proxy.call("set_color", [0, 0, 255])
    assert pixel(proxy.snapshot()) == (0, 0, 255)
    proxy.call("set_color", "0,255,0")
    assert pixel(proxy.snapshot()) == (0, 255, 0)
    assert proxy.call("get_color") == [0, 255, 0]


@pytest.mark.parametrize("name", ["red", "RED", "Navy Blue", "navyblue", "#ff8000"])
def test_colour_forms(proxy, name):
    proxy.call("set_color", name)
    assert pixel(proxy.snapshot()) == tuple(proxy.call("get_color"))


def test_shortcuts_and_time(proxy):
    assert proxy.call("red") == "RED"
    assert proxy.call("green") == "GREEN"
    assert proxy.call("blue") == "BLUE"
    assert pixel(proxy.snapshot()) == (0, 0, 255)
    assert 0 <= proxy.call("get_time") <= proxy.uptime + 1


def test_contract_members(proxy, node):
    assert proxy.node == "red"
    assert proxy.mode == "colorsquare"
    assert "colorsquare" in proxy.modes()
    assert proxy.switch("colorsquare") == "colorsquare"
    proxy.mode = "colorsquare"
    assert proxy.mode == "colorsquare"
    status = proxy.status()
    assert status["node"] == "red" and status["mode"] == "colorsquare"
    assert status["version"] and "colorsquare" in status["plugins"]
    assert status["uptime"] >= 0
    commands = proxy.commands()
    assert commands["set_color"]["params"][0] == {"name": "color", "type": "color",
                                                  "required": True,
                                                  "limits": {"max_length": 64}}
    assert commands["get_color"]["idempotent"] is True
    assert proxy.call("get_color") == [0, 0, 0]
    assert proxy.press() is True  # the main button steps colorsquare to its first colour
    assert proxy.call("get_color") == [255, 0, 0]


def test_qualified_calls_and_oneway(proxy):
    assert proxy.call("colorsquare.set_color", "blue") == [0, 0, 255]
    proxy.send("set_color", "yellow")
    # a oneway call runs in order on its connection, on the one serialized path
    assert proxy.call("get_color") == [255, 255, 0]


def test_parallel_calls_all_answered(node):
    errors: list[BaseException] = []
    answered = []

    def worker(i: int) -> None:
        with node.proxy() as p:
            for j in range(200):
                try:
                    rgb = [i * 30, j % 256, 7]
                    assert p.call("set_color", rgb) == rgb
                    answered.append(1)
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(answered) == 8 * 200


def test_idle_node_draws_nothing(proxy):
    proxy.call("set_color", "red")
    proxy.snapshot()
    frames = proxy.status()["display"]["frames"]
    threading.Event().wait(0.5)
    assert proxy.status()["display"]["frames"] == frames


def test_plain_pyro_client_through_the_name_server(node, name_server):
    """No project imports: what a stranger's script does with PYRONAME."""
    uri = f"PYRONAME:pyrostage.red@{name_server.host}:{name_server.port}"
    with Pyro4.Proxy(uri) as p:
        assert p.call("set_color", "255,0,0") == [255, 0, 0]
        assert p.mode == "colorsquare"
        data = p.snapshot()
        assert pixel(data) == (255, 0, 0)
        with pytest.raises(ValueError, match="unknown colour"):
            p.call("set_color", "no-such-colour")
        with pytest.raises(LookupError, match="has no command"):
            p.call("no_such_command")
        assert p.call("get_color") == [255, 0, 0]


def test_switch_and_mode_round_trip(proxy):
    assert proxy.switch("scoreboard") == "scoreboard"
    assert proxy.mode == "scoreboard"
    proxy.mode = "timer"
    assert proxy.switch("timer") == "timer" and proxy.mode == "timer"
    proxy.mode = "colorsquare"
    assert proxy.status()["mode"] == "colorsquare"


def test_the_journal_records_who_made_a_change(node, name_server):
    from engine.control.controller import Controller

    with Controller(name_server.host, name_server.port, source="web") as web:
        web.call("red", "scoreboard.add_points", 3)
    with Controller(name_server.host, name_server.port) as ctl:
        ctl.call("red", "scoreboard.add_points", 2)
        history = ctl.call("red", "scoreboard.history", 2)
    assert [(h["delta"], h["source"]) for h in history] == [(2, "controller"), (3, "web")]
    with node.proxy() as p, pytest.raises(ValueError, match="source must be one of"):
        p.call_as("button", "scoreboard.add_points", 1)
