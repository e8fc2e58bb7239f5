"""The web API hit the way a bored camper or a careless script hits it, over real HTTP: odd
and huge bodies, names that are selectors or paths, bad uploads, many event streams and one
that never reads, odd ``Last-Event-ID``s, forged tokens and cookies, a node frozen mid-call.

Every bad input must get a 4xx JSON ``{"error", "kind"}`` whose message says what was wrong,
never a 500; the nodes' state stays as it was and the web keeps serving. Real app (uvicorn on
a free port), real name server, the camp's four real nodes. A test whose docstring says
"Found here" failed before its fix.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import signal
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed")
httpx = pytest.importorskip("httpx", reason="the web extra is not installed")

from PIL import Image  # noqa: E402
from webtools import must, sse_events, web_for  # noqa: E402

from engine.testing import NameServer, wait_for  # noqa: E402
from engine.web.auth import session_value  # noqa: E402

# Imported now, not lazily on a server thread: pytest's assertion rewriter parses engine's
# modules (engine is a pytest plugin's package) with ``ast``, and CPython 3.11's ``ast`` is not
# thread-safe ("SystemError: AST constructor recursion depth mismatch").
for _module in ("engine.control.clock", "engine.control.presets", "engine.web.api",
                "engine.web.qr"):
    importlib.import_module(_module)

GUARD = 30.0
"""Seconds any one request may take: a hang guard, not a timing claim."""
JSON = {"content-type": "application/json"}
KINDS = {"ValueError", "TypeError", "LookupError", "KeyError", "PermissionError",
         "RuntimeError", "TimeoutError", "ConnectionError", "OverflowError"}
TOKEN = "camp-token-4711"
MB = 1024 * 1024
LONG = pytest.mark.long
"""For all but a few cases of a family: the default run tries those few, ``-m long`` the rest."""


@pytest.fixture(scope="module")
def api(camp_web: Any) -> Iterator[Any]:
    with httpx.Client(base_url=camp_web.url.rstrip("/"), timeout=GUARD) as client:
        yield client


def refused(response: Any, status: int) -> dict[str, Any]:
    """``response`` is the ``status`` answer the contract promises: JSON ``{"error", "kind"}``,
    one line for people, a builtin kind."""
    must(response.status_code == status,
         f"expected {status}, got {response.status_code}: {response.text[:300]}")
    must(response.headers["content-type"].startswith("application/json"), response.headers)
    body: dict[str, Any] = response.json()
    must(set(body) == {"error", "kind"}, body)
    must(isinstance(body["error"], str) and bool(body["error"].strip()), body)
    must("\n" not in body["error"] and "Traceback" not in body["error"], body)
    must(len(body["error"]) <= 500, body)
    must(body["kind"] in KINDS, body)
    return body


def looks(api: Any, node: str | None = None) -> dict[str, Any]:
    """What every node (or ``node``) shows and holds, to see that nothing changed."""
    response = api.get("/api/nodes" if node is None else f"/api/nodes/{node}")
    assert response.status_code == 200, response.text
    cards = response.json() if node is None else [response.json()]
    return {n["name"]: (n["mode"], n["state"]) for n in cards if n["error"] is None}


def png(width: int = 4, height: int = 3, colour: tuple[int, int, int] = (200, 0, 0)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def declared_png(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` (a decompression bomb's header),
    with a few rows of real zero-filled image data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    rows = zlib.compress(b"\x00" * (1 + 3 * width) * 4, 9)
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- bodies ---------------------------------------------------------------------------------

CALL = "/api/nodes/red/call"
ADD = '{{"command": "scoreboard.add_points", "args": [{}]}}'
BODIES = [
    # (what, raw body, content type, status)
    ("10 MB team name", json.dumps({"command": "scoreboard.set_team", "args": ["x" * 10 * MB]}),
     JSON, 400),
    ("10 MB word", json.dumps({"command": "scoreboard.set_team", "words": ["x" * 10 * MB]}),
     JSON, 400),
    ("int of 4000 digits", ADD.format("9" * 4000), JSON, 400),
    ("10**30", ADD.format(10**30), JSON, 400),
    ("NaN", '{"command": "scoreboard.add_points", "args": [NaN]}', JSON, 400),
    ("Infinity", '{"command": "scoreboard.add_points", "args": [Infinity]}', JSON, 400),
    ("-Infinity kwarg", '{"command": "scoreboard.add_points", "kwargs": {"delta": -Infinity}}',
     JSON, 400),
    ("1e400", '{"command": "scoreboard.add_points", "args": [1e400]}', JSON, 400),
    ("NaN as command", '{"command": NaN}', JSON, 400),
    ("NaN race start", '{"start_in": NaN}', JSON, 400),
    ("true for an int", '{"command": "scoreboard.add_points", "args": [true]}', JSON, 400),
    ("unicode command", json.dumps({"command": "ädd_points", "args": [1]}), JSON, 400),
    ("NUL in command", json.dumps({"command": "add\x00points"}), JSON, 400),
    ("NUL in team", json.dumps({"command": "scoreboard.set_team", "args": ["a\x00b"]}),
     JSON, 400),
    ("lone surrogate team", '{"command": "scoreboard.set_team", "args": ["\\ud800"]}',
     JSON, 400),
    ("RTL and emoji team", json.dumps({"command": "scoreboard.set_team",
                                       "args": ["\u202e" + "🔥" * 30]}), JSON, 400),
    ("text/plain", '{"command": "node"}', {"content-type": "text/plain"}, 400),
    ("no content type", '{"command": "node"}', {}, 400),
    ("form", "command=node", {"content-type": "application/x-www-form-urlencoded"}, 400),
    ("multipart", "--x\r\n\r\n--x--", {"content-type": "multipart/form-data; boundary=x"}, 400),
    ("no body", "", JSON, 400),
    ("null", "null", JSON, 400),
    ("a list", "[]", JSON, 400),
    ("a string", '"add_points"', JSON, 400),
    ("not JSON", "{command: node}", JSON, 400),
    ("trailing junk", '{"command": "node"} {}', JSON, 400),
    ("extra field", '{"command": "node", "sudo": true}', JSON, 400),
    ("command with dots", '{"command": "scoreboard.add.points"}', JSON, 400),
    ("command with spaces", '{"command": "add points"}', JSON, 400),
    ("command ../", '{"command": "../add_points"}', JSON, 400),
    ("empty command", '{"command": ""}', JSON, 400),
    ("81-char command", json.dumps({"command": "a" * 81}), JSON, 400),
    ("dunder command", '{"command": "__class__"}', JSON, 404),
    ("Pyro internals", '{"command": "_pyroRelease"}', JSON, 404),
    ("private of a plugin", '{"command": "scoreboard._store"}', JSON, 404),
    ("unknown command", '{"command": "self_destruct"}', JSON, 404),
    ("snapshot through call", '{"command": "snapshot"}', JSON, 400),
    ("subscribe through call", '{"command": "subscribe", "args": ["PYRO:x@1.2.3.4:1"]}',
     JSON, 400),
    ("args an object", '{"command": "scoreboard.add_points", "args": {"delta": 1}}', JSON, 400),
    ("an object as arg", '{"command": "scoreboard.add_points", "args": [{"delta": 1}]}',
     JSON, 400),
    ("unknown kwarg", '{"command": "scoreboard.add_points", "kwargs": {"points": 1}}',
     JSON, 400),
    ("kwargs a list", '{"command": "scoreboard.add_points", "kwargs": [1]}', JSON, 400),
    ("33 args", json.dumps({"command": "scoreboard.add_points", "args": [1] * 33}), JSON, 400),
    ("100000 words", json.dumps({"command": "scoreboard.add_points", "words": ["1"] * 100_000}),
     JSON, 400),
    ("32 words", json.dumps({"command": "scoreboard.add_points", "words": ["1"] * 32}),
     JSON, 400),
    ("a word not an int", '{"command": "scoreboard.add_points", "words": ["ten"]}', JSON, 400),
    ("a word not text", '{"command": "scoreboard.add_points", "words": [10]}', JSON, 400),
    ("words and args", '{"command": "scoreboard.add_points", "words": ["1"], "args": [1]}',
     JSON, 400),
    ("switch to no mode", '{"command": "switch", "words": ["disco"]}', JSON, 404),
    ("switch with kwargs", '{"command": "switch", "kwargs": {"mode": "timer"}}', JSON, 400),
    ("clock with args", '{"command": "clock", "args": [1, 2, 3]}', JSON, 400),
    ("press a 10 KB button", json.dumps({"command": "press", "args": ["b" * 10_000]}),
     JSON, 404),
    ("ring for an object", '{"command": "ring", "args": [{"seconds": 1}]}', JSON, 400),
    ("ring for a year", '{"command": "ring", "args": [31536000]}', JSON, 400),
]


QUICK_BODIES = {"10 MB team name", "int of 4000 digits", "NaN", "NUL in command", "text/plain",
                "not JSON", "extra field", "dunder command", "unknown kwarg", "100000 words",
                "switch with kwargs"}


@pytest.mark.parametrize(("what", "body", "headers", "status"), [
    pytest.param(*b, id=b[0], marks=() if b[0] in QUICK_BODIES else LONG) for b in BODIES])
def test_bad_call_bodies_are_refused_and_change_nothing(
        api: Any, what: str, body: str, headers: dict[str, str], status: int) -> None:
    before = looks(api, "red")
    path = "/api/race" if what.startswith("NaN race") else CALL
    refused(api.post(path, content=body.encode("utf-8", "surrogatepass"), headers=headers),
            status)
    assert looks(api, "red") == before


@pytest.mark.parametrize("body", [
    b'{"command": "scoreboard.set_team", "args": ["\xff\xfe"]}',
    b'{"command": "scoreboard.add_points", "args": [' + b"9" * 5000 + b"]}",
    b'{"command": "node", "args": [' + nested(100_000).encode() + b"]}",
], ids=["latin-1 bytes", "int of 5000 digits", "nested 100000 deep"])
def test_bodies_the_parser_cannot_read_say_what_json_is_accepted(api: Any, body: bytes) -> None:
    """Found here: FastAPI's own "There was an error parsing the body", kind "Error"."""
    error = refused(api.post(CALL, content=body, headers=JSON), 400)
    must("JSON" in error["error"], error)


