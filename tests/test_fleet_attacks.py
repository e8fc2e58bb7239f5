"""The fleet controller attacked the way a camp does it: a frozen node called again and again,
a timer restarted by hand in the middle of a race, ... Each test failed before its fix.

Real name server, real in-process nodes, real Pyro on 127.0.0.1.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import Pyro4
import pytest
from conftest import ROOT, wait_for

from engine import Behaviour, command
from engine.base.names import NODE_TAG, object_name
from engine.control.controller import Controller
from engine.control.events import NOTICE, Listener
from engine.control.fleet import Fleet
from engine.control.race import Race
from engine.control.shellwords import PARSE_ERROR
from engine.testing import plugin_manager


@contextmanager
def silent_entry(name_server, name: str) -> Iterator[None]:
    """A name-server entry ``name`` whose port accepts connections and never answers (what a
    SIGSTOPped node looks like from outside)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(200)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    with Pyro4.locateNS(name_server.host, name_server.port) as ns:
        ns.register(object_name(name), f"PYRO:obj@127.0.0.1:{server.getsockname()[1]}",
                    metadata={NODE_TAG})
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


def threads_for(node: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name.endswith(f" {node}")
               and t.name.split(" ")[0] in {"fleet", "connect"})


def test_a_frozen_node_called_again_and_again_piles_up_no_threads(name_server):
    with silent_entry(name_server, "frozen"), \
            Controller(name_server.host, name_server.port) as ctl, \
            Fleet(ctl, timeout=5.0) as fleet:
        for _ in range(25):
            outcome = fleet.call("frozen", "status", timeout=0.05)["frozen"]
            assert isinstance(outcome.error, TimeoutError)
        assert threads_for("frozen") <= 4  # was one worker and one connect thread per call


# -- the race -------------------------------------------------------------------------------

@pytest.fixture
def pair(start_node, name_server):
    nodes = {name: start_node(name=name) for name in ("red", "blue")}
    with Controller(name_server.host, name_server.port) as ctl:
        wait_for(lambda: {n.name for n in ctl.nodes()} >= set(nodes) or None, timeout=30)
    return nodes


def race_in_background(ctl: Controller, selector: str, **kw: Any):
    steps: list[dict[str, Any]] = []
    armed = threading.Event()
    result: dict[str, Any] = {}

    def report(step: dict[str, Any]) -> None:
        steps.append({**step, "_at": time.monotonic()})
        if step["event"] == "armed":
            armed.set()

    fleet = Fleet(ctl, timeout=5)
    race = Race(fleet, selector, listen=lambda nodes, consumer: Listener(ctl, nodes, consumer),
                report=report, **kw)

    def run() -> None:
        try:
            result.update(race.run())
        finally:
            fleet.close()

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    assert armed.wait(30)
    start = steps[0]["_at"] + steps[0]["start_in"]
    return runner, start, result, steps


def sleep_until(instant: float) -> None:
    time.sleep(max(0.0, instant - time.monotonic()))


def test_a_timer_restarted_by_hand_mid_race_is_no_race_result(pair, name_server):
    with Controller(name_server.host, name_server.port) as ctl:
        runner, start, result, steps = race_in_background(ctl, "red,blue", start_in=1.0,
                                                          timeout=4.0)
        sleep_until(start + 0.3)
        with ctl.clone() as own:
            own.call("red", "timer.start")  # a camper's plain stopwatch, not the race's
            own.member("red", "press")  # 0 s on the stopwatch: it must not win the race
        sleep_until(start + 0.8)
        with ctl.clone() as own:
            own.member("blue", "press")
        runner.join(30)
        assert not runner.is_alive()
    ranking = result["ranking"]
    assert [r["node"] for r in ranking] == ["blue"]
    assert "red" in result["failed"] or "red" in result["unfinished"]
    assert [s["node"] for s in steps if s["event"] == "stopped"] == ["blue"]


# -- events with big data -------------------------------------------------------------------

class Chatty(Behaviour):
    """A plugin that publishes what it is told to: ``count`` events of ``size`` characters."""

    name = "chatty"

    @command
    def shout(self, count: int, size: int) -> None:
        for i in range(count):
            self.publish("blob", i=i, text="x" * size)


