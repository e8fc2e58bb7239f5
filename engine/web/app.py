"""The web app: ``create_app(Web(...))`` gives the FastAPI application (the page, the API, the
event stream); ``engine.web.server`` runs it with uvicorn."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from pathlib import Path
from typing import Any

import Pyro4.errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from engine.control.controller import Controller
from engine.control.fleet import Fleet
from engine.web import errors
from engine.web.auth import COOKIE, Guard, session_value
from engine.web.errors import Problem
from engine.web.hub import Hub
from engine.web.races import RaceDesk

log = logging.getLogger(__name__)

try:
    VERSION = version("pyrostage")
except PackageNotFoundError:  # run from a source tree that was never installed
    VERSION = "unknown"
STATIC = Path(str(files("engine.web") / "static"))
NODE_ERRORS: tuple[type[Exception], ...] = (
    ValueError, TypeError, LookupError, OverflowError, ConnectionError, TimeoutError, OSError,
    RuntimeError, Pyro4.errors.PyroError)
"""What a node call may raise (a node raises builtins): each answered with its status."""
CALL_TIMEOUT = 5.0
"""Seconds a node gets to answer one call made from the page (then 504)."""


@dataclass
class Web:
    """What the app serves with: the controller it reaches nodes with, its token, its URL."""

    controller: Controller
    share_url: str = "http://127.0.0.1:8080/"
    token: str | None = None
    timeout: float = CALL_TIMEOUT
    presets: Path | None = None
    """The presets file (None: the default one in the user's config folder)."""
    lease: float = 30.0
    renew: float = 10.0
    fleet: Fleet = field(init=False)
    hub: Hub = field(init=False)
    races: RaceDesk = field(init=False)
    guard: Guard = field(init=False)

    def __post_init__(self) -> None:
        self.guard = Guard(self.token)
        self.fleet = Fleet(self.controller, self.timeout)
        self.hub = Hub(self.fleet, lease=self.lease, renew=self.renew)
        self.races = RaceDesk(lambda: Fleet(self.controller.clone(), self.timeout, own=True),
                              self.hub)

    def close(self) -> None:
        self.races.close()
        self.hub.stop()
        self.fleet.close()


def create_app(web: Web) -> FastAPI:
    from engine.web import api

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        web.hub.start()
        try:
            yield
        finally:
            web.close()

    app = FastAPI(title="pyrostage web", version=VERSION, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Drive pyrostage display nodes: the API the page itself uses. "
                              "Errors are `{\"error\", \"kind\"}` with a status saying why.")
    app.state.web = web
    app.include_router(api.open_router)
    app.include_router(api.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _pages(app, web)
    _errors(app)
    app.openapi = lambda: _openapi(app, web)  # type: ignore[method-assign]
    return app


def _pages(app: FastAPI, web: Web) -> None:
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/join", include_in_schema=False)
    def join(request: Request, token: str = "") -> Response:
        """The QR's link: keep the session and drop the token from the address bar."""
        answer = RedirectResponse("/", status_code=303)
        if web.guard.matches(token):
            remember(answer, web, request)
        return answer

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)


def remember(response: Response, web: Web, request: Request) -> None:
    assert web.guard.token is not None
    response.set_cookie(COOKIE, session_value(web.guard.token), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https",
                        max_age=14 * 86400, path="/")


def _errors(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def problem(request: Request, exc: Problem) -> JSONResponse:
        return JSONResponse(errors.body(exc), status_code=exc.status)

    async def node_error(request: Request, exc: Exception) -> JSONResponse:
        status = errors.status_of(exc)
        log.info("web: %s %s: %s %s", request.method, request.url.path, status,
                 errors.message(exc))
        return JSONResponse(errors.body(exc), status_code=status)

    for kind in NODE_ERRORS:
        app.add_exception_handler(kind, node_error)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_text(exc), "kind": "ValueError"},
                            status_code=400)

    @app.exception_handler(HTTPException)
    async def http(request: Request, exc: HTTPException) -> JSONResponse:
        kind = {404: "LookupError", 405: "ValueError"}.get(exc.status_code, "Error")
        text = {404: f"nothing at {request.url.path[:100]} (the API is under /api/: see "
                     "/openapi.json)"}.get(exc.status_code, str(exc.detail))
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            kind, text = "ValueError", (
                "the body is not JSON this API reads: send UTF-8 JSON objects, numbers of "
                "at most 4300 digits, nested a few levels (see /openapi.json)")
        if exc.status_code == 405:  # every route of the path, not the first one's only
            allowed = _methods(request) or [  # outside the schema: the route's own
                m.strip() for m in headers.get("Allow", "").split(",") if m.strip()]
            headers["Allow"] = ", ".join(allowed)
            text = f"{request.method} is not allowed here (allowed: {', '.join(allowed)})"
        return JSONResponse({"error": text, "kind": kind}, status_code=exc.status_code,
                            headers=headers or None)


def _methods(request: Request) -> list[str]:
    """The methods the API answers at this path (from its schema: every route of the path,
    not only the first one's)."""
    found: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            found |= {method.upper() for method in operations}
    return sorted(found)


def _validation_text(exc: RequestValidationError) -> str:
    """Pydantic's errors as one line: where, what was wrong."""
    parts = []
    for error in exc.errors()[:4]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        text = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {text}")
    return "; ".join(parts) or "the request is not what this endpoint accepts"


def _openapi(app: FastAPI, web: Web) -> dict[str, Any]:
    """FastAPI's schema, with request-shape errors answered 400 (not 422) as they are, and
    without security requirements where the web has no token."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", errors.responses(400)[400])
            if web.guard.token is None:
                operation.pop("security", None)
                responses.pop("401", None)
    comps = schema.get("components", {}).get("schemas", {})
    comps.pop("HTTPValidationError", None)
    comps.pop("ValidationError", None)
    if web.guard.token is None:
        schema.get("components", {}).pop("securitySchemes", None)
    app.openapi_schema = schema
    return schema
