"""The camp's race day, end to end: a node started as `pyrostage serve --name red`, driven only
over Pyro by a client that imports nothing from pyrostage."""

from __future__ import annotations

import time

import Pyro4
from conftest import image, lookup_proxy, pixel, spawn_node, wait_for


def test_a_full_race_over_pyro(tmp_path, name_server):
    with spawn_node(tmp_path, name_server, "red"):
        red = wait_for(lambda: lookup_proxy(name_server, "red"), timeout=30)
        with red:
            red.call("scoreboard.set_team", "Red Foxes")
            red.mode = "timer"
            red.call("start")
            time.sleep(0.3)
            before_press = red.call("elapsed")
            assert red.press() is True
            elapsed = red.call("elapsed")
            assert red.call("running") is False
            assert before_press <= elapsed < before_press + 5
            assert red.call("results", 1)[0]["source"] == "button"

            red.switch("scoreboard")
            blank = image(red.snapshot())
            red.call("add_points", 5)
            assert red.call("get_score") == 5
            red.call("easter_egg.enable")
            time.sleep(0.25)  # past the 200 ms debounce of the previous press
            assert red.press() is True
            assert red.call("get_score") == 15
            history = red.call("history", 2)
            assert [(h["delta"], h["source"]) for h in history] == [(10, "button"),
                                                                    (5, "controller")]
            # the score on screen changed where the score is drawn
            wait_for(lambda: red.status()["state"]["scoreboard"].get("shown", 15) == 15)
            after = image(red.snapshot())
            w, h = after.size
            region = (w // 4, h // 2, 3 * w // 4, 3 * h // 4)
            assert blank.crop(region).tobytes() != after.crop(region).tobytes()

            red.call("undo")
            assert red.call("get_score") == 5
            assert red.status()["state"]["scoreboard"]["team"] == "Red Foxes"

    # and a stranger's script by name, once the node is back up
    with spawn_node(tmp_path, name_server, "red"):
        wait_for(lambda: lookup_proxy(name_server, "red"), timeout=30)
        uri = f"PYRONAME:pyrostage.red@{name_server.host}:{name_server.port}"
        with Pyro4.Proxy(uri) as again:
            assert again.mode == "scoreboard"
            assert again.call("get_score") == 5
            again.switch("colorsquare")
            again.call("set_color", "red")
            assert pixel(again.snapshot()) == (255, 0, 0)
