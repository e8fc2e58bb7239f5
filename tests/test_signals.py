"""Stop signals: SIGINT and SIGTERM close together, in either order, idle or under load, with
the CPU busy, stop a node cleanly (entry gone from the name server, store closed) every time.
So does SIGHUP (the ssh terminal a node, ``ns`` or ``demo`` runs in closes), unless the process
was started with it ignored (``nohup``).

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
from conftest import ROOT, NameServer, free_port, lookup_proxy, spawn_node, wait_for
from nodeproc import GUARD, node_process, registered_uri

ORDERS = [(signal.SIGINT, signal.SIGTERM), (signal.SIGTERM, signal.SIGINT)]
LONG = pytest.mark.long
"""For all but a few cases of a family: the default run tries those few, ``-m long`` the rest."""
LOADS = ["idle", "reads", "changes"]
HUP = {  # how SIGHUP is set when the process starts (whatever the test runner inherited)
    "terminal": "import signal; signal.signal(signal.SIGHUP, signal.SIG_DFL)",
    "nohup": "import signal; signal.signal(signal.SIGHUP, signal.SIG_IGN)",
}


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


def run_trials(tmp_path: Path, ns: NameServer, load: str, trials: int, record: Any,
               first: int = 0) -> None:
    """``trials`` stops, from trial number ``first``: orders and gaps take turns (INT+TERM
    back to back, then a few ms apart; TERM+INT likewise)."""
    rng = random.Random(f"{load}{trials}")
    worst = 0.0
    for trial in range(first, first + trials):
        order = ORDERS[trial // 2 % 2]
        gap = 0.0 if trial % 2 == 0 else rng.uniform(0, 0.010)  # back to back is the worst
        with node_process(tmp_path, ns) as proc, ExitStack() as stack:
            if load != "idle":
                stack.enter_context(hammering(ns, load))
            stack.enter_context(busy_cpu())
            try:
                took = two_signals(proc, order, gap)
            except AssertionError as exc:
                raise AssertionError(f"trial {trial + 1 - first} of {trials}: {exc}") from None
        worst = max(worst, took)
        assert registered_uri(ns) is None, "the node left its entry in the name server"
        assert not (tmp_path / "state" / "red.sqlite3-wal").exists(), "the store was not closed"
    print(f"\nworst exit after two stop signals ({load}, {trials} trials): {worst:.2f} s")
    record(f"worst_stop_s[{load}]", round(worst, 3))


@pytest.mark.parametrize(("load", "trials", "first"), [
    ("idle", 2, 0), ("changes", 2, 2), pytest.param("reads", 2, 1, marks=LONG)])
def test_two_stop_signals_close_together_stop_the_node(
    tmp_path: Path, name_server: NameServer, load: str, trials: int, first: int,
    record_property: Any
) -> None:
    """Two stops idle, two under changes: both orders, back to back and a few ms apart
    (the long run adds reads, and 40 stops under each load below)."""
    run_trials(tmp_path, name_server, load, trials, record_property, first)


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


@pytest.mark.parametrize("rounds", [1, pytest.param(2, marks=LONG)])
def test_ns_stops_on_two_signals(tmp_path: Path, rounds: int) -> None:
    port = free_port()
    for order in ORDERS * rounds:
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


def pyrostage_from(how: str, *args: str) -> list[str]:
    """The command line of ``pyrostage ARGS`` started with SIGHUP set as ``HUP[how]``."""
    return [sys.executable, "-c", f"{HUP[how]}\nfrom engine.cli import main\nmain()", *args]


@pytest.mark.parametrize("signum", [signal.SIGINT, pytest.param(signal.SIGHUP, marks=LONG)],
                         ids=["ctrl-c", "hangup"])
def test_ctrl_c_in_the_demo_terminal_stops_everything_cleanly(tmp_path: Path, signum: int) -> None:
    """Ctrl-C reaches the demo and both its nodes (one process group); the demo then sends
    each node SIGTERM too. Every node unregisters itself: none is left to the demo's kill.
    Closing the terminal (SIGHUP to the group) does the same."""
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        demo = subprocess.Popen(
            pyrostage_from("terminal", "demo", "--ns-port", str(free_port()),
                           "--headless", "--state-dir", str(tmp_path / "demo")),
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_for(lambda: "Ctrl-C stops the demo" in log.read_text(), timeout=60)
        with busy_cpu():
            os.killpg(demo.pid, signum)
            assert demo.wait(timeout=GUARD) == 0
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    text = log.read_text()
    assert "unregistered pyrostage.red" in text and "unregistered pyrostage.blue" in text
    assert "Traceback" not in text


@contextmanager
def node_started_from(
    tmp_path: Path, ns: NameServer, how: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A node subprocess started with SIGHUP as ``HUP[how]``, yielded once it answers."""
    with spawn_node(tmp_path, ns, "red", python_prelude=HUP[how]) as proc:

        def answers() -> bool:
            assert proc.poll() is None, f"node exited with {proc.returncode}"
            if registered_uri(ns) is None:
                return False
            with lookup_proxy(ns, "red") as p:
                return bool(p.node == "red")

        wait_for(answers, timeout=GUARD)
        yield proc


