"""docs/plugins.md says what is true: its complete plugin files, written out as a package the
way the guide lays them out, pass their own tests with engine.testing in a pytest run of
their own, and every member of the plugin API the guide promises to cover is in it."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT

import engine.api
from engine.api import Mode, Stage, State
from engine.testing import configfile

GUIDE = ROOT / "docs" / "plugins.md"
GUARD = 120.0  # hang guard for the inner pytest run (it takes a few seconds)
FILE = re.compile(r"^# ([\w./-]+\.(?:py|toml))$")


def files() -> dict[str, str]:
    """Each fenced block whose first line is ``# <path>``: path -> the block's text."""
    found: dict[str, str] = {}
    for block in re.findall(r"^```(?:python|toml)\n(.*?)^```", GUIDE.read_text(),
                            re.MULTILINE | re.DOTALL):
        first, _, _ = block.partition("\n")
        match = FILE.match(first)
        if match:
            assert match.group(1) not in found, f"docs/plugins.md writes {match.group(1)} twice"
            found[match.group(1)] = block
    return found


def test_the_guide_has_a_complete_plugin_with_an_entry_point_and_tests():
    written = files()
    project = tomllib.loads(written["pyproject.toml"])
    entry_points = project["project"]["entry-points"]["pyrostage"]
    assert "pyrostage" in project["project"]["dependencies"]
    for module in entry_points.values():
        assert f"{module}/__init__.py" in written, f"no {module} package in the guide"
    assert any(path.startswith("tests/test_") for path in written)


def test_the_guides_plugins_pass_the_guides_tests(tmp_path: Path):
    written = files()
    for path, text in written.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    tests = sum(len(re.findall(r"^def test_", text, re.MULTILINE))
                for path, text in written.items() if path.startswith("tests/"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=GUARD)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"{tests} passed" in run.stdout, run.stdout[-2000:]
    assert "isSet" not in run.stdout, "the guide's pytest config lets Pyro4's warning through"


def _members(protocol: type) -> list[str]:
    names = set(getattr(protocol, "__annotations__", {}))
    names |= {n for n, v in vars(protocol).items()
              if not n.startswith("_") and (inspect.isfunction(v) or isinstance(v, property))}
    return sorted(names)


@pytest.mark.parametrize("protocol", [Stage, State])
def test_every_stage_and_state_member_is_in_the_guide(protocol: type):
    guide = GUIDE.read_text()
    for name in _members(protocol):
        assert re.search(rf"^\| `{name}[`(]", guide, re.MULTILINE), (
            f"{protocol.__name__}.{name} has no row in docs/plugins.md")


def test_every_mode_method_and_api_name_is_in_the_guide():
    guide = GUIDE.read_text()
    methods = [n for n, v in vars(Mode).items() if inspect.isfunction(v) and n[0] != "_"]
    for name in [*methods, "restore", "summary", "publish", *engine.api.__all__]:
        if name != "hookspec":  # the engine's side of the hooks, not the author's
            assert re.search(rf"`[^`\n]*\b{name}\b", guide), (
                f"docs/plugins.md does not mention {name}")


def test_every_test_node_setting_is_in_the_guide():
    guide = GUIDE.read_text()
    for name in configfile.SETTINGS:
        assert f"`{name}`" in guide, f"docs/plugins.md does not mention the setting {name}"
