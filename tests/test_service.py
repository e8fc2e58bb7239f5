"""``pyrostage install-service`` and the node's systemd notifications.

The units are checked by systemd itself (``systemd-analyze verify``, which works without
systemd running; any output fails, since unknown keys only warn). The notifications are
received the way systemd receives them: a unix datagram socket in ``NOTIFY_SOCKET``, here
bound by the test, with a real node process (``pyrostage serve``) sending to it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT, free_port, lookup_proxy, spawn_node, wait_for

from engine.base import notify
from engine.base.pyroconf import locate_ns
from engine.cli.app import main
from engine.testing import NameServer

GUARD = 15.0
WATCHDOG_USEC = 1_500_000  # a ping every 0.5 s
SET_WATCHDOG_PID = "import os\nos.environ['WATCHDOG_PID'] = str(os.getpid())"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None,
    reason="systemd-analyze is missing (Debian package `systemd`; .ci/run installs it)")


# -- the units ---------------------------------------------------------------------------------

def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def verify(unit: Path, user: bool = False) -> str:
    """What ``systemd-analyze verify`` says about a unit file ("" when clean)."""
    assert SYSTEMD_ANALYZE is not None
    cmd = [SYSTEMD_ANALYZE, *(["--user"] if user else []), "verify", str(unit)]
    with tempfile.TemporaryDirectory(prefix="rt") as runtime:  # a user manager needs one,
        env = {**os.environ, "XDG_RUNTIME_DIR": runtime}     # short (sockets live there)
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    return (done.stdout + done.stderr).strip() + ("" if done.returncode == 0 else
                                                  f" (exit {done.returncode})")


@needs_systemd
@pytest.mark.parametrize("kind", ["node", "ns", "web"])
def test_printed_system_units_verify_clean(tmp_path, kind):
    code, text = cli("install-service", "--print", kind)
    assert code == 0, text
    unit = tmp_path / f"pyrostage-{kind}.service"
    unit.write_text(text)
    assert verify(unit) == ""
    keys = dict(line.split("=", 1) for line in text.splitlines() if "=" in line
                and not line.startswith("#"))
    exe = Path(keys["ExecStart"].split()[0])
    assert exe.is_absolute() and exe.is_file() and exe.name == "pyrostage"
    assert keys["ExecStart"].split()[1] == {"node": "serve"}.get(kind, kind)
    assert keys["Restart"] == "always"
    assert keys["After"] == "network-online.target" == keys["Wants"]
    assert keys["NoNewPrivileges"] == "yes" and keys["ProtectSystem"] == "strict"
    assert keys["ProtectHome"] == "read-only" and keys["PrivateTmp"] == "yes"
    assert keys["EnvironmentFile"] == "-/etc/pyrostage/env"
    assert "PrivateDevices" not in keys and "DevicePolicy" not in keys  # screen, GPIO stay
    assert keys["Type"] == "notify" and keys["NotifyAccess"] == "main"
    if kind == "node":
        assert int(keys["WatchdogSec"]) > 0


@needs_systemd
def test_the_node_unit_uses_the_users_config_and_its_state_dir(tmp_path):
    config = tmp_path / "my camp" / "pyrostage.toml"
    config.parent.mkdir()
    config.write_text('[node]\nname = "red"\nstate_dir = "/srv/camp state"\n')
    code, text = cli("install-service", "--print", "--config", str(config))
    assert code == 0, text
    assert f'serve --config "{config}"' in text
    assert 'ReadWritePaths="/srv/camp state"' in text
    unit = tmp_path / "pyrostage-node.service"
    unit.write_text(text)
    assert verify(unit) == ""


def test_a_broken_config_is_refused_at_install_time(tmp_path):
    config = tmp_path / "pyrostage.toml"
    config.write_text("[display]\nrotate = 45\n")
    code, text = cli("install-service", "--print", "--config", str(config))
    assert code == 1
    assert "rotate" in text and "Traceback" not in text and len(text.splitlines()) == 1


def test_an_unknown_user_is_one_line():
    code, text = cli("install-service", "--print", "--user", "no-such-user-here")
    assert code == 1
    assert "no user 'no-such-user-here'" in text and len(text.splitlines()) == 1


@needs_systemd
def test_the_desktop_user_unit_is_written_to_the_users_systemd_folder(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    code, text = cli("install-service", "--desktop", env=env)
    assert code == 0, text
    unit = tmp_path / "config" / "systemd" / "user" / "pyrostage-node.service"
    assert f"wrote {unit}" in text
    assert "systemctl --user enable --now pyrostage-node.service" in text
    body = unit.read_text()
    assert "WantedBy=graphical-session.target" in body and "User=" not in body
    assert "Type=notify" in body
    assert verify(unit, user=True) == ""


def test_without_permission_install_refuses_in_one_line(tmp_path):
    if os.getuid() != 0 and os.access("/etc/systemd/system", os.W_OK):
        pytest.skip("this user may write /etc/systemd/system")
    cmd = [sys.executable, "-m", "engine", "install-service", "node"]
    if os.getuid() == 0:  # drop to nobody, who may not write there
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv (util-linux) is missing")
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        tried = subprocess.run([*nobody, sys.executable, "-c", "import engine"],
                               capture_output=True, cwd=ROOT, timeout=60)
        if tried.returncode != 0:  # e.g. a Python under /root, whose library nobody reads
            pytest.skip(f"this Python cannot run as nobody: {tried.stderr[-200:]!r}")
        cmd = [*nobody, *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={**os.environ, "HOME": "/nonexistent",
                               "XDG_CONFIG_HOME": "/nonexistent/config"})
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "no permission to write /etc/systemd/system/pyrostage-node.service" in lines[0]
    assert "sudo" in lines[0] and "--print" in lines[0]


# -- sd_notify -----------------------------------------------------------------------------

class Listener:
    """systemd's end of ``NOTIFY_SOCKET``: collects the lines a process sends."""

    def __init__(self, address: str):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.lines: list[str] = []
        self.seen = 0

    def receive(self, seconds: float) -> None:
        """Collect what arrives within ``seconds``."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                self.lines += self.sock.recv(4096).decode().splitlines()
            except TimeoutError:
                return

    def wait(self, predicate: Callable[[str], bool], timeout: float = GUARD) -> str:
        """The next line (after the last one waited for) that ``predicate`` accepts."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for i in range(self.seen, len(self.lines)):
                if predicate(self.lines[i]):
                    self.seen = i + 1
                    return self.lines[i]
            self.seen = len(self.lines)
            self.receive(0.2)
        raise AssertionError(f"no such line within {timeout} s; got {self.lines[-10:]}")

    def count(self, line: str) -> int:
        return self.lines.count(line)


