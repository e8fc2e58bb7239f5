"""A ``pyrostage serve`` node whose stage clock runs off by an offset and a drift, as a Pi's
monotonic clock does against another's (P9).

    python bench/skewed_node.py NAME NS_PORT STATE_DIR OFFSET_S DRIFT_PPM BASE

The node's clock reads ``t + offset + drift * (t - base)`` where ``t`` is this machine's
``time.monotonic()``; the benchmark, on the same machine, turns node instants back into true
time with ``true_time``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.base.config import load
from engine.cli.signals import on_stop_signals


def true_time(node_instant: float, offset: float, drift: float, base: float) -> float:
    """The ``time.monotonic()`` at which the node's clock read ``node_instant``."""
    return (node_instant - offset + drift * base) / (1 + drift)


def main() -> None:
    name, ns_port, state, offset, ppm, base = sys.argv[1:7]
    off, drift, t0 = float(offset), float(ppm) * 1e-6, float(base)

    def clock() -> float:
        t = time.monotonic()
        return t + off + drift * (t - t0)

    os.environ["SDL_VIDEODRIVER"] = "dummy"
    from engine.remote.node import Node

    cfg = load(None, name=name, host="127.0.0.1", ns_host="127.0.0.1", ns_port=int(ns_port),
               state_dir=state, headless=True, gpio="none", size=(1280, 720), mode="timer")
    node = Node(cfg, clock=clock)
    on_stop_signals(lambda signum: node.stop())
    node.serve()


if __name__ == "__main__":
    main()