def test_events_with_big_data_still_reach_subscribers_and_catch_up(start_node, name_server):
    """A plugin publishing 100 kB events: pushes of 200 of them and ``events_since`` pages of
    500 went past the 16 MB a Pyro message may carry, so every push failed, the subscriber was
    dropped, and its catch-up failed again and again: the stream stopped for good."""
    node = start_node(pm=plugin_manager([Chatty]))
    got: list[dict[str, Any]] = []
    with Controller(name_server.host, name_server.port) as ctl, \
            Listener(ctl, ["red"], got.append, lease=10, renew=1) as listener:
        assert listener.wait(20) == []
        with node.proxy() as proxy:
            proxy.call("chatty.shout", 220, 100_000)
            proxy.call("chatty.shout", 1, 10)
            wait_for(lambda: any(r["name"] == "blob" and r["data"].get("text") == "x" * 10
                                 for r in got) or None, timeout=30)
            page = proxy.events_since(0)
            assert len(page["events"]) == 221
            assert all(r["name"] == "blob" for r in page["events"])
    blobs = [r for r in got if r["name"] == "blob"]
    assert [r["seq"] for r in blobs] == list(range(blobs[0]["seq"], blobs[0]["seq"] + 221))
    assert blobs[0]["data"]["truncated"] is True and blobs[0]["data"]["bytes"] > 100_000
    assert not [r for r in got if r["source"] == NOTICE and r["name"] != "resumed"]


# -- the shell fed garbage ------------------------------------------------------------------

def test_the_shell_reads_on_past_absurd_lines(node, name_server):
    """A 20000-digit r,g,b ended the whole shell with Python's int-size error, and a pasted
    megabyte held it for a minute (shlex grows a word one character at a time)."""
    lines = ("1" * 20_000 + ",2,3\n") + ("R" * 1_000_000 + "\n") + "\xff\x00\x1b[31m\r\nRED\r\n"
    done = subprocess.run(
        [sys.executable, "-m", "engine", "shell", "--ns-host", name_server.host, "--ns-port",
         str(name_server.port), "red"], input=lines.encode("utf-8", "surrogateescape"),
        capture_output=True, timeout=30, cwd=ROOT)
    out = done.stdout.decode().splitlines()
    assert out == [PARSE_ERROR, PARSE_ERROR, PARSE_ERROR, "RED"], done.stderr
    assert done.returncode == 1
    assert "Traceback" not in done.stderr.decode()
    with node.proxy() as proxy:
        assert proxy.call("colorsquare.get_color") == [255, 0, 0]


# -- presets pointing at odd files ----------------------------------------------------------

ODD_FILES = r'''
import resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))
from engine.control.presets import PresetFile
folder = Path(sys.argv[1])
(folder / "big.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(3 * 1024 * 1024))
(folder / "p.toml").write_text(
    '[presets.zero.red]\nbackground = "/dev/zero"\n'
    '[presets.big.red]\nbackground = "big.png"\n'
    '[presets.dir.red]\nbackground = "."\n')
file = PresetFile.load(folder / "p.toml")
for name in ("zero", "big", "dir"):
    p = file.get(name)
    try:
        p.backgrounds(p.plan(["red"]))
    except (OSError, ValueError) as exc:
        print(name, type(exc).__name__, exc)
try:
    PresetFile.load("/dev/zero")
except ValueError as exc:
    print("file", type(exc).__name__, exc)
'''


def test_presets_pointing_at_endless_huge_or_odd_files_say_so(tmp_path):
    """A background (or the presets file itself) at /dev/zero was read until memory ran
    out; a 3 MB one was read whole to be refused by every node."""
    done = subprocess.run([sys.executable, "-c", ODD_FILES, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    said = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert said["zero"].startswith("OSError") and "not a regular file" in said["zero"]
    assert said["big"].startswith("ValueError") and "more than 2097152 bytes" in said["big"]
    assert said["dir"].startswith("OSError") and "not a regular file" in said["dir"]
    assert said["file"].startswith("ValueError") and "/dev/zero" in said["file"]