def test_deeply_nested_arguments_are_refused_in_the_callers_terms(api: Any) -> None:
    """Found here: Pyro's serializer told the caller to "Increase serializer.maximum_level"."""
    body = ADD.format(nested(500))
    error = refused(api.post(CALL, content=body, headers=JSON), 400)
    must("serializer" not in error["error"] and "nest" in error["error"], error)


def test_many_bad_requests_at_once_get_4xx_and_the_web_still_answers(api: Any) -> None:
    before = looks(api)
    cases = [b for b in BODIES if b[3] == 400 and len(b[1]) < 100_000][:30]
    answers: list[int] = []

    def send(body: str, headers: dict[str, str]) -> None:
        with httpx.Client(base_url=str(api.base_url), timeout=GUARD) as own:
            answers.append(own.post(CALL, content=body.encode("utf-8", "surrogatepass"),
                                    headers=headers).status_code)

    threads = [threading.Thread(target=send, args=(body, headers))
               for _ in range(2) for _, body, headers, _ in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GUARD)
    assert sorted(set(answers)) == [400] and len(answers) == len(threads)
    assert looks(api) == before
    assert api.post(CALL, json={"command": "node"}).json() == {"result": "red"}


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/"), ("POST", "/join"), ("DELETE", "/static/app.js"), ("POST", "/openapi.json")])
def test_method_not_allowed_outside_the_api_names_the_allowed_ones(api: Any, method: str,
                                                                  path: str) -> None:
    response = api.request(method, path)
    error = refused(response, 405)
    allowed = {m.strip() for m in response.headers.get("allow", "").split(",")}
    must("GET" in allowed and "GET" in error["error"],
         f"Allow: {response.headers.get('allow')!r}, error: {error['error']!r}")


