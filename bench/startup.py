"""P7: ``pyrostage serve`` start -> registered and its memory, next to a process that only
imports pygame, Pyro4 and pluggy; P11: ``pyrostage ctl NODE status`` end to end next to a
five-line bare Pyro4 script doing the same call. Each a fresh process, interleaved."""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import Pyro4
import Pyro4.errors

from .harness import ROOT, Row, Run, cluster, env, ms, paired, proxy, ratio_text, rss_mb, spread

START = 1.0
RSS = 60.0
CLI = 1.5
IMPORTS = ("import pygame, Pyro4, pluggy, pathlib; "
           "print(int(pathlib.Path('/proc/self/statm').read_text().split()[1]))")
BARE = """\
import Pyro4
Pyro4.config.SERIALIZER = "serpent"
ns = Pyro4.locateNS("127.0.0.1", {port})
with Pyro4.Proxy(ns.lookup("pyrostage.red")) as red:
    print(red.status()["mode"])
"""


def start_rows(run: Run, only: set[str]) -> list[Row]:
    reps = run.n(run.reps, 2)
    page = 4096
    with cluster(run.tmp, trace=False) as c:
        ns_port = c.start_ns()
        count = [0]

        def once() -> dict[str, float]:
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", IMPORTS], env=env(), cwd=ROOT,
                                  capture_output=True, check=True)
            imports = time.perf_counter() - t0
            imports_rss = int(done.stdout.split()[-1]) * page / 1e6
            count[0] += 1
            name = f"start{count[0]}"
            t0 = time.perf_counter()
            proc = c.start_node(name, "1280x720")
            with proxy(f"PYRO:Pyro.NameServer@127.0.0.1:{ns_port}", 5) as ns:
                while True:
                    with suppress(Pyro4.errors.NamingError):
                        ns.lookup(f"pyrostage.{name}")
                        break
                    if proc.poll() is not None or time.perf_counter() - t0 > 60:
                        raise SystemExit(f"node {name} did not register:\n{c.log_tail(name)}")
                    time.sleep(0.01)
            started = time.perf_counter() - t0
            time.sleep(1.0)  # settled: first frame drawn, threads up
            rss = rss_mb(proc.pid)
            proc.terminate()
            proc.wait(10)
            return {"start": started, "imports": imports, "rss": rss, "imports_rss": imports_rss}

        figures = paired(reps, once)
    ratios = [a / b for a, b in zip(figures["start"], figures["imports"], strict=True)]
    start, rss = spread(figures["start"])[0], spread(figures["rss"])[0]
    rss_ratios = [a / b for a, b in zip(figures["rss"], figures["imports_rss"], strict=True)]
    return [
        Row("P7", "serve start -> registered", ms(start),
            f"imports only: {ms(spread(figures['imports'])[0])}", ratio_text(ratios),
            f"<= {START:.1f} s", start <= START, {**figures, "ratios": ratios},
            f"start {min(figures['start']):.2f}-{max(figures['start']):.2f} s"),
        Row("P7", "RSS after start", f"{rss:.0f} MB",
            f"imports only: {spread(figures['imports_rss'])[0]:.0f} MB", ratio_text(rss_ratios),
            f"<= {RSS:.0f} MB", rss <= RSS, {"rss": figures["rss"], "ratios": rss_ratios}),
    ]


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env(), cwd=ROOT, capture_output=True, timeout=60)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed: {done.stderr.decode()[-500:]}")
    return took


def cli_rows(run: Run, only: set[str]) -> list[Row]:
    runs = run.n(15, 3)
    with cluster(run.tmp, trace=False) as c:
        c.start_node("red", "320x180")
        c.wait()
        cli = [str(Path(sys.executable).parent / "pyrostage"), "ctl", "--ns-port",
               str(c.ns_port), "red", "status"]
        bare = [sys.executable, "-c", BARE.format(port=c.ns_port)]
        timed(cli)  # byte-code caches written, files in the page cache
        timed(bare)
        figures = paired(runs, lambda: {"cli": timed(cli), "bare": timed(bare)})
    ratios = [a / b for a, b in zip(figures["cli"], figures["bare"], strict=True)]
    med = spread(ratios)[0]
    return [Row("P11", "ctl NODE status end to end", ms(spread(figures["cli"])[0]),
                f"bare script: {ms(spread(figures['bare'])[0])}", ratio_text(ratios),
                f"<= {CLI}x", med <= CLI, {**figures, "ratios": ratios})]
