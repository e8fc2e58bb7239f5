"""Four real nodes as subprocesses (``pyrostage serve``), as a camp runs them: red and blue in
group ``teams``, green and gold in ``teams`` and ``stage``. Shared by the fleet tests."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from conftest import spawn_node

from engine.control.controller import Controller
from engine.testing import NameServer, wait_for

GROUPS = {"red": ["teams"], "blue": ["teams"], "green": ["teams", "stage"],
          "gold": ["stage"]}


@contextmanager
def four_nodes(tmp_path: Path, ns: NameServer) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Start the four nodes, wait until all are registered; yields name -> process."""
    with ExitStack() as stack:
        procs: dict[str, subprocess.Popen[bytes]] = {}
        for name, groups in GROUPS.items():
            extra = [a for g in groups for a in ("--group", g)]
            procs[name] = stack.enter_context(spawn_node(tmp_path, ns, name, *extra))
        with Controller(ns.host, ns.port, ns.hmac_key) as ctl:
            wait_for(lambda: {n.name for n in ctl.nodes()} >= set(GROUPS) or None, timeout=60)
        try:
            yield procs
        finally:  # all four stop at once; spawn_node then finds them gone
            for proc in procs.values():
                proc.terminate()
            for proc in procs.values():
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(10)
