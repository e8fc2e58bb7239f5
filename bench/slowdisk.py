"""A Pi's SD card on this machine's fast disk: every fsync of a process made to take longer.

Group commit (P4) and the engine's share of a durable call (P2) depend on what a commit costs:
here a commit's fsync takes ~0.1 ms, on a Pi's SD card 2-20 ms. ``env(us)`` gives the
environment that makes a child process's ``fsync``/``fdatasync`` sleep ``us`` microseconds
first (``slowsync.c``, built with the C compiler into the run's directory and preloaded), so
both a node and its bare reference run on the same slower "card". None without a compiler.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .harness import ROOT

SOURCE = ROOT / "bench" / "slowsync.c"
SD_CARD_US = 5000
"""The added fsync time: 5 ms, within the 2-20 ms a camp's SD cards take."""


def build(where: Path) -> Path | None:
    """The preloadable library, compiled into ``where``; None if there is no C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    library = where / "libslowsync.so"
    if not library.exists():
        done = subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(library),
                               str(SOURCE), "-ldl"], capture_output=True, text=True)
        if done.returncode != 0:
            return None
    return library


def env(where: Path, us: int = SD_CARD_US) -> dict[str, str] | None:
    """Environment variables for processes on the slow "card"; None if it cannot be built."""
    library = build(where)
    if library is None:
        return None
    return {"LD_PRELOAD": str(library), "PYROSTAGE_BENCH_FSYNC_US": str(us)}