HUP_SEQUENCES = [
    (signal.SIGHUP, signal.SIGTERM, signal.SIGINT),
    (signal.SIGHUP,),
    (signal.SIGINT, signal.SIGHUP),
]


@pytest.mark.parametrize("signals", [
    pytest.param(seq, id="+".join(s.name for s in seq), marks=() if i == 0 else LONG)
    for i, seq in enumerate(HUP_SEQUENCES)])
def test_a_closed_terminal_stops_the_node_cleanly(
    tmp_path: Path, name_server: NameServer, signals: tuple[signal.Signals, ...]
) -> None:
    with node_started_from(tmp_path, name_server, "terminal") as proc:
        for signum in signals:
            proc.send_signal(signum)
        assert proc.wait(timeout=GUARD) == 0
    assert registered_uri(name_server) is None, "the node left its entry in the name server"
    assert not (tmp_path / "state" / "red.sqlite3-wal").exists(), "the store was not closed"
    assert "Traceback" not in (tmp_path / "red.log").read_text()


def test_closing_the_terminal_stops_the_node_cleanly(
    tmp_path: Path, name_server: NameServer
) -> None:
    """A real terminal: the node runs on a pseudo-terminal as its controlling terminal, which
    is then closed (the kernel sends SIGHUP, and the node's output goes nowhere from then)."""
    pty = pytest.importorskip("pty")
    fcntl, termios = pytest.importorskip("fcntl"), pytest.importorskip("termios")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        pyrostage_from("terminal", "serve", "--name", "red", "--host", "127.0.0.1",
                       "--ns-host", name_server.host, "--ns-port", str(name_server.port),
                       "--state-dir", str(tmp_path / "state"), "--headless",
                       "--size", "320x180", "--gpio", "none"),
        cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(slave)
    try:
        wait_for(lambda: registered_uri(name_server) is not None, timeout=GUARD)
        os.close(master)
        master = -1
        assert proc.wait(timeout=GUARD) == 0
    finally:
        if master >= 0:
            os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert registered_uri(name_server) is None, "the node left its entry in the name server"
    assert not (tmp_path / "state" / "red.sqlite3-wal").exists(), "the store was not closed"


def test_a_node_started_with_nohup_outlives_its_terminal(
    tmp_path: Path, name_server: NameServer
) -> None:
    with node_started_from(tmp_path, name_server, "nohup") as proc:
        proc.send_signal(signal.SIGHUP)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1)
        with lookup_proxy(name_server, "red") as p:
            assert p.call("set_color", "navy") == [0, 0, 128]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=GUARD) == 0
    assert registered_uri(name_server) is None


@pytest.mark.parametrize("signals", [
    pytest.param((signal.SIGHUP, signal.SIGINT), id="HUP+INT"),
    pytest.param((signal.SIGHUP,), id="HUP", marks=LONG)])
def test_ns_stops_on_a_hangup(signals: tuple[signal.Signals, ...]) -> None:
    proc = subprocess.Popen(
        pyrostage_from("terminal", "ns", "--port", str(free_port())), cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        out = proc.stdout
        assert out is not None
        wait_for(lambda: b"Ctrl-C stops it" in out.readline(), timeout=GUARD)
        for signum in signals:
            proc.send_signal(signum)
        assert proc.wait(timeout=GUARD) == 0
        assert b"Traceback" not in out.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
