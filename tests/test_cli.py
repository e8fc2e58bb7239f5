"""The controller CLI as a user types it, in its own process, against a real node."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import Pyro4
import pytest
from conftest import ROOT, free_port, pixel, spawn_node, wait_for
from nodeproc import node_process


def pyrostage(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], capture_output=True, text=True, timeout=timeout,
        cwd=ROOT, env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def error_lines(out: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines click prints for a failed command (log lines of ``serve`` left out)."""
    return [line for line in out.stderr.splitlines() if line.startswith("Error")]


@pytest.fixture
def ns_args(name_server):
    return ["--ns-host", name_server.host, "--ns-port", str(name_server.port)]


def test_list_shows_the_node_with_mode_and_address(node, ns_args):
    out = pyrostage("list", *ns_args)
    assert out.returncode == 0, out.stderr
    assert "red" in out.stdout and "colorsquare" in out.stdout
    assert node.uri.split("@")[1] in out.stdout


def test_ctl_drives_the_node(node, ns_args, tmp_path):
    out = pyrostage("ctl", *ns_args, "red", "set_color", "255,0,0")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "red  ok: color is now 255,0,0"
    assert pyrostage("ctl", *ns_args, "red", "switch", "colorsquare").stdout.strip() \
        == "red  ok: switched to colorsquare"
    status = pyrostage("ctl", *ns_args, "red", "status")
    assert status.stdout.startswith("red  ok: colorsquare · red · up ")
    status = pyrostage("ctl", *ns_args, "red", "status", "--json")
    assert json.loads(status.stdout)["red"]["result"]["mode"] == "colorsquare"
    png = tmp_path / "red.png"
    assert pyrostage("snapshot", *ns_args, "red", str(png)).returncode == 0
    assert pixel(png.read_bytes()) == (255, 0, 0)


def test_ns_location_from_pyro_environment(node, name_server):
    env = {"PYRO_NS_HOST": name_server.host, "PYRO_NS_PORT": str(name_server.port)}
    out = pyrostage("ctl", "red", "set_color", "blue", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "red  ok: color is now 0,0,255"


def test_typed_words_are_converted_by_the_declared_types(node, ns_args):
    assert pyrostage("ctl", *ns_args, "red", "scoreboard.set_team", "2024").returncode == 0
    assert pyrostage("ctl", *ns_args, "red", "scoreboard.set_score", "10").returncode == 0
    out = pyrostage("ctl", *ns_args, "red", "scoreboard.add_points", "-5")
    assert out.returncode == 0, out.stderr
    with node.proxy() as p:
        assert p.call("scoreboard.get_score") == 5
        assert p.status()["state"]["scoreboard"]["team"] == "2024"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["red", "set_color", "nonsense"], "ValueError: colorsquare.set_color: color: unknown"),
        (["red", "no_such"], "LookupError: the active mode 'colorsquare' has no command"),
        (["ghost", "status"], "LookupError: no node named 'ghost'"),
        (["red", "switch", "nope"], "LookupError: unknown mode 'nope'"),
        (["red", "set_color", "1", "2"], "takes 1 argument(s), got 2"),
    ],
)
def test_errors_are_one_clear_line(node, ns_args, args, words):
    out = pyrostage("ctl", *ns_args, *args)
    assert out.returncode != 0
    assert words in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_no_name_server_is_one_clear_line(tmp_path):
    out = pyrostage("list", "--ns-host", "127.0.0.1", "--ns-port", str(free_port()))
    assert out.returncode != 0
    assert "no name server at 127.0.0.1" in out.stderr
    assert "Traceback" not in out.stderr


def test_demo_brings_up_two_nodes_that_list_shows_and_ctl_drives(tmp_path):
    port = str(free_port())
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "engine", "demo", "--ns-port", port, "--headless",
             "--state-dir", str(tmp_path / "demo")],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "Ctrl-C stops the demo" in log.read_text(), timeout=60)
        text = log.read_text()
        assert f"ctl --ns-port {port} red colorsquare.set_color 255,0,0" in text
        listed = pyrostage("list", "--ns-port", port)
        assert "red" in listed.stdout and "blue" in listed.stdout
        assert pyrostage("ctl", "--ns-port", port, "blue", "set_color", "navy").stdout.strip() \
            == "blue  ok: color is now 0,0,128"
        png = tmp_path / "blue.png"
        assert pyrostage("snapshot", "--ns-port", port, "blue", str(png)).returncode == 0
        assert pixel(png.read_bytes()) == (0, 0, 128)
    finally:
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=20) == 0
    assert "unregistered pyrostage.red" in log.read_text()


