"""join: a "scan to control" QR code over whatever mode the TV shows.

Real nodes over Pyro, pygame's dummy driver: every test reads the code back from the
snapshot, module by module, against segno's own matrix of the address.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import segno
from conftest import image, wait_for
from PIL import Image

from engine import hookimpl
from engine.core.plugins import get_plugin_manager
from engine.testing import RunningNode
from plugins.join.card import DARK, LIGHT, QUIET, place

URL = "http://10.0.0.5:8080/"
OTHER = "https://camp.example/board?lang=en"


def assert_code(shot: Image.Image, url: str) -> None:
    """The QR code of ``url`` (quiet zone included) is on ``shot``: every module's centre is
    black where segno's matrix is dark and white where it is light."""
    rows = [list(row) for row in segno.make(url, error="m").matrix_iter(border=QUIET)]
    where = place(shot.size, len(rows))
    assert where.side >= 0.45 * min(shot.size), "too small to scan from across a room"
    half = where.scale // 2
    wrong = [
        (r, c)
        for r, row in enumerate(rows)
        for c, dark in enumerate(row)
        if shot.getpixel((where.x + c * where.scale + half, where.y + r * where.scale + half))
        != (DARK if dark else LIGHT)
    ]
    assert not wrong, f"{len(wrong)} of {len(rows) ** 2} modules differ, e.g. {wrong[:5]}"


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and a.tobytes() == b.tobytes()


