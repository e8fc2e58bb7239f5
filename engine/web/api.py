"""The JSON API under ``/api/``: what the page does, any script can do (same checks, same
journal source ``web``). Endpoints that reach nodes are plain ``def``: FastAPI runs them on its
thread pool while the fleet's workers make the Pyro calls."""

from __future__ import annotations

import hashlib
import io
import re
import threading
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Header, Query, Request, UploadFile
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.sse import EventSourceResponse, ServerSentEvent

from engine.base.names import check_name
from engine.control.controller import Controller
from engine.control.fleet import Outcome as FleetOutcome
from engine.control.summary import problems, shows
from engine.web import errors, models
from engine.web.app import VERSION, Web, remember
from engine.web.auth import bearer, cookie
from engine.web.convert import jsonable
from engine.web.errors import Problem

MEMBERS = ("switch", "press", "ring", "status", "modes", "commands", "clock", "mode",
           "uptime", "node")
"""Facade members a call may name besides the plugins' commands."""
PNG = b"\x89PNG\r\n\x1a\n"
BACKGROUND_LIMIT = 2 * 1024 * 1024
NODE_ERRORS = (400, 404, 409, 502, 503, 504)


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


def guard(request: Request,
          _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None,
          _cookie: Annotated[str | None, Depends(cookie)] = None) -> None:
    """The app's ``Guard`` (token, cookie, CSRF) on every API request; the two security
    schemes are parameters so the OpenAPI schema shows them."""
    web_of(request).guard.check(request)


router = APIRouter(prefix="/api", dependencies=[Depends(guard)],
                   responses=errors.responses(401, 403))
open_router = APIRouter(prefix="/api")
WebDep = Annotated[Web, Depends(web_of)]


# -- who you are ----------------------------------------------------------------------------

@open_router.get("/info", response_model=models.Info, responses=errors.responses(403))
def info(request: Request) -> models.Info:
    """The page's first question: the version, the share URL, whether a token is needed."""
    web = web_of(request)
    web.guard.same_site(request)
    ctl = web.controller
    return models.Info(version=VERSION, share_url=web.share_url,
                       auth=web.guard.token is not None,
                       authenticated=web.guard.authenticated(request) is not None,
                       name_server=ctl.where, source=ctl.source)


@open_router.get("/qr.svg", responses={200: {"content": {"image/svg+xml": {}},
                                             "description": "The share URL as a QR code"},
                                       **errors.responses(403)},
                 response_class=Response)
def qr_code(request: Request) -> Response:
    """The share URL (never the token) as a QR code for the page's share dialog."""
    from engine.web.qr import svg

    web = web_of(request)
    web.guard.same_site(request)
    return Response(svg(web.share_url), media_type="image/svg+xml",
                    headers={"Cache-Control": "no-cache"})


@open_router.post("/session", status_code=204, response_class=Response,
                  responses=errors.responses(400, 401, 403))
def login(request: Request, body: models.SessionBody) -> Response:
    """Trade the token for a session cookie (the page asks for it once)."""
    web = web_of(request)
    web.guard.same_site(request)
    if web.guard.token is None:
        return Response(status_code=204)
    if not web.guard.matches(body.token):
        raise Problem(401, "that is not this web's token")
    answer = Response(status_code=204)
    remember(answer, web, request)
    return answer


@open_router.delete("/session", status_code=204, response_class=Response,
                    responses=errors.responses(403))
def logout(request: Request) -> Response:
    web_of(request).guard.same_site(request)
    answer = Response(status_code=204)
    answer.delete_cookie("pyrostage_session", path="/")
    return answer


# -- nodes ----------------------------------------------------------------------------------

def node_name(name: str) -> str:
    try:
        return check_name(name, "node name")
    except (TypeError, ValueError) as exc:
        raise Problem(404, f"no node named {name[:60]!r}: {exc}") from None


def outcome_or_raise(outcome: FleetOutcome) -> Any:
    if outcome.error is not None:
        raise outcome.error
    return outcome.result


