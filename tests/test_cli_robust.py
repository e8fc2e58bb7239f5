"""The CLI among strangers: entries in the name server that are not pyrostage nodes (another
Pyro program's object, a port that accepts and never answers) cost each one line and a few
seconds, and no subcommand ever prints a traceback."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import Pyro4
import pytest
from conftest import ROOT, NameServer, wait_for
from test_cli import pyrostage

GUARD = 20.0  # hang guard for a list with a silent entry (it used to take 20 s or more)
LONG = pytest.mark.long
"""For all but a few cases of a family: the default run tries those few, ``-m long`` the rest."""


@Pyro4.expose
class Thermometer:
    """Some other Pyro program's object."""

    def temperature(self) -> float:
        return 21.5


@Pyro4.expose
class Impostor:
    """Another program's object that happens to have a ``status`` method."""

    def status(self) -> str:
        return "all fine"


@Pyro4.expose
class Broken:
    """Another program's object whose ``status`` fails in a way the CLI does not expect."""

    def status(self) -> str:
        return str(1 / 0)


@pytest.fixture
def foreign(name_server: NameServer) -> Iterator[dict[str, str]]:
    """Register pyrostage.thermo, .impostor and .broken (live Pyro objects, not nodes) and
    pyrostage.silent (a listening socket that accepts and never answers)."""
    daemon = Pyro4.Daemon(host="127.0.0.1")
    uris = {"thermo": str(daemon.register(Thermometer())),
            "impostor": str(daemon.register(Impostor())),
            "broken": str(daemon.register(Broken()))}
    thread = threading.Thread(target=daemon.requestLoop, daemon=True)
    thread.start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    uris["silent"] = f"PYRO:obj_silent@127.0.0.1:{silent.getsockname()[1]}"
    with name_server.proxy() as ns:
        for name, uri in uris.items():
            ns.register(f"pyrostage.{name}", uri)
    try:
        yield uris
    finally:
        silent.close()
        daemon.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def ns_args(name_server: NameServer) -> list[str]:
    return ["--ns-host", name_server.host, "--ns-port", str(name_server.port)]


def test_list_shows_the_good_node_and_one_line_per_stranger(node, foreign, ns_args):
    out = pyrostage("list", *ns_args, timeout=GUARD)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    lines = {line.split()[1]: line for line in out.stdout.splitlines()
             if len(line.split()) > 1 and line.split()[1] in ("red", *foreign)}
    assert "colorsquare" in lines["red"]
    assert "not a pyrostage node" in lines["thermo"]
    assert "not a pyrostage node" in lines["impostor"]
    assert "not a pyrostage node" in lines["broken"]
    assert "unreachable" in lines["silent"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["thermo", "status"], "not a pyrostage node"),
        (["--timeout", "1", "silent", "status"], "did not answer"),
        pytest.param(["impostor", "modes"], "not a pyrostage node", marks=LONG),
        pytest.param(["thermo", "set_color", "red"], "not a pyrostage node", marks=LONG),
        pytest.param(["silent", "status"], "did not answer", marks=LONG),  # 5 s to connect
    ],
)
def test_ctl_on_a_stranger_is_one_clear_line(node, foreign, ns_args, args, words):
    out = pyrostage("ctl", *ns_args, *args, timeout=GUARD)
    assert out.returncode != 0
    assert "Traceback" not in out.stdout + out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert words in out.stderr


def test_ctl_on_the_good_node_ignores_strangers(node, foreign, ns_args):
    out = pyrostage("ctl", *ns_args, "red", "set_color", "navy", timeout=GUARD)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "red  ok: color is now 0,0,128"


def test_an_unexpected_error_is_one_line_and_verbose_shows_the_details(node, foreign, ns_args):
    out = pyrostage("ctl", *ns_args, "broken", "status", timeout=GUARD)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "broken  error: ZeroDivisionError: division by zero (-v shows the details)"
    ]
    out = pyrostage("-v", "ctl", *ns_args, "broken", "status", timeout=GUARD)
    assert out.returncode == 1
    assert "Traceback" in out.stderr and "ZeroDivisionError" in out.stderr


