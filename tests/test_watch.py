"""``pyrostage watch``: a press on a real node shows up in a real ``watch`` process, as a JSON
record or as one line in local time; Ctrl-C ends it quietly."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import SimpleNamespace

from certs import make_certs
from conftest import ROOT, free_port, spawn_node, wait_for

GUARD = 20.0
KEYS = {"node", "boot", "seq", "source", "name", "data", "at"}


@contextmanager
def watching(name_server, *args: str, env: dict[str, str] | None = None
             ) -> Iterator[tuple[subprocess.Popen[str], queue.Queue]]:
    """``pyrostage watch ARGS`` as a process; its stdout lines arrive on the queue."""
    cmd = [sys.executable, "-m", "engine", "watch", "--ns-host", name_server.host,
           "--ns-port", str(name_server.port), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "COLUMNS": "200", **(env or {})})
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(GUARD)


def next_line(lines: queue.Queue, match) -> str:
    """The first line ``match(line)`` accepts (hang guard: GUARD seconds)."""
    while True:
        line = lines.get(timeout=GUARD).rstrip("\n")
        if match(line):
            return line


def subscribed(proxy) -> bool:
    return proxy.status()["events"]["subscribers"] == 1


def interrupt(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Ctrl-C: the exit status and what it wrote on stderr."""
    proc.send_signal(signal.SIGINT)
    proc.wait(GUARD)
    return proc.returncode, proc.stderr.read()  # type: ignore[union-attr]


def test_watch_json_receives_a_press(name_server, node, proxy):
    with watching(name_server, "red", "--json") as (proc, lines):
        wait_for(lambda: subscribed(proxy), timeout=GUARD)
        assert proxy.press() is True
        line = next_line(lines, lambda s: json.loads(s)["name"] == "button_pressed")
        record = json.loads(line)
        assert set(record) == KEYS
        assert record["node"] == "red" and record["source"] == "engine"
        assert record["data"]["button"] == "main" and record["data"]["mode"] == "colorsquare"
        assert record in proxy.events_since(0)["events"]
        status, stderr = interrupt(proc)
    assert status == 0 and stderr == ""


def test_watch_prints_one_line_per_event_in_local_time(name_server, node, proxy):
    with watching(name_server) as (proc, lines):  # all nodes
        wait_for(lambda: subscribed(proxy), timeout=GUARD)
        proxy.switch("scoreboard")
        proxy.call("add_points", 10)
        proxy.call("add_points", -3)
        line = next_line(lines, lambda s: "score_changed" in s and "-3" in s)
        status, stderr = interrupt(proc)
    match = re.fullmatch(r"(\d\d:\d\d:\d\d\.\d{3})  red\s+score_changed\s+-3 → 7 \(controller\)",
                         line)
    assert match, line
    at = [r for r in proxy.events_since(0)["events"] if r["name"] == "score_changed"][-1]["at"]
    shown = datetime.strptime(match[1], "%H:%M:%S.%f").time()
    local = datetime.fromtimestamp(at)  # one machine: the node's clock is ours
    seconds = abs((datetime.combine(local.date(), shown) - local).total_seconds())
    assert seconds < 1, (line, local)
    assert status == 0 and "watching red" in stderr and "Traceback" not in stderr


def test_watch_with_an_unknown_node_is_one_clear_line(name_server, node):
    out = subprocess.run([sys.executable, "-m", "engine", "watch", "purple", "--ns-host",
                          name_server.host, "--ns-port", str(name_server.port)],
                         capture_output=True, text=True, cwd=ROOT, timeout=GUARD)
    assert out.returncode != 0
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "'purple'" in errors[0] and "red" in errors[0], out.stderr
    assert "Traceback" not in out.stderr


def test_watch_over_tls(tmp_path):
    """Nodes push to watch's callback over TLS, checking its certificate like any server's."""
    c = make_certs(tmp_path / "certs")
    tls = (f'ca = "{c.ca}"\nclient_cert = "{c.client_cert}"\n'
           f'client_key = "{c.client_key}"\n')
    node_config = tmp_path / "node.toml"
    node_config.write_text(f'[tls]\ncert = "{c.server_cert}"\nkey = "{c.server_key}"\n'
                           f"require_client_cert = true\n{tls}")
    xdg = tmp_path / "xdg"  # the controller's config: its own certificate for 127.0.0.1
    (xdg / "pyrostage").mkdir(parents=True)
    (xdg / "pyrostage" / "pyrostage.toml").write_text(
        f'[tls]\ncert = "{c.server_cert}"\nkey = "{c.server_key}"\n{tls}')
    env = {"XDG_CONFIG_HOME": str(xdg)}
    ns = SimpleNamespace(host="127.0.0.1", port=free_port())
    ns_args = ["--ns-host", ns.host, "--ns-port", str(ns.port)]

    def press() -> bool:
        done = subprocess.run([sys.executable, "-m", "engine", "ctl", *ns_args, "tls", "press"],
                              capture_output=True, text=True, cwd=ROOT, timeout=GUARD,
                              env={**os.environ, **env})
        return done.returncode == 0

    with spawn_node(tmp_path, ns, "tls", "--config", str(node_config), "--embedded-ns"):  # type: ignore[arg-type]
        wait_for(press, timeout=30)  # the node is up
        plain = tmp_path / "plain"  # a controller with a client certificate only
        (plain / "pyrostage").mkdir(parents=True)
        (plain / "pyrostage" / "pyrostage.toml").write_text(f"[tls]\n{tls}")
        out = subprocess.run([sys.executable, "-m", "engine", "watch", *ns_args],
                             capture_output=True, text=True, cwd=ROOT, timeout=GUARD,
                             env={**os.environ, "XDG_CONFIG_HOME": str(plain)})
        errors = [line for line in out.stderr.splitlines() if line.startswith("Error")]
        assert out.returncode != 0 and len(errors) == 1, out.stderr
        assert "cert and key in the [tls] section" in errors[0]
        with watching(ns, "tls", "--json", env=env) as (proc, lines):
            found: list[dict] = []

            def pressed() -> bool:
                press()
                while not lines.empty():
                    found.append(json.loads(lines.get()))
                return any(r["name"] == "button_pressed" for r in found)

            wait_for(pressed, timeout=30, interval=0.3)
            status, stderr = interrupt(proc)
    assert found[0]["node"] == "tls" and set(found[0]) == KEYS
    assert status == 0 and stderr == ""

