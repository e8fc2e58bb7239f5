"""Make the README's pictures: one snapshot of each mode, taken with ``snapshot()``.

    python docs/make_snapshots.py          # writes docs/images/<mode>.png

A headless 1280x720 node runs in this process with its main loop on the main thread, as on
a Pi; a second thread drives it over Pyro like any controller would.
"""

from __future__ import annotations

import logging
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from engine.base import config
from engine.control.controller import Controller
from engine.remote.node import Node

IMAGES = Path(__file__).resolve().parent / "images"


class HeldClock:
    """The monotonic clock, which the script can hold still and move on by exact steps."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.held: float | None = None

    def __call__(self) -> float:
        return self.held if self.held is not None else time.monotonic() + self.offset

    def hold(self) -> None:
        self.held = self()

    def advance(self, seconds: float) -> None:
        assert self.held is not None
        self.held += seconds

    def release(self) -> None:
        assert self.held is not None
        self.offset, self.held = self.held - time.monotonic(), None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def drive(node: Node, clock: HeldClock, failures: list[BaseException]) -> None:
    """Put each mode into a state worth showing and save what the screen shows."""
    try:
        if not node.ready.wait(30):
            raise RuntimeError("the node did not come up")
        IMAGES.mkdir(exist_ok=True)
        with Controller(node.config.ns_host, node.config.ns_port) as c:
            name = node.name
            c.member(name, "switch", "colorsquare")
            c.call(name, "set_color", "navyblue")
            save(c, name, "colorsquare")

            c.member(name, "switch", "scoreboard")
            c.call(name, "set_team", "Red Foxes")
            c.call(name, "set_score", 1250)
            time.sleep(0.8)  # let the count-up finish (it takes at most half a second)
            save(c, name, "scoreboard")

            c.member(name, "switch", "timer")
            clock.hold()
            c.call(name, "start")
            clock.advance(12.345)
            c.call(name, "stop")
            clock.release()
            save(c, name, "timer")
    except BaseException as exc:
        failures.append(exc)
    finally:
        node.stop()


def save(controller: Controller, node: str, mode: str) -> None:
    path = IMAGES / f"{mode}.png"
    path.write_bytes(controller.member(node, "snapshot"))
    print(f"wrote {path}")


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="pyrostage-docs-") as tmp:
        empty = Path(tmp) / "pyrostage.toml"
        empty.write_text("")
        cfg = config.load(
            empty, name="docs", host="127.0.0.1", headless=True, size=(1280, 720),
            state_dir=Path(tmp) / "state", gpio="none", embedded_ns=True,
            ns_host="127.0.0.1", ns_port=free_port(),
        )
        clock = HeldClock()
        node = Node(cfg, clock=clock)
        failures: list[BaseException] = []
        driver = threading.Thread(target=drive, args=(node, clock, failures), daemon=True)
        driver.start()
        node.serve()  # the main loop: only this thread touches pygame
        driver.join(10)
    for exc in failures:
        print(f"failed: {exc!r}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
