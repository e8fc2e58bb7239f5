"""``pyrostage shell``: the original camp controller's inputs piped in give its outputs, on one
node or several; help, completion and the prompt. Four real subprocess nodes, a real name
server, the shell itself a real subprocess."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from conftest import ROOT, pixel
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from engine.cli.shell import Shell
from engine.cli.shell_complete import ShellCompleter
from engine.control.controller import Controller
from engine.control.fleet import Fleet
from engine.control.shellwords import (
    PARSE_ERROR,
    Catalog,
    Command,
    Original,
    Unparsed,
    hint,
    parse_line,
    parse_rgb,
)

GUARD = 30.0
TIME = re.compile(r"The square has been running for (\d+(?:\.\d+)?) seconds")


def shell(camp, selector: str | None, lines: str, *options: str) -> subprocess.CompletedProcess:
    """``pyrostage shell`` with ``lines`` on its standard input (a pipe, not a terminal)."""
    ns, _ = camp
    args = [sys.executable, "-m", "engine", "shell", "--ns-host", ns.host,
            "--ns-port", str(ns.port), *options, *([selector] if selector else [])]
    return subprocess.run(args, input=lines, capture_output=True, text=True, timeout=GUARD,
                          cwd=ROOT, env={**os.environ, "TERM": "xterm-256color"})


def out(done: subprocess.CompletedProcess) -> list[str]:
    return done.stdout.splitlines()


def seen(ctl: Controller, node: str) -> tuple[list[int], tuple[int, int, int]]:
    """The colour a node reports over Pyro, and the colour at the top of its screen (the
    caption is at the bottom)."""
    return ctl.call(node, "colorsquare.get_color"), pixel(ctl.member(node, "snapshot"), (20, 20))


@pytest.mark.parametrize("line, printed, rgb", [
    ("RED", "RED", (255, 0, 0)),
    ("GREEN", "GREEN", (0, 255, 0)),
    ("BLUE", "BLUE", (0, 0, 255)),
    ("10,20,30", "CUSTOM", (10, 20, 30)),
    (" 200, 0 ,99 ", "CUSTOM", (200, 0, 99)),
])
def test_an_original_input_prints_what_the_original_did(camp, ctl, line, printed, rgb):
    ctl.call("red", "colorsquare.set_color", "black")
    done = shell(camp, "red", f"{line}\n")
    assert out(done) == [printed] and done.returncode == 0, done.stderr
    assert seen(ctl, "red") == (list(rgb), rgb)
    assert "\x1b" not in done.stdout + done.stderr and not done.stderr


def test_time_says_how_long_the_square_has_run(camp, ctl):
    done = shell(camp, "red", "TIME\n")
    uptime = ctl.member("red", "uptime")
    assert done.returncode == 0 and len(out(done)) == 1, done.stderr
    match = TIME.fullmatch(out(done)[0])
    assert match is not None, out(done)
    assert 0 < float(match[1]) <= uptime  # what get_time() returned, as the original printed


def test_the_whole_original_session_in_one_pipe(camp, ctl):
    done = shell(camp, "red", "RED\nGREEN\nBLUE\nTIME\n10,20,30\n")
    lines = out(done)
    assert lines[:3] == ["RED", "GREEN", "BLUE"] and lines[4:] == ["CUSTOM"]
    assert TIME.fullmatch(lines[3]) and done.returncode == 0
    assert seen(ctl, "red") == ([10, 20, 30], (10, 20, 30))


@pytest.mark.parametrize("garbage", ["purple", "1,2", "1,2,3,4", "300,0,0", "-1,0,0",
                                     "what colour?", "RED!", "a,b,c", '"unclosed'])
def test_an_unparseable_line_says_so_and_the_loop_goes_on(camp, ctl, garbage):
    ctl.call("blue", "colorsquare.set_color", "black")
    done = shell(camp, "blue", f"{garbage}\nGREEN\n")
    assert out(done) == [PARSE_ERROR, "GREEN"]
    assert done.returncode == 1  # a line failed
    assert "Traceback" not in done.stderr and "\x1b" not in done.stdout + done.stderr
    assert seen(ctl, "blue") == ([0, 255, 0], (0, 255, 0))


def test_a_typo_of_a_command_gets_the_original_message_and_a_hint(camp):
    done = shell(camp, "blue", "set_colr orange\nTME\n")
    assert out(done) == [PARSE_ERROR, PARSE_ERROR] and done.returncode == 1
    assert "did you mean set_color?" in done.stderr and "did you mean TIME?" in done.stderr


def test_several_nodes_get_their_names_in_front(camp, ctl):
    ctl.call("gold", "colorsquare.set_color", "black")
    done = shell(camp, "@teams", "RED\nTIME\n")
    lines = out(done)
    assert lines[:3] == ["blue: RED", "green: RED", "red: RED"], done.stderr
    for node, line in zip(["blue", "green", "red"], lines[3:], strict=True):
        prefix, _, text = line.partition(": ")
        assert prefix == node and TIME.fullmatch(text)
    for node in ("blue", "green", "red"):
        assert seen(ctl, node) == ([255, 0, 0], (255, 0, 0))
    assert seen(ctl, "gold")[0] == [0, 0, 0] and done.returncode == 0


def test_commands_use_and_quit(camp, ctl):
    ctl.member("green", "switch", "scoreboard")
    ctl.call("green", "scoreboard.set_score", 10)
    done = shell(camp, "green", "add_points -5\nscoreboard.get_team\nuse gold\nmode\n"
                                "switch timer\nquit\nRED\n")
    lines = out(done)  # worded by engine.cli.show, as ctl prints them
    assert len(lines) == 4 and done.returncode == 0, done.stderr
    assert "5" in lines[0] and "Team" in lines[1] and "colorsquare" in lines[2]
    assert "timer" in lines[3]
    assert ctl.call("green", "scoreboard.get_score") == 5
    assert ctl.call("green", "scoreboard.history", 1)[0]["source"] == "shell"
    assert ctl.member("gold", "mode") == "timer"  # `use gold` took effect
    assert ctl.call("gold", "colorsquare.get_color") != [255, 0, 0]  # RED came after quit
    ctl.member("gold", "switch", "colorsquare")
    ctl.member("green", "switch", "colorsquare")


def test_a_failing_node_is_one_line_and_a_non_zero_status(camp, ctl):
    done = shell(camp, "red,gold", "set_color not-a-colour\nadd_points x\nuse @nobody\n")
    assert done.returncode == 1 and done.stdout == ""
    errors = done.stderr.splitlines()
    assert [e.split()[0].rstrip(":") for e in errors] == ["red", "gold", "red", "gold", "use"]
    assert "not-a-colour" in errors[0] and "ValueError" in errors[0]
    assert "'nobody'" in errors[4] and "Traceback" not in done.stderr


def test_an_unknown_selector_fails_at_once(camp):
    done = shell(camp, "purple", "RED\n")
    assert done.returncode != 0 and done.stdout == ""
    assert "'purple'" in done.stderr and "Traceback" not in done.stderr


def test_help_shows_parameters_limits_and_doc(camp):
    done = shell(camp, "red", "help set_color\nhelp scoreboard.history\nhelp add_points\n"
                              "help RED\nhelp\nhelp no_such_thing\n")
    text = done.stdout
    assert "colorsquare.set_color(color: color)" in text
    assert "Fill the screen with a colour" in text and "at most 64 characters" in text
    assert "n: int = 10 (1 to 1000)" in text and "The last n score changes" in text
    assert "delta: int" in text and "colorsquare.red" in text
    assert "use SELECTOR" in text and "original inputs: RED" in text
    assert "no command 'no_such_thing'" in done.stderr and done.returncode == 1


@pytest.fixture(scope="module")
def catalog_shell(camp) -> Iterator[Shell]:
    ns, _ = camp
    with Controller(ns.host, ns.port, ns.hmac_key) as c, Fleet(c, timeout=5) as fleet:
        yield Shell(fleet, "red")


def completions(shell_: Shell, text: str) -> dict[str, str]:
    """What Tab offers after ``text``: the text each inserts -> what the menu shows."""
    completer = ShellCompleter(shell_.current)
    found = completer.get_completions(Document(text), CompleteEvent(completion_requested=True))
    return {c.text: c.display_text for c in found}


def test_completion_of_nodes_groups_and_selectors(catalog_shell):
    assert set(completions(catalog_shell, "use ")) == {"blue", "gold", "green", "red",
                                                     "@stage", "@teams", "all"}
    assert list(completions(catalog_shell, "use @t")) == ["@teams"]
    assert list(completions(catalog_shell, "use red,g")) == ["gold", "green"]


def test_completion_of_commands_modes_and_parameters(catalog_shell):
    first = completions(catalog_shell, "se")
    assert "set_color" in first and "scoreboard.set_team" not in first
    assert "colorsquare.set_color" in completions(catalog_shell, "colorsquare.se")
    assert {"RED", "red"} <= set(completions(catalog_shell, "re"))
    assert set(completions(catalog_shell, "switch ")) == {"colorsquare", "scoreboard", "timer"}
    assert list(completions(catalog_shell, "switch sc")) == ["scoreboard"]
    assert completions(catalog_shell, "set_color ") == {}  # hint() names the parameter
    assert completions(catalog_shell, "scoreboard.history ") == {"10": "10"}
    assert completions(catalog_shell, "set_color red ") == {}
    assert "set_color" in completions(catalog_shell, "help set_c")


def test_the_hint_below_the_prompt_names_the_parameter_being_typed(catalog_shell):
    catalog = catalog_shell.current()
    assert hint("set_color ", catalog) == (
        "colorsquare.set_color(color: color) · color: at most 64 characters")
    assert hint("scoreboard.history 5", catalog).endswith("n: 1 to 1000, default 10")
    assert "takes 1 argument" in hint("set_color red ", catalog)
    assert hint("TIME", catalog).startswith("TIME:") and hint("use", catalog).startswith("use")
    assert hint("nonsense ", catalog) == ""


def test_completion_follows_a_mode_switched_since(catalog_shell, ctl):
    catalog_shell.execute("switch timer")
    try:
        first = completions(catalog_shell, "st")
        assert {"start", "stop", "status"} <= set(first) and "set_color" not in first
    finally:
        catalog_shell.execute("switch colorsquare")


def test_parameters_with_choices_and_bools_complete_from_their_declaration():
    spec = {"params": [{"name": "side", "type": "choice", "required": True,
                        "limits": {"choices": ["left", "right"]}},
                       {"name": "loud", "type": "bool", "required": False, "default": False}],
            "signature": "(side, loud)", "doc": "Turn."}
    catalog = Catalog(selected=["n"], commands={"n": {"robot.turn": spec}},
                      active={"n": {"turn": spec}})
    completer = ShellCompleter(catalog)

    def offered(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]

    assert offered("turn ") == ["left", "right"] and offered("turn r") == ["right"]
    assert offered("turn left ") == ["true", "false"]
    assert offered("robot.turn le") == ["left"]


@pytest.mark.parametrize("line, expected", [
    ("RED", Original("RED", "colorsquare.red")),
    ("  TIME  ", Original("TIME", "colorsquare.get_time")),
    ("0,0,255", Original("R,G,B", "colorsquare.set_color", ([0, 0, 255],))),
    ("status", Command("status", [])),
    ("set_team 'Red Foxes'", Command("set_team", ["Red Foxes"])),
    ("timer.start", Command("timer.start", [])),
    ("256,0,0", Unparsed("each of r,g,b is a whole number from 0 to 255")),
    ("Red", Unparsed("did you mean RED?")),
    ("purple", Unparsed(None)),
    ("", None),
])
def test_what_a_line_means(line, expected):
    catalog = Catalog(selected=["n"], commands={"n": {"scoreboard.set_team": {"params": []}}})
    assert parse_line(line, catalog) == expected


def test_with_nodes_that_did_not_list_their_commands_a_word_goes_to_them():
    assert parse_line("set_color red", Catalog(selected=["n"])) == Command("set_color", ["red"])
    assert parse_line("Purple", Catalog(selected=["n"])) == Unparsed(None)
    assert parse_rgb("1, 2,3") == (1, 2, 3) and parse_rgb("1,2,3,4") is None


def test_the_prompt_shows_the_selected_nodes_and_keeps_history(camp, ctl, tmp_path):
    """On a terminal (a pty): the prompt names the nodes, RED answers, Ctrl-D leaves, and the
    line is kept in the history file for the next session."""
    import pty

    ns, _ = camp
    env = {**os.environ, "TERM": "xterm", "XDG_STATE_HOME": str(tmp_path),
           "PROMPT_TOOLKIT_NO_CPR": "1", "COLUMNS": "100", "LINES": "30"}
    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "shell", "--ns-host", ns.host, "--ns-port",
         str(ns.port), "red,blue"], stdin=child_fd, stdout=child_fd, stderr=child_fd,
        cwd=ROOT, env=env, start_new_session=True)
    os.close(child_fd)
    seen_text = b""

    def read_until(marker: bytes, after: bytes | None = None) -> None:
        """Read the terminal until ``marker`` shows (after ``after``, if given)."""
        nonlocal seen_text
        deadline = time.monotonic() + GUARD
        while marker not in (seen_text.partition(after)[2] if after else seen_text):
            assert time.monotonic() < deadline, f"no {marker!r} in {seen_text[-400:]!r}"
            if select.select([main_fd], [], [], 0.5)[0]:
                try:
                    seen_text += os.read(main_fd, 4096)
                except OSError:  # the child closed the terminal
                    break

    try:
        read_until(b"red,blue>")
        os.write(main_fd, b"BLUE\r")
        read_until(b"blue: BLUE")
        # the next prompt: a key typed while a line runs reaches the terminal's line
        # discipline, where Ctrl-D is lost (as in any readline program)
        read_until(b"red,blue>", after=b"blue: BLUE")
        os.write(main_fd, b"\x04")  # Ctrl-D
        assert proc.wait(timeout=GUARD) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main_fd)
    assert b"red: BLUE" in seen_text
    assert ctl.call("red", "colorsquare.get_color") == [0, 0, 255]
    history = tmp_path / "pyrostage" / "shell_history"
    assert "+BLUE" in history.read_text()
