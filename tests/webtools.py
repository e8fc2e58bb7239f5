"""The real web app on a free port of 127.0.0.1, in this process, for the camp's nodes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
