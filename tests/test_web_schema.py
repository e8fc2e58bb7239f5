"""The web API against its own OpenAPI schema: schemathesis (v4) fuzzes every operation through
the ASGI app, the real name server and the camp's four real nodes behind it.

Every answer must be declared (status, content type, body); no 5xx but the declared node
statuses 502/503/504 (a node away or slow is not the web's fault). The event stream cannot be
fuzzed (it never ends), so it is read here as a finite stream (``?limit=N``) and held to what
the schema says of it. Fuzzed calls reach the nodes: they validate, so only small changes
land (scores, teams, modes); races started by the fuzz are called off after each case.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed")
schemathesis = pytest.importorskip("schemathesis", reason="the test extra is not installed")

import jsonschema_rs  # noqa: E402
from fleetnodes import GROUPS  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import Failure  # noqa: E402
from schemathesis.python import asgi  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402
from webtools import must, sse_events  # noqa: E402

from engine.control.controller import Controller  # noqa: E402
from engine.testing import NameServer, wait_for  # noqa: E402
from engine.web.app import Web, create_app  # noqa: E402

# Imported now, not lazily on a server thread: pytest's assertion rewriter parses engine's
# modules (engine is a pytest plugin's package) with ``ast``, and CPython 3.11's ``ast`` is not
# thread-safe ("SystemError: AST constructor recursion depth mismatch").
for _module in ("hypothesis.strategies._internal.random", "engine.control.clock",
                "engine.control.presets", "engine.web.api", "engine.web.qr"):
    importlib.import_module(_module)

GUARD = 20.0
"""Seconds any one stream may stay open: a hang guard."""
BASE = "http://127.0.0.1"
"""Where the fuzzed requests say they go: an address (the app refuses unknown host names)."""
DECLARED_5XX = {502, 503, 504}
EXCLUDED = [not_a_server_error, positive_data_acceptance]
"""Replaced by ours (502/503/504 are declared), and one that cannot hold here: a call's
arguments are checked by the node's declarations, which the schema cannot carry."""
NODES = sorted(GROUPS)
TOKEN = "schema-fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SMALL = settings(max_examples=3, deadline=None, derandomize=True, database=None,
                 suppress_health_check=list(HealthCheck))
BIG = settings(max_examples=150, deadline=None, database=None,
               suppress_health_check=list(HealthCheck))


class Later:
    """The ASGI app the fuzz calls: the camp's, once its fixture made it (the schema and its
    tests are made at import, before any node runs)."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "the web_app fixture makes the app"
        await self.app(scope, receive, send)


LATER = Later()


class UndeclaredServerError(Failure):
    """A 5xx the schema does not declare, or any 500."""


@schemathesis.check
def only_declared_server_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """5xx only as the node statuses the schema declares (502/503/504), never 500."""
    if response.status_code >= 500 and response.status_code not in DECLARED_5XX:
        raise UndeclaredServerError(
            operation=case.operation.label, title="Undeclared server error",
            message=f"{response.status_code}: {response.text[:300]}")
    return None


@pytest.fixture
def web_app(camp: tuple[NameServer, dict], tmp_path: Path) -> Iterator[Any]:
    """The real app for the camp's nodes, one per test: schemathesis's pytest plugin ends
    every ASGI app's lifespan (the event hub, the fleet) when a test ends."""
    ns, _ = camp
    web = Web(Controller(ns.host, ns.port, ns.hmac_key, source="web"), token=TOKEN,
              timeout=2.0, presets=tmp_path / "presets.toml")
    app = LATER.app = create_app(web)
    yield app
    asgi.shutdown_lifespans()
    LATER.app = None


def _schema() -> Any:
    """The schema of an app with the token (it does not depend on the nodes: an app for no
    name server)."""
    app = create_app(Web(Controller("127.0.0.1", 9, None), token=TOKEN))
    loaded = schemathesis.openapi.from_dict(app.openapi())
    loaded.app = LATER

    @loaded.hook
    def before_generate_path_parameters(ctx: Any, strategy: Any) -> Any:
        """Half the time a real node's name, so calls get past "no such node"."""
        return st.one_of(strategy, st.fixed_dictionaries({"name": st.sampled_from(NODES)}))

    return loaded.exclude(path="/api/events")


schema = _schema()


def validate(case: Any, web_app: Any) -> Any:
    response = case.call_and_validate(base_url=BASE, headers=AUTH, excluded_checks=EXCLUDED,
                                      additional_checks=[only_declared_server_errors])
    if case.method == "POST" and case.path == "/api/race" and response.status_code == 202:
        call_off(case, web_app)
    return response


