"""Event subscribers for P12: ``count`` Pyro objects in one process, each subscribed to the
node at ``uri``, counting what is pushed to them.

    python bench/subscribers.py URI COUNT
    python bench/subscribers.py - COUNT     # not subscribed: prints their URIs after "ready"

Prints ``ready`` once all are subscribed, and the records each got when stdin closes. The
benchmark freezes one such process with SIGSTOP: a subscriber that never answers again.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import Pyro4

from engine.base.pyroconf import harden, serve_daemon


@Pyro4.expose
class Counter:
    def __init__(self) -> None:
        self.records = 0

    def events(self, records: list[dict[str, Any]]) -> None:
        self.records += len(records)


def main() -> None:
    harden()
    uri, count = sys.argv[1], int(sys.argv[2])
    daemon = serve_daemon("127.0.0.1", 0, None)
    counters = [Counter() for _ in range(count)]
    uris = [str(daemon.register(c)) for c in counters]
    threading.Thread(target=daemon.requestLoop, daemon=True).start()
    if uri == "-":  # for a bare pusher (raw_server.push): not subscribed, the URIs printed
        print("ready", *uris, flush=True)
        sys.stdin.read()
    else:
        with Pyro4.Proxy(uri) as node:
            ids = [node.subscribe(u, 600)["id"] for u in uris]
        print("ready", flush=True)
        sys.stdin.read()
        with Pyro4.Proxy(uri) as node:
            for i in ids:
                node.unsubscribe(i)
    print(" ".join(str(c.records) for c in counters), flush=True)


if __name__ == "__main__":
    main()
