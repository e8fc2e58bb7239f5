"""The README's examples, run in the order a new user follows them, against real nodes.

The CLI tour under "Quick start" runs line by line as ``pyrostage`` processes (the name
server's location from ``PYRO_NS_HOST``/``PYRO_NS_PORT``, as the README says it is honoured),
then the Python block under "Driving a node from any Python" runs against the same nodes.
A failure names the README line and what it raised.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
import traceback
from dataclasses import dataclass

import Pyro4
import pytest
from conftest import ROOT, lookup_proxy, pixel, spawn_node, wait_for

README = ROOT / "README.md"
TOUR = "Quick start"
PYTHON = "Driving a node from any Python"


@dataclass
class Block:
    heading: str
    lang: str
    first_line: int  # README line number of the block's first line of code
    lines: list[str]


def blocks(text: str) -> list[Block]:
    """Every fenced code block, with the heading it sits under and where it starts."""
    found: list[Block] = []
    heading, current = "", None
    for number, line in enumerate(text.splitlines(), 1):
        fence = re.match(r"^```(\w*)\s*$", line)
        if current is None and fence:
            current = Block(heading, fence.group(1), number + 1, [])
        elif current is not None and line.startswith("```"):
            found.append(current)
            current = None
        elif current is not None:
            current.lines.append(line)
        elif line.startswith("#"):
            heading = line.lstrip("#").strip()
    return found


def section(name: str, lang: str) -> list[Block]:
    found = [b for b in blocks(README.read_text()) if b.heading == name and b.lang == lang]
    assert found, f"README.md has no ```{lang} block under a heading {name!r}"
    return found


def tour() -> list[tuple[int, str, list[str]]]:
    """(README line, the line, its arguments) of each ``pyrostage`` command in the tour."""
    commands = []
    for block in section(TOUR, "sh"):
        for number, line in enumerate(block.lines, block.first_line):
            args = shlex.split(line, comments=True)
            if args and args[0] == "pyrostage":
                commands.append((number, line.strip(), args[1:]))
    assert commands, f"no pyrostage commands in the README's {TOUR!r}"
    return commands


def nodes_named(commands: list[tuple[int, str, list[str]]]) -> set[str]:
    """The nodes the tour drives by name (the selector after ``ctl`` or ``snapshot``;
    ``all`` and ``@group`` name none; red and blue are the demo's two)."""
    names = {"red", "blue"}
    for _, _, args in commands:
        if args[0] in ("ctl", "snapshot"):
            selector = next(a for a in args[1:] if not a.startswith("-"))
            names.update(p for p in selector.split(",") if p != "all" and not p.startswith("@"))
    return names


@pytest.fixture
def demo(tmp_path, name_server):
    """The nodes the tour names, as ``./dev demo`` starts them: fresh, one process each."""
    names = nodes_named(tour())
    with contextlib.ExitStack() as stack:
        procs = {n: stack.enter_context(spawn_node(tmp_path, name_server, n, "--group", "teams"))
                 for n in names}
        for name, proc in procs.items():
            def answers(name=name, proc=proc):
                if proc.poll() is not None:  # fail now, not after the hang guard
                    pytest.fail(f"node {name} exited with {proc.returncode}; see {name}.log")
                with lookup_proxy(name_server, name) as p:
                    return p.node == name
            wait_for(answers, timeout=30)
        yield name_server


def run_python_block(block: Block) -> None:
    """Exec the block as the README shows it; on an error, say which README line raised."""
    code = compile("\n" * (block.first_line - 1) + "\n".join(block.lines), str(README), "exec")
    try:
        exec(code, {"__name__": "__readme__"})
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(README)]
        where = frames[-1].lineno or block.first_line if frames else block.first_line
        error = f"{type(exc).__name__}: {exc}"
    else:
        return
    line = block.lines[where - block.first_line].strip()
    pytest.fail(f"README.md line {where}: {line}\n  raised {error}", pytrace=False)


def test_the_readme_examples_work_in_the_order_written(demo, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    env = {**os.environ, "PYRO_NS_HOST": demo.host, "PYRO_NS_PORT": str(demo.port)}
    for number, line, args in tour():
        out = subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True,
                             text=True, timeout=60, cwd=work, env=env)
        assert out.returncode == 0, (
            f"README.md line {number}: {line}\n  exited {out.returncode}: {out.stderr.strip()}")
    monkeypatch.setattr(Pyro4.config, "NS_HOST", demo.host)
    monkeypatch.setattr(Pyro4.config, "NS_PORT", demo.port)
    for block in section(PYTHON, "python"):
        run_python_block(block)
    for png in work.glob("*.png"):  # what the examples saved is a picture of a screen
        pixel(png.read_bytes())


def test_a_failing_line_is_named():
    """The runner points at the README line that raised, not at this file."""
    block = Block(PYTHON, "python", 40, ["x = 1", "if x:", "    {}['no such key']", "y = 2"])
    with pytest.raises(pytest.fail.Exception) as failed:
        run_python_block(block)
    assert str(failed.value) == (
        "README.md line 42: {}['no such key']\n  raised KeyError: 'no such key'")