def call_off(case: Any, web_app: Any) -> None:
    """A race the fuzz started ends now (its timers stopped), so the next case may start one."""
    desk = web_app.state.web.races
    if desk.running:
        desk.call_off()
    wait_for(lambda: not desk.running or None, timeout=20)


@SMALL
@schema.parametrize()
def test_api_conforms_to_its_schema(case: Any, web_app: Any) -> None:
    validate(case, web_app)


@pytest.mark.long
@pytest.mark.timeout(1200)
@BIG
@schema.parametrize()
def test_api_conforms_to_its_schema_at_length(case: Any, web_app: Any) -> None:
    validate(case, web_app)


# -- the event stream, finite --------------------------------------------------------------

def declared(operation: dict[str, Any], status: int, media: str) -> dict[str, Any]:
    """What the schema says an answer with ``status`` and ``media`` type is."""
    content = operation["responses"][str(status)]["content"]
    assert media in content, f"{status} {media} is not declared: {sorted(content)}"
    declared_media: dict[str, Any] = content[media]
    return declared_media


def conforms(body: Any, shape: dict[str, Any], components: dict[str, Any]) -> None:
    schema = {**shape, "components": components}
    errors = [e.message for e in jsonschema_rs.Draft202012Validator(schema).iter_errors(body)]
    assert not errors, f"{body!r:.300} does not conform: {errors}"


@pytest.fixture
def events_api(web_app: Any) -> dict[str, Any]:
    """The event stream's operation in the app's own schema."""
    events: dict[str, Any] = web_app.openapi()["paths"]["/api/events"]["get"]
    return events


@pytest.fixture
def client(web_app: Any) -> Iterator[Any]:
    """The ASGI client the fuzz uses (the app's lifespan, hence its hub, runs)."""
    with asgi.get_client(LATER) as c:
        c.base_url = BASE
        yield c


def stream(client: Any, web_app: Any, query: str, changes: int = 0, wait: float = GUARD,
           **headers: str) -> Any:
    """GET /api/events?``query``; while it is open, ``changes`` score changes on red (each
    an event record, and maybe a screen change too)."""
    hub = web_app.state.web.hub
    before = hub.streams
    done = threading.Event()

    def change() -> None:
        if not changes:
            return
        wait_for(lambda: hub.streams > before or done.is_set() or None, timeout=GUARD)
        with web_app.state.web.controller.clone() as ctl:
            for i in range(changes):
                if done.is_set():
                    break
                ctl.call("red", "scoreboard.add_points", 1 if i % 2 == 0 else -1)

    thread = threading.Thread(target=change, daemon=True)
    thread.start()
    try:
        return client.get(f"/api/events?{query}", headers={**AUTH, **headers}, timeout=wait)
    finally:
        done.set()
        thread.join(GUARD)


def check_stream(response: Any, events_api: dict[str, Any], components: dict[str, Any]
                 ) -> list[dict[str, Any]]:
    """The stream as the schema says it is: 200, text/event-stream, each event an item of
    the declared shape whose data is JSON; returns the events, data decoded."""
    assert response.status_code == 200, response.text
    media = response.headers["content-type"].split(";")[0].strip()
    item = declared(events_api, 200, media)["itemSchema"]
    events = list(sse_events(response.text))
    for event in events:
        conforms(event, item, components)
        event["data"] = json.loads(event["data"])
    return events


def test_event_stream_is_finite_and_conforms_to_its_schema(client: Any, web_app: Any,
                                                          events_api: dict[str, Any]) -> None:
    components = web_app.openapi().get("components", {})
    response = stream(client, web_app, "limit=3", changes=12)
    events = check_stream(response, events_api, components)
    hub = web_app.state.web.hub.id
    hello, *rest = events
    assert hello["event"] == "hello"
    assert hello["data"]["hub"] == hub
    assert hello["data"]["resumed"] is False and hello["data"]["missed"] is False
    assert isinstance(hello["retry"], int)
    records = [e for e in rest if e["event"] == "record"]
    assert len(records) == 3, events
    numbers = [int(e["id"].removeprefix(f"{hub}-")) for e in records]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    for record in records:
        assert {"node", "boot", "seq", "source", "name", "data", "at", "local"} <= set(
            record["data"])


