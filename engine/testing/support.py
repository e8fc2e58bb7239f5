"""The real parts a test runs on: free ports, a Pyro4 name server, an in-process node's main
loop, and a hang guard. The project's own suite (``tests/conftest.py``) uses them too."""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import Pyro4

    from engine.remote.node import Node


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on just now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy (a hang guard, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last error: {last_exc!r})")


class NameServer:
    """A real Pyro4 name server in this process, on a free port of 127.0.0.1."""

    def __init__(self, port: int | None = None, hmac_key: bytes | None = None,
                 host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port()
        self.hmac_key = hmac_key
        for _ in range(4 if port is None else 0):  # a free port can be taken before we bind it
            try:
                self.start()
                return
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                self.port = free_port()
        self.start()

    def start(self) -> None:
        import Pyro4.naming

        _uri, self.daemon, _bc = Pyro4.naming.startNS(
            host=self.host, port=self.port, enableBroadcast=False, hmac=self.hmac_key
        )
        self.thread = threading.Thread(target=self.daemon.requestLoop, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.daemon.shutdown()
        self.thread.join(timeout=5)

    def proxy(self) -> Pyro4.Proxy:
        import Pyro4

        return Pyro4.locateNS(self.host, self.port, hmac_key=self.hmac_key)


class RunningNode:
    """An in-process node whose main loop runs on a thread of its own (the only one that
    touches pygame in this process). One at a time per process: tests that need several nodes
    at once start them as subprocesses."""

    def __init__(self, node: Node):
        self.node = node
        self.thread = threading.Thread(target=node.serve, name="node-main", daemon=True)
        self.thread.start()
        if not node.ready.wait(15):
            raise RuntimeError("node did not come up")

    @property
    def uri(self) -> str:
        return str(self.node.uri)

    def proxy(self) -> Pyro4.Proxy:
        import Pyro4

        p = Pyro4.Proxy(self.uri)
        key = self.node.config.key()
        if key:
            p._pyroHmacKey = key
        return p

    def stop(self) -> None:
        self.node.stop()
        self.thread.join(timeout=10)
        if self.thread.is_alive():
            raise AssertionError("node did not stop")