def card(name: str, groups: list[str], status: Any, error: BaseException | None
         ) -> models.Node:
    if error is not None or not isinstance(status, dict):
        return models.Node(name=name, groups=groups, mode=None,
                           error=errors.message(error or TypeError("no status")))
    state = status.get("state") if isinstance(status.get("state"), dict) else {}
    return models.Node(name=name, groups=groups, mode=str(status.get("mode")),
                       modes=[str(m) for m in status.get("modes") or []], shows=shows(status),
                       state=jsonable(state), uptime=jsonable(status.get("uptime")),
                       problems=[p[:300] for p in problems(status, modes=False)],
                       error=None)


@router.get("/nodes", response_model=list[models.Node], responses=errors.responses(503, 504))
def nodes(web: WebDep) -> list[models.Node]:
    """Every node in the name server, with what it shows; one that does not answer in time
    has ``error`` set (the others are not held up by it)."""
    found = web.fleet.nodes(refresh=True)
    groups = {info.name: info.groups for info in found}
    results = web.fleet.member([i.name for i in found], "status")
    return [card(n, groups[n], o.result, o.error) for n, o in sorted(results.items())]


@router.get("/groups", response_model=dict[str, list[str]], responses=errors.responses(503))
def groups(web: WebDep) -> dict[str, list[str]]:
    """Group -> its nodes (``pyrostage serve --group``)."""
    web.fleet.nodes(refresh=True)
    return web.fleet.groups()


@router.get("/nodes/{name}", response_model=models.Node,
            responses=errors.responses(404, 502, 503, 504))
def node(name: str, web: WebDep) -> models.Node:
    """One node's card."""
    info = next((i for i in web.fleet.select(node_name(name))), None)
    assert info is not None
    outcome = web.fleet.member([info.name], "status")[info.name]
    if outcome.error is not None:
        raise outcome.error
    return card(info.name, info.groups, outcome.result, None)


@router.get("/nodes/{name}/commands", response_model=dict[str, dict[str, Any]],
            responses=errors.responses(400, 404, 502, 503, 504))
def commands(name: str, web: WebDep,
             mode: Annotated[str | None, Query(max_length=80)] = None) -> Any:
    """The node's declared commands (every mode's, qualified, or one mode's): parameters,
    types, limits, docs: what the page builds its forms from."""
    name = node_name(name)
    result = web.fleet.member([name], "commands", mode or "*")[name]
    return jsonable(outcome_or_raise(result))


def check_call(body: models.CallBody, web: Web) -> models.CallBody:
    command = body.command
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", command):
        raise Problem(400, f"command must be a name like add_points or scoreboard.undo, got "
                           f"{command[:60]!r}")
    if command in ("snapshot", "events_since", "subscribe", "unsubscribe", "call", "call_as",
                   "send"):
        raise Problem(400, f"{command} is not called through /call (snapshots: GET "
                           "/api/nodes/{name}/snapshot.png; events: GET /api/events)")
    if command in MEMBERS and body.kwargs:
        raise Problem(400, f"{command} takes positional args only")
    if command == "join.show" and not body.args and not body.words and not body.kwargs:
        return body.model_copy(update={"args": [web.share_url]})
    return body


def job(body: models.CallBody) -> Any:
    def run(ctl: Controller, node: str) -> Any:
        if body.words is not None:
            return ctl.call_words(node, body.command, list(body.words))[2]
        if body.command in MEMBERS:
            return ctl.member(node, body.command, *body.args)
        return ctl.call(node, body.command, *body.args, **body.kwargs)
    return run


@router.post("/nodes/{name}/call", response_model=models.Result,
             responses=errors.responses(400, 404, 409, 502, 503, 504))
def call(name: str, body: models.CallBody, web: WebDep) -> models.Result:
    """Run one command on one node: typed JSON ``args``/``kwargs``, or text ``words``
    converted by the node's declared types (as the CLI does). Journaled as source web."""
    name = node_name(name)
    body = check_call(body, web)
    outcome = web.fleet.run([name], job(body))[name]
    return models.Result(result=jsonable(outcome_or_raise(outcome)))


@router.post("/call", response_model=models.FleetResults,
             responses=errors.responses(400, 404, 503))
