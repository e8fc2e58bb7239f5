"""A test node as its own process, started the way a Pi starts one (``pyrostage serve``)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from engine.testing.loading import problems
from engine.testing.nodes import LiveNode
from engine.testing.support import NameServer

GUARD = 30.0
"""Seconds a node process gets to come up or stop (a hang guard: it takes one or two)."""


class ProcessNode(LiveNode):
    """A node as its own process (``pyrostage serve``, the way a Pi runs it), found through
    the name server. It loads installed plugins by entry-point name."""

    def __init__(self, name: str, config_file: Path, state_dir: Path, ns: NameServer,
                 env: dict[str, str]):
        super().__init__(name, state_dir)
        self.ns = ns
        self.command = [sys.executable, "-m", "engine", "serve", "--config", str(config_file),
                        "--headless"]
        self.env = env
        self.log_file = config_file.with_suffix(".log")
        self.process: subprocess.Popen[bytes] | None = None
        self._uri: str | None = None
        self._start()

    @property
    def uri(self) -> str:
        if self._uri is None:
            raise RuntimeError(f"node {self.name!r} is stopped")
        return self._uri

    @property
    def pid(self) -> int | None:
        """The node process's id while it runs."""
        return self.process.pid if self.process is not None else None

    def log(self) -> str:
        """What the node process wrote (its log lines), across restarts."""
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def _start(self) -> None:
        old = self._registered()
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + GUARD
        while True:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise RuntimeError(f"node {self.name!r} exited with {code} before it served; "
                                   f"its log:\n{self.log()[-3000:]}")
            uri = self._registered()
            if uri is not None and uri != old and self._answers(uri):
                self._uri = uri
                break
            if time.monotonic() > deadline:
                self.stop(kill=True)
                raise TimeoutError(f"node {self.name!r} did not come up within {GUARD:g} s; "
                                   f"its log:\n{self.log()[-3000:]}")
            time.sleep(0.05)
        found = problems({name: entry for name, entry in self.status()["plugins"].items()
                          if "skipped" not in entry})
        if found:
            self.stop()
            raise RuntimeError("; ".join(found))

    def _registered(self) -> str | None:
        import Pyro4.errors

        from engine.base.names import object_name

        with self.ns.proxy() as nsp:
            try:
                return str(nsp.lookup(object_name(self.name)))
            except Pyro4.errors.NamingError:
                return None

    def _answers(self, uri: str) -> bool:
        import Pyro4.errors

        from engine.base import pyroconf

        try:
            with pyroconf.proxy(uri, timeout=GUARD) as p:
                return bool(p.node == self.name)
        except (Pyro4.errors.PyroError, OSError):
            return False

    def stop(self, kill: bool = False) -> None:
        """Stop the node: SIGTERM (it unregisters and closes its state cleanly), or with
        ``kill=True`` SIGKILL, as a power cut would."""
        self._release()
        self._uri = None
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=GUARD)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self, kill: bool = False) -> ProcessNode:
        """Stop the node (``kill=True``: without warning) and start it again; returns it."""
        self.stop(kill=kill)
        self._start()
        return self
