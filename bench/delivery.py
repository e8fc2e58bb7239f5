"""P12: event delivery at 100 events/s: a press until ``pyrostage watch`` prints its line,
with 50 subscribers attached (one frozen): as many Pyro subscribers as a node takes, the rest
streams of ``pyrostage web``'s ``/api/events``; and a read's round trip during it next to the
same read on the same node without the load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import Pyro4

from engine.remote.events import MAX_SUBSCRIBERS

from .harness import (
    ROOT,
    Row,
    Run,
    cluster,
    cpu_seconds,
    env,
    ms,
    paired,
    pct,
    pin,
    ratio_text,
    serve_raw,
    spread,
    us,
)

SUBSCRIBERS = 50
LATENCY = 0.020
RTT = 1.1
PRESSES = 50
"""Presses a second: each makes two events (button_pressed, screen_changed)."""
BLOCK = 1.0
"""Seconds of presses, then as many without, in turn, while reads are timed."""
SETTLE = 0.1
"""Seconds after a switch whose reads are left out."""


def rtts(p: Pyro4.Proxy, seconds: float) -> list[float]:
    out = []
    end = time.perf_counter() + seconds
    while (t0 := time.perf_counter()) < end:
        p.call("get_color")
        out.append(time.perf_counter() - t0)
        time.sleep(0.002)
    return out


def alternating(p: Pyro4.Proxy, press: Callable[[], Any], seconds: float,
                pid: int | None = None) -> tuple[list[float], list[float], float]:
    """Read round trips to ``p`` for ``seconds`` while ``press`` runs ``PRESSES`` times a
    second in every other block of ``BLOCK`` seconds: (quiet, busy, the CPU percent of
    process ``pid`` in the busy blocks). Reads in blocks of both kinds interleaved, not a
    quiet run then a busy one, so a machine that drifts between them moves both alike; the
    reads just after a switch are left out (pushes of the last presses still going out)."""
    phase: dict[str, Any] = {"busy": False, "since": time.perf_counter()}
    cpu = [0.0, 0.0]  # CPU seconds, wall seconds in busy blocks
    end = time.monotonic() + seconds - BLOCK

    def presser() -> None:
        period = 1 / PRESSES
        while (now := time.monotonic()) < end:
            c0 = cpu_seconds(pid) if pid else 0.0
            phase.update(busy=True, since=time.perf_counter())
            next_at, stop = now, now + BLOCK
            while next_at < stop:
                press()
                next_at += period
                time.sleep(max(0.0, next_at - time.monotonic()))
            phase.update(busy=False, since=time.perf_counter())
            if pid:
                cpu[0] += cpu_seconds(pid) - c0
                cpu[1] += time.monotonic() - now
            time.sleep(max(0.0, BLOCK - (time.monotonic() - stop)))

    t = threading.Thread(target=presser)
    t.start()
    quiet: list[float] = []
    busy: list[float] = []
    while time.monotonic() < end:
        was_busy, since = phase["busy"], phase["since"]
        t0 = time.perf_counter()
        p.call("get_color")
        t1 = time.perf_counter()
        if phase["since"] == since and t0 - since > SETTLE:  # all of it in one block
            (busy if was_busy else quiet).append(t1 - t0)
        time.sleep(0.002)
    t.join()
    return quiet, busy, cpu[0] / cpu[1] * 100 if cpu[1] else 0.0


def delivery_rows(run: Run, only: set[str]) -> list[Row]:
    """On two cores or more the node, this process (the caller measuring round trips, the
    presser) and ``watch`` (the subscriber whose lines are timed) share one core and the 49
    other readers (the web, the subscribers, the streams) get the others: the figures are then
    the node's and watch's, not those of 49 readers sharing one core (a camp's are phones and
    laptops, each with a core of its own)."""
    mine = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    cores = sorted(mine)
    try:
        if len(cores) >= 2:
            os.sched_setaffinity(0, set(cores[1:]))  # inherited by every process started
        return measure(run, cores[0] if len(cores) >= 2 else None)
    finally:
        if len(cores) >= 2:
            os.sched_setaffinity(0, mine)


def measure(run: Run, node_core: int | None) -> list[Row]:
    seconds = run.n(24, 4)
    reps = run.n(run.reps, 2)
    with cluster(run.tmp) as c:
        config = c.tmp / "fast-buttons.toml"
        config.write_text("[gpio]\ndebounce_ms = 0\n")
        c.start_node("ev", "1280x720", "--mode", "colorsquare", "--config", str(config))
        uri = c.wait()["ev"]
        if node_core is not None:
            pin(c.nodes["ev"].pid, {node_core})
        node = Pyro4.Proxy(uri)
        watch = subprocess.Popen(
            [str(Path(sys.executable).parent / "pyrostage"), "watch", "--json", "--ns-port",
             str(c.ns_port), "ev"], cwd=ROOT, env=env(), stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        c.procs.append(watch)  # type: ignore[arg-type]
        if node_core is not None:  # the subscriber measured: its own machine in a camp
            pin(watch.pid, {node_core})
        heard: dict[float, float] = {}  # press instant -> when watch printed it
        lines = [0]

        def read() -> None:
            """Times watch's lines on watch's core: on the readers' one the time a line is
            read would include their crowd's."""
            if node_core is not None:
                os.sched_setaffinity(0, {node_core})  # this thread
            assert watch.stdout is not None
            for line in watch.stdout:
                t = time.monotonic()
                lines[0] += 1
                record = json.loads(line)
                if record.get("name") == "button_pressed":
                    heard[float(record["data"]["at"])] = t

        threading.Thread(target=read, daemon=True).start()
        web = c.start_web()
        streams = subprocess.Popen([sys.executable, str(ROOT / "bench" / "streams.py"), web,
                                    str(SUBSCRIBERS - MAX_SUBSCRIBERS + 1)], cwd=ROOT,
                                   env=env(), text=True, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE)  # the web's own is one of the node's
        c.procs.append(streams)  # type: ignore[arg-type]
        assert streams.stdout is not None
        if streams.stdout.readline().strip() != "ready":
            raise RuntimeError("the web event streams did not open")
        deadline = time.monotonic() + 30
        while node.status()["events"]["subscribers"] < 2:  # watch, and the web's listener
            if time.monotonic() > deadline:
                raise RuntimeError("watch and the web did not subscribe")
            time.sleep(0.05)
        others = MAX_SUBSCRIBERS - 3  # watch, the web and the frozen one
        subs = []
        for count in (1, others):
            proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "subscribers.py"),
                                     uri, str(count)], cwd=ROOT, env=env(), text=True,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            c.procs.append(proc)  # type: ignore[arg-type]
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("the subscribers could not subscribe")
            subs.append(proc)
        frozen = subs[0]
        bare_subs = [subprocess.Popen([sys.executable, str(ROOT / "bench" / "subscribers.py"),
                                       "-", str(count)], cwd=ROOT, env=env(), text=True,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                     for count in (1, MAX_SUBSCRIBERS - 1)]
        bare_uris: list[str] = []
        for proc in bare_subs:
            c.procs.append(proc)  # type: ignore[arg-type]
            assert proc.stdout is not None
            ready, *uris = proc.stdout.readline().split()
            if ready != "ready":
                raise RuntimeError("the bare subscribers did not start")
            bare_uris += uris
        if node_core is not None:  # the others stay where they started
            os.sched_setaffinity(0, {node_core})
        raw = serve_raw(c)  # on the node's core: the same pushes from a bare Pyro4 server
        subscribed = node.status()["events"]["subscribers"]
        frozen.send_signal(signal.SIGSTOP)
        bare_subs[0].send_signal(signal.SIGSTOP)
        latencies: list[float] = []
        presser = Pyro4.Proxy(uri)
        bare_presser = Pyro4.Proxy(raw._pyroUri)

        def once() -> dict[str, float]:
            seq = node.events_since(0)["seq"]
            quiet, busy, cpu = alternating(node, lambda: presser.press("main"), seconds,
                                           c.nodes["ev"].pid)
            time.sleep(0.5)
            pressed = [float(r["data"]["at"]) for r in node_records(node, seq)
                       if r["name"] == "button_pressed"]
            missing = [at for at in pressed if at not in heard]
            latencies.extend(heard[at] - at for at in pressed if at in heard)
            raw.subscribe(bare_uris)
            bare_quiet, bare_busy, _ = alternating(raw, bare_presser.press, seconds)
            raw.subscribe(bare_uris, True)
            work_quiet, bare_work, _ = alternating(raw, bare_presser.press, seconds)
            raw.unsubscribe()
            return {"quiet p50": pct(quiet, 0.5), "busy p50": pct(busy, 0.5),
                    "quiet p99": pct(quiet, 0.99), "busy p99": pct(busy, 0.99),
                    "missing": len(missing), "presses": len(pressed), "node_cpu": cpu,
                    "bare quiet p50": pct(bare_quiet, 0.5), "bare busy p50": pct(bare_busy, 0.5),
                    "work quiet p50": pct(work_quiet, 0.5), "bare work p50": pct(bare_work, 0.5)}

        figures = paired(reps, once)
        frozen.send_signal(signal.SIGCONT)
        bare_subs[0].send_signal(signal.SIGCONT)
        for proc in subs + bare_subs:
            proc.communicate("", timeout=30)
        raw._pyroRelease()
        bare_presser._pyroRelease()
        got = [int(n) for n in streams.communicate("", timeout=30)[0].split()]
        presser._pyroRelease()
        node._pyroRelease()
    p50, p99 = pct(latencies, 0.5), pct(latencies, 0.99)
    ratios = [a / b for a, b in zip(figures["busy p50"], figures["quiet p50"], strict=True)]
    bare = [a / b for a, b in zip(figures["bare busy p50"], figures["bare quiet p50"],
                                  strict=True)]
    work = [a / b for a, b in zip(figures["bare work p50"], figures["work quiet p50"],
                                  strict=True)]
    missing = int(sum(figures["missing"]))
    note = (f"{subscribed} Pyro subscribers on the node (its most: watch, the web, {others} "
            f"counting, 1 frozen by SIGSTOP) and {len(got)} web event streams "
            f"(records each: {min(got)}-{max(got)}); "
            f"{2 * PRESSES} events/s in every other {BLOCK:g} s block, the node at "
            f"{spread(figures['node_cpu'])[0]:.0f} % CPU in them; {missing} of "
            f"{int(sum(figures['presses']))} presses never reached watch; "
            + (f"node, caller and watch on core {node_core}, the other readers on the others"
               if node_core is not None else "one core for all"))
    return [
        Row("P12", "press -> watch line, 100 events/s", f"p50 {ms(p50)}, p99 {ms(p99)}",
            "-", "-", f"p99 <= {ms(LATENCY)}", p99 <= LATENCY and missing == 0,
            {"latencies": latencies, "streams": got, **figures}, note),
        Row("P12", "read RTT during it (p50)", us(spread(figures["busy p50"])[0]),
            f"same node, no events: {us(spread(figures['quiet p50'])[0])}",
            ratio_text(ratios), f"<= {RTT}x", spread(ratios)[0] <= RTT, {"ratios": ratios}),
        Row("P12", "bare Pyro4 making the same pushes: its RTT",
            us(spread(figures["bare busy p50"])[0]),
            f"no pushes: {us(spread(figures['bare quiet p50'])[0])}", ratio_text(bare),
            "- (the floor)", None, {"ratios": bare},
            f"a bare server on the node's core, pressed {PRESSES} times a second, pushing a "
            f"press's two records to {MAX_SUBSCRIBERS} subscribers (1 frozen), one thread "
            "each, and nothing else: what the pushes alone cost a read's round trip"),
        Row("P12", "bare Pyro4 doing a press's work too: its RTT",
            us(spread(figures["bare work p50"])[0]),
            f"no pushes: {us(spread(figures['work quiet p50'])[0])}", ratio_text(work),
            "- (the floor)", None, {"ratios": work},
            "the same pushes, each press first doing the durable commit and the 1280x720 "
            "frame (fill and a line of text) a node's colour square does: a bare server doing "
            "the node's work for 100 events/s"),
    ]


def node_records(node: Pyro4.Proxy, seq: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = node.events_since(seq)
        out += page["events"]
        if not page["more"]:
            return out
        seq = out[-1]["seq"]
