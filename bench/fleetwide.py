"""P5: a durable ``set_color`` broadcast to 32 nodes next to the same calls one after another;
P9: a race across 8 nodes whose clocks run off (offset and drift), its start instants and GO
frames in true time (one machine: every node's clock maps back to ours exactly)."""

from __future__ import annotations

import os
import random
import sys
import time
from typing import Any

from engine.control.controller import Controller
from engine.control.events import Listener
from engine.control.fleet import Fleet
from engine.control.race import Race

from .harness import FRAME, ROOT, Row, Run, cluster, cpu_seconds, ms, paired, ratio_text, spread
from .skewed_node import true_time

BROADCAST = 0.35
START_SPREAD = 0.002


def broadcast_rows(run: Run, only: set[str]) -> list[Row]:
    count = run.n(32, 8)
    reps = run.n(10, 3)
    names = [f"n{i:02d}" for i in range(count)]
    with cluster(run.tmp, trace=False) as c:
        for name in names:
            c.start_node(name, "1280x720", "--mode", "colorsquare")
        c.wait(timeout=300)
        pids = [c.nodes[n].pid for n in names]
        with Controller("127.0.0.1", c.ns_port) as ctl, Fleet(ctl, timeout=30) as fleet:
            colour = [0]

            def rgb() -> list[int]:
                colour[0] += 1
                return [colour[0] % 256, 40, 99]

            for name in names:  # connections made, commands known: both sides warm
                ctl.call(name, "set_color", rgb())
            fleet.call(names, "set_color", rgb()).values_or_raise()

            def once() -> dict[str, float]:
                cpu0 = sum(cpu_seconds(p) for p in pids) + cpu_seconds(os.getpid())
                t0 = time.perf_counter()
                fleet.call(names, "set_color", rgb()).values_or_raise()
                wide = time.perf_counter() - t0
                cpu = sum(cpu_seconds(p) for p in pids) + cpu_seconds(os.getpid()) - cpu0
                time.sleep(0.1)
                t0 = time.perf_counter()
                for name in names:
                    ctl.call(name, "set_color", rgb())
                one_by_one = time.perf_counter() - t0
                time.sleep(0.1)
                return {"broadcast": wide, "sequential": one_by_one, "cpu": cpu}

            figures = paired(reps, once)
    ratios = [a / b for a, b in zip(figures["broadcast"], figures["sequential"], strict=True)]
    cores = os.cpu_count() or 1
    floors = [cpu / cores / seq for cpu, seq in zip(figures["cpu"], figures["sequential"],
                                                     strict=True)]
    med = spread(ratios)[0]
    return [Row("P5", f"broadcast set_color to {count} nodes",
                ms(spread(figures["broadcast"])[0]),
                f"one after another: {ms(spread(figures['sequential'])[0])}", ratio_text(ratios),
                f"<= {BROADCAST}x", med <= BROADCAST,
                {**figures, "ratios": ratios, "cpu_floor_ratios": floors, "cores": cores},
                f"{cores}-core floor (CPU the broadcast used / {cores} cores): "
                f"{ratio_text(floors)} of the sequential time")]


def race_rows(run: Run, only: set[str]) -> list[Row]:
    count = 8
    races = run.n(10, 2)
    rng = random.Random(11)
    clocks = {f"r{i}": (rng.uniform(-5, 5), rng.uniform(-100, 100)) for i in range(count)}
    base = time.monotonic()
    with cluster(run.tmp) as c:
        c.start_ns()
        for name, (offset, ppm) in clocks.items():
            c.start_node(name, cmd=[sys.executable, str(ROOT / "bench" / "skewed_node.py"), name,
                                    str(c.ns_port), str(c.tmp / name), repr(offset), repr(ppm),
                                    repr(base)])
        c.wait(timeout=120)
        names = list(clocks)
        results: list[dict[str, Any]] = []
        with Controller("127.0.0.1", c.ns_port) as ctl, Fleet(ctl, timeout=10) as fleet:
            for _ in range(races):
                race = Race(fleet, ",".join(names), listen=lambda nodes, consumer: Listener(
                    ctl, nodes, consumer), start_in=1.5, timeout=1.0)
                final = race.run()
                starts, shown = {}, {}
                traces = fleet.member(names, "status").values_or_raise()
                for name, lane in race.lanes.items():
                    offset, ppm = clocks[name]
                    starts[name] = true_time(lane.start, offset, ppm * 1e-6, base)
                    go = next((s for d, s, _ in traces[name]["trace"]["frames"]
                               if d >= lane.start), None)
                    if go is not None:
                        shown[name] = true_time(go, offset, ppm * 1e-6, base)
                results.append({
                    "start_spread": max(starts.values()) - min(starts.values()),
                    "go_spread": (max(shown.values()) - min(shown.values())
                                  if len(shown) == len(names) else float("inf")),
                    "bound": max(v["error_bound"] for v in final["clock"].values()),
                    "go_late": max(shown[n] - starts[n] for n in shown) if shown else None})
    start = [r["start_spread"] for r in results]
    go = [r["go_spread"] for r in results]
    bound = [r["bound"] for r in results]
    s50, s_max = spread(start)[0], max(start)
    g50, g_max = spread(go)[0], max(go)
    data = {"races": results, "clocks": clocks}
    return [
        Row("P9", f"race start, {count} nodes, skewed clocks",
            f"spread {ms(s50)} (max {ms(s_max)})", f"error bound {ms(spread(bound)[0])}", "-",
            f"<= {ms(START_SPREAD)}", s_max <= START_SPREAD, data,
            f"clocks offset +-5 s, drift +-100 ppm; {races} races; the error bound the race "
            f"promised: {ms(min(bound))}-{ms(max(bound))}"),
        Row("P9", "race GO frames shown", f"spread {ms(g50)} (max {ms(g_max)})",
            f"1 frame: {ms(FRAME)}", f"{g_max / FRAME:.2f} frames", "<= 1 frame",
            g_max <= FRAME, {}),
    ]