# -- names and selectors ----------------------------------------------------------------------

NAMES = ["..%2F..%2Fetc%2Fpasswd", "@teams", "red,blue", "all", "ALL", "r" * 200,
         "ré", "red%00", "%20red", "red%0Ablue", "*", "red.local", "-red"]


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if i < 3 else LONG)
                                  for i, n in enumerate(NAMES)])
def test_node_names_that_are_selectors_or_paths_name_no_node(api: Any, name: str) -> None:
    before = looks(api)
    base = f"/api/nodes/{name}"
    for response in (api.get(base), api.get(f"{base}/commands"),
                     api.get(f"{base}/snapshot.png"),
                     api.post(f"{base}/call", json={"command": "scoreboard.add_points",
                                                    "args": [5]}),
                     api.put(f"{base}/background", files={"file": ("a.png", png())}),
                     api.delete(f"{base}/background")):
        refused(response, 404)
    assert looks(api) == before


@pytest.mark.parametrize(("selector", "status"), [
    (",,,", 400), ("@nobody", 404), ("../red", 404),
    *(pytest.param(*case, marks=LONG) for case in [
        ("@", 400), ("red,,blue", 400), ("x" * 401, 400), ("", 400), ("red\x00", 404),
        ("ré", 404), ("red;blue", 404)]),
])
def test_bad_selectors_are_refused(api: Any, selector: str, status: int) -> None:
    before = looks(api)
    refused(api.post("/api/call", json={"selector": selector, "command": "scoreboard.add_points",
                                        "args": [1]}), status)
    assert looks(api) == before


