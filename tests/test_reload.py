"""``pyrostage serve --reload`` as a plugin author runs it: a supervisor process, the node its
child, a third-party plugin (a real distribution with a ``pyrostage`` entry point, in a folder
on ``PYTHONPATH``) edited on disk while a controller watches over Pyro.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import Pyro4
import pytest
from conftest import ROOT, free_port, pixel, wait_for

GUARD = 20.0  # hang guard: a restart takes about a second

INIT = """\
from engine import hookimpl

from pyrostage_probe.mode import Probe


@hookimpl
def register_modes(register):
    register(Probe)
"""

MODE = """\
from engine import Mode, command

ANSWER = {answer!r}
COLOR = {color!r}


class Probe(Mode):
    name = "probe"

    def draw(self, surface):
        surface.fill(COLOR)

    @command
    def answer(self) -> str:
        return ANSWER

    @command
    def remember(self, n: int) -> int:
        self.state.set("n", n)
        return n

    @command
    def recall(self) -> int:
        return self.state.get("n", 0)
"""

# SIGHUP as a terminal leaves it, whatever the test runner inherited (nohup ignores it)
PRELUDE = ("import signal; signal.signal(signal.SIGHUP, signal.SIG_DFL)\n"
           "from engine.cli import main\nmain()")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The plugin, installed as pip leaves a distribution: package + dist-info."""
    where = tmp_path / "site"
    package = where / "pyrostage_probe"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(INIT)
    write_mode(where, "one", (255, 0, 0))
    info = where / "pyrostage_probe-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pyrostage-probe\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[pyrostage]\nprobe = pyrostage_probe\n")
    return where


def write_mode(site: Path, answer: str, color: tuple[int, int, int], prefix: str = "",
               suffix: str = "") -> None:
    source = prefix + MODE.format(answer=answer, color=color) + suffix
    (site / "pyrostage_probe" / "mode.py").write_text(source)


