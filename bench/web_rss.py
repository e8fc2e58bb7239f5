"""Memory of ``pyrostage web`` beside its nodes: RSS after start and while events flow.

    python bench/web_rss.py [--minutes 10] [--rate 10]

Starts a name server and two nodes (``pyrostage demo --web-port 0``), then ``pyrostage web``
as its own process, one page's event stream (an SSE reader) and a driver making ``rate``
changes a second through the API; prints the web process's RSS each minute.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=float, default=10, help="changes a second")
    args = ap.parse_args()
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    ns_port, web_port = free_port(), free_port()
    state = Path(os.environ.get("TMPDIR", "/tmp")) / f"web-rss-{ns_port}"
    demo = subprocess.Popen([sys.executable, "-m", "engine", "demo", "--ns-port", str(ns_port),
                             "--headless", "--web-port", "0", "--state-dir", str(state)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    web = None
    try:
        time.sleep(6)
        web = subprocess.Popen([sys.executable, "-m", "engine", "web", "--port", str(web_port),
                                "--ns-port", str(ns_port), "--no-qr"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{web_port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/api/info", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        print(f"web RSS after start: {rss_mb(web.pid):.1f} MB")
        httpx.post(f"{url}/api/call", json={"selector": "all", "command": "switch",
                                            "words": ["scoreboard"]}, timeout=10)
        received = [0]
        stop = threading.Event()

        def read() -> None:
            try:
                with httpx.stream("GET", f"{url}/api/events", timeout=None) as r:
                    for line in r.iter_lines():
                        if line.startswith("event: record"):
                            received[0] += 1
                        if stop.is_set():
                            return
            except httpx.HTTPError:
                return  # the web stopped

        threading.Thread(target=read, daemon=True).start()
        errors = sent = 0
        end = time.monotonic() + args.minutes * 60
        next_report = time.monotonic() + 60
        with httpx.Client(base_url=url, timeout=10) as client:
            while time.monotonic() < end:
                node = "red" if sent % 2 else "blue"
                r = client.post(f"/api/nodes/{node}/call",
                                json={"command": "add_points", "args": [1]})
                errors += r.status_code != 200
                sent += 1
                if sent % 50 == 0:
                    client.get(f"/api/nodes/{node}/snapshot.png", params={"w": 320})
                    client.get("/api/nodes")
                if time.monotonic() >= next_report:
                    next_report += 60
                    print(f"{sent:6d} calls, {received[0]:6d} records on the stream, "
                          f"{errors} errors, web RSS {rss_mb(web.pid):.1f} MB", flush=True)
                time.sleep(1 / args.rate)
        stop.set()
        print(f"web RSS after {args.minutes:g} min: {rss_mb(web.pid):.1f} MB "
              f"({sent} calls, {received[0]} records, {errors} errors)")
    finally:
        for proc in (web, demo):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    main()
