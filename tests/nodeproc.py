"""Node subprocesses for the crash and restart tests: start one, wait until it answers
through the name server, kill it without warning."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import Pyro4.errors
from conftest import NameServer, lookup_proxy, spawn_node, wait_for

from engine.base.names import object_name

GUARD = 15.0  # hang guard for anything that should take a second or two


def registered_uri(ns: NameServer, name: str = "red") -> str | None:
    """The URI the name server has for the node, or None."""
    with ns.proxy() as nsp:
        try:
            return str(nsp.lookup(object_name(name)))
        except Pyro4.errors.NamingError:
            return None


@contextmanager
def node_process(
    tmp_path: Path, ns: NameServer, *extra: str, name: str = "red"
) -> Iterator[subprocess.Popen[bytes]]:
    """A node subprocess, yielded once its (new) entry in the name server answers."""
    old = registered_uri(ns, name)
    with spawn_node(tmp_path, ns, name, *extra) as proc:

        def answers() -> bool:
            uri = registered_uri(ns, name)
            if uri is None or uri == old:
                assert proc.poll() is None, f"node exited with {proc.returncode}"
                return False
            with lookup_proxy(ns, name) as p:
                return bool(p.node == name)

        wait_for(answers, timeout=GUARD)
        yield proc


def kill9(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL, as a power cut would: no unregistering, no flushing, nothing."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=GUARD)