@pytest.fixture
def silent_ns() -> Iterator[tuple[str, int]]:
    """A hung (or half-open) "name server": the kernel accepts connections, nothing answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        host, port = s.getsockname()
        yield host, port


def test_a_silent_name_server_neither_blocks_the_node_nor_its_exit(tmp_path, silent_ns):
    host, port = silent_ns
    node_port = free_port()
    ns = SimpleNamespace(host=host, port=port)
    with spawn_node(tmp_path, ns, "red", "--port", str(node_port)) as proc:  # type: ignore[arg-type]
        with Pyro4.Proxy(f"PYRO:pyrostage.red@127.0.0.1:{node_port}") as p:
            p._pyroTimeout = 10  # hang guard
            # a snapshot needs the main loop: the node came up although registering hangs
            wait_for(lambda: pixel(p.snapshot()) == (0, 0, 0), timeout=20)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0  # hang guard; it takes a second or two
    log = (tmp_path / "red.log").read_text()
    assert f"no name server at {host}:{port}" in log


def test_list_against_a_silent_name_server_is_one_clear_line(silent_ns):
    host, port = silent_ns
    out = pyrostage("list", "--ns-host", host, "--ns-port", str(port), timeout=30)
    assert out.returncode != 0
    assert f"no name server at {host}:{port}" in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_serve_on_a_port_in_use_is_one_clear_line(tmp_path, name_server):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        out = pyrostage(
            "serve", "--name", "red", "--host", "127.0.0.1", "--port", str(port),
            "--ns-host", name_server.host, "--ns-port", str(name_server.port),
            "--state-dir", str(tmp_path / "state"), "--headless", "--size", "320x180",
            "--gpio", "none",
        )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    (line,) = error_lines(out)
    assert f"127.0.0.1:{port}" in line and "in use" in line


def test_ctl_reaches_every_facade_member(node, ns_args):
    out = pyrostage("ctl", *ns_args, "red", "snapshot")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("red  ok: PNG, ") and " bytes " in out.stdout


def test_plugins_lists_the_ones_the_block_list_skipped():
    out = pyrostage("plugins", env={"PYROSTAGE_DISABLE_PLUGINS": "timer"})
    assert out.returncode == 0, out.stderr
    (timer,) = [line for line in out.stdout.splitlines() if "timer" in line]
    assert "skipped" in timer
    assert "colorsquare" in out.stdout


@pytest.mark.parametrize(
    "words", [["[10,20,30]"], ["[10, 20, 30]"], ["10,20,30"], ["[10,", "20,", "30]"]]
)
def test_colour_lists_as_the_readme_writes_them(node, ns_args, words):
    out = pyrostage("ctl", *ns_args, "red", "set_color", *words)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "red  ok: color is now 10,20,30"
    with node.proxy() as p:
        assert pixel(p.snapshot()) == (10, 20, 30)


def test_properties_are_members_too(node, ns_args):
    out = pyrostage("ctl", *ns_args, "red", "mode")
    assert (out.returncode, out.stdout.strip()) == (0, "red  ok: mode: colorsquare"), out.stderr
    out = pyrostage("ctl", *ns_args, "red", "mode", "scoreboard")
    assert (out.returncode, out.stdout.strip()) == (0, "red  ok: switched to scoreboard"), \
        out.stderr
    with node.proxy() as p:
        assert p.mode == "scoreboard"
    assert pyrostage("ctl", *ns_args, "red", "node").stdout.strip() == "red  ok: node: red"
    assert pyrostage("ctl", *ns_args, "red", "uptime").stdout.startswith("red  ok: up ")
    uptime = json.loads(pyrostage("ctl", *ns_args, "red", "uptime", "--json").stdout)
    assert uptime["red"]["result"] > 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["ring", "abc"], "ring: seconds: expected a number, got 'abc'"),
        (["ring", "-1"], "ValueError: seconds must be"),
        (["ring", "60"], "ValueError: seconds must be"),
        (["ring", "1", "bell", "x"], "takes 2 argument(s), got 3"),
        (["uptime", "5"], "uptime() takes 0 argument(s), got 1"),
        (["scoreboard.add_points", "many"], "delta: expected an integer, got 'many'"),
    ],
)
def test_member_arguments_are_checked_in_one_line(node, ns_args, args, words):
    out = pyrostage("ctl", *ns_args, "red", *args)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert words in out.stderr


def test_list_group_shows_only_the_nodes_in_that_group(tmp_path, name_server, ns_args):
    with node_process(tmp_path, name_server, "--group", "hall", name="red"), \
            node_process(tmp_path, name_server, "--group", "yard", "--group", "hall",
                         name="blue"), \
            node_process(tmp_path, name_server, "--group", "yard", name="green"):
        with name_server.proxy() as ns:  # another program's entry with the same tag
            ns.register("weather.hall", "PYRO:thermo@127.0.0.1:1", metadata={"group:hall"})
        listed = {}
        for group in ("hall", "yard", "attic"):
            out = pyrostage("list", *ns_args, "--group", group)
            assert out.returncode == 0, out.stderr
            listed[group] = {line.split()[1] for line in out.stdout.splitlines()
                             if line.startswith("│") and "127.0.0.1:" in line}
    assert listed == {"hall": {"red", "blue"}, "yard": {"blue", "green"}, "attic": set()}
    assert "no nodes in group 'attic'" in out.stdout
