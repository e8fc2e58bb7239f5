"""P1, P2, P4: a node's round trips and throughput next to a bare Pyro4 server doing the same
work (``raw_server.py``), in interleaved blocks, in paired repetitions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import Pyro4

from . import slowdisk
from .harness import (
    Row,
    Run,
    cluster,
    cpu_seconds,
    interleaved,
    paired,
    pct,
    ratio_text,
    serve_raw,
    spread,
    us,
)

TARGET_READ = 1.15
TARGET_CHANGE = 1.3
TARGET_WRITERS = 1.2


def rtt_rows(run: Run, only: set[str]) -> list[Row]:
    """P1 (a read) and P2 (durable changes); P2 also on an SD card's slow fsync."""
    rows = _rtt_rows(run, only, run.n(2000, 150), None, "")
    card = slowdisk.env(run.tmp) if "P2" in only else None
    if card is not None:
        rows += _rtt_rows(run, {"P2"}, run.n(300, 30), card, SD_CARD)
    return rows


SD_CARD = f" (SD card: fsync +{slowdisk.SD_CARD_US / 1000:g} ms)"


def _rtt_rows(run: Run, only: set[str], n: int, extra_env: dict[str, str] | None,
              where: str) -> list[Row]:
    reps = run.n(run.reps, 2)
    rows: list[Row] = []
    with cluster(run.tmp, trace=False, extra_env=extra_env) as c:
        c.start_node("score", "1280x720", "--mode", "scoreboard")
        c.start_node("color", "1280x720", "--mode", "colorsquare")
        c.start_node("read", "1280x720", "--mode", "scoreboard")  # P1's: not counting up
        raw = serve_raw(c)
        uris = c.wait(["score", "color", "read"])
        score, color = Pyro4.Proxy(uris["score"]), Pyro4.Proxy(uris["color"])
        read = Pyro4.Proxy(uris["read"])

        def rgb(i: int) -> list[int]:
            return [i % 256, (i * 7) % 256, 99]

        series: dict[str, Callable[[int], Any]] = {}
        if "P1" in only:
            series["raw noop()"] = lambda i: raw.noop()
            series["get_score"] = lambda i: read.call("get_score")
        if "P2" in only:
            series["raw score(1)"] = lambda i: raw.score(1)
            series["add_points 1"] = lambda i: score.call("add_points", 1)
            series["raw commit(rgb)"] = lambda i: raw.commit(rgb(i))
            series["set_color rgb"] = lambda i: color.call("set_color", rgb(i))

        def once() -> dict[str, float]:
            times = interleaved(series, n, block=min(50, n))
            out = {}
            for name, samples in times.items():
                out[f"{name} p50"] = pct(samples, 0.5)
                out[f"{name} p99"] = pct(samples, 0.99)
            return out

        figures = paired(reps, once)
        for p in (raw, score, color, read):
            p._pyroRelease()

    def row(pid: str, scenario: str, subject: str, reference: str, target: float) -> None:
        for q in ("p50", "p99"):
            mine, ref = figures[f"{subject} {q}"], figures[f"{reference} {q}"]
            ratios = [a / b for a, b in zip(mine, ref, strict=True)]
            med = spread(ratios)[0]
            rows.append(Row(
                pid, f"{scenario} {q}{where}", us(spread(mine)[0]),
                f"{reference}: {us(spread(ref)[0])}", ratio_text(ratios), f"<= {target:.2f}x",
                med <= target,
                {"subject": mine, "reference": ref, "ratios": ratios, "calls": n, "reps": reps,
                 "env": extra_env or {}}))

    if "P1" in only:
        row("P1", "read get_score RTT", "get_score", "raw noop()", TARGET_READ)
    if "P2" in only:
        row("P2", "add_points durable RTT", "add_points 1", "raw score(1)", TARGET_CHANGE)
        row("P2", "set_color durable RTT", "set_color rgb", "raw commit(rgb)", TARGET_CHANGE)
    return rows


