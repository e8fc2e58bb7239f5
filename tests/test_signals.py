"""Stop signals: SIGINT and SIGTERM close together, in either order, idle or under load, with
the CPU busy, stop a node cleanly (entry gone from the name server, store closed) every time.

A terminal's Ctrl-C reaches the demo's nodes directly and the demo then sends them SIGTERM,
so two signals milliseconds apart are the ordinary case, not a corner. With the CPU busy the
kernel often hands a signal to one of the node's other threads; a node that relied on its main
thread noticing by itself slept on. The worst exit time is printed (``-s``) and recorded; only
a hang guard is asserted.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, NameServer, free_port, lookup_proxy, wait_for
from nodeproc import GUARD, node_process, registered_uri

ORDERS = [(signal.SIGINT, signal.SIGTERM), (signal.SIGTERM, signal.SIGINT)]
LOADS = ["idle", "reads", "changes"]


@contextmanager
def busy_cpu(n: int = 3) -> Iterator[None]:
    """Processes spinning on every core, as on a Pi drawing animations while it is stopped."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


@contextmanager
def hammering(ns: NameServer, what: str, threads: int = 2) -> Iterator[None]:
    """Clients calling the node as fast as it answers until it is gone: reads (which never
    wake the main loop) or changes."""
    done = threading.Event()
    counts = [0] * threads

    def hammer(i: int) -> None:
        with lookup_proxy(ns, "red") as p:
            p._pyroTimeout = GUARD
            while not done.is_set():
                try:
                    if what == "reads":
                        p.call("get_color")
                    else:
                        p.call("set_color", [counts[i] % 256, i, 0])
                except Exception:
                    return  # the node is stopping
                counts[i] += 1

    workers = [threading.Thread(target=hammer, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    wait_for(lambda: all(counts), timeout=GUARD)
    try:
        yield
    finally:
        done.set()
        for w in workers:
            w.join(timeout=GUARD)


def two_signals(proc: subprocess.Popen[Any], order: tuple[int, int], gap: float) -> float:
    """Send both signals ``gap`` s apart; seconds until the process exited (hang guard)."""
    first, second = order
    start = time.monotonic()
    proc.send_signal(first)
    if gap:
        time.sleep(gap)
    proc.send_signal(second)
    try:
        code = proc.wait(timeout=GUARD)
    except subprocess.TimeoutExpired:
        names = "+".join(signal.Signals(s).name for s in order)
        raise AssertionError(f"hung after {names} {gap * 1000:.1f} ms apart") from None
    assert code == 0, f"exit code {code}"
    return time.monotonic() - start


def run_trials(tmp_path: Path, ns: NameServer, load: str, trials: int, record: Any) -> None:
    rng = random.Random(f"{load}{trials}")
    worst = 0.0
    for trial in range(trials):
        order = ORDERS[trial // 2 % 2]
        gap = 0.0 if trial % 2 == 0 else rng.uniform(0, 0.010)  # back to back is the worst
        with node_process(tmp_path, ns) as proc, ExitStack() as stack:
            if load != "idle":
                stack.enter_context(hammering(ns, load))
            stack.enter_context(busy_cpu())
            try:
                took = two_signals(proc, order, gap)
            except AssertionError as exc:
                raise AssertionError(f"trial {trial + 1} of {trials}: {exc}") from None
        worst = max(worst, took)
        assert registered_uri(ns) is None, "the node left its entry in the name server"
        assert not (tmp_path / "state" / "red.sqlite3-wal").exists(), "the store was not closed"
    print(f"\nworst exit after two stop signals ({load}, {trials} trials): {worst:.2f} s")
    record(f"worst_stop_s[{load}]", round(worst, 3))


@pytest.mark.parametrize(("load", "trials"), [("idle", 4), ("reads", 3), ("changes", 3)])
def test_two_stop_signals_close_together_stop_the_node(
    tmp_path: Path, name_server: NameServer, load: str, trials: int, record_property: Any
) -> None:
    run_trials(tmp_path, name_server, load, trials, record_property)


@pytest.mark.long
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("load", LOADS)
def test_two_stop_signals_many_times(
    tmp_path: Path, name_server: NameServer, load: str, record_property: Any
) -> None:
    run_trials(tmp_path, name_server, load, 40, record_property)


def test_a_burst_of_signals_stops_the_node_once(tmp_path: Path, name_server: NameServer) -> None:
    """Signals keep coming while the node closes (a held Ctrl-C): the close is not cut short."""
    with node_process(tmp_path, name_server) as proc, hammering(name_server, "changes"):
        for i in range(40):
            if proc.poll() is not None:
                break
            proc.send_signal(ORDERS[i % 2][0])
            time.sleep(0.002)
        assert proc.wait(timeout=GUARD) == 0
    assert registered_uri(name_server) is None
    assert not (tmp_path / "state" / "red.sqlite3-wal").exists()
    assert "Traceback" not in (tmp_path / "red.log").read_text()


def test_ns_stops_on_two_signals(tmp_path: Path) -> None:
    port = free_port()
    for order in ORDERS * 2:
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine", "ns", "--port", str(port)], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        try:
            out = proc.stdout
            assert out is not None
            wait_for(lambda o=out: b"Ctrl-C stops it" in o.readline(), timeout=GUARD)
            with busy_cpu():
                two_signals(proc, order, random.choice([0.0, random.uniform(0, 0.010)]))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_ctrl_c_in_the_demo_terminal_stops_everything_cleanly(tmp_path: Path) -> None:
    """Ctrl-C reaches the demo and both its nodes (one process group); the demo then sends
    each node SIGTERM too. Every node unregisters itself: none is left to the demo's kill."""
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "engine", "demo", "--ns-port", str(free_port()),
             "--headless", "--state-dir", str(tmp_path / "demo")],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_for(lambda: "Ctrl-C stops the demo" in log.read_text(), timeout=60)
        with busy_cpu():
            os.killpg(demo.pid, signal.SIGINT)
            assert demo.wait(timeout=GUARD) == 0
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    text = log.read_text()
    assert "unregistered pyrostage.red" in text and "unregistered pyrostage.blue" in text
    assert "Traceback" not in text
