"""kill -9 at a random moment loses no acknowledged change, and the screen comes back as it was.

The node runs as its own process (``pyrostage serve``), exactly as on a Pi; controllers stream
``scoreboard.add_points(1)`` and count the calls acknowledged; SIGKILL lands at a random
moment; the node restarts on the same state dir. Its score must equal the acknowledged count,
plus at most one per stream for a call that was in flight when the process died.
"""

from __future__ import annotations

import logging
import os
import random
import subprocess
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import NameServer, image, pixel, wait_for
from nodeproc import GUARD, kill9, node_process

from engine.control.controller import Controller

STREAMS = 2  # controllers adding points at the same time (their commits are grouped)


@dataclass
class Trial:
    before: int
    acknowledged: int
    in_flight: int
    after: int

    @property
    def lost(self) -> int:
        return max(0, self.before + self.acknowledged - self.after)

    @property
    def landed_unacknowledged(self) -> int:
        return max(0, self.after - self.before - self.acknowledged)


class Stream(threading.Thread):
    """One controller calling ``scoreboard.add_points(1)`` until the node dies."""

    def __init__(self, ns: NameServer):
        super().__init__(daemon=True)
        self.controller = Controller(ns.host, ns.port, timeout=GUARD)
        self.acknowledged = 0
        self.in_flight = 0
        self.running = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while True:
                self.in_flight = 1
                self.controller.call("red", "scoreboard.add_points", 1)
                self.in_flight = 0
                self.acknowledged += 1
                self.running.set()
        except BaseException as exc:  # expected: ConnectionError once the node is killed
            self.error = exc
        finally:
            self.running.set()
            self.controller.close()


def stream_then_kill(ns: NameServer, proc: subprocess.Popen[bytes], delay: float) -> list[Stream]:
    streams = [Stream(ns) for _ in range(STREAMS)]
    for s in streams:
        s.start()
    for s in streams:
        assert s.running.wait(GUARD)
    time.sleep(delay)
    kill9(proc)
    for s in streams:
        s.join(GUARD)
        assert not s.is_alive()
        # a call cut off by the kill is reported clearly and never silently repeated
        assert isinstance(s.error, ConnectionError) and "not retried" in str(s.error), s.error
    return streams


def run_trials(tmp_path: Path, ns: NameServer, trials: int) -> list[Trial]:
    seed = int.from_bytes(os.urandom(4), "big")
    print(f"\nkill -9 trials with seed {seed}")
    rng = random.Random(seed)
    results: list[Trial] = []
    with ExitStack() as stack, Controller(ns.host, ns.port, timeout=GUARD) as c:
        proc = stack.enter_context(node_process(tmp_path, ns))
        before = c.call("red", "scoreboard.get_score")
        for _ in range(trials):
            streams = stream_then_kill(ns, proc, delay=rng.uniform(0.0, 0.4))
            proc = stack.enter_context(node_process(tmp_path, ns))  # same state dir
            after = c.call("red", "scoreboard.get_score")
            trial = Trial(before, sum(s.acknowledged for s in streams),
                          sum(s.in_flight for s in streams), after)
            results.append(trial)
            assert trial.lost == 0, f"acknowledged updates lost (seed {seed}): {trial}"
            assert trial.landed_unacknowledged <= trial.in_flight, f"seed {seed}: {trial}"
            # the journal agrees with the score and says who made the change
            newest = c.call("red", "scoreboard.history", 1)[0]
            assert (newest["score"], newest["source"]) == (after, "controller")
            before = after
    print(f"kill -9 trials: {len(results)}, acknowledged add_points: "
          f"{sum(t.acknowledged for t in results)}, updates lost: "
          f"{sum(t.lost for t in results)}, in-flight calls that landed anyway: "
          f"{sum(t.landed_unacknowledged for t in results)}")
    return results


def test_kill9_loses_no_acknowledged_update(tmp_path: Path, name_server: NameServer):
    results = run_trials(tmp_path, name_server, trials=2)
    assert all(t.acknowledged > 0 for t in results)


