"""Running the app: ``run()`` for ``pyrostage web`` (until Ctrl-C), ``serve_in_thread()`` for
``pyrostage demo`` and tests (uvicorn on a thread of its own, on a port of its own)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn

from engine.web.app import Web, create_app
from engine.web.auth import HideTokens

log = logging.getLogger(__name__)


class Server(uvicorn.Server):
    """uvicorn's server, ending the event streams before it waits for open requests: an
    endless stream would otherwise hold the shutdown until its timeout, then be cut."""

    def __init__(self, config: uvicorn.Config, web: Web):
        super().__init__(config)
        self.web = web

    async def shutdown(self, sockets: Any = None) -> None:
        self.web.hub.end_streams()
        await super().shutdown(sockets)


def config(web: Web, host: str, port: int, access_log: bool = True) -> uvicorn.Config:
    """uvicorn's settings: our logging (one line per request with ``access_log``, query
    strings cut), a short graceful shutdown, no proxy headers trusted."""
    made = uvicorn.Config(create_app(web), host=host, port=port, access_log=access_log,
                          log_level="info" if access_log else "warning", log_config=None,
                          lifespan="on", timeout_graceful_shutdown=2, proxy_headers=False,
                          server_header=False)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, HideTokens) for f in access.filters):
        access.addFilter(HideTokens())
    if access_log:  # another server in this process may have silenced it
        access.propagate = True
        access.setLevel(logging.INFO)
    return made


def run(web: Web, host: str, port: int, access_log: bool = True,
        ready: Callable[[], Any] = lambda: None) -> None:
    """Serve until Ctrl-C or SIGTERM (uvicorn handles both); ``ready()`` once it listens."""
    server = Server(config(web, host, port, access_log), web)

    def tell() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            ready()

    threading.Thread(target=tell, name="web ready", daemon=True).start()
    server.run()


@dataclass
class Running:
    """A server on its own thread: ``url``, ``stop()``."""

    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True  # (the server ends the event streams first)
        self.thread.join(timeout)


def serve_in_thread(web: Web, host: str = "127.0.0.1", port: int = 0,
                    access_log: bool = False, started: float = 10.0) -> Running:
    """Start the app on ``host:port`` (0: a free port) and return once it answers."""
    # protocol named: asyncio sets TCP_NODELAY only on sockets that say they are TCP (with 0,
    # every answer's body waited ~40 ms for the client's delayed ACK)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                         socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    server = Server(config(web, host, bound, access_log), web)
    thread = threading.Thread(target=_serve, args=(server, sock), name="web", daemon=True)
    thread.start()
    deadline = time.monotonic() + started
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the web did not start on {host}:{bound}")
        time.sleep(0.02)
    shown = f"[{host}]" if ":" in host else host
    return Running(server, thread, f"http://{shown}:{bound}/")


def _serve(server: uvicorn.Server, sock: socket.socket) -> Any:
    return server.run(sockets=[sock])