class Recorder:
    """The join events as delivered to plugins (what the web page's stream carries too)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def pyrostage_event(self, stage: Any, source: str, name: str, data: dict[str, Any]) -> None:
        if source == "join":
            self.events.append((name, data))


@pytest.fixture
def recorded(start_node: Callable[..., RunningNode]) -> Iterator[tuple[RunningNode, Recorder]]:
    pm, _ = get_plugin_manager()
    recorder = Recorder()
    pm.register(recorder, name="recorder")
    yield start_node(pm=pm), recorder


@pytest.mark.parametrize("mode", ["scoreboard", "timer", "colorsquare"])
def test_the_code_shows_over_the_mode_and_goes_again(node: RunningNode, mode: str):
    with node.proxy() as p:
        p.switch(mode)
        if mode == "colorsquare":
            p.call("set_color", "teal")
        before = image(p.snapshot())
        assert p.call("join.show", URL) == URL
        assert_code(image(p.snapshot()), URL)
        assert p.call("join.shown") == URL
        assert p.status()["state"]["join"] == {
            "shown": True, "url": URL, "caption": "Scan to control", "until": None}
        assert p.mode == mode  # drawn over the mode, not instead of it
        assert p.call("join.hide") is True
        assert same(image(p.snapshot()), before)
        assert p.call("join.shown") is None
        assert p.call("join.hide") is False


def test_the_code_stays_over_a_running_timer_and_a_mode_switch(node: RunningNode):
    with node.proxy() as p:
        p.switch("timer")
        p.call("start")
        p.call("join.show", URL, "Join the race")
        assert_code(image(p.snapshot()), URL)
        p.switch("scoreboard")
        p.call("add_points", 5)
        assert_code(image(p.snapshot()), URL)
        p.call("join.show", OTHER)  # another address replaces it
        assert_code(image(p.snapshot()), OTHER)


def test_the_code_is_upright_on_a_turned_tv(start_node: Callable[..., RunningNode]):
    node = start_node(rotate=90, size=(320, 180))
    with node.proxy() as p:
        p.call("join.show", URL)
        shot = image(p.snapshot())
        assert shot.size == (320, 180)  # the screen as it stands
        assert_code(shot.transpose(Image.Transpose.ROTATE_90), URL)  # turned back upright


def test_a_timed_code_goes_by_itself(recorded: tuple[RunningNode, Recorder]):
    node, recorder = recorded
    with node.proxy() as p:
        p.switch("scoreboard")
        before = image(p.snapshot())
        p.call("join.show", URL, seconds=1)
        assert_code(image(p.snapshot()), URL)
        assert p.status()["state"]["join"]["until"] is not None
        assert wait_for(lambda: same(image(p.snapshot()), before))
        assert p.call("join.shown") is None
        assert p.status()["state"]["join"]["shown"] is False
        assert wait_for(lambda: len(recorder.events) == 2)
        (shown, data), hidden = recorder.events
        assert shown == "join_shown" and data["url"] == URL and data["until"] is not None
        assert hidden == ("join_hidden", {"url": URL, "reason": "expired"})


def test_showing_and_hiding_publish_events(recorded: tuple[RunningNode, Recorder]):
    node, recorder = recorded
    with node.proxy() as p:
        p.call("join.show", URL, "")
        p.call("join.hide")
        p.call("join.hide")  # nothing shown: nothing to tell
    assert wait_for(lambda: len(recorder.events) == 2)
    assert recorder.events == [
        ("join_shown", {"url": URL, "caption": "", "until": None}),
        ("join_hidden", {"url": URL, "reason": "hidden"}),
    ]


def test_a_restarted_node_shows_it_again_unless_its_time_is_up(
    start_node: Callable[..., RunningNode],
):
    first = start_node()
    with first.proxy() as p:
        p.switch("colorsquare")
        p.call("join.show", URL, "Scan me", 3600)
    first.stop()

    second = start_node()
    with second.proxy() as p:
        assert p.call("join.shown") == URL
        assert p.status()["state"]["join"]["caption"] == "Scan me"
        assert_code(image(p.snapshot()), URL)
        p.call("join.show", URL, seconds=0.5)
    second.stop()
    time.sleep(0.6)  # its time runs out while the node is down

    third = start_node()
    with third.proxy() as p:
        assert p.call("join.shown") is None
        assert p.status()["state"]["join"]["shown"] is False
        p.call("set_color", "navy")
        assert image(p.snapshot()).getpixel((160, 90)) == (0, 0, 128)  # where the code was


BAD: list[tuple[tuple[Any, ...], dict[str, Any], type[Exception], str]] = [
    (("ftp://10.0.0.5/",), {}, ValueError, "must start with http:// or https://"),
    (("10.0.0.5:8080",), {}, ValueError, "must start with http:// or https://"),
    (("http://",), {}, ValueError, "needs a host"),
    (("http://" + "a" * 300,), {}, ValueError, "1 to 300 characters"),
    ((URL + "?token=s3cret",), {}, ValueError, "seen by every camper"),
    ((URL + "#access_token=s3cret",), {}, ValueError, "seen by every camper"),
    (("http://admin:s3cret@10.0.0.5/",), {}, ValueError, "user name or password"),
    ((URL + "\n",), {}, ValueError, "printable characters only"),
    ((URL, "Scan\tme"), {}, ValueError, "printable characters only"),
    ((URL,), {"seconds": -1}, ValueError, "between 0 and 86400"),
    ((URL,), {"seconds": 86401}, ValueError, "between 0 and 86400"),
    ((42,), {}, TypeError, "url"),
    ((URL,), {"seconds": "soon"}, TypeError, "seconds"),
]


def test_bad_input_is_refused_and_changes_nothing(node: RunningNode):
    with node.proxy() as p:
        p.call("join.show", OTHER)
        before = image(p.snapshot())
        for args, kwargs, error, words in BAD:
            with pytest.raises(error, match=words) as info:
                p.call("join.show", *args, **kwargs)
            assert "s3cret" not in str(info.value)  # a refused secret is not repeated
            assert p.call("join.shown") == OTHER, args
        assert same(image(p.snapshot()), before)
        assert p.status()["state"]["join"]["url"] == OTHER


def test_commands_describe_the_address_they_accept(node: RunningNode):
    with node.proxy() as p:
        show = p.commands("join")["show"]
    url, caption, seconds = show["params"]
    assert url["limits"]["max_length"] == 300 and url["limits"]["schemes"] == ["http", "https"]
    assert caption["default"] == "Scan to control"
    assert seconds["type"] == "float" and seconds["limits"] == {"min": 0, "max": 86400}