@pytest.mark.long
@pytest.mark.timeout(300)
def test_kill9_loses_no_acknowledged_update_many_trials(tmp_path: Path, name_server: NameServer):
    results = run_trials(tmp_path, name_server, trials=12)
    assert len(results) >= 10


def settled_snapshot(c: Controller) -> bytes:
    """The screen once it stops changing (the score counts up for up to half a second)."""
    shots: list[bytes] = [c.member("red", "snapshot")]

    def steady() -> bool:
        time.sleep(0.15)
        shots.append(c.member("red", "snapshot"))
        return shots[-1] == shots[-2]

    wait_for(steady, timeout=GUARD, interval=0)
    return shots[-1]


def test_a_restarted_node_shows_the_same_screen(tmp_path: Path, name_server: NameServer):
    with ExitStack() as stack, Controller(name_server.host, name_server.port) as c:
        proc = stack.enter_context(node_process(tmp_path, name_server))
        c.call("red", "colorsquare.set_color", "orange")
        c.call("red", "scoreboard.set_team", "Blue Jays")
        c.call("red", "scoreboard.set_title_color", "cyan")
        c.call("red", "scoreboard.add_points", 4242)
        square = settled_snapshot(c)
        assert pixel(square) == (255, 165, 0)

        kill9(proc)
        proc = stack.enter_context(node_process(tmp_path, name_server))
        assert c.member("red", "status")["mode"] == "colorsquare"
        assert image(c.member("red", "snapshot")).tobytes() == image(square).tobytes()

        c.member("red", "switch", "scoreboard")
        board = settled_snapshot(c)
        kill9(proc)
        stack.enter_context(node_process(tmp_path, name_server))
        status = c.member("red", "status")
        assert status["mode"] == "scoreboard"
        assert status["state"]["scoreboard"]["team"] == "Blue Jays"
        assert status["state"]["scoreboard"]["score"] == 4242
        assert image(c.member("red", "snapshot")).tobytes() == image(board).tobytes()


def damage(path: Path, how: str, needle: bytes) -> None:
    if how == "garbage":
        path.write_bytes(random.Random(4).randbytes(path.stat().st_size or 8192))
        return
    data = bytearray(path.read_bytes())
    at = data.index(needle)  # one stored value gets a control character: invalid JSON
    data[at] = 0x07
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "how", ["one damaged value", pytest.param("garbage", marks=pytest.mark.long)])
def test_a_corrupt_state_file_is_moved_aside_and_the_node_starts_fresh(
    start_node: Any, caplog: pytest.LogCaptureFixture, how: str
):
    node = start_node()
    with node.proxy() as p:
        p.call("set_color", "red")
        p.call("scoreboard.set_team", "Owls")
    node.stop()
    state_file: Path = node.node.config.state_file
    assert not Path(f"{state_file}-wal").exists()  # everything is in the main file now
    damage(state_file, how, b'"Owls"')

    with caplog.at_level(logging.ERROR, logger="engine.core.store"):
        node = start_node()
    lines = [r.getMessage() for r in caplog.records if r.name == "engine.core.store"]
    assert len(lines) == 1 and "is unreadable" in lines[0], lines
    assert "moved aside" in lines[0] and "starting fresh" in lines[0]
    aside = [f.name for f in state_file.parent.iterdir() if ".corrupt-" in f.name]
    assert f"{state_file.name}.corrupt-" in lines[0] and aside, (lines, aside)

    with node.proxy() as p:  # fresh state, serving, and saving again
        status = p.status()
        assert status["state"]["colorsquare"]["color"] == [0, 0, 0]
        assert status["state"]["scoreboard"]["team"] != "Owls"
        assert p.call("set_color", "blue") == [0, 0, 255]
    node.stop()
    node = start_node()
    with node.proxy() as p:
        assert p.call("get_color") == [0, 0, 255]
        assert pixel(p.snapshot()) == (0, 0, 255)
