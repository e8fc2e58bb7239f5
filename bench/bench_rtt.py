"""Round-trip times of a node's facade next to bare Pyro4, measured in the same run.

    python bench/bench_rtt.py            # >= 2000 calls per figure, both dispatch ways
    python bench/bench_rtt.py --quick    # CI smoke: a few hundred calls

Servers run as their own processes (as on a Pi), the client here. Series are measured in
interleaved blocks so machine noise hits raw and facade alike. Targets (DESIGN/issue 2):
a read <= 1.15x the raw no-op, a change <= 1.3x a raw method doing the same SQLite commit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import Pyro4
import Pyro4.errors

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.base.pyroconf import harden  # noqa: E402

BLOCK = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        proc.terminate()
        proc.wait(10)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise SystemExit(f"could not start {command(0)[:4]} after {tries} tries:\n{tail}")


def measure(series: dict[str, Callable[[int], Any]], n: int) -> dict[str, list[float]]:
    """Run every series in interleaved blocks until each has ``n`` samples (seconds)."""
    times: dict[str, list[float]] = {name: [] for name in series}
    for fn in series.values():  # warm up connections and caches
        for i in range(20):
            fn(i)
    done = 0
    while done < n:
        block = min(BLOCK, n - done)
        for name, fn in series.items():
            samples = times[name]
            for i in range(done, done + block):
                t0 = time.perf_counter()
                fn(i)
                samples.append(time.perf_counter() - t0)
        done += block
    return times


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def concurrent_rate(make: Callable[[], Pyro4.Proxy], call: Callable[[Pyro4.Proxy, int], Any],
                    threads: int, per_thread: int) -> float:
    """Calls per second with ``threads`` clients, each on its own connection."""
    proxies = [make() for _ in range(threads)]
    for p in proxies:
        call(p, 0)
    barrier = threading.Barrier(threads + 1)

    def run(p: Pyro4.Proxy) -> None:
        barrier.wait()
        for i in range(per_thread):
            call(p, i)

    workers = [threading.Thread(target=run, args=(p,)) for p in proxies]
    for w in workers:
        w.start()
    barrier.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    rate = threads * per_thread / (time.perf_counter() - t0)
    for p in proxies:
        p._pyroRelease()
    return rate


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

        def colour(i: int) -> list[int]:
            return [i % 256, (i * 7) % 256, 99]

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
        times = measure(series, n)

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
        rate = concurrent_rate(lambda: Pyro4.Proxy(raw._pyroUri),
                               lambda p, i: p.commit(colour(i)), threads, per)
        print(f"  {'raw commit(rgb)':32} {rate:8.0f} calls/s")
        for d, proxy in proxies.items():
            before = proxy.status()["store"]
            rate = concurrent_rate(lambda uri=proxy._pyroUri: Pyro4.Proxy(uri),
                                   lambda p, i: p.call("set_color", colour(i)), threads, per)
            after = proxy.status()["store"]
            writes = after["writes"] - before["writes"]
            commits = after["commits"] - before["commits"]
            print(f"  {'set_color [' + d + ']':32} {rate:8.0f} calls/s, "
                  f"{writes} writes in {commits} commits ({writes / max(1, commits):.1f}/commit)")
        for p in [raw, *proxies.values()]:
            p._pyroRelease()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