@pytest.mark.parametrize("screen", [["--headless"], []], ids=["headless", "no-screen-found"])
def test_a_start_without_a_screen_prints_only_the_projects_own_lines(
    tmp_path, name_server, screen
):
    """No SDL chatter ("XDG_RUNTIME_DIR is invalid ..."): a node started by systemd, over ssh
    or by the demo prints its own log lines and nothing else."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("XDG_RUNTIME_DIR", "DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER",
                        "SDL_AUDIODRIVER")}
    log = tmp_path / "node.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine", "serve", "--name", "quiet", "--host", "127.0.0.1",
             "--ns-host", name_server.host, "--ns-port", str(name_server.port),
             "--state-dir", str(tmp_path / "state"), "--size", "320x180", "--gpio", "none",
             *screen],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "serving at" in log.read_text(), timeout=GUARD)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=GUARD) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = log.read_text().splitlines()
    assert lines
    own = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")
    assert [line for line in lines if not own.match(line)] == []


def one_clear_line(out: subprocess.CompletedProcess[str]) -> str:
    """The failed command's only line on stderr (no traceback, non-zero exit)."""
    assert out.returncode != 0, out.stdout
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("Error: ")
    return line


@pytest.mark.parametrize(
    ("variable", "value", "args"),
    [
        ("PYRO_NS_PORT", "abc", ["list"]),
        ("PYRO_COMMTIMEOUT", "soon", ["ctl", "red", "status"]),
        ("PYRO_SOCK_REUSE", "maybe", ["plugins"]),
    ],
)
def test_a_pyro_variable_pyro4_cannot_read_is_one_clear_line(variable, value, args):
    """Pyro4 reads every PYRO_* variable as it is imported (before any subcommand runs)."""
    line = one_clear_line(pyrostage(*args, env={variable: value}, timeout=GUARD))
    assert f"{variable}={value!r}" in line


@pytest.mark.parametrize(
    "args",
    [["list"], ["serve", "--name", "red", "--headless", "--gpio", "none", "--config", "{file}"],
     pytest.param(["ctl", "red", "status"], marks=LONG),
     pytest.param(["snapshot", "red", "x.png"], marks=LONG),
     pytest.param(["plugins", "--config", "{file}"], marks=LONG)],
    ids=["list", "serve", "ctl", "snapshot", "plugins"],
)
def test_a_config_file_that_is_not_toml_is_one_clear_line(tmp_path, args):
    config_home = tmp_path / "config"
    (config_home / "pyrostage").mkdir(parents=True)
    config = config_home / "pyrostage" / "pyrostage.toml"
    config.write_text("[node]\nns_port = = 9090\n")
    args = [arg.format(file=config) for arg in args]
    out = pyrostage(*args, env={"XDG_CONFIG_HOME": str(config_home)}, timeout=GUARD)
    assert f"config file {config}: Invalid value (at line 2" in one_clear_line(out)


def test_a_snapshot_into_a_missing_folder_is_one_clear_line(node, ns_args, tmp_path):
    target = tmp_path / "no" / "such" / "red.png"
    line = one_clear_line(pyrostage("snapshot", *ns_args, "red", str(target), timeout=GUARD))
    assert str(target) in line and "does not exist" in line
    assert not target.parent.exists()


@pytest.mark.parametrize(
    "args",
    [["list", "--ns-port", "70000"], ["ns", "--port", "70000"],
     ["serve", "--name", "red", "--headless", "--gpio", "none", "--port", "65536"],
     ["demo", "--ns-port", "-1"]],
    ids=["list", "ns", "serve", "demo"],
)
def test_a_port_out_of_range_is_a_usage_error(args):
    out = pyrostage(*args, timeout=GUARD)
    assert out.returncode == 2
    assert "Traceback" not in out.stdout + out.stderr
    (line,) = [line for line in out.stderr.splitlines() if line.startswith("Error")]
    assert "not in the range" in line


@LONG  # the text list above waits out the same silent entry
def test_list_json_gives_each_stranger_its_problem(node, foreign, ns_args):
    out = pyrostage("list", *ns_args, "--json", timeout=GUARD)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["red"]["mode"] == "colorsquare" and doc["red"]["problem"] is None
    assert doc["thermo"]["problem"] == "not a pyrostage node" and doc["thermo"]["status"] is None
    assert doc["silent"]["problem"].startswith("unreachable")
