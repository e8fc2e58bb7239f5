"""The web's JSON API over real HTTP (uvicorn on a free port) to four real subprocess nodes:
what a phone's page or a script does, read back over Pyro and from the screens."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import pixel, wait_for
from PIL import Image
from webtools import sse_events, web_for

GUARD = 30


@pytest.fixture
def api(camp_web) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=camp_web.url, timeout=GUARD) as client:
        yield client


def call(api: httpx.Client, node: str, command: str, *args: Any, **body: Any) -> httpx.Response:
    return api.post(f"/api/nodes/{node}/call", json={"command": command, "args": list(args),
                                                     **body})


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


class Events:
    """An open ``/api/events`` stream read one event at a time."""

    def __init__(self, response: httpx.Response):
        self.events = sse_events(response.iter_lines())

    def next(self) -> tuple[str, str, Any]:
        """The next event with data: (event, id, data decoded)."""
        for event in self.events:
            if "data" in event:
                return event.get("event", "message"), event.get("id", ""), json.loads(
                    event["data"])
        raise EOFError("the stream ended")

    def until(self, test: Any, limit: int = 200) -> tuple[str, str, Any]:
        for _ in range(limit):
            event = self.next()
            if test(event):
                return event
        raise AssertionError("the event never came")


def stream(api: httpx.Client, **headers: str) -> Any:
    return api.stream("GET", "/api/events", headers=headers)


# -- reading ---------------------------------------------------------------------------------

def test_nodes_are_listed_with_groups_mode_and_what_they_show(api, ctl):
    ctl.member("gold", "switch", "scoreboard")
    ctl.call("gold", "scoreboard.set_team", "Hawks")
    ctl.call("gold", "scoreboard.set_score", 12)
    cards = ok(api.get("/api/nodes"))
    assert [c["name"] for c in cards] == ["blue", "gold", "green", "red"]
    gold = next(c for c in cards if c["name"] == "gold")
    assert gold["groups"] == ["stage"] and gold["mode"] == "scoreboard"
    assert gold["shows"] == "Hawks: 12" and gold["error"] is None
    assert gold["state"]["scoreboard"]["score"] == 12
    assert {"colorsquare", "scoreboard", "timer"} <= set(gold["modes"])
    assert ok(api.get("/api/nodes/gold"))["shows"] == "Hawks: 12"
    assert ok(api.get("/api/groups")) == {"stage": ["gold", "green"],
                                          "teams": ["blue", "green", "red"]}


def test_info_and_commands_describe_what_the_page_builds_from(api, camp_web):
    info = ok(api.get("/api/info"))
    assert info["share_url"] == camp_web.url and info["auth"] is False
    assert info["source"] == "web"
    commands = ok(api.get("/api/nodes/red/commands"))
    assert commands["scoreboard.add_points"]["params"][0]["type"] == "int"
    assert "set_color" in ok(api.get("/api/nodes/red/commands", params={"mode": "colorsquare"}))


# -- changing --------------------------------------------------------------------------------

def test_points_from_the_page_are_on_the_node_and_journaled_as_web(api, ctl):
    ctl.call("blue", "scoreboard.set_score", 20)
    assert ok(call(api, "blue", "scoreboard.add_points", 10)) == {"result": 30}
    assert ctl.call("blue", "scoreboard.get_score") == 30
    last = ctl.call("blue", "scoreboard.history", 1)[0]
    assert last["delta"] == 10 and last["source"] == "web"
    assert ok(call(api, "blue", "scoreboard.undo"))["result"] == 20
    assert ctl.call("blue", "scoreboard.get_score") == 20


def test_words_are_converted_by_the_declared_types_and_the_screen_shows_it(api, ctl):
    ok(api.post("/api/nodes/green/call", json={"command": "switch",
                                                 "words": ["colorsquare"]}))
    ok(api.post("/api/nodes/green/call", json={"command": "set_color", "words": ["0,0,255"]}))
    shot = api.get("/api/nodes/green/snapshot.png")
    assert shot.headers["content-type"] == "image/png"
    assert pixel(shot.content) == (0, 0, 255)
    assert ctl.call("green", "colorsquare.get_color") == [0, 0, 255]
    thumb = api.get("/api/nodes/green/snapshot.png", params={"w": 64})
    small = Image.open(io.BytesIO(thumb.content))
    assert small.width == 64 and small.getpixel((32, small.height // 2))[:3] == (0, 0, 255)


@pytest.mark.parametrize("body, status, words", [
    ({"command": "scoreboard.add_points", "args": ["ten"]}, 400, ["delta", "integer"]),
    ({"command": "scoreboard.add_points", "words": ["ten"]}, 400, ["integer"]),
    ({"command": "scoreboard.set_score", "args": [10**9]}, 400, ["between"]),
    ({"command": "scoreboard.nope"}, 404, ["nope"]),
    ({"command": "add points"}, 400, ["a name like"]),
    ({"command": "snapshot"}, 400, ["snapshot.png"]),
    ({"command": "switch", "words": ["disco"]}, 404, ["disco"]),
    ({"command": "switch", "kwargs": {"mode": "timer"}}, 400, ["positional"]),
    ({"command": "add_points", "words": ["1"], "args": [1]}, 400, ["either words"]),
    ({"args": [1]}, 400, ["command"]),
    ({"command": "add_points", "extra": 1}, 400, ["extra"]),
])
def test_bad_input_is_a_4xx_that_says_why_and_changes_nothing(api, ctl, body, status, words):
    before = ctl.member("red", "status")["state"]
    answer = api.post("/api/nodes/red/call", json=body)
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert set(problem) == {"error", "kind"}
    for word in words:
        assert word in problem["error"]
    assert ctl.member("red", "status")["state"] == before


def test_unknown_nodes_and_paths_are_404_and_broken_json_400(api):
    for node in ("purple", "@teams", "red,blue", "a" * 60):
        answer = call(api, node, "scoreboard.get_score")
        assert answer.status_code == 404, (node, answer.text)
        assert answer.json()["kind"] == "LookupError"
    assert api.get("/api/nope").status_code == 404
    bad = api.post("/api/nodes/red/call", content=b"{not json",
                   headers={"content-type": "application/json"})
    assert bad.status_code == 400 and "error" in bad.json()


def test_a_broadcast_reports_each_node_and_a_frozen_one_does_not_stop_the_rest(api, camp, ctl):
    _, procs = camp
    os.kill(procs["gold"].pid, signal.SIGSTOP)
    try:
        answer = ok(api.post("/api/call", json={"selector": "all",
                                                 "command": "colorsquare.set_color",
                                                 "words": ["255,128,0"]}))
    finally:
        os.kill(procs["gold"].pid, signal.SIGCONT)
    results = answer["results"]
    assert set(results) == {"red", "blue", "green", "gold"}
    assert results["gold"]["status"] == 504 and "did not answer" in results["gold"]["error"]
    for node in ("red", "blue", "green"):
        assert results[node]["result"] == [255, 128, 0]
        assert ctl.call(node, "colorsquare.get_color") == [255, 128, 0]
    bad = api.post("/api/call", json={"selector": "@nobody", "command": "timer.reset"})
    assert bad.status_code == 404 and "nobody" in bad.json()["error"]
    odd = ok(api.post("/api/call", json={"selector": "@stage", "command": "scoreboard.set_score",
                                         "args": [-5]}))
    assert all(r["result"] == -5 for r in odd["results"].values())


def test_a_single_frozen_node_is_504(api, camp):
    _, procs = camp
    os.kill(procs["gold"].pid, signal.SIGSTOP)
    try:
        answer = call(api, "gold", "scoreboard.get_score")
    finally:
        os.kill(procs["gold"].pid, signal.SIGCONT)
    assert answer.status_code == 504 and answer.json()["error"]


def png(color: tuple[int, int, int], size: tuple[int, int] = (32, 18)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def test_a_background_upload_shows_behind_the_score_and_can_be_removed(api, ctl):
    ctl.member("red", "switch", "scoreboard")
    put = api.put("/api/nodes/red/background", files={"file": ("b.png", png((0, 160, 0)))})
    ok(put)
    wait_for(lambda: ctl.member("red", "status")["state"]["scoreboard"]["background"]
             != "built-in" or None, timeout=GUARD)
    wait_for(lambda: pixel(ctl.member("red", "snapshot"), (2, 2)) == (0, 160, 0) or None,
             timeout=GUARD)
    assert api.put("/api/nodes/red/background",
                   files={"file": ("b.txt", b"hello")}).status_code == 400
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024)
    assert api.put("/api/nodes/red/background", files={"file": ("b.png", big)}
                   ).status_code == 413
    ok(api.delete("/api/nodes/red/background"))
    wait_for(lambda: ctl.member("red", "status")["state"]["scoreboard"]["background"]
             == "built-in" or None, timeout=GUARD)


# -- live events -----------------------------------------------------------------------------

def test_events_stream_records_and_a_reconnect_gets_what_it_missed(api, ctl):
    with stream(api) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = Events(response)
        kind, _, hello = events.next()
        assert kind == "hello" and hello["resumed"] is False and hello["listening"]
        ok(call(api, "red", "scoreboard.set_score", 3))
        _, last_id, record = events.until(lambda e: e[0] == "record"
                                          and e[2]["node"] == "red"
                                          and e[2]["name"] == "score_changed")
        assert record["data"]["score"] == 3 and record["data"]["source"] == "web"
        assert record["local"] and last_id
    ctl.call("red", "scoreboard.set_score", 4)  # while nobody listens
    ctl.call("red", "scoreboard.set_score", 5)
    wait_for(lambda: _seen(api, last_id, 5) or None, timeout=GUARD)
    with stream(api, **{"Last-Event-ID": "deadbeef-12"}) as response:
        assert Events(response).next()[2]["missed"] is True


def _seen(api: httpx.Client, since: str, score: int) -> bool:
    """A stream resumed after ``since`` replays the changes made while it was away."""
    with api.stream("GET", "/api/events", headers={"Last-Event-ID": since}) as response:
        events = Events(response)
        hello = events.next()[2]
        assert hello["resumed"] is True and hello["missed"] is False
        scores = []
        for _ in range(50):
            kind, _, record = events.next()
            if kind == "record" and record["name"] == "score_changed" \
                    and record["node"] == "red":
                scores.append(record["data"]["score"])
                if score in scores:
                    return scores[:2] == [4, 5]
    return False


def test_two_pages_see_each_others_changes(api, camp_web, ctl):
    ctl.member("blue", "switch", "scoreboard")
    with httpx.Client(base_url=camp_web.url, timeout=GUARD) as other, \
            stream(other) as response:
        events = Events(response)
        events.next()
        ok(call(api, "blue", "scoreboard.set_team", "Otters"))
        events.until(lambda e: e[0] == "record" and e[2]["node"] == "blue"
                     and e[2]["name"] == "screen_changed")
        assert ok(other.get("/api/nodes/blue"))["shows"].startswith("Otters:")


# -- the race --------------------------------------------------------------------------------

def test_a_race_from_the_page_ranks_the_presses_and_marks_the_winner(api, ctl):
    with stream(api) as response:
        events = Events(response)
        events.next()
        started = ok(api.post("/api/race", json={"selector": "red,blue", "start_in": 0.5,
                                                  "timeout": GUARD}))
        assert started["state"] == "arming"
        again = api.post("/api/race", json={"selector": "red,blue"})
        assert again.status_code == 409 and "already running" in again.json()["error"]
        wait_for(lambda: all(ctl.call(n, "timer.running") for n in ("red", "blue")) or None,
                 timeout=GUARD)
        ctl.member("blue", "press")
        wait_for(lambda: ok(api.get("/api/race"))["winner"], timeout=GUARD)
        ctl.member("red", "press")
        _, _, final = events.until(lambda e: e[0] == "race" and e[2]["state"] == "finished")
    assert final["winner"] == "blue"
    assert [r["node"] for r in final["ranking"]] == ["blue", "red"]
    assert final["lanes"]["blue"]["place"] == 1 and final["started_local"]
    assert ctl.call("blue", "timer.race_info")["place"] == 1
    assert ok(api.get("/api/race"))["state"] == "finished"
    assert api.delete("/api/race").status_code == 404


def test_a_race_can_be_called_off(api, ctl):
    ok(api.post("/api/race", json={"selector": "green", "start_in": 0.5, "timeout": GUARD}))
    wait_for(lambda: ctl.call("green", "timer.running") or None, timeout=GUARD)
    off = ok(api.delete("/api/race"))
    assert off["state"] == "cancelled" and off["winner"] is None
    assert not ctl.call("green", "timer.running")


def test_a_race_on_nobody_is_404_and_bad_numbers_400(api):
    assert api.post("/api/race", json={"selector": "@nobody"}).status_code == 404
    bad = api.post("/api/race", json={"selector": "red", "start_in": 0})
    assert bad.status_code == 400 and "start_in" in bad.json()["error"]


# -- presets ---------------------------------------------------------------------------------

def test_presets_are_saved_from_the_screens_and_applied(camp, ctl, tmp_path):
    ns, _ = camp
    presets = tmp_path / "presets.toml"
    with web_for(ns, presets=presets) as running, \
            httpx.Client(base_url=running.url, timeout=GUARD) as client:
        ctl.call("red", "scoreboard.set_team", "Red Foxes")
        saved = ok(client.post("/api/presets", json={"name": "camp", "selector": "red"}))
        assert saved["nodes"] == ["red"] and presets.exists()
        assert [p["name"] for p in ok(client.get("/api/presets"))] == ["camp"]
        ctl.call("red", "scoreboard.set_team", "Someone Else")
        applied = ok(client.post("/api/presets/camp/apply", json={}))
        assert "error" not in applied["results"]["red"] or not applied["results"]["red"]["error"]
        assert ctl.call("red", "scoreboard.get_team") == "Red Foxes"
        dup = client.post("/api/presets", json={"name": "camp", "selector": "red"})
        assert dup.status_code == 409 and '"force": true' in dup.json()["error"]
        assert client.post("/api/presets/nope/apply", json={}).status_code == 404


# -- access ----------------------------------------------------------------------------------

TOKEN = "camp-secret-42"


def test_with_a_token_everything_needs_it_and_the_page_keeps_a_cookie(camp, ctl, caplog):
    ns, _ = camp
    with web_for(ns, token=TOKEN, access_log=True) as running, \
            httpx.Client(base_url=running.url, timeout=GUARD) as client:
        assert client.get("/api/nodes").status_code == 401
        assert client.get("/api/events").status_code == 401
        info = ok(client.get("/api/info"))
        assert info["auth"] is True and info["authenticated"] is False
        assert client.get("/").status_code == 200  # the page itself asks for the token
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/api/nodes", headers=bearer).status_code == 200
        assert client.get("/api/nodes", headers={"Authorization": "Bearer nope"}
                          ).status_code == 401
        assert client.post("/api/session", json={"token": "wrong-token"}).status_code == 401
        caplog.set_level(logging.INFO, logger="uvicorn.access")
        joined = client.get("/join", params={"token": TOKEN})
        assert joined.status_code == 303 and joined.headers["location"] == "/"
        assert "HttpOnly" in joined.headers["set-cookie"]
        assert "samesite=strict" in joined.headers["set-cookie"].lower()
        assert ok(client.get("/api/info"))["authenticated"] is True
        assert client.get("/api/nodes").status_code == 200
        # a change with the cookie needs the page's header (another site cannot add it)
        plain = call(client, "red", "scoreboard.get_score")
        assert plain.status_code == 403 and "X-Pyrostage" in plain.json()["error"]
        page = client.post("/api/nodes/red/call", json={"command": "scoreboard.get_score"},
                           headers={"X-Pyrostage": "1"})
        assert page.status_code == 200
        cross = client.post("/api/nodes/red/call", json={"command": "scoreboard.get_score"},
                            headers={"X-Pyrostage": "1", "Origin": "http://evil.example"})
        assert cross.status_code == 403
        assert client.delete("/api/session").status_code == 204
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/join" in logged and TOKEN not in logged


def test_without_a_token_only_addresses_and_this_machine_are_accepted_as_host(api):
    assert api.get("/api/nodes", headers={"Host": "evil.example"}).status_code == 403
    assert api.get("/api/nodes", headers={"Host": "localhost:1234"}).status_code == 200


def test_join_show_puts_the_share_url_on_the_screens(api, ctl, camp_web):
    answer = ok(api.post("/api/call", json={"selector": "gold", "command": "join.show"}))
    assert not answer["results"]["gold"].get("error"), answer
    try:
        assert ctl.call("gold", "join.shown") == camp_web.url
    finally:
        ctl.call("gold", "join.hide")


def test_the_schema_describes_every_error(api, camp):
    schema = ok(api.get("/openapi.json"))  # a web without a token: nobody is asked for one
    assert "securitySchemes" not in schema.get("components", {})
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert "422" not in codes and "401" not in codes, (method, path)
            assert "403" in codes and "security" not in operation, (method, path)
    ns, _ = camp
    with web_for(ns, token=TOKEN) as running:
        guarded = httpx.get(f"{running.url}openapi.json", timeout=GUARD).json()
    nodes = guarded["paths"]["/api/nodes"]["get"]
    assert {"401", "403"} <= set(nodes["responses"]) and nodes["security"]


def test_the_page_loads_nothing_from_outside(api):
    page = api.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    import re

    for url in re.findall(r"""(?:src|href)=["']([^"']+)""", page.text):
        assert not url.startswith(("http:", "https:", "//")), url
        assert api.get(url).status_code == 200, url
    _ = time


def test_stopping_the_web_ends_open_streams_cleanly(camp, caplog):
    ns, _ = camp
    with web_for(ns) as running, httpx.Client(base_url=running.url, timeout=GUARD) as client, \
            stream(client) as response:
        events = Events(response)
        assert events.next()[0] == "hello"
        with caplog.at_level(logging.ERROR):
            running.stop()
            with pytest.raises(EOFError):
                events.next()  # the stream ended as a stream ends, not cut mid-chunk
        assert not running.thread.is_alive()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