@pytest.fixture
def listener() -> Iterator[Listener]:
    box = Listener(f"@pyrostage-test-{uuid.uuid4().hex}")  # abstract namespace, as systemd's
    yield box
    box.sock.close()


def systemd_env(listener: Listener, **extra: str) -> dict[str, str]:
    return {"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": str(WATCHDOG_USEC), **extra}


def test_notify_sends_to_a_path_socket_and_nothing_without_one(tmp_path, monkeypatch):
    box = Listener(str(tmp_path / "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", box.address)
    assert notify.notify("READY=1", "STATUS=two\nlines")
    box.receive(0.5)
    assert box.lines == ["READY=1", "STATUS=two lines"]
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not notify.notify("READY=1")
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert notify.watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert notify.watchdog_interval() == 30.0


def test_a_node_is_ready_before_its_name_server_exists_and_says_so(tmp_path, listener):
    late: Any = SimpleNamespace(host="127.0.0.1", port=free_port())  # nobody there yet
    with spawn_node(tmp_path, late, "red", env=systemd_env(listener),
                    python_prelude=SET_WATCHDOG_PID) as proc:
        listener.wait(lambda line: line == "READY=1")
        where = f"127.0.0.1:{late.port}"
        assert listener.wait(lambda line: line.startswith("STATUS=")) == (
            f"STATUS=serving colorsquare; name server {where} not found yet")
        listener.wait(lambda line: line == "WATCHDOG=1")
        listener.wait(lambda line: line == "WATCHDOG=1")
        ns = NameServer(port=late.port)  # boots late: the node registers, nobody restarts
        try:
            listener.wait(lambda line: line == (
                f"STATUS=serving colorsquare; registered as pyrostage.red in {where}"))
            with lookup_proxy(ns, "red") as p:
                p.switch("scoreboard")
            listener.wait(lambda line: line.startswith("STATUS=serving scoreboard; registered"))
            assert proc.poll() is None
            assert listener.count("READY=1") == 1
            proc.send_signal(signal.SIGTERM)
            listener.wait(lambda line: line == "STOPPING=1")
            assert proc.wait(timeout=GUARD) == 0
        finally:
            ns.stop()


def test_the_name_server_says_ready_and_stopping(listener):
    port = free_port()
    env = {**os.environ, **systemd_env(listener)}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "ns", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        listener.wait(lambda line: line == "READY=1")
        assert listener.wait(lambda line: line.startswith("STATUS=")) == (
            f"STATUS=name server 127.0.0.1:{port} (no HMAC key)")
        with locate_ns("127.0.0.1", port) as ns:  # READY means it answers
            ns.ping()
    finally:
        proc.send_signal(signal.SIGTERM)
        listener.wait(lambda line: line == "STOPPING=1")
        assert proc.wait(timeout=GUARD) == 0


def test_without_notify_socket_a_node_sends_nothing(tmp_path, name_server, listener):
    env = {"WATCHDOG_USEC": str(WATCHDOG_USEC)}  # no NOTIFY_SOCKET: a node started by hand
    with spawn_node(tmp_path, name_server, "red", env=env) as proc:
        wait_for(lambda: lookup_proxy(name_server, "red").node == "red", timeout=GUARD)
        listener.receive(1.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=GUARD) == 0
    assert listener.lines == []


STUCK_PLUGIN = textwrap.dedent("""\
    import os
    import time

    from engine import Mode, command, hookimpl


    class Stuck(Mode):
        '''Draws black; after hang(), its next draw blocks while the hold file exists.'''
        name = "stuck"
        hanging = False

        def draw(self, surface):
            surface.fill((0, 0, 0))
            while self.hanging and os.path.exists(os.environ["PYROSTAGE_TEST_HOLD"]):
                time.sleep(0.05)
            self.hanging = False

        @command
        def hang(self) -> None:
            '''Block the main loop in the next draw.'''
            self.hanging = True


    @hookimpl
    def register_modes(register):
        register(Stuck)
    """)


def install_stuck_plugin(site: Path) -> None:
    site.mkdir()
    (site / "pyrostage_stuck.py").write_text(STUCK_PLUGIN)
    info = site / "pyrostage_stuck-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pyrostage-stuck\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[pyrostage]\nstuck = pyrostage_stuck\n")