def broadcast(body: models.FleetCallBody, web: WebDep) -> models.FleetResults:
    """One command on every node a selector names (``red,blue``, ``@teams``, ``all``), in
    parallel: each node's result or error (a failing node does not stop the others)."""
    checked = check_call(body, web)
    targets = web.fleet.select(body.selector)
    results = web.fleet.run(targets, job(checked))
    return models.FleetResults(results={n: fleet_outcome(o) for n, o in results.items()})


def fleet_outcome(outcome: FleetOutcome) -> models.Outcome:
    if outcome.error is not None:
        return models.Outcome(error=errors.message(outcome.error),
                              status=errors.status_of(outcome.error))
    return models.Outcome(result=jsonable(outcome.result))


@router.put("/nodes/{name}/background", response_model=models.Result,
            responses=errors.responses(400, 404, 409, 413, 502, 503, 504))
def set_background(name: str, web: WebDep,
                   file: Annotated[UploadFile, File(description="A PNG, at most 2 MB")]
                   ) -> models.Result:
    """Show a PNG behind the scoreboard's score (scaled to the screen)."""
    name = node_name(name)
    data = file.file.read(BACKGROUND_LIMIT + 1)
    if len(data) > BACKGROUND_LIMIT:
        raise Problem(413, f"the background is more than {BACKGROUND_LIMIT // 1024 // 1024} MB:"
                           " scale it down (the screen shows it at its own size anyway)")
    if not data.startswith(PNG):
        raise Problem(400, "the background must be a PNG file")
    outcome = web.fleet.call([name], "scoreboard.set_background", data)[name]
    return models.Result(result=jsonable(outcome_or_raise(outcome)))


@router.delete("/nodes/{name}/background", response_model=models.Result,
               responses=errors.responses(404, 409, 502, 503, 504))
def clear_background(name: str, web: WebDep) -> models.Result:
    """Back to the built-in background."""
    name = node_name(name)
    outcome = web.fleet.call([name], "scoreboard.set_background", None)[name]
    return models.Result(result=jsonable(outcome_or_raise(outcome)))


@router.get("/nodes/{name}/snapshot.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": "The screen"},
                       **errors.responses(400, 404, 502, 503, 504)})
def snapshot(name: str, web: WebDep,
             w: Annotated[int | None, Query(ge=16, le=1920, description="Width to scale "
                                            "to (a thumbnail)")] = None) -> Response:
    """What the node's screen shows now, as a PNG (``w``: scaled down to that width)."""
    name = node_name(name)
    png = outcome_or_raise(web.fleet.member([name], "snapshot")[name])
    if w is not None:
        png = THUMBS.get(bytes(png), w)
    return Response(bytes(png), media_type="image/png", headers={"Cache-Control": "no-store"})


def thumbnail(png: bytes, width: int) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as picture:
        if picture.width <= width:
            return png
        height = max(1, round(picture.height * width / picture.width))
        small = picture.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    small.save(out, format="PNG", compress_level=1)
    return out.getvalue()


class Thumbnails:
    """Scaled PNGs by a digest of what the node sent and the width: a page of phones
    reloading the same thumbnail costs one scale. The node is still asked every time, so a
    thumbnail is never older than the screen; beyond ``entries`` or ``budget`` bytes the
    least recently used go."""

    def __init__(self, entries: int = 48, budget: int = 8 * 1024 * 1024):
        self.entries, self.budget = entries, budget
        self._lock = threading.Lock()  # endpoints run on FastAPI's thread pool
        self._scaled: OrderedDict[tuple[bytes, int], bytes] = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return len(self._scaled)

    def get(self, png: bytes, width: int) -> bytes:
        key = (hashlib.blake2b(png, digest_size=16).digest(), width)
        with self._lock:
            small = self._scaled.get(key)
            if small is not None:
                self._scaled.move_to_end(key)
                return small
        small = thumbnail(png, width)  # outside the lock: other nodes' thumbnails go on
        if small is png or len(small) > self.budget:
            return small
        with self._lock:
            if key not in self._scaled:
                self._scaled[key] = small
                self._size += len(small)
            while self._size > self.budget or len(self._scaled) > self.entries:
                self._size -= len(self._scaled.popitem(last=False)[1])
        return small


THUMBS = Thumbnails()
"""One for the process: keyed by content, so every app in it may share it."""


# -- events ---------------------------------------------------------------------------------