@contextmanager
def reloading(tmp_path: Path, site: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """``pyrostage serve --reload`` with the plugin's folder on ``PYTHONPATH``."""
    cmd = [sys.executable, "-c", PRELUDE, "serve", "--reload", "--name", "probe",
           "--host", "127.0.0.1", "--state-dir", str(tmp_path / "state"), "--headless",
           "--size", "64x48", "--gpio", "none", "--mode", "probe", *extra]
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy",
           "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as an author runs it: byte code cached
    with open(tmp_path / "reload.log", "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()  # its child stops by itself when the supervisor is gone
                proc.wait()
            for pid in children(tmp_path):
                wait_for(lambda pid=pid: not alive(pid), timeout=GUARD)


def log_of(tmp_path: Path) -> str:
    return (tmp_path / "reload.log").read_text(errors="replace")


def children(tmp_path: Path) -> list[int]:
    """The node processes the supervisor started, as its log names them."""
    return [int(pid) for pid in re.findall(r"started the node \(pid (\d+)\)", log_of(tmp_path))]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is gone for every purpose here
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Where:
    """A name server's address (the supervisor's own, or the test's)."""

    host: str
    port: int


def uri_of(ns: Where) -> str | None:
    with Pyro4.Proxy(f"PYRO:Pyro.NameServer@{ns.host}:{ns.port}") as nsp:
        try:
            return str(nsp.lookup("pyrostage.probe"))
        except Pyro4.errors.NamingError:
            return None


def ask(ns: Where, member: str, *args: Any) -> Any:
    """One call to the node the name server has now, on a fresh connection."""
    uri = uri_of(ns)
    if uri is None:
        return None
    with Pyro4.Proxy(uri) as p:
        p._pyroTimeout = 5
        return getattr(p, member)(*args)


def plugin_error(ns: Where) -> str:
    return str(ask(ns, "status")["plugins"]["probe"].get("error", ""))


def test_an_edit_is_on_the_screen_after_a_reload_with_the_same_uri_and_state(
    tmp_path, site, name_server
):
    ns_args = ("--ns-host", name_server.host, "--ns-port", str(name_server.port))
    ns = Where(name_server.host, name_server.port)
    with reloading(tmp_path, site, *ns_args) as supervisor:
        wait_for(lambda: ask(ns, "call", "answer") == "one", timeout=GUARD)
        uri = uri_of(ns)
        assert ask(ns, "call", "remember", 7) == 7
        assert pixel(ask(ns, "snapshot")) == (255, 0, 0)

        # saved again within the same second, same size: Python's cached byte code would pass
        mode = site / "pyrostage_probe" / "mode.py"
        saved = mode.stat().st_mtime_ns
        write_mode(site, "two", (0, 0, 255))
        os.utime(mode, ns=(saved + 1, saved + 1))
        wait_for(lambda: ask(ns, "call", "answer") == "two", timeout=GUARD)
        assert uri_of(ns) == uri
        assert ask(ns, "call", "recall") == 7
        assert pixel(ask(ns, "snapshot")) == (0, 0, 255)

        # a syntax error: the node comes back without the plugin and says why
        write_mode(site, "two", (0, 0, 255), suffix="\ndef broken(:\n")
        wait_for(lambda: "SyntaxError" in plugin_error(ns), timeout=GUARD)
        assert ask(ns, "status")["mode"] == "colorsquare"
        assert "SyntaxError" in log_of(tmp_path)

        # a plugin that takes the whole node down: the supervisor waits for the next change
        write_mode(site, "two", (0, 0, 255), prefix="import os\nos._exit(3)\n")
        wait_for(lambda: "the node exited with code 3" in log_of(tmp_path), timeout=GUARD)
        assert supervisor.poll() is None

        write_mode(site, "three", (0, 255, 0))
        wait_for(lambda: ask(ns, "call", "answer") == "three", timeout=GUARD)
        assert uri_of(ns) == uri
        assert ask(ns, "status")["mode"] == "probe"
        assert ask(ns, "call", "recall") == 7
        assert pixel(ask(ns, "snapshot")) == (0, 255, 0)

        node = children(tmp_path)[-1]
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=GUARD) == 0
        assert not alive(node)
    assert uri_of(ns) is None
    assert len(children(tmp_path)) == 5
    assert "Traceback" not in log_of(tmp_path)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP], ids=["INT", "HUP"])
def test_a_stop_signal_stops_the_node_then_the_supervisor_and_its_name_server(
    tmp_path, site, signum
):
    """No --port: the supervisor picks one once; with --embedded-ns it runs the name server."""
    ns = Where("127.0.0.1", free_port())  # where the supervisor's name server will be
    with reloading(tmp_path, site, "--embedded-ns", "--ns-port", str(ns.port)) as supervisor:
        wait_for(lambda: ask(ns, "call", "answer") == "one", timeout=GUARD)
        uri = uri_of(ns)
        write_mode(site, "two", (0, 0, 255))
        wait_for(lambda: ask(ns, "call", "answer") == "two", timeout=GUARD)
        assert uri_of(ns) == uri  # same port, same name server
        node = children(tmp_path)[-1]
        supervisor.send_signal(signum)
        assert supervisor.wait(timeout=GUARD) == 0
        assert not alive(node)
    assert log_of(tmp_path).count("unregistered pyrostage.probe") == 2  # once per node
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect((ns.host, ns.port))
    assert "Traceback" not in log_of(tmp_path)


def test_a_killed_supervisor_leaves_no_node_behind(tmp_path, site, name_server):
    ns_args = ("--ns-host", name_server.host, "--ns-port", str(name_server.port))
    ns = Where(name_server.host, name_server.port)
    with reloading(tmp_path, site, *ns_args) as supervisor:
        wait_for(lambda: ask(ns, "call", "answer") == "one", timeout=GUARD)
        node = children(tmp_path)[-1]
        supervisor.kill()
        supervisor.wait(timeout=GUARD)
        wait_for(lambda: not alive(node), timeout=GUARD)
    assert uri_of(ns) is None
