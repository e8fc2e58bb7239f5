"""P10: a node under mixed load for ``--soak`` seconds (calls, presses, snapshots, mode
switches, an event listener, a web client reading ``/api/events`` and calling through
``pyrostage web``): its memory after warm-up must stay put and nothing may fail."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import Pyro4

from engine.control.controller import Controller
from engine.control.events import Listener

from .harness import Row, Run, cluster, rss_mb, sse

GROWTH = 5.0
"""Most RSS growth after warm-up (MB)."""


def soak_rows(run: Run, only: set[str]) -> list[Row]:
    seconds = run.soak
    warm = min(60.0, seconds * 0.25)
    errors: list[str] = []
    counts: dict[str, int] = {}
    stop = threading.Event()
    with cluster(run.tmp, trace=False) as c:
        c.start_node("soak", "1280x720", "--mode", "scoreboard")
        uri = c.wait()["soak"]
        pid = c.nodes["soak"].pid
        web = c.start_web()
        web_heard = [0]
        threading.Thread(target=sse, args=(web, stop, lambda r: web_heard.__setitem__(
            0, web_heard[0] + 1), errors), daemon=True).start()

        def loop(name: str, every: float, step: Callable[[Pyro4.Proxy, int], Any]) -> None:
            with Pyro4.Proxy(uri) as p:
                i = 0
                while not stop.wait(every * random.uniform(0.5, 1.5)):
                    i += 1
                    try:
                        step(p, i)
                        counts[name] = counts.get(name, 0) + 1
                    except Exception as exc:
                        errors.append(f"{name}: {type(exc).__name__}: {exc}")

        def calls(p: Pyro4.Proxy, i: int) -> None:
            p.call("scoreboard.add_points", 3 if i % 2 else -3)
            p.call("scoreboard.get_score")
            if i % 10 == 0:
                p.call("scoreboard.set_team", f"Team {i % 97}")
                p.call("colorsquare.set_color", [i % 256, 30, 200])

        def browse(p: Pyro4.Proxy, i: int) -> None:
            import httpx

            httpx.get(f"{web}/api/nodes", timeout=10).raise_for_status()
            httpx.post(f"{web}/api/nodes/soak/call", timeout=10, json={
                "command": "scoreboard.add_points", "words": ["1" if i % 2 else "-1"]},
            ).raise_for_status()

        def switch(p: Pyro4.Proxy, i: int) -> None:
            p.switch(["scoreboard", "colorsquare", "timer"][i % 3])
            if i % 3 == 2:
                p.call("timer.start")

        heard = [0]
        with Controller("127.0.0.1", c.ns_port) as ctl, \
                Listener(ctl, ["soak"], lambda record: heard.__setitem__(0, heard[0] + 1)):
            jobs = [
                ("calls", 0.02, calls),
                ("presses", 0.2, lambda p, i: p.press("main")),
                ("snapshots", 1.0, lambda p, i: p.snapshot()),
                ("status", 1.0, lambda p, i: p.status()),
                ("switches", 5.0, switch),
                ("history", 2.0, lambda p, i: p.call("scoreboard.history", 50)),
                ("web", 1.0, browse),
            ]
            threads = [threading.Thread(target=loop, args=job, daemon=True) for job in jobs]
            for t in threads:
                t.start()
            t0 = time.monotonic()
            samples: list[tuple[float, float]] = []
            while (now := time.monotonic() - t0) < seconds:
                samples.append((now, rss_mb(pid)))
                time.sleep(min(1.0, seconds / 20))
            stop.set()
            for t in threads:
                t.join(30)
    after_warm = [r for t, r in samples if t >= warm]
    base = after_warm[0]
    end = sorted(after_warm[-5:])[len(after_warm[-5:]) // 2]
    growth = end - base
    note = (f"{seconds:.0f} s, RSS {base:.1f} MB after {warm:.0f} s warm-up -> {end:.1f} MB; "
            f"{sum(counts.values())} requests ({', '.join(f'{k} {v}' for k, v in counts.items())})"
            f", {heard[0]} events heard by a listener, {web_heard[0]} by the web client")
    if errors:
        note += f"; first error: {errors[0][:200]}"
    return [Row("P10", f"mixed load {seconds:.0f} s", f"+{growth:.1f} MB, {len(errors)} errors",
                f"RSS after warm-up: {base:.1f} MB", "-", f"< {GROWTH:.0f} MB, 0 errors",
                growth < GROWTH and not errors,
                {"samples": samples, "counts": counts, "errors": errors[:20],
                 "events": heard[0], "web_events": web_heard[0]}, note)]