def test_a_stuck_main_loop_stops_the_watchdog_pings(tmp_path, name_server, listener):
    install_stuck_plugin(tmp_path / "site")
    hold = tmp_path / "hold"
    env = systemd_env(listener, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), str(ROOT)]),
                      PYROSTAGE_TEST_HOLD=str(hold))
    with spawn_node(tmp_path, name_server, "red", "--mode", "stuck", env=env,
                    python_prelude=SET_WATCHDOG_PID) as proc:
        listener.wait(lambda line: line == "READY=1")
        listener.wait(lambda line: line == "WATCHDOG=1")
        hold.touch()
        with lookup_proxy(name_server, "red") as p:
            p.call("hang")
        log = tmp_path / "red.log"
        wait_for(lambda: "main loop did not answer" in log.read_text(), timeout=GUARD)
        listener.receive(0.1)  # a ping sent just before the loop got stuck
        listener.lines.clear()
        listener.seen = 0
        listener.receive(WATCHDOG_USEC / 1e6)  # silent that long, systemd restarts it
        assert listener.count("WATCHDOG=1") == 0, listener.lines
        assert proc.poll() is None  # systemd, not the node, decides to restart it
        hold.unlink()  # the loop comes unstuck: the pings resume
        listener.wait(lambda line: line == "WATCHDOG=1")
