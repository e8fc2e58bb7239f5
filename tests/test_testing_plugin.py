"""engine.testing, the plugin author's pytest plugin: an author's three-line tests pass through
the ``pytest11`` entry point; nodes load the built-ins and what a test names, nothing else
installed; the project's own suite is kept from installed third-party plugins too."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pygame
import pytest
from conftest import ROOT

from engine import Mode, command, hookimpl
from engine.base import config as config_module
from engine.core.plugins import BLOCK_ENV
from engine.testing import configfile

pytest_plugins = ["pytester"]

BUILTINS = {"colorsquare", "scoreboard", "timer", "easter_egg"}


class Lamp(Mode):
    """A throwaway mode: red while on (the main button toggles it), else its config's dark."""

    name = "lamp"
    on = False

    def restore(self) -> None:
        self.on = bool(self.state.get("on", False))

    @command
    def set_on(self, on: bool) -> bool:
        self.state.set("on", on)
        self.on = on
        return on

    def on_button(self, button: str, at: float) -> None:
        self.set_on(not self.on)

    def draw(self, surface: pygame.Surface) -> None:
        dark = tuple(self.config.get("dark", (0, 0, 0)))
        surface.fill((255, 0, 0) if self.on else dark)


class LampPlugin:
    @hookimpl
    def register_modes(self, register):
        register(Lamp)


# -- an author's tests, run by a pytest that loads engine.testing through its entry point -----

AUTHOR_TESTS = '''
import os

import pygame
import Pyro4

from engine import Mode, command, hookimpl

ENV = dict(os.environ)
PYRO = Pyro4.config.asDict()


class Lamp(Mode):
    name = "lamp"
    on = False

    def restore(self):
        self.on = self.state.get("on", False)

    @command
    def set_on(self, on: bool) -> bool:
        self.state.set("on", on)
        self.on = on
        return on

    def on_button(self, button, at):
        self.set_on(not self.on)

    def draw(self, surface):
        surface.fill((255, 0, 0) if self.on else (0, 0, 40))


class LampPlugin:
    @hookimpl
    def register_modes(self, register):
        register(Lamp)


def test_a_press_lights_the_lamp(pyrostage_node):
    node = pyrostage_node(plugins=[LampPlugin()], mode="lamp")
    node.press("main")
    assert node.snapshot().pixel(10, 10) == (255, 0, 0)


def test_the_lamp_stays_on_across_a_restart(pyrostage_node):
    node = pyrostage_node(plugins=[Lamp], builtins=False)
    assert node.call("set_on", True) is True
    assert node.restart().snapshot().pixel(5, 5) == (255, 0, 0)
    assert node.modes() == ["lamp"]


def test_a_snapshot_is_a_surface_too(pyrostage_node):
    shot = pyrostage_node(plugins=[LampPlugin()], mode="lamp", size=(200, 100)).snapshot()
    assert shot.size == (200, 100)
    assert tuple(shot.surface().get_at((199, 99)))[:3] == (0, 0, 40)


def test_the_developers_config_file_is_not_read(pyrostage_node):
    node = pyrostage_node()
    assert node.name == "test" and node.snapshot().size == (320, 180)
    assert {"colorsquare", "timer"} <= set(node.modes())


def test_nothing_the_fixtures_changed_is_left_changed():
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    assert env == {k: v for k, v in ENV.items() if k != "PYTEST_CURRENT_TEST"}
    assert Pyro4.config.asDict() == PYRO
    assert not pygame.display.get_init() and not pygame.font.get_init()
'''


