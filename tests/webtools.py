"""The real web app on a free port of 127.0.0.1, in this process, for the camp's nodes; and
the event stream (server-sent events) read the way a browser reads it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from engine.control.controller import Controller
from engine.testing import NameServer


@contextmanager
def web_for(ns: NameServer, token: str | None = None, timeout: float = 2.0,
            presets: Path | None = None, access_log: bool = False, **kw: Any) -> Iterator[Any]:
    """``Running`` (``.url``, ``.web``) of ``pyrostage web`` for the nodes of ``ns``; the
    page's calls are journaled as source ``web``; ``timeout``: seconds a node gets."""
    from engine.web.app import Web
    from engine.web.server import serve_in_thread

    web = Web(Controller(ns.host, ns.port, ns.hmac_key, source="web"), token=token,
              timeout=timeout, presets=presets, **kw)
    running = serve_in_thread(web, "127.0.0.1", 0, access_log=access_log)
    web.share_url = running.url
    running.web = web  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        running.stop()


def sse_events(stream: str | Iterable[str]) -> Iterator[dict[str, Any]]:
    """The events of a stream's text or of its lines as they arrive (``iter_lines()``), each
    field -> value: ``data`` lines joined by newlines, ``retry`` an int; comments skipped.
    Lazy, so a test can stop at the event it waits for while the stream stays open."""
    lines = stream.replace("\r\n", "\n").split("\n") if isinstance(stream, str) else stream
    event: dict[str, Any] = {}
    for line in lines:
        if not line:
            if event:
                yield event
            event = {}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data" and "data" in event:
            event["data"] += "\n" + value
        elif field == "retry":
            event["retry"] = int(value)
        else:
            event[field] = value
    if event:
        yield event


def must(ok: bool, message: object) -> None:
    """Fail with ``message`` and no traceback: pytest formatting a traceback parses source
    with ``ast``, which under CPython 3.11 races with a server thread formatting its own
    (``SystemError: AST constructor recursion depth mismatch`` ends the whole session)."""
    if not ok:
        pytest.fail(str(message), pytrace=False)
