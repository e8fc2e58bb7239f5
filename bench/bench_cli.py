"""``pyrostage ctl NODE status`` end to end, next to a five-line bare Pyro4 script doing the
same call, measured side by side in the same run (each a fresh process, as a counsellor's
terminal runs them).

    python bench/bench_cli.py            # 15 runs of each
    python bench/bench_cli.py --quick    # CI smoke: 3 runs of each

Target (issue 8): the CLI within 1.5x the bare script.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import Pyro4  # noqa: E402
from bench_rtt import serve_on_a_free_port, start  # noqa: E402

BARE = """\
import Pyro4
Pyro4.config.SERIALIZER = "serpent"
ns = Pyro4.locateNS("127.0.0.1", {port})
with Pyro4.Proxy(ns.lookup("pyrostage.red")) as red:
    print(red.status()["mode"])
"""


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, timeout=60)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed: {done.stderr.decode()[-500:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run for CI")
    runs = 3 if parser.parse_args().quick else 15
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "PYTHONPATH": str(ROOT)}
    env.pop("PYROSTAGE_HMAC_KEY", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: compiled once, then cached
    with tempfile.TemporaryDirectory() as state:
        ns, ns_proxy = serve_on_a_free_port(
            lambda port: [sys.executable, "-m", "engine", "ns", "--port", str(port)],
            lambda port: f"PYRO:Pyro.NameServer@127.0.0.1:{port}", Path(state) / "ns.log")
        ns_proxy._pyroRelease()
        port = Pyro4.URI(ns_proxy._pyroUri).port
        node = start([sys.executable, "-m", "engine", "serve", "--name", "red", "--headless",
                      "--gpio", "none", "--ns-port", str(port), "--state-dir", state])
        try:
            cli = [str(Path(sys.executable).parent / "pyrostage"), "ctl", "--ns-port", str(port),
                   "red", "status"]
            bare = [sys.executable, "-c", BARE.format(port=port)]
            deadline = time.monotonic() + 60
            while subprocess.run(bare, env=env, capture_output=True).returncode != 0:
                if time.monotonic() > deadline:
                    raise SystemExit("the node did not come up")
                time.sleep(0.3)
            timed(cli, env)  # warm up: byte-code caches written, files in the page cache
            cli_times, bare_times = [], []
            for _ in range(runs):  # interleaved, so machine noise hits both alike
                cli_times.append(timed(cli, env))
                bare_times.append(timed(bare, env))
        finally:
            for proc in (node, ns):
                proc.terminate()
                proc.wait(10)
    c, b = statistics.median(cli_times), statistics.median(bare_times)
    print(f"pyrostage ctl red status: median {c * 1000:.0f} ms over {runs} runs")
    print(f"bare Pyro4 script:        median {b * 1000:.0f} ms")
    print(f"ratio: {c / b:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
