"""How together a race starts on four nodes: pyrostage's start instant (sent to each node in its
own clock) next to the original camp page's way (``start()`` sent to one node after another),
measured in the same run against four ``pyrostage serve`` processes on this machine.

    python bench/bench_race.py            # 10 races and 10 sequential starts
    python bench/bench_race.py --quick    # CI smoke: 2 of each

On one machine every node's stage clock is the same system-wide monotonic clock, so the start
instants the nodes were given can be compared directly: their spread is what the clock
measurement got wrong. Reported per race: that spread, the largest clock error bound the race
promised (half the best round trip plus drift), and when "GO" was first drawn on each screen
after the instant (the visual skew, frame timing, reported separately).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import Pyro4  # noqa: E402
from bench_rtt import serve_on_a_free_port, start  # noqa: E402

from engine.control.controller import Controller  # noqa: E402
from engine.control.events import Listener  # noqa: E402
from engine.control.fleet import Fleet  # noqa: E402
from engine.control.race import Race  # noqa: E402

NODES = ("red", "blue", "green", "gold")


def one_race(fleet: Fleet, ctl: Controller) -> dict[str, float]:
    race = Race(fleet, ",".join(NODES), listen=lambda nodes, consumer: Listener(
        ctl, nodes, consumer), start_in=1.5, timeout=1.0)
    final = race.run()
    starts = [lane.start for lane in race.lanes.values()]  # one machine: one monotonic clock
    skew = final["visual_skew"].values()
    return {"spread": max(starts) - min(starts),
            "bound": max(c["error_bound"] for c in final["clock"].values()),
            "skew_min": min(skew, default=float("nan")),
            "skew_max": max(skew, default=float("nan"))}


def sequential_start(ctl: Controller) -> float:
    """The original page's way: ``start()`` each timer in turn; the spread between the first
    and the last one's start (each taken when its call returned: one machine, one clock)."""
    for node in NODES:
        ctl.call(node, "timer.reset")
    started = []
    for node in NODES:
        ctl.call(node, "timer.start")
        started.append(time.monotonic())
    for node in NODES:
        ctl.call(node, "timer.stop")
    return max(started) - min(started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run for CI")
    runs = 2 if parser.parse_args().quick else 10
    with tempfile.TemporaryDirectory() as state:
        ns, ns_proxy = serve_on_a_free_port(
            lambda port: [sys.executable, "-m", "engine", "ns", "--port", str(port)],
            lambda port: f"PYRO:Pyro.NameServer@127.0.0.1:{port}", Path(state) / "ns.log")
        ns_proxy._pyroRelease()
        port = Pyro4.URI(ns_proxy._pyroUri).port
        nodes = [start([sys.executable, "-m", "engine", "serve", "--name", name, "--headless",
                        "--gpio", "none", "--ns-port", str(port), "--state-dir", state,
                        "--size", "1280x720"]) for name in NODES]
        try:
            with Controller("127.0.0.1", port) as ctl, Fleet(ctl, timeout=10) as fleet:
                deadline = time.monotonic() + 60
                while {n.name for n in ctl.nodes()} < set(NODES):
                    if time.monotonic() > deadline:
                        raise SystemExit("the nodes did not come up")
                    time.sleep(0.3)
                races: list[dict[str, float]] = []
                naive: list[float] = []
                for _ in range(runs):  # interleaved, so machine noise hits both alike
                    races.append(one_race(fleet, ctl))
                    naive.append(sequential_start(ctl))
        finally:
            for proc in (*nodes, ns):
                proc.terminate()
                proc.wait(10)
    report(races, naive)


def report(races: list[dict[str, Any]], naive: list[float]) -> None:
    def ms(values: list[float]) -> str:
        return (f"median {statistics.median(values) * 1000:.2f} ms "
                f"({min(values) * 1000:.2f}-{max(values) * 1000:.2f})")

    spread = [r["spread"] for r in races]
    print(f"{len(races)} races of {len(NODES)} nodes on this machine")
    print(f"start spread, one instant per node clock: {ms(spread)}")
    print(f"start spread, start() one node after another: {ms(naive)}")
    print(f"ratio: {statistics.median(spread) / statistics.median(naive):.3f}x of the "
          "sequential start")
    print(f"clock error bound promised: {ms([r['bound'] for r in races])}")
    print(f"GO first drawn after the instant: earliest {ms([r['skew_min'] for r in races])}, "
          f"latest {ms([r['skew_max'] for r in races])}")


if __name__ == "__main__":
    main()
