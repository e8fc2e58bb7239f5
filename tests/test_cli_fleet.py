"""The CLI for people across a fleet: ``ctl``, ``list`` and ``snapshot`` against four real
subprocess nodes (in-process through click's runner, and a few real ``pyrostage`` processes
for exit codes and streaming), and ``engine.cli.show``'s wording on its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime

import pytest
from click.testing import CliRunner, Result
from conftest import ROOT, pixel

from engine.cli import show
from engine.cli.app import main
from engine.control.clock import Offset

GUARD = 30  # hang guard for a real process


def cli(camp, *args: str) -> Result:
    ns, _ = camp
    where = ["--ns-host", ns.host, "--ns-port", str(ns.port)]
    return CliRunner(env={"COLUMNS": "200"}).invoke(main, [args[0], *where, *args[1:]])


def lines(text: str) -> dict[str, str]:
    """Node -> the rest of its line (``red   ok: ...``)."""
    return {line.split()[0]: line.split(None, 1)[1] for line in text.splitlines()
            if line and not line.startswith(" ")}


def pyrostage(camp, *args: str, **kwargs) -> subprocess.Popen[str]:
    ns, _ = camp
    cmd = [sys.executable, "-m", "engine", args[0], "--ns-host", ns.host, "--ns-port",
           str(ns.port), *args[1:]]
    return subprocess.Popen(cmd, cwd=ROOT, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "200"},
                            **kwargs)


def test_selectors_reach_the_nodes_they_name(camp, ctl):
    ctl_all = cli(camp, "ctl", "all", "colorsquare.set_color", "black")
    assert ctl_all.exit_code == 0, ctl_all.output
    done = cli(camp, "ctl", "@teams", "colorsquare.set_color", "255,0,0")
    assert done.exit_code == 0, done.output
    assert lines(done.stdout) == {n: "ok: color is now 255,0,0" for n in ("red", "blue", "green")}
    assert ctl.call("gold", "colorsquare.get_color") == [0, 0, 0]
    two = cli(camp, "ctl", "gold, blue", "colorsquare.get_color")
    assert lines(two.stdout) == {"gold": "ok: color: 0,0,0", "blue": "ok: color: 255,0,0"}
    modes = cli(camp, "ctl", "@stage", "mode")
    assert lines(modes.stdout) == {"gold": "ok: mode: colorsquare",
                                   "green": "ok: mode: colorsquare"}
    lined_up = {line.index("ok:") for line in done.stdout.splitlines()}
    assert len(lined_up) == 1  # names padded: the answers start in one column


def test_a_bad_selector_is_one_line(camp):
    out = cli(camp, "ctl", "@nobody", "status")
    assert out.exit_code == 1
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("Error: LookupError: no node in group 'nobody'")
    assert "groups: stage, teams" in line


def test_a_broadcast_applies_where_it_can_and_exits_non_zero(camp, ctl):
    ctl.member("red", "switch", "timer")
    ctl.member("green", "switch", "timer")
    ctl.member("blue", "switch", "colorsquare")
    try:
        out = cli(camp, "ctl", "@teams", "start")
        assert out.exit_code == 1
        assert lines(out.stdout) == {"red": "ok: started the stopwatch from zero",
                                     "green": "ok: started the stopwatch from zero"}
        (blue,) = out.stderr.strip().splitlines()
        assert blue.startswith("blue   error: LookupError: the active mode 'colorsquare' has "
                               "no command 'start'")
        assert ctl.call("red", "timer.running") and ctl.call("green", "timer.running")
        again = cli(camp, "ctl", "@teams", "start", "--json")
        doc = json.loads(again.stdout)
        assert again.exit_code == 1 and again.stderr == ""
        assert doc["red"] == {"result": None} and doc["green"] == {"result": None}
        assert doc["blue"]["error"]["type"] == "LookupError"
        assert "has no command 'start'" in doc["blue"]["error"]["message"]
        stopped = cli(camp, "ctl", "red,green", "timer.reset")
        assert lines(stopped.stdout) == {"red": "ok: reset: done", "green": "ok: reset: done"}
        assert not ctl.call("red", "timer.running")
    finally:
        for node in ("red", "green"):
            ctl.member(node, "switch", "colorsquare")


def test_status_is_a_line_for_people_and_the_full_dict_in_json(camp, ctl):
    ctl.call("gold", "scoreboard.set_team", "Hawks")
    ctl.call("gold", "scoreboard.set_score", 5)
    ctl.member("gold", "switch", "scoreboard")
    try:
        out = cli(camp, "ctl", "gold", "status")
        assert out.exit_code == 0, out.output
        (line,) = out.stdout.splitlines()
        assert line.startswith("gold  ok: scoreboard · Hawks: 5 · up ")
        assert line.endswith(" · GPIO none (main) · registered")
        doc = json.loads(cli(camp, "ctl", "gold", "status", "--json").stdout)
        assert doc["gold"]["result"]["state"]["scoreboard"]["team"] == "Hawks"
        assert doc["gold"]["result"]["registration"]["registered"] is True
    finally:
        ctl.member("gold", "switch", "colorsquare")


def test_history_is_a_table_in_local_time(camp, ctl):
    ctl.call("blue", "scoreboard.set_score", 0)
    ctl.call("blue", "scoreboard.add_points", 7)
    ctl.call("blue", "scoreboard.add_points", -2)
    journal = ctl.call("blue", "scoreboard.history", 2)
    out = cli(camp, "ctl", "blue", "scoreboard.history", "2")
    assert out.exit_code == 0, out.output
    head, *table = out.stdout.splitlines()
    assert head == "blue  ok:"
    assert table[0].split() == ["#", "time", "delta", "score", "team", "source", "undone"]
    rows = [row.split() for row in table[2:]]
    assert [(r[2], r[3]) for r in rows] == [("-2", "5"), ("+7", "7")]
    for row, entry in zip(rows, journal, strict=True):
        # the node's wall time through its measured offset (same machine: ~0, so either
        # side of a second boundary is right)
        assert row[1] in {show.local_time(entry["at"] + d, None) for d in (-0.01, 0.01)}
    raw = json.loads(cli(camp, "ctl", "blue", "scoreboard.history", "2", "--json").stdout)
    assert [e["score"] for e in raw["blue"]["result"]] == [5, 7]


def test_a_frozen_node_costs_its_own_line_only(camp, ctl):
    _, procs = camp
    frozen = procs["gold"]
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        # the deadline is generous: the other three must answer well before it, however
        # loaded the machine (a loaded CI took more than 4 s to start the command and call)
        proc = pyrostage(camp, "ctl", "all", "colorsquare.set_color", "teal", "--timeout", "12")
        assert proc.stdout is not None
        first = [proc.stdout.readline() for _ in range(3)]
        assert proc.poll() is None  # the others' lines came while gold was still awaited
        out, err = proc.communicate(timeout=GUARD)
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    assert proc.returncode == 1
    assert lines("".join(first)) == {n: "ok: color is now 0,128,128"
                                     for n in ("red", "blue", "green")}
    assert out == ""
    (gold,) = err.strip().splitlines()
    # (within 12 s, or within 5 s of connecting, or when asked for its commands to convert
    # the words: a frozen node accepts no connection either, and which comes first is timing)
    assert gold.startswith("gold   error: ") and "did not answer" in gold
    assert ctl.call("blue", "colorsquare.get_color") == [0, 128, 128]


def test_real_runs_exit_non_zero_without_tracebacks(camp):
    bad = pyrostage(camp, "ctl", "@stage", "no_such_command")
    out, err = bad.communicate(timeout=GUARD)
    assert bad.returncode == 1 and out == "" and "Traceback" not in err
    assert sorted(line.split()[0] for line in err.splitlines()) == ["gold", "green"]
    assert all("LookupError" in line for line in err.splitlines())
    ghost = pyrostage(camp, "ctl", "ghost", "status")
    out, err = ghost.communicate(timeout=GUARD)
    assert ghost.returncode == 1 and "Traceback" not in err
    assert err.startswith("Error: LookupError: no node named 'ghost'")


def test_snapshot_out_saves_one_png_per_node(camp, ctl, tmp_path):
    ctl.call("gold", "colorsquare.set_color", "navy")
    ctl.call("green", "colorsquare.set_color", "lime")
    folder = tmp_path / "shots"
    out = cli(camp, "snapshot", "@stage", "--out", str(folder))
    assert out.exit_code == 0, out.output
    assert lines(out.stdout).keys() == {"gold", "green"}
    assert f"bytes to {folder / 'gold.png'}" in out.stdout
    assert pixel((folder / "gold.png").read_bytes()) == (0, 0, 128)
    assert pixel((folder / "green.png").read_bytes()) == (0, 255, 0)

    (folder / "green.png").unlink()
    (folder / "green.png").mkdir()  # green's file cannot be written: gold's still is
    again = cli(camp, "snapshot", "@stage", "--out", str(folder), "--json")
    assert again.exit_code == 1
    doc = json.loads(again.stdout)
    assert doc["gold"]["result"]["file"] == str(folder / "gold.png")
    assert "cannot save to" in doc["green"]["error"]["message"]

    one = tmp_path / "one.png"
    assert cli(camp, "snapshot", "gold", str(one)).exit_code == 0
    assert pixel(one.read_bytes()) == (0, 0, 128)
    many = cli(camp, "snapshot", "@stage", str(one))
    assert many.exit_code == 2 and "--out DIR" in many.stderr


def test_list_shows_groups_and_what_each_node_shows(camp, ctl):
    ctl.call("red", "colorsquare.set_color", "255,0,0")
    out = cli(camp, "list")
    assert out.exit_code == 0, out.output
    rows = {cells[0]: cells for line in out.stdout.splitlines()
            if line.startswith("│") and (cells := [c.strip() for c in line.strip("│").split("│")])}
    assert rows["red"][1] == "teams" and rows["green"][1] == "stage, teams"
    assert rows["red"][2] == "colorsquare" and rows["red"][3] == "red"
    assert rows["red"][4].startswith("127.0.0.1:")
    doc = json.loads(cli(camp, "list", "--group", "stage", "--json").stdout)
    assert list(doc) == ["gold", "green"]
    assert doc["gold"]["groups"] == ["stage"] and doc["gold"]["mode"] == "colorsquare"
    assert doc["green"]["status"]["node"] == "green" and doc["green"]["problem"] is None


# -- the wording on its own ----------------------------------------------------------------

def test_times_go_through_the_nodes_clock_offset():
    """A node whose wall clock is an hour and a bit ahead: its journal times are shown in
    ours."""
    at = datetime.now().replace(hour=12, minute=0, second=0, microsecond=0).timestamp()
    offset = Offset("red", monotonic=0.0, wall=3600.25, round_trip=0.002, at=0.0)
    entries = [{"id": 2, "delta": 5, "score": 15, "source": "web", "at": at + 10,
                "undone": False, "time": "node's own"},
               {"id": 1, "delta": 10, "score": 10, "source": "button", "at": at,
                "undone": True, "time": "node's own"}]
    text = show.human("red", "history", entries, offset)
    rows = [line.split() for line in text.splitlines()[2:]]
    assert rows == [["2", "11:00:09", "+5", "15", "web"],
                    ["1", "10:59:59", "+10", "10", "button", "yes"]]
    assert "time (node clock)" in show.human("red", "history", entries)


@pytest.mark.parametrize("command, result, spec, args, said", [
    ("set_color", [1, 2, 3], None, ["1,2,3"], "color is now 1,2,3"),
    ("scoreboard.set_team", "Red Foxes", None, ["Red Foxes"], "team is now Red Foxes"),
    ("get_score", 7, None, [], "score: 7"),
    ("running", False, {"read": True}, [], "running: no"),
    ("add_points", 15, {"read": False}, [5], "add points 5 → 15"),
    ("countdown", None, {"doc": "Count down from ``seconds`` to zero.",
                         "params": [{"name": "seconds"}]}, [30.0], "countdown 30: done"),
    ("timer.start", None, {"doc": "Start the stopwatch from zero (a running one too)."}, [],
     "started the stopwatch from zero"),
    ("fade", None, {"doc": "Fade to ``colour`` over ``seconds``; then stay.",
                    "params": [{"name": "colour"}, {"name": "seconds"}]}, ["navy", 2.5],
     "faded to navy over 2.5"),
    ("tidy", None, None, [], "tidy: done"),
    ("switch", "timer", None, ["timer"], "switched to timer"),
    ("mode", "timer", None, [], "mode: timer"),
    ("uptime", 3725.5, None, [], "up 1 h 02 min"),
    ("press", False, None, [], "press of main ignored (debounce)"),
    ("modes", ["colorsquare", "timer"], None, [], "modes: colorsquare, timer"),
    ("quiz.scores", {"red": 3, "blue": 4}, {"read": True}, [], "scores:\n  red: 3\n  blue: 4"),
    ("quiz.teams", [], {"read": True}, [], "teams: none"),
])
def test_results_read_as_what_happened(command, result, spec, args, said):
    assert show.human("red", command, result, spec=spec, args=args) == said


def test_a_status_summary_names_what_is_wrong():
    status = {"mode": "timer", "uptime": 75,
              "state": {"timer": {"running": True, "countdown": 30, "shown": "12.000"},
                        "easter_egg": {"enabled": True}},
              "gpio": {"backend": "rpi", "buttons": ["main", "second"]},
              "registration": {"registered": False, "conflict": "PYRO:x@10.0.0.9:1"},
              "store": {"ok": False, "error": "disk full"}, "plugins": {}}
    assert show.human("red", "status", status).splitlines() == [
        "timer · countdown 30 s: 12.000 · up 1 min 15 s · GPIO rpi (main, second) · "
        "name taken by PYRO:x@10.0.0.9:1 · easter egg on",
        "state not saved: disk full"]


def test_node_lines_line_up_and_errors_stay_one_line():
    assert show.line("red", 5, "color is now 1,2,3") == "red    ok: color is now 1,2,3"
    assert show.line("red", 3, "a\nb") == "red  ok:\n     a\n     b"
    assert show.error_text(ValueError("bad\n  colour")) == "ValueError: bad colour"
