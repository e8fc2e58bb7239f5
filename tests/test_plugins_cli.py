"""``pyrostage plugins [NODE]`` as a user types it: the plugins installed here (a real
third-party distribution on ``PYTHONPATH``, a broken one, a blocked built-in), or those a
running node loaded, asked over Pyro with the controller side only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
from conftest import ROOT

from engine import Behaviour, Mode, Range, __version__, command, hookimpl
from engine.core.plugins import BLOCK_ENV, get_plugin_manager


def pyrostage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], capture_output=True, text=True, timeout=60,
        cwd=ROOT, env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def row(out: str, name: str) -> str:
    """The first table line of plugin ``name``, spaces squeezed."""
    line = next((line for line in out.splitlines() if f" {name} " in line), "")
    return " ".join(line.split())


# -- installed here ----------------------------------------------------------------------------

PROBE = """\
from engine import Behaviour, Mode, command, hookimpl


class Probe(Mode):
    name = "probe"

    def draw(self, surface):
        surface.fill((0, 0, 0))

    @command
    def answer(self, times: int = 1) -> str:
        return "yes" * times


class Helper(Behaviour):
    name = "probe_helper"

    @command
    def ping(self, word: str) -> str:
        return word


@hookimpl
def register_modes(register):
    register(Probe)


@hookimpl
def register_commands(register):
    register(Helper)
"""

TYPO = """\
from engine import hookimpl


@hookimpl
def register_mode(register):
    pass
