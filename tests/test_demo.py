"""``pyrostage demo --nodes N`` rehearses a camp on one machine; a node started without
``--name`` registers under the machine's host name (cloned SD cards do not collide)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, free_port, lookup_proxy, wait_for

from engine.control.controller import Controller
from engine.testing import NameServer

GUARD = 60.0  # hang guard: four nodes starting on a busy two-core machine


def test_demo_with_four_nodes_lists_groups_serves_the_page_and_stops_cleanly(
        tmp_path: Path) -> None:
    port, web_port = free_port(), free_port()
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "engine", "demo", "--nodes", "4", "--ns-port", str(port),
             "--headless", "--state-dir", str(tmp_path / "state"), "--web-port", str(web_port)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
    try:
        page = f"http://127.0.0.1:{web_port}/"
        wait_for(lambda: f"pyrostage web: open {page}" in log.read_text(), timeout=GUARD)
        cards = httpx.get(f"{page}api/nodes", timeout=GUARD).json()
        assert [c["name"] for c in cards] == ["blue", "gold", "green", "red"]
        assert "▀" in log.read_text()  # the QR code to scan
        with Controller("127.0.0.1", port) as ctl:
            found = {n.name: n.groups for n in ctl.nodes()}
        assert found == {name: ["teams"] for name in ("blue", "gold", "green", "red")}
        text = log.read_text()
        assert "nodes red, blue, green, gold (group teams)" in text
        for hint in ("list", "ctl --ns-port {p} all status", "watch", "race --ns-port {p} @teams",
                     "shell"):
            assert hint.format(p=port) in text
        listed = subprocess.run(
            [sys.executable, "-m", "engine", "list", "--ns-port", str(port)], cwd=ROOT,
            capture_output=True, text=True, timeout=GUARD, env={**os.environ, "COLUMNS": "200"})
        rows = [line for line in listed.stdout.splitlines() if "teams" in line]
        assert len(rows) == 4 and all("colorsquare" in row for row in rows)
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            assert demo.wait(timeout=GUARD) == 0
        finally:
            if demo.poll() is None:
                demo.kill()
                demo.wait()
    text = log.read_text()
    for name in ("red", "blue", "green", "gold"):
        assert f"unregistered pyrostage.{name}" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("count", ["0", "9", "two"])
def test_demo_says_how_many_nodes_it_can_start(count: str) -> None:
    out = subprocess.run([sys.executable, "-m", "engine", "demo", "--nodes", count], cwd=ROOT,
                         capture_output=True, text=True, timeout=GUARD)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "'--nodes'" in out.stderr
    assert "1<=x<=8" in out.stderr or "'two' is not a valid integer" in out.stderr


HOST = "Camp-Pi #3.local"
"""The machine's host name as the node sees it (set in the child: the one thing faked)."""


def test_a_node_without_a_name_registers_under_the_host_name(tmp_path: Path,
                                                              name_server: NameServer) -> None:
    prelude = (f"import socket\nsocket.gethostname = lambda: {HOST!r}\n"
               "from engine.cli import main\nmain()")
    log = tmp_path / "node.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", prelude, "serve", "--host", "127.0.0.1",
             "--ns-host", name_server.host, "--ns-port", str(name_server.port),
             "--state-dir", str(tmp_path / "state"), "--headless", "--size", "320x180",
             "--gpio", "none"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "SDL_VIDEODRIVER": "dummy"},
        )
    try:
        with Controller(name_server.host, name_server.port) as ctl:
            def listed() -> list[str]:
                assert proc.poll() is None, log.read_text()
                return [n.name for n in ctl.nodes()]

            assert wait_for(listed, timeout=GUARD) == ["camp-pi-3"]
        with lookup_proxy(name_server, "camp-pi-3") as p:
            assert p.node == "camp-pi-3"
    finally:
        proc.terminate()
        proc.wait(timeout=GUARD)
