"""The benchmark's ``pin``: every thread of a process moves, not only its main thread.

P12 pinned a node with ``os.sched_setaffinity(pid)``, which moves one thread: the node's Pyro
workers and event senders stayed on the readers' core, and its read round trip during the
events measured that core's crowd (2x) instead of the node (1.14x)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.harness import pin

THREADS = """
import threading, time
for _ in range(3):
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
print("ready", flush=True)
time.sleep(60)
"""


def test_pin_moves_every_thread_of_a_process() -> None:
    """On one core there is nowhere else to be: the threads are checked to be on it."""
    core = min(os.sched_getaffinity(0))
    proc = subprocess.Popen([sys.executable, "-c", THREADS], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        tasks = list(Path(f"/proc/{proc.pid}/task").iterdir())
        assert len(tasks) >= 4
        assert all(os.sched_getaffinity(int(t.name)) == os.sched_getaffinity(0) for t in tasks)
        pin(proc.pid, {core})
        assert {t.name: os.sched_getaffinity(int(t.name)) for t in tasks} == {
            t.name: {core} for t in tasks}
    finally:
        proc.kill()
        proc.wait(timeout=10)