"""


def install(site: Path, name: str, version: str, source: str) -> None:
    """A plugin distribution as pip leaves it: module + dist-info with the entry point."""
    (site / f"thirdparty_{name}.py").write_text(source)
    info = site / f"pyrostage_{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: pyrostage-{name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[pyrostage]\n{name} = thirdparty_{name}\n")


@pytest.fixture
def installed(tmp_path: Path) -> dict[str, str]:
    """The environment of a machine with a probe plugin, a broken one and timer blocked."""
    site = tmp_path / "site"
    site.mkdir()
    install(site, "probe", "0.3", PROBE)
    install(site, "typo", "1.0", TYPO)
    blocked = ",".join(filter(None, [os.environ.get(BLOCK_ENV), "timer"]))
    return {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), BLOCK_ENV: blocked}


def test_plugins_json_shows_where_each_came_from_what_it_provides_and_why_not(installed):
    out = pyrostage("plugins", "--json", env=installed)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    probe = found["probe"]
    assert probe["status"] == "loaded"
    assert (probe["origin"], probe["distribution"], probe["version"]) == \
        ("distribution", "pyrostage-probe", "0.3")
    assert (probe["modes"], probe["behaviours"]) == (["probe"], ["probe_helper"])
    assert set(probe["commands"]) == {"probe.answer", "probe_helper.ping"}
    (times,) = probe["commands"]["probe.answer"]["params"]
    assert (times["name"], times["type"], times["default"]) == ("times", "int", 1)
    assert found["scoreboard"]["origin"] == "built-in"
    assert found["scoreboard"]["version"] == __version__
    assert "scoreboard.add_points" in found["scoreboard"]["commands"]
    assert found["easter_egg"]["behaviours"] == ["easter_egg"]
    assert found["typo"]["status"] == "failed"
    assert found["typo"]["distribution"] == "pyrostage-typo"
    assert "unknown hook 'register_mode'" in found["typo"]["reason"]
    assert found["timer"]["status"] == "skipped"
    assert "allow/deny" in found["timer"]["reason"]


def test_plugins_table_has_a_line_per_command_and_the_reason_next_to_a_failed_plugin(installed):
    out = pyrostage("plugins", env=installed)
    assert out.returncode == 0, out.stderr
    probe = row(out.stdout, "probe")
    assert "pyrostage-probe 0.3" in probe and "mode probe" in probe
    assert "answer(times: int = 1)" in probe  # a mode's command as it is called: unqualified
    assert "behaviour probe_helper" in out.stdout
    assert "probe_helper.ping(word: str)" in out.stdout
    assert "built-in" in row(out.stdout, "scoreboard")
    assert "set_team(name: str)" in out.stdout
    typo = row(out.stdout, "typo")
    assert "pyrostage-typo 1.0" in typo and "failed" in typo and "register_mode" in typo
    timer = [line for line in out.stdout.splitlines() if "timer" in line]
    assert len(timer) == 1 and "skipped" in timer[0]


# -- what a running node loaded ----------------------------------------------------------------


class Gauge(Mode):
    name = "gauge"

    def draw(self, surface: Any) -> None:
        surface.fill((0, 128, 0))

    @command
    def set_level(self, level: Annotated[int, Range(0, 10)]) -> int:
        self.state.set("level", level)
        return level

    @command
    def level(self) -> int:
        return int(self.state.get("level", 0))


class GaugeLog(Behaviour):
    name = "gauge_log"

    @command
    def note(self, text: str, loud: bool = False) -> str:
        return text.upper() if loud else text


class Brittle(Mode):
    name = "brittle"

    def draw(self, surface: Any) -> None:
        surface.fill((0, 0, 0))

    def restore(self) -> None:
        raise RuntimeError("brittle lost its state")


class Throwaway:
    @hookimpl
    def register_modes(self, register: Any) -> None:
        register(Gauge)

    @hookimpl
    def register_commands(self, register: Any) -> None:
        register(GaugeLog)


class Breaking:
    @hookimpl
    def register_modes(self, register: Any) -> None:
        register(Brittle)


@pytest.fixture
def ns_args(start_node, name_server) -> list[str]:
    """A node whose fresh PluginManager has the built-ins and two plugins registered in code,
    one of which fails only when the node starts."""
    pm, _ = get_plugin_manager()
    pm.register(Throwaway(), name="throwaway")
    pm.register(Breaking(), name="breaking")
    start_node(pm=pm)
    return ["--ns-host", name_server.host, "--ns-port", str(name_server.port)]


def test_plugins_of_a_node_are_what_it_runs(ns_args):
    out = pyrostage("plugins", *ns_args, "red", "--json")
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    gauge = found["throwaway"]
    assert (gauge["status"], gauge["origin"]) == ("loaded", "code")
    assert (gauge["modes"], gauge["behaviours"]) == (["gauge"], ["gauge_log"])
    assert set(gauge["commands"]) == {"gauge.set_level", "gauge.level", "gauge_log.note"}
    (level,) = gauge["commands"]["gauge.set_level"]["params"]
    assert level["limits"] == {"min": 0, "max": 10}
    assert found["colorsquare"]["origin"] == "built-in"
    assert found["breaking"]["status"] == "failed"  # only the node knows: restore() raised
    assert "brittle lost its state" in found["breaking"]["reason"]

    out = pyrostage("plugins", *ns_args, "red")
    assert out.returncode == 0, out.stderr
    assert "plugins of node 'red'" in out.stdout
    throwaway = row(out.stdout, "throwaway")
    assert "registered in code" in throwaway and "mode gauge" in throwaway
    assert "set_level(level: int)" in out.stdout and "level()" in throwaway
    assert "gauge_log.note(text: str, loud: bool = False)" in out.stdout
    breaking = row(out.stdout, "breaking")
    assert "failed" in breaking and "brittle lost its state" in breaking


def test_plugins_of_a_node_load_the_controller_side_only(ns_args):
    script = (
        "import json, sys\n"
        "from engine.cli import main\n"
        f"main(['plugins', *{ns_args!r}, 'red'], standalone_mode=False)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, cwd=ROOT, env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    assert "gauge" in out.stdout
    modules = set(json.loads(out.stdout.splitlines()[-1]))
    heavy = {"pygame", "pluggy", "PIL", "sqlite3", "engine.api", "engine.core",
             "engine.hardware", "engine.remote"}
    assert not heavy & modules, heavy & modules
    assert "engine.control.controller" in modules


def test_plugins_of_an_unknown_node_is_one_line(ns_args):
    out = pyrostage("plugins", *ns_args, "nobody")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    (line,) = [line for line in out.stderr.splitlines() if line.startswith("Error")]
    assert "nobody" in line and "pyrostage list" in line