@router.get("/events", response_class=EventSourceResponse,
            responses=errors.responses(400))
async def events(
    request: Request,
    last_event_id: Annotated[str | None, Header(max_length=100)] = None,
    since: Annotated[str | None, Query(max_length=100, description="Resume after this id "
                                       "(as Last-Event-ID)")] = None,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000, description="End the stream "
                                       "after this many records")] = None,
) -> Any:
    """The nodes' events as they happen (server-sent events): ``hello`` first (``resumed``
    or ``missed``), then ``record`` (a node's event record; its ``id`` resumes with
    ``Last-Event-ID``) and ``race`` (the race's state)."""
    web = web_of(request)
    stream, hello, backlog = web.hub.open(last_event_id or since)
    sent = 0
    try:
        yield ServerSentEvent(event="hello", data=hello, retry=2000)
        race = web.races.state
        if race["state"] != "idle":
            yield ServerSentEvent(event="race", data=race)
        for kind, id_, data in backlog:
            yield ServerSentEvent(event=kind, id=id_ or None, data=data)
            sent += 1
            if limit is not None and sent >= limit:
                return
        while True:
            item = await stream.queue.get()
            if item is None:
                return
            kind, id_, data = item
            yield ServerSentEvent(event=kind, id=id_ or None, data=data)
            if kind == "record":
                sent += 1
                if limit is not None and sent >= limit:
                    return
    finally:
        web.hub.close(stream)


# -- presets --------------------------------------------------------------------------------

@router.get("/presets", response_model=list[models.Preset], responses=errors.responses(400))
def presets(web: WebDep) -> list[models.Preset]:
    """The presets in the presets file (``pyrostage preset list``)."""
    from engine.control.presets import PresetFile

    found = PresetFile.load(web.presets)
    return [models.Preset(name=p.name, nodes=p.nodes or ["*"],
                          describe="; ".join(f"{n}: {look.describe()}"
                                             for n, look in p.looks.items()))
            for p in found.presets.values()]


@router.post("/presets/{name}/apply", response_model=models.FleetResults,
             responses=errors.responses(400, 404, 503))
def apply_preset(name: str, body: models.PresetApplyBody, web: WebDep) -> models.FleetResults:
    """Give the selected nodes (default: those the preset names) their look."""
    from engine.control.presets import PresetFile, apply

    preset = PresetFile.load(web.presets).get(name[:80])
    results = apply(web.fleet, preset, body.selector)
    return models.FleetResults(results={n: fleet_outcome(o) for n, o in results.items()})


@router.post("/presets", response_model=models.Saved, status_code=201,
             responses=errors.responses(400, 404, 409, 502, 503, 504))
def save_preset(body: models.PresetSaveBody, web: WebDep) -> models.Saved:
    """Save what the selected nodes show now as a preset (``force`` replaces one)."""
    from engine.control.presets import PresetFile, capture

    file = PresetFile.load(web.presets)
    preset, _notes = capture(web.fleet, body.name, body.selector)
    if preset.name in file.presets and not body.force:
        raise Problem(409, f"preset {preset.name!r} already exists in {file.path}; send "
                           "\"force\": true to replace it")
    try:
        file.save(preset, force=body.force)
    except OSError as exc:
        raise Problem(409, f"the presets file {file.path} cannot be written: "
                           f"{exc.strerror or exc}") from None
    return models.Saved(name=preset.name, nodes=preset.nodes, path=str(file.path))


# -- the race -------------------------------------------------------------------------------

@router.post("/race", response_model=models.RaceState, status_code=202,
             responses=errors.responses(400, 404, 409, 503))
def start_race(body: models.RaceBody, web: WebDep) -> Any:
    """Start a fair race on the selected timers; its progress comes on ``/api/events``."""
    return web.races.start(body.selector, body.start_in, body.timeout, body.award)


@router.get("/race", response_model=models.RaceState)
def race_state(web: WebDep) -> Any:
    """The race now (or the last one): lanes, ranking, winner."""
    return web.races.state


@router.delete("/race", response_model=models.RaceState, responses=errors.responses(404))
def call_off_race(web: WebDep) -> Any:
    """Call off the running race: timers not yet stopped are stopped."""
    return web.races.call_off()

