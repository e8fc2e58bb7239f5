"""Round-trip times of a node's facade next to bare Pyro4, measured in the same run.

    python bench/bench_rtt.py            # >= 2000 calls per figure, both dispatch ways
    python bench/bench_rtt.py --quick    # CI smoke: a few hundred calls

Servers run as their own processes (as on a Pi), the client here. Series are measured in
interleaved blocks so machine noise hits raw and facade alike. Targets (DESIGN/issue 2):
a read <= 1.15x the raw no-op, a change <= 1.3x a raw method doing the same SQLite commit.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import Pyro4
import Pyro4.errors

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.calls import rate  # noqa: E402
from bench.harness import free_port, interleaved, pct, stop  # noqa: E402
from engine.base.pyroconf import harden  # noqa: E402

BLOCK = 100


def start(cmd: list[str], log: Path | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "PYTHONPATH": str(ROOT)}
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child owns it
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def serve_on_a_free_port(
    command: Callable[[int], list[str]], uri: Callable[[int], str], log: Path, tries: int = 3,
) -> tuple[subprocess.Popen[bytes], Pyro4.Proxy]:
    """Start a server on a free port and connect to it; if another process took the port
    meanwhile (its bind fails, or a stranger answers there), start it again on another."""
    for _ in range(tries):
        port = free_port()
        proc = start(command(port), log)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            p = Pyro4.Proxy(uri(port))
            try:
                p._pyroBind()
                return proc, p
            except Pyro4.errors.CommunicationError:
                p._pyroRelease()
                time.sleep(0.1)
        stop([proc])
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise SystemExit(f"could not start {command(0)[:4]} after {tries} tries:\n{tail}")


def colour(i: int) -> list[int]:
    return [i % 256, (i * 7) % 256, 99]


def changes(send: Callable[[Pyro4.Proxy, list[int]], Any]) -> Callable[[Pyro4.Proxy], Any]:
    """``send(proxy, rgb)`` with the next colour on every call, from whichever thread: the
    concurrent changes are real changes."""
    count = itertools.count()
    return lambda p: send(p, colour(next(count)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (CI)")
    parser.add_argument("-n", type=int, default=None, help="calls per figure (default 2000)")
    parser.add_argument("--cpu", type=int, default=0,
                        help="pin client and servers to this core (-1: let the OS place them)")
    args = parser.parse_args()
    placement = "OS-placed"
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        # Whether client and server share a core changes loopback RTT about 1.7x on a 2-core
        # machine, at the scheduler's whim; one core for all (inherited by the servers) makes
        # every figure comparable.
        os.sched_setaffinity(0, {args.cpu})
        placement = f"all on core {args.cpu}"
    n = args.n or (200 if args.quick else 2000)
    harden()
    tmp = Path(tempfile.mkdtemp(prefix="pyrostage-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        proc, raw = serve_on_a_free_port(
            lambda port: [sys.executable, str(ROOT / "bench" / "raw_server.py"), str(port),
                          str(tmp / "raw.sqlite3")],
            lambda port: f"PYRO:raw@127.0.0.1:{port}", tmp / "raw.log")
        procs.append(proc)
        proxies = {}
        for dispatch in ("lock", "inbox"):
            proc, proxies[dispatch] = serve_on_a_free_port(
                lambda port, d=dispatch: [
                    sys.executable, "-m", "engine", "serve", "--name", f"bench-{d}",
                    "--host", "127.0.0.1", "--port", str(port), "--ns-host", "127.0.0.1",
                    "--ns-port", "9", "--headless", "--gpio", "none", "--size", "320x180",
                    "--state-dir", str(tmp / d), "--dispatch", d,
                ],
                lambda port, d=dispatch: f"PYRO:pyrostage.bench-{d}@127.0.0.1:{port}",
                tmp / f"{dispatch}.log")
            procs.append(proc)

        series: dict[str, Callable[[int], Any]] = {
            "raw noop()": lambda i: raw.noop(),
            "raw get()": lambda i: raw.get(),
            "raw call('get_color')": lambda i: raw.call("get_color"),
            "raw commit(rgb)": lambda i: raw.commit(colour(i)),
        }
        for d, p in proxies.items():
            series[f"call('get_color') [{d}]"] = lambda i, p=p: p.call("get_color")
            series[f"call('set_color', rgb) [{d}]"] = (
                lambda i, p=p: p.call("set_color", colour(i)))
        times = interleaved(series, n, block=BLOCK)

        p50 = {k: statistics.median(v) for k, v in times.items()}
        p99 = {k: pct(v, 0.99) for k, v in times.items()}
        base = {"get": "raw noop()", "set": "raw commit(rgb)"}
        print(f"\npyrostage RTT benchmark: {n} calls per figure, Python "
              f"{sys.version.split()[0]}, {os.cpu_count()} cores ({placement}), loopback")
        print(f"{'figure':34} {'p50 us':>9} {'p99 us':>9} {'x raw p50':>10} {'x raw p99':>10}"
              "  target")
        for name in times:
            facade = not name.startswith("raw")
            ref = (base["set"] if "set_color" in name else base["get"]) if facade else None
            ratio50 = f"{p50[name] / p50[ref]:.2f}" if ref else ""
            ratio99 = f"{p99[name] / p99[ref]:.2f}" if ref else ""
            target = ("<= 1.30" if "set_color" in name else "<= 1.15") if facade else ""
            print(f"{name:34} {p50[name] * 1e6:9.0f} {p99[name] * 1e6:9.0f} {ratio50:>10} "
                  f"{ratio99:>10}  {target}")

        threads, per = (8, 25) if args.quick else (8, 250)
        print(f"\nthroughput, {threads} clients x {per} changes each (group commit at work):")
        per_s = rate(str(raw._pyroUri), changes(lambda p, rgb: p.commit(rgb)), threads, per)
        print(f"  {'raw commit(rgb)':32} {per_s:8.0f} calls/s")
        for d, proxy in proxies.items():
            before = proxy.status()["store"]
            per_s = rate(str(proxy._pyroUri), changes(lambda p, rgb: p.call("set_color", rgb)),
                         threads, per)
            after = proxy.status()["store"]
            writes = after["writes"] - before["writes"]
            commits = after["commits"] - before["commits"]
            print(f"  {'set_color [' + d + ']':32} {per_s:8.0f} calls/s, "
                  f"{writes} writes in {commits} commits ({writes / max(1, commits):.1f}/commit)")
        for p in [raw, *proxies.values()]:
            p._pyroRelease()
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