def test_a_selector_naming_a_node_twice_calls_it_once(api: Any) -> None:
    response = api.post("/api/call", json={"selector": "red,red,@teams,red",
                                           "command": "node"})
    results = response.json()["results"]
    assert list(results) == ["red", "blue", "green"]
    assert {n: r["result"] for n, r in results.items()} == {n: n for n in results}


# -- snapshots --------------------------------------------------------------------------------

@pytest.mark.parametrize("w", ["15", "1921", "-1", "0", "1e3", "16.5", "abc", "9" * 5000, "",
                               "0x20", "NaN"])
def test_odd_snapshot_widths_are_refused(api: Any, w: str) -> None:
    refused(api.get("/api/nodes/red/snapshot.png", params={"w": w}), 400)


@pytest.mark.parametrize(("w", "width"), [(16, 16), (1920, 320), (None, 320)])
def test_snapshot_widths_at_the_edges(api: Any, w: int | None, width: int) -> None:
    response = api.get("/api/nodes/red/snapshot.png", params={} if w is None else {"w": w})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as picture:
        assert picture.width == width  # a thumbnail, never blown up past the screen


# -- backgrounds ------------------------------------------------------------------------------

@pytest.mark.parametrize(("what", "files", "status", "says"), [
    ("not a PNG", {"file": ("a.png", b"GIF89a" + b"\0" * 100, "image/png")}, 400, "PNG"),
    ("2 MB + 1", {"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * MB - 7))}, 413, "2 MB"),
    ("declares 20000x20000", {"file": ("a.png", declared_png(20_000, 20_000))}, 400, "20000"),
    *(pytest.param(*case, marks=LONG) for case in [
        ("empty", {"file": ("a.png", b"", "image/png")}, 400, "PNG"),
        ("20 MB", {"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 20 * MB)}, 413, "2 MB"),
        ("a PNG header only", {"file": ("a.png", b"\x89PNG\r\n\x1a\n")}, 400, "PNG"),
        ("damaged after the header", {"file": ("a.png", png()[:40])}, 400, "PNG"),
        ("declares 8192x8192", {"file": ("a.png", declared_png(8192, 8192))}, 400, "8192"),
        ("another field", {"picture": ("a.png", png())}, 400, "file")]),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_backgrounds_are_refused_and_the_old_one_stays(
        api: Any, what: str, files: dict[str, Any], status: int, says: str) -> None:
    before = looks(api)
    error = refused(api.put("/api/nodes/red/background", files=files), status)
    assert says in error["error"], error
    assert looks(api) == before


@pytest.mark.parametrize(("what", "kwargs"), [
    ("JSON", {"json": {"file": "iVBORw0KGgo="}}),
    ("no body", {}),
    ("raw PNG body", {"content": png(), "headers": {"content-type": "image/png"}}),
    ("the file as a text field", {"data": {"file": "\x89PNG\r\n\x1a\n"}}),
])
def test_backgrounds_not_sent_as_a_file_are_refused(api: Any, what: str,
                                                    kwargs: dict[str, Any]) -> None:
    refused(api.put("/api/nodes/red/background", **kwargs), 400)


def test_a_good_background_shows_and_goes(api: Any) -> None:
    answer = api.put("/api/nodes/blue/background", files={"file": ("a.png", png(8, 6))})
    assert answer.status_code == 200, answer.text
    assert api.get("/api/nodes/blue").json()["state"]["scoreboard"]["background"] != "built-in"
    assert api.delete("/api/nodes/blue/background").json() == {"result": "built-in"}


# -- the event stream -------------------------------------------------------------------------

def hello(url: str, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    """The stream's first event (its ``hello``), read from a real connection."""
    with httpx.stream("GET", f"{url}api/events", params=params, headers=headers or {},
                      timeout=GUARD) as response:
        if response.status_code != 200:
            must(False, f"{response.status_code}: {response.read()[:300]!r}")
        try:
            first = next(sse_events(response.iter_lines()), {})
        except httpx.HTTPError as exc:
            must(False, f"the stream broke before its hello: {exc!r}")
    must(first.get("event") == "hello", f"no hello first: {first}")
    data: dict[str, Any] = json.loads(first["data"])
    return data


@pytest.mark.parametrize(("last", "resumed", "missed"), [
    ("", False, False),
    ("garbage", False, True),
    ("{hub}-0", True, False),
    ("{hub}-" + "9" * 19, False, True),
    *(pytest.param(*case, marks=LONG) for case in [
        ("deadbeef-5", False, True),
        ("{hub}", False, True),
        ("{hub}--1", False, True),
        ("{hub}-1.5", False, True),
        (" {hub}-0 ", True, False)]),
])
def test_odd_last_event_ids_resume_or_say_missed(camp_web: Any, last: str, resumed: bool,
                                                 missed: bool) -> None:
    hub = camp_web.web.hub.id
    value = last.replace("{hub}", hub)
    for got in (hello(camp_web.url, {"Last-Event-ID": value.strip()}),  # HTTP trims it
                hello(camp_web.url, since=value) if value.strip() else None):
        if got is not None:
            assert (got["hub"], got["resumed"], got["missed"]) == (hub, resumed, missed), value


@pytest.mark.parametrize("where", ["header", "query"])
def test_a_10_kb_event_id_is_refused(api: Any, camp_web: Any, where: str) -> None:
    value = f"{camp_web.web.hub.id}-" + "1" * 10_000
    response = (api.get("/api/events", headers={"Last-Event-ID": value}) if where == "header"
                else api.get("/api/events", params={"since": value}))
    refused(response, 400)


@pytest.mark.parametrize("where", ["query", "header"])
def test_an_event_id_with_a_superscript_digit_is_an_id_of_nothing(camp_web: Any,
                                                                  where: str) -> None:
    """Found here: '²' passed str.isdigit, int() refused it: the stream broke after its
    headers, a traceback in the server's log."""
    value = f"{camp_web.web.hub.id}-²"
    got = (hello(camp_web.url, since=value) if where == "query" else
           hello(camp_web.url, {"Last-Event-ID": value.encode("latin-1")}))  # type: ignore[dict-item]
    must(got["missed"] is True and got["resumed"] is False, got)


def test_an_event_id_from_the_future_is_not_resumed(camp_web: Any) -> None:
    """Found here: an id the hub never gave was answered resumed=true, so the page trusted
    a replay that never happened and kept stale cards."""
    got = hello(camp_web.url, {"Last-Event-ID": f"{camp_web.web.hub.id}-{10**12}"})
    must(got["resumed"] is False and got["missed"] is True, got)


def test_thirty_streams_get_every_record_while_one_never_reads(api: Any, camp_web: Any) -> None:
    """30 phones each read a finite stream; a 31st connection never reads a byte. Each of the
    30 gets the same records in the same order; the web answers meanwhile; every stream is
    gone from the hub once its client is."""
    hub = camp_web.web.hub
    got: dict[int, list[str]] = {}
    greeted = threading.Semaphore(0)
    errors: list[BaseException] = []

    def phone(i: int) -> None:
        ids: list[str] = []
        try:
            with httpx.stream("GET", f"{camp_web.url}api/events", params={"limit": 4},
                              timeout=GUARD) as response:
                for line in response.iter_lines():
                    if line == "event: hello":
                        greeted.release()
                    elif line.startswith("id: "):
                        ids.append(line[4:])
        except BaseException as exc:  # reported below
            errors.append(exc)
        got[i] = ids

    silent = socket.create_connection(("127.0.0.1", api.base_url.port))
    silent.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    phones = [threading.Thread(target=phone, args=(i,), daemon=True) for i in range(30)]
    try:
        silent.settimeout(GUARD)
        assert silent.recv(1, socket.MSG_PEEK)  # its stream is open (nothing is taken)
        for thread in phones:
            thread.start()
        for _ in phones:
            assert greeted.acquire(timeout=GUARD), errors[:3]
        assert api.get("/api/info").status_code == 200
        for delta in (1, -1, 1, -1, 1, -1):
            api.post("/api/call", json={"selector": "red", "command": "scoreboard.add_points",
                                        "args": [delta]})
        for thread in phones:
            thread.join(GUARD)
        assert not errors, errors[:3]
        assert len(got) == 30 and all(len(ids) == 4 for ids in got.values()), got
        assert len({tuple(ids) for ids in got.values()}) == 1, got
        assert api.get("/api/nodes/red").status_code == 200
    finally:
        silent.close()
    wait_for(lambda: hub.streams == 0 or None, timeout=GUARD)


# -- tokens -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def locked(camp: tuple[NameServer, dict]) -> Iterator[Any]:
    """The web with a token, and a client for it."""
    ns, _ = camp
    with web_for(ns, token=TOKEN) as running, \
            httpx.Client(base_url=running.url.rstrip("/"), timeout=GUARD) as client:
        yield client


COOKIE = {"Cookie": f"pyrostage_session={session_value(TOKEN)}"}
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(("what", "headers"), [
    ("nothing", {}),
    ("a wrong token", {"Authorization": "Bearer not-the-token"}),
    ("the token cut short", {"Authorization": f"Bearer {TOKEN[:-1]}"}),
    ("a forged cookie", {"Cookie": "pyrostage_session=garbage"}),
    *(pytest.param(*case, marks=LONG) for case in [
        ("Bearer alone", {"Authorization": "Bearer"}),
        ("the token without Bearer", {"Authorization": TOKEN}),
        ("Basic", {"Authorization": f"Basic {TOKEN}"}),
        ("the token and more", {"Authorization": f"Bearer {TOKEN}x"}),
        ("unicode", {"Authorization": "Bearer tökén-ünïcode".encode()}),
        ("the token then é in latin-1", {"Authorization": f"Bearer {TOKEN}é".encode("latin-1")}),
        ("the token as cookie", {"Cookie": f"pyrostage_session={TOKEN}"}),
        ("another web's cookie",
         {"Cookie": f"pyrostage_session={session_value('other-token')}"}),
        ("a cookie of another name", {"Cookie": f"session={session_value(TOKEN)}"})]),
])
def test_no_token_no_api(locked: Any, what: str, headers: dict[str, Any]) -> None:
    for path in ("/api/nodes", "/api/events?limit=1", "/api/race"):
        error = refused(locked.get(path, headers=headers), 401)
        assert TOKEN not in error["error"]
    refused(locked.post("/api/call", json={"selector": "red", "command": "node"},
                        headers=headers), 401)
    refused(locked.get(f"/api/nodes?token={TOKEN}", headers=headers), 401)


@pytest.mark.parametrize("headers", [
    BEARER, {"Authorization": f"bearer {TOKEN}"}, {"Authorization": f"Bearer   {TOKEN}"},
    {**BEARER, "Host": "evil.example"}, COOKIE])
def test_the_token_opens_the_api(locked: Any, headers: dict[str, str]) -> None:
    response = locked.get("/api/nodes", headers=headers)
    assert response.status_code == 200 and len(response.json()) >= 4


@pytest.mark.parametrize(("what", "headers", "status"), [
    ("cookie, no page header", COOKIE, 403),
    ("cookie and page header", {**COOKIE, "X-Pyrostage": "1"}, 200),
    ("cookie, header, another site's Origin",
     {**COOKIE, "X-Pyrostage": "1", "Origin": "http://evil.example"}, 403),
    ("bearer, cross-site fetch", {**BEARER, "Sec-Fetch-Site": "cross-site"}, 403),
    *(pytest.param(*case, marks=LONG) for case in [
        ("cookie, header, Origin null", {**COOKIE, "X-Pyrostage": "1", "Origin": "null"}, 403),
        ("cookie, header, cross-site fetch",
         {**COOKIE, "X-Pyrostage": "1", "Sec-Fetch-Site": "cross-site"}, 403),
        ("cookie, header, same-site fetch",
         {**COOKIE, "X-Pyrostage": "1", "Sec-Fetch-Site": "same-site"}, 403),
        ("bearer, another site's Origin", {**BEARER, "Origin": "http://evil.example"}, 403),
        ("bearer, Origin with our port on another host",
         {**BEARER, "Origin": "http://evil.example:{port}"}, 403)]),
])
def test_changes_from_another_site_or_without_the_page_header_are_refused(
        locked: Any, what: str, headers: dict[str, str], status: int) -> None:
    headers = {k: v.replace("{port}", str(locked.base_url.port)) for k, v in headers.items()}
    for method, path, body in (("POST", "/api/call", {"selector": "red", "command": "node"}),
                               ("POST", "/api/nodes/red/call", {"command": "node"}),
                               ("DELETE", "/api/race", None)):
        response = locked.request(method, path, json=body, headers=headers)
        if status == 200 and path == "/api/race":
            refused(response, 404)  # let through, and no race is running
        elif status == 200:
            assert response.status_code == 200, response.text
        else:
            refused(response, status)


@pytest.mark.parametrize(("body", "status"), [
    ({"token": "not-it"}, 401), ({"token": TOKEN + " "}, 401), ({"token": ""}, 400),
    ({"token": "x" * 257}, 400), ({"token": None}, 400), ({"token": [TOKEN]}, 400),
    ({"token": TOKEN, "admin": True}, 400), ({}, 400),
])
def test_bad_logins_are_refused_without_a_cookie(locked: Any, body: dict[str, Any],
                                                 status: int) -> None:
    response = locked.post("/api/session", json=body)
    refused(response, status)
    assert "set-cookie" not in response.headers


def test_a_lone_surrogate_token_is_refused(locked: Any) -> None:
    refused(locked.post("/api/session", content=b'{"token": "\\ud800camp"}', headers=JSON), 400)


def test_join_links_log_in_only_with_the_token(locked: Any) -> None:
    for token in ("nope", "", TOKEN.upper(), TOKEN + "%00", "%ED%A0%80"):
        response = locked.get(f"/join?token={token}")
        assert response.status_code == 303 and "set-cookie" not in response.headers
    response = locked.get(f"/join?token={TOKEN}")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert TOKEN not in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_without_a_token_only_addresses_and_our_names_are_served(api: Any) -> None:
    for host in ("evil.example", "evil.example:80", "localhost.", "127.1", "2130706433",
                 "evil.example@127.0.0.1", "127.0.0.1.nip.io"):
        refused(api.get("/api/nodes", headers={"Host": host}), 403)
        refused(api.get("/api/info", headers={"Host": host}), 403)
        refused(api.get("/api/events", headers={"Host": host}), 403)
    for host in ("127.0.0.1", "localhost", "LOCALHOST:8080", "[::1]"):
        assert api.get("/api/info", headers={"Host": host}).status_code == 200


def test_the_token_never_reaches_the_access_log(camp: tuple[NameServer, dict],
                                                caplog: pytest.LogCaptureFixture) -> None:
    ns, _ = camp
    caplog.set_level(logging.DEBUG)
    with web_for(ns, token=TOKEN, access_log=True) as running, \
            httpx.Client(base_url=running.url.rstrip("/"), timeout=GUARD) as client:
        assert client.get(f"/join?token={TOKEN}").status_code == 303
        assert client.get(f"/join?next=/&token={TOKEN}&x=1").status_code == 303
        client.get(f"/api/nodes?token={TOKEN}")
        client.get(f"/api/nodes?access_token={TOKEN}", headers=BEARER)
        httpx.get(f"{running.url}api/events?since={TOKEN}&limit=1", timeout=GUARD)  # 401
        client.post("/api/session", json={"token": TOKEN})
        client.post("/api/session", json={"token": TOKEN[::-1]})
        client.get("/api/nodes", headers=BEARER)
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    access = [r for r in server if r.name == "uvicorn.access"]
    assert any("/join" in r.getMessage() for r in access), "no access log captured"
    leaked = [f"{r.name}: {r.getMessage()}" for r in server if TOKEN in r.getMessage()
              or TOKEN[::-1] in r.getMessage()]
    assert not leaked


def test_an_access_log_asked_for_logs_the_requests(camp: tuple[NameServer, dict],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Found here: uvicorn's log_level "warning" set the access logger to WARNING, so
    `pyrostage web -v` logged no request (and an earlier server without an access log left
    it propagate=False)."""
    ns, _ = camp
    caplog.set_level(logging.DEBUG)
    with web_for(ns, access_log=True) as running:
        assert httpx.get(f"{running.url}api/info", timeout=GUARD).status_code == 200
    must(any(r.name == "uvicorn.access" and "/api/info" in r.getMessage()
             for r in caplog.records), "no request was logged")


# -- a frozen node, a race, presets ---------------------------------------------------------

def test_a_node_frozen_mid_call_is_504_and_the_others_answer(
        camp: tuple[NameServer, dict]) -> None:
    ns, procs = camp
    with web_for(ns, timeout=1.0) as running, \
            httpx.Client(base_url=running.url.rstrip("/"), timeout=GUARD) as api:
        assert api.post("/api/nodes/gold/call", json={"command": "node"}).status_code == 200
        os.kill(procs["gold"].pid, signal.SIGSTOP)
        try:
            results = api.post("/api/call", json={"selector": "red,gold,blue",
                                                  "command": "node"}).json()["results"]
            assert results["red"]["result"] == "red" and results["blue"]["result"] == "blue"
            assert results["gold"]["status"] == 504 and "gold" in results["gold"]["error"]
            refused(api.post("/api/nodes/gold/call", json={"command": "node"}), 504)
            refused(api.get("/api/nodes/gold/snapshot.png"), 504)
            cards = {n["name"]: n for n in api.get("/api/nodes").json()}
            assert cards["gold"]["error"] and cards["gold"]["mode"] is None
            assert cards["red"]["error"] is None and cards["red"]["mode"]
            assert api.get("/api/info").status_code == 200
        finally:
            os.kill(procs["gold"].pid, signal.SIGCONT)
        wait_for(lambda: api.post("/api/nodes/gold/call", json={"command": "node"}
                                  ).status_code == 200 or None, timeout=GUARD)


def test_one_race_at_a_time_and_none_to_call_off(api: Any) -> None:
    """Five phones press "start race" at once: one race starts, four hear 409."""
    refused(api.delete("/api/race"), 404)
    refused(api.post("/api/race", json={"selector": "@nobody"}), 404)
    answers: list[Any] = []

    def press() -> None:
        with httpx.Client(base_url=str(api.base_url), timeout=GUARD) as own:
            answers.append(own.post("/api/race", json={"selector": "gold", "start_in": 5}))

    phones = [threading.Thread(target=press) for _ in range(5)]
    for thread in phones:
        thread.start()
    for thread in phones:
        thread.join(GUARD)
    started = next((a for a in answers if a.status_code == 202), None)
    assert started is not None, [a.text for a in answers]
    try:
        for answer in answers:
            if answer is not started:
                refused(answer, 409)
        assert started.json()["state"] == "arming" and started.json()["selector"] == "gold"
        error = refused(api.post("/api/race", json={"selector": "gold"}), 409)
        assert "already" in error["error"]
        refused(api.post("/api/race", json={"selector": "red", "start_in": 0}), 400)
    finally:
        ended = api.delete("/api/race")
    assert ended.status_code == 200 and ended.json()["state"] == "cancelled", ended.text
    refused(api.delete("/api/race"), 404)
    assert api.get("/api/nodes/gold").json()["state"]["timer"]["running"] is False


def test_a_presets_file_that_cannot_be_written_is_not_blamed_on_a_node(
        camp: tuple[NameServer, dict]) -> None:
    """Found here: any OSError was 502 "the node could not be reached", with a bare errno
    text."""
    ns, _ = camp
    with web_for(ns, presets=Path("/proc/pyrostage-presets.toml")) as running, \
            httpx.Client(base_url=running.url.rstrip("/"), timeout=GUARD) as client:
        error = refused(client.post("/api/presets", json={"name": "morning",
                                                          "selector": "red"}), 409)
        must("presets" in error["error"], error)


def test_the_web_still_serves_after_all_this(api: Any) -> None:
    assert api.get("/api/info").status_code == 200
    assert api.get("/").status_code == 200
    assert api.post(CALL, json={"command": "node"}).json() == {"result": "red"}
    assert isinstance(api.post(CALL, json={"command": "scoreboard.get_score"}).json()["result"],
                      int)