def test_an_authors_tests_pass_with_the_fixtures_of_the_entry_point(pytester, monkeypatch):
    # a bare environment, as an author's shell is: no dummy SDL driver, the suite's plugin
    # block-list gone, and a user config file that would change the node if it were read
    for name in ("SDL_VIDEODRIVER", "SDL_AUDIODRIVER", BLOCK_ENV, "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
                 "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    home = pytester.mkdir("config-home")
    (home / "pyrostage").mkdir()
    (home / "pyrostage" / "pyrostage.toml").write_text(
        '[node]\nname = "hostile"\n[display]\nsize = "999x999"\n'
        '[plugins]\nallow = ["scoreboard"]\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    pytester.makepyfile(test_lamp=AUTHOR_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=120)
    result.assert_outcomes(passed=5)


def test_importing_engine_testing_changes_nothing_in_the_process():
    probe = textwrap.dedent("""
        import os, sys
        import engine  # the package itself; what engine.testing adds is measured
        before = dict(os.environ)
        import engine.testing
        assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())
        heavy = {"pygame", "Pyro4", "PIL", "sqlite3", "engine.api", "engine.core", "engine.remote"}
        assert not heavy & set(sys.modules), heavy & set(sys.modules)
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("SDL_VIDEODRIVER", "SDL_AUDIODRIVER")}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr


# -- the fixtures in this suite ---------------------------------------------------------------


def test_a_node_shows_a_modes_config_and_keeps_state_across_a_restart(pyrostage_node):
    node = pyrostage_node(plugins=[LampPlugin()], mode="lamp",
                          plugin_config={"lamp": {"dark": [0, 0, 90]}})
    assert node.snapshot().pixel(0, 0) == (0, 0, 90)
    assert node.press() is True
    assert node.call("set_on", False) is False
    node.mode = "colorsquare"
    node.call("set_color", "lime")
    node.restart()
    assert node.mode == "colorsquare"
    assert node.snapshot().pixel(160, 90) == (0, 255, 0)
    assert node.state_file.is_file()


def test_plugin_problems_are_errors_that_say_why(pyrostage_node):
    class Misspelled:
        @hookimpl
        def register_mode(self, register):
            register(Lamp)

    with pytest.raises(RuntimeError, match=r"unknown hook 'register_mode'.*'register_modes'"):
        pyrostage_node(plugins=[Misspelled()])
    with pytest.raises(RuntimeError, match="implements no pyrostage hook"):
        pyrostage_node(plugins=[object()])
    with pytest.raises(LookupError, match=r"no installed pyrostage plugin 'no_such'.*colorsquare"):
        pyrostage_node(plugins=["no_such"])
    with pytest.raises(LookupError, match=r"no built-in plugin 'scorebord'.*scoreboard"):
        pyrostage_node(builtins=["scorebord"])
    with pytest.raises(TypeError, match=r"unknown node setting 'colour'.*mode, size"):
        pyrostage_node(colour="red")
    node = pyrostage_node(builtins=["timer"], name="fine")
    assert node.modes() == ["timer"]


def test_one_in_process_node_at_a_time(pyrostage_node):
    first = pyrostage_node()
    with pytest.raises(RuntimeError, match="one in-process node at a time"):
        pyrostage_node(name="second")
    first.stop()
    assert pyrostage_node(name="third").snapshot().size == (320, 180)


def test_a_pixel_outside_the_screen_says_where_the_screen_ends(pyrostage_node):
    shot = pyrostage_node(size=(64, 32)).snapshot()
    with pytest.raises(IndexError, match=r"\(64, 0\) is outside the 64x32 screen: x must be 0 "
                                         r"to 63"):
        shot.pixel(64, 0)


def test_a_node_process_keeps_an_acknowledged_change_through_a_power_cut(pyrostage_node_process):
    node = pyrostage_node_process(mode="colorsquare")
    node.call("set_color", "blue")
    old = node.pid
    node.restart(kill=True)
    assert node.pid != old
    assert node.snapshot().pixel(10, 10) == (0, 0, 255)
    with pytest.raises(TypeError, match="by entry-point name"):
        pyrostage_node_process(plugins=[LampPlugin()])


def test_settings_reach_the_node_as_written(tmp_path):
    settings = {"name": "red-2", "font": 'quo"te\\d \u00e9\n\x7f', "size": (640, 360),
                "timeout": 2.5,
                "groups": ["a", "b"], "buttons": {"main": 14, "second": {"pin": 15, "pull": "up"}},
                "plugin_config": {"easter_egg": {"enable_on": date(2031, 8, 9), "points": 5},
                                  "lamp": {"dark": [1, 2, 3], "on": True}}}
    file = configfile.write(tmp_path / "n.toml", settings, allow=["timer"])
    with file.open("rb") as fh:
        assert tomllib.load(fh)["plugins"]["allow"] == ["timer"]
    cfg = config_module.load(file)
    assert (cfg.name, cfg.font, cfg.size, cfg.timeout, cfg.groups) == (
        "red-2", settings["font"], (640, 360), 2.5, ["a", "b"])
    assert cfg.buttons["second"]["pin"] == 15 and cfg.buttons["main"]["edge"] == "falling"
    assert cfg.plugins == {"easter_egg": {"enable_on": date(2031, 8, 9), "points": 5},
                           "lamp": {"dark": [1, 2, 3], "on": True}}


# -- a third-party plugin installed in the same environment -----------------------------------

INTRUDER = '''
from engine import Mode, hookimpl


class Intruder(Mode):
    name = "intruder"

    def draw(self, surface):
        surface.fill((255, 0, 255))


@hookimpl
def register_modes(register):
    register(Intruder)
'''


def install_intruder(site: Path) -> Path:
    """A distribution as pip leaves it: a module and a dist-info with a pyrostage entry point."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "pyrostage_intruder.py").write_text(INTRUDER)
    info = site / "pyrostage_intruder-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pyrostage-intruder\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text("[pyrostage]\nintruder = pyrostage_intruder\n")
    return site


@pytest.fixture
def intruder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The intruder installed (on sys.path) for this test only; forgotten after."""
    site = install_intruder(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    sys.modules.pop("pyrostage_intruder", None)


def test_the_suite_ignores_a_third_party_plugin_installed_beside_it(tmp_path):
    site = install_intruder(tmp_path / "site")
    tests = ["tests/test_plugins.py::test_builtins_load_through_the_entry_point_group",
             "tests/test_broken_plugins.py::test_a_broken_plugin_is_skipped_and_reported"
             "[nameless]"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    env.pop(BLOCK_ENV, None)  # the list this session made knows nothing of the intruder
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          *tests], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "2 passed" in out.stdout


def test_the_fixtures_load_a_third_party_plugin_only_when_asked(intruder, pyrostage_node,
                                                                monkeypatch):
    monkeypatch.setenv(BLOCK_ENV, "intruder")  # as this suite's own list would say
    node = pyrostage_node()
    assert set(node.modes()) == BUILTINS - {"easter_egg"}
    assert "intruder" not in node.status()["plugins"]
    node.stop()
    asked = pyrostage_node(plugins=["intruder"], name="asked")
    asked.switch("intruder")
    assert asked.snapshot().pixel(3, 3) == (255, 0, 255)
    assert asked.status()["plugins"]["intruder"]["distribution"] == "pyrostage-intruder"


def test_node_processes_load_a_third_party_plugin_only_when_asked(intruder,
                                                                  pyrostage_node_process,
                                                                  monkeypatch):
    monkeypatch.setenv(BLOCK_ENV, "intruder")
    env = {"PYTHONPATH": os.pathsep.join([str(intruder), str(ROOT)])}
    plain = pyrostage_node_process(env=env)
    asked = pyrostage_node_process(["intruder"], name="asked", env=env, mode="intruder")
    assert "intruder" not in plain.modes()
    assert "intruder" in asked.modes()
    assert asked.snapshot().pixel(3, 3) == (255, 0, 255)