def rate(uri: str, call: Callable[[Pyro4.Proxy], Any], threads: int, per: int) -> float:
    """Calls per second with ``threads`` controllers, each on its own connection."""
    proxies = [Pyro4.Proxy(uri) for _ in range(threads)]
    for p in proxies:
        p._pyroBind()
    barrier = threading.Barrier(threads + 1)

    def work(p: Pyro4.Proxy) -> None:
        barrier.wait()
        for _ in range(per):
            call(p)

    workers = [threading.Thread(target=work, args=(p,)) for p in proxies]
    for w in workers:
        w.start()
    barrier.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    took = time.perf_counter() - t0
    for p in proxies:
        p._pyroRelease()
    return threads * per / took


def writers_rows(run: Run, only: set[str]) -> list[Row]:
    """P4: 8 controllers x 1000 add_points, the total exact; also on an SD card's slow fsync
    (fewer calls: the bare server's lock queues a 5 ms fsync per call), where group commit is
    what the target is about."""
    rows = [_writers(run, run.n(1000, 60), None, "")]
    card = slowdisk.env(run.tmp)
    if card is not None:
        rows.append(_writers(run, run.n(200, 20), card, SD_CARD))
    return rows


def _writers(run: Run, per: int, extra_env: dict[str, str] | None, where: str) -> Row:
    threads = 8
    reps = run.n(run.reps, 2)
    with cluster(run.tmp, trace=False, extra_env=extra_env) as c:
        c.start_node("score", "1280x720", "--mode", "scoreboard")
        raw = serve_raw(c)
        uri = c.wait(["score"])["score"]
        raw_uri = str(raw._pyroUri)
        node = Pyro4.Proxy(uri)
        exact = True
        totals: list[int] = []
        commits: list[float] = []
        cpu: dict[str, list[float]] = {"node": [], "raw": []}
        pids = {"node": c.nodes["score"].pid, "raw": c.nodes["raw"].pid}

        def once() -> dict[str, float]:
            nonlocal exact
            before = node.call("get_score")
            store0 = node.status()["store"]
            cpu0 = cpu_seconds(pids["node"])
            mine = rate(uri, lambda p: p.call("add_points", 1), threads, per)
            cpu["node"].append((cpu_seconds(pids["node"]) - cpu0) / (threads * per))
            store1 = node.status()["store"]
            cpu0 = cpu_seconds(pids["raw"])
            ref = rate(raw_uri, lambda p: p.score(1), threads, per)
            cpu["raw"].append((cpu_seconds(pids["raw"]) - cpu0) / (threads * per))
            after = node.call("get_score")
            totals.append(after - before)
            exact = exact and after - before == threads * per
            writes = store1["writes"] - store0["writes"]
            commits.append(writes / max(1, store1["commits"] - store0["commits"]))
            return {"node": mine, "raw": ref}

        node.call("set_score", 0)
        figures = paired(reps, once)
        node._pyroRelease()
        raw._pyroRelease()
    ratios = [a / b for a, b in zip(figures["node"], figures["raw"], strict=True)]
    med = spread(ratios)[0]
    return Row(
        "P4", f"{threads} writers x {per} add_points{where}",
        f"{spread(figures['node'])[0]:.0f} calls/s",
        f"bare + lock: {spread(figures['raw'])[0]:.0f} calls/s", ratio_text(ratios),
        f">= {TARGET_WRITERS:.1f}x, total exact", med >= TARGET_WRITERS and exact,
        {"node": figures["node"], "raw": figures["raw"], "ratios": ratios, "totals": totals,
         "exact": exact, "writes_per_commit": commits, "cpu_per_call": cpu,
         "env": extra_env or {}},
        f"total {'exact' if exact else 'WRONG'} ({totals[0]} per run); "
        f"{spread(commits)[0] / 2:.1f} changes per commit; CPU per call: node "
        f"{us(spread(cpu['node'])[0])}, bare {us(spread(cpu['raw'])[0])} (one interpreter: "
        f"the node can take at most {1 / spread(cpu['node'])[0]:.0f} changes/s)")