def test_event_stream_resumes_after_an_id(client: Any, web_app: Any,
                                          events_api: dict[str, Any]) -> None:
    components = web_app.openapi().get("components", {})
    first = check_stream(stream(client, web_app, "limit=3", changes=12), events_api,
                         components)
    records = [e for e in first if e["event"] == "record"]
    again = check_stream(stream(client, web_app, "limit=2", **{"Last-Event-ID":
                                                                 records[0]["id"]}),
                         events_api, components)
    assert again[0]["data"]["resumed"] is True and again[0]["data"]["missed"] is False
    replayed = [e for e in again if e["event"] == "record"]
    assert [e["id"] for e in replayed] == [e["id"] for e in records[1:]]
    assert [e["data"] for e in replayed] == [e["data"] for e in records[1:]]


@pytest.mark.parametrize(("query", "headers", "status"), [
    ("limit=0", AUTH, 400),
    ("limit=1", {**AUTH, "Last-Event-ID": "x" * 101}, 400),
    ("limit=1", {}, 401),
    *(pytest.param(*case, marks=pytest.mark.long) for case in [
        ("limit=x", AUTH, 400),
        ("since=" + "1" * 101, AUTH, 400),
        ("limit=1", {"Authorization": "Bearer wrong-token"}, 401)]),
])
def test_event_stream_refusals_conform_to_its_schema(client: Any, web_app: Any,
                                                     events_api: dict[str, Any], query: str,
                                                     headers: dict[str, str],
                                                     status: int) -> None:
    response = client.get(f"/api/events?{query}", headers=headers, timeout=GUARD)
    assert response.status_code == status, response.text
    media = response.headers["content-type"].split(";")[0].strip()
    shape = declared(events_api, status, media)["schema"]
    conforms(response.json(), shape, web_app.openapi().get("components", {}))


# -- defects the fuzz found (each failed before its fix) -------------------------------------

@pytest.mark.parametrize(("path", "body"), [
    ("/api/presets", {"name": "lax", "selector": "red", "force": 0}),
    ("/api/race", {"selector": "nobody", "award": False}),  # 404 once past validation
    ("/api/race", {"selector": "nobody", "start_in": "3"}),
])
def test_bodies_of_another_type_than_declared_are_refused(client: Any, path: str,
                                                         body: dict[str, Any]) -> None:
    """Bodies were read in pydantic's lax mode: 0 passed for a boolean, false for an
    integer, "3" for a number (schemathesis: "Schema-violating request accepted")."""
    response = client.post(path, json=body, headers=AUTH, timeout=GUARD)
    must(response.status_code == 400, f"{response.status_code}: {response.text}")


@pytest.mark.parametrize(("path", "methods"), [
    ("/api/session", {"POST", "DELETE"}),
    *(pytest.param(*case, marks=pytest.mark.long) for case in [
        ("/api/race", {"GET", "POST", "DELETE"}),
        ("/api/nodes/red/background", {"PUT", "DELETE"})]),
])
def test_method_not_allowed_names_every_method(client: Any, path: str,
                                               methods: set[str]) -> None:
    """A 405 named only the first route's method in Allow (/api/session: POST, not DELETE)."""
    response = client.request("PATCH", path, headers=AUTH, timeout=GUARD)
    allowed = {m.strip() for m in response.headers.get("allow", "").split(",")}
    must(response.status_code == 405 and allowed >= methods,
         f"{response.status_code}, Allow: {sorted(allowed)}, not all of {sorted(methods)}")


def test_open_web_schema_does_not_demand_a_token(camp: tuple[NameServer, dict]) -> None:
    """A web without a token declared every operation as needing the token (schemathesis's
    ignored_auth failed against the default `pyrostage web`)."""
    ns, _ = camp
    with Controller(ns.host, ns.port, ns.hmac_key) as ctl:
        paths = create_app(Web(ctl)).openapi()["paths"]
    demanding = [f"{method.upper()} {path}" for path, ops in paths.items()
                 for method, op in ops.items() if op.get("security") and {} not in op["security"]]
    must(not demanding, f"these demand a token of an open web: {demanding}")


def test_events_arrive_after_the_lifespan_restarts(web_app: Any) -> None:
    """After its lifespan restarted (a test client entered twice; schemathesis between
    tests) the hub said it was listening, but its stopped Listener never subscribed again."""
    with asgi.get_client(LATER):
        pass
    asgi.shutdown_lifespans()
    with asgi.get_client(LATER) as again:
        again.base_url = BASE
        response = stream(again, web_app, "limit=1", changes=20, wait=5)
    must("event: record" in response.text, f"no record came: {response.text}")
