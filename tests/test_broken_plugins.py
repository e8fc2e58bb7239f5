"""Third-party plugins broken in every way a plugin author manages: each one is skipped and
reported by name, and the node starts with the rest.

Each plugin here is a real distribution (a module and a ``*.dist-info`` with a ``pyrostage``
entry point) in a directory put on ``sys.path``, found by ``importlib.metadata`` exactly as a
pip-installed plugin is; subprocess nodes get the directory on ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, lookup_proxy, spawn_node, wait_for

from engine.core.plugins import collect, get_plugin_manager

BUILTINS = {"colorsquare", "scoreboard", "timer", "easter_egg", "join"}

HEADER = """\
from engine import Behaviour, Mode, command, hookimpl


class Filled(Mode):
    def draw(self, surface):
        surface.fill((255, 0, 255))
"""

# entry-point name -> (module source, what the report must say about it)
BROKEN = {
    "typo": ("""
        class Sparkle(Filled):
            name = "sparkle"

        class Helper(Behaviour):
            name = "typo_helper"

            @command
            def ping(self) -> str:
                return "pong"

        @hookimpl
        def register_mode(register):        # the hook is register_modes
            register(Sparkle)

        @hookimpl
        def register_commands(register):    # correct, but the plugin as a whole is broken
            register(Helper)
        """, ["unknown hook 'register_mode'", "register_modes"]),
    "badargs": ("""
        class Glitter(Filled):
            name = "glitter"

        @hookimpl
        def register_modes(registrar):      # the argument is called register
            registrar(Glitter)
        """, ["register_modes", "registrar"]),
    "raises": ("""
        class Glow(Filled):
            name = "glow"

        @hookimpl
        def register_modes(register):
            register(Glow)                  # a good mode first, then the plugin fails

        @hookimpl
        def register_commands(register):
            raise RuntimeError("the glow plugin lost its config")
        """, ["RuntimeError", "the glow plugin lost its config"]),
    "nameless": ("""
        class Anonymous(Filled):
            pass

        @hookimpl
        def register_modes(register):
            register(Anonymous)
        """, ["without a name"]),
    "aa_timer": ("""
        class Stopwatch(Filled):
            name = "timer"                  # the built-in's name; sorts (loads) before it

        @hookimpl
        def register_modes(register):
            register(Stopwatch)
        """, ["'timer'", "already", "plugin 'timer'"]),
    "stage_name": ("""
        class Sneaky(Behaviour):
            name = "stage"                  # the engine keeps its own state under this name

            @command
            def poke(self) -> str:
                self.state.set("mode", "nonexistent")
                return "ok"

        @hookimpl
        def register_commands(register):
            register(Sneaky)
        """, ["'stage'", "the engine's own"]),
    "bad_name": ("""
        class Odd(Filled):
            name = "Odd Mode"               # not a name a command can be qualified with

        @hookimpl
        def register_modes(register):
            register(Odd)
        """, ["'Odd Mode'", "lowercase"]),
    "exits": ("""
        import sys

        sys.exit(3)                         # at import: must not end the node
        """, ["SystemExit", "3"]),
}

GOOD = {"glow_a": ("""
        class GlowA(Filled):
            name = "glowing"

        @hookimpl
        def register_modes(register):
            register(GlowA)
        """)}

LATER_CLASH = ("glow_b", """
        class GlowB(Filled):
            name = "glowing"                # glow_a (loaded first) has it

        @hookimpl
        def register_modes(register):
            register(GlowB)
        """)

NO_HOOK = ("forgetful", """
        class Quiet(Filled):
            name = "quiet"

        def register_modes(register):      # no @hookimpl
            register(Quiet)
        """)


def install(site: Path, name: str, source: str) -> None:
    """A plugin distribution as pip leaves it: module + dist-info with the entry point."""
    module = f"thirdparty_{name}"
    (site / f"{module}.py").write_text(HEADER + textwrap.dedent(source))
    info = site / f"pyrostage_{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: pyrostage-{name.replace('_', '-')}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[pyrostage]\n{name} = {module}\n")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    """A site directory on sys.path for this test only; its modules are forgotten after."""
    where = tmp_path / "site"
    where.mkdir()
    sys.path.insert(0, str(where))
    importlib.invalidate_caches()
    yield where
    sys.path.remove(str(where))
    sys.path_importer_cache.pop(str(where), None)
    for name in [n for n in sys.modules if n.startswith("thirdparty_")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def install_all(site: Path) -> None:
    for name, (source, _) in BROKEN.items():
        install(site, name, source)
    install(site, *NO_HOOK)
    install(site, "glow_a", GOOD["glow_a"])
    install(site, *LATER_CLASH)


def plain(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_plugin_is_skipped_and_reported(site, name, caplog):
    source, reason = BROKEN[name]
    install(site, name, source)
    pm, loaded = get_plugin_manager()
    registry = collect(pm)
    pm.check_pending()
    assert pm.get_plugin(name) is None, "a skipped plugin must be unregistered"
    assert name in loaded.failed and name not in loaded.plugins
    for part in reason:
        assert part in loaded.failed[name].error
    assert set(registry.modes) == {"colorsquare", "scoreboard", "timer"}
    assert set(registry.behaviours) == {"easter_egg", "join"}
    assert registry.source["timer"] == "timer"
    assert f"plugin {name!r}" in caplog.text
    assert set(loaded.plugins) == BUILTINS


def test_of_two_plugins_with_the_same_mode_the_first_loaded_wins(site):
    install(site, "glow_a", GOOD["glow_a"])
    install(site, *LATER_CLASH)
    pm, loaded = get_plugin_manager()
    registry = collect(pm)
    assert registry.source["glowing"] == "glow_a"
    assert registry.modes["glowing"].__name__ == "GlowA"
    assert pm.get_plugin("glow_b") is None
    assert "'glowing'" in loaded.failed["glow_b"].error
    assert "glow_a" in loaded.failed["glow_b"].error


def test_a_third_party_entry_point_with_a_built_in_name_is_skipped(site):
    install(site, "timer", BROKEN["aa_timer"][0])
    pm, loaded = get_plugin_manager()
    registry = collect(pm)
    assert registry.modes["timer"].__module__ == "plugins.timer.mode"
    assert loaded.plugins["timer"].distribution == "pyrostage"
    assert "already provided by pyrostage" in loaded.failed["timer (pyrostage-timer)"].error


def test_a_plugin_without_hooks_gets_a_warning(site, caplog):
    install(site, *NO_HOOK)
    with caplog.at_level(logging.WARNING):
        pm, loaded = get_plugin_manager()
        collect(pm)
    assert "forgetful" in loaded.plugins
    assert "@hookimpl" in loaded.plugins["forgetful"].warning
    assert "plugin 'forgetful'" in caplog.text and "@hookimpl" in caplog.text


def test_a_node_with_every_broken_plugin_serves_the_built_in_modes(site, start_node):
    install_all(site)
    pm, loaded = get_plugin_manager()
    node = start_node(pm=pm)
    with node.proxy() as p:
        assert set(p.modes()) == {"colorsquare", "scoreboard", "timer", "glowing"}
        assert p.call("set_color", "green") == [0, 255, 0]
        assert p.switch("timer") == "timer"
        assert p.call("running") is False
        assert p.call("scoreboard.add_points", 5) == 5
    assert set(loaded.failed) == {*BROKEN, "glow_b"}


def _pythonpath(site: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "COLUMNS": "1000"}


def test_pyrostage_serve_reports_every_broken_plugin_in_status(site, tmp_path, name_server):
    install_all(site)
    with spawn_node(tmp_path, name_server, "red", env=_pythonpath(site)) as proc:
        p = wait_for(lambda: proc.poll() is None and lookup_proxy(name_server, "red"), timeout=30)
        with p:
            plugins = p.status()["plugins"]
            for name, (_, reason) in BROKEN.items():
                for part in reason:
                    assert part in plugins[name]["error"], (name, plugins[name])
            assert "glow_a" in plugins["glow_b"]["error"]
            assert plugins["glow_a"]["provides"] == ["glowing"]
            assert p.call("set_color", "green") == [0, 255, 0]
            assert p.switch("timer") == "timer"
    log = (tmp_path / "red.log").read_text()
    assert "Traceback" not in log
    for name in [*BROKEN, "glow_b", "forgetful"]:
        assert f"plugin {name!r}" in log


def test_pyrostage_plugins_lists_every_broken_plugin(site):
    install_all(site)
    out = subprocess.run(
        [sys.executable, "-m", "engine", "plugins"], capture_output=True, text=True,
        timeout=60, cwd=ROOT, env={**os.environ, **_pythonpath(site)},
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    table = plain(out.stdout)
    for name, (_, reason) in BROKEN.items():
        row = next((plain(line) for line in out.stdout.splitlines() if f" {name} " in line), "")
        assert "failed" in row, f"{name} not reported as failed in:\n{out.stdout}"
        for part in reason:
            assert part in table, (name, part)
    assert "glowing" in table


# -- the report node.py and cli.py show (engine.core.plugins.report) ---------------------------


def test_status_shows_what_each_plugin_provides_or_why_it_was_skipped(site, start_node):
    install_all(site)
    pm, _ = get_plugin_manager()
    node = start_node(pm=pm)
    with node.proxy() as p:
        plugins = p.status()["plugins"]
    assert plugins["timer"] == {"provides": ["timer"], "distribution": "pyrostage",
                                "version": plugins["timer"]["version"]}
    assert plugins["glow_a"]["provides"] == ["glowing"]
    assert "@hookimpl" in plugins["forgetful"]["warning"]
    for name, (_, reason) in BROKEN.items():
        assert all(part in plugins[name]["error"] for part in reason), plugins[name]
        assert plugins[name]["distribution"] == f"pyrostage-{name.replace('_', '-')}"


def test_pyrostage_plugins_shows_the_warning(site):
    install(site, *NO_HOOK)
    out = subprocess.run(
        [sys.executable, "-m", "engine", "plugins"], capture_output=True, text=True,
        timeout=60, cwd=ROOT, env={**os.environ, **_pythonpath(site)},
    )
    assert out.returncode == 0, out.stderr
    row = next(plain(line) for line in out.stdout.splitlines() if " forgetful " in line)
    assert "@hookimpl" in row


# -- plugins that register fine and fail when the node starts or stops -------------------------

# entry-point name -> (module source, "error" (skipped) or "warning" (kept), what is said)
AT_START = {
    "bad_restore": ("""
        class Fragile(Filled):
            name = "fragile"

            def restore(self):
                raise RuntimeError("restore boom")

        @hookimpl
        def register_modes(register):
            register(Fragile)
        """, "error", ["mode 'fragile'", "RuntimeError: restore boom"]),
    "bad_init": ("""
        class Helper(Behaviour):
            name = "bad_init_helper"        # goes with the plugin's broken mode

        class Stillborn(Filled):
            name = "stillborn"

            def __init__(self, *args, **kwargs):
                raise SystemExit("init boom")

        @hookimpl
        def register_modes(register):
            register(Stillborn)

        @hookimpl
        def register_commands(register):
            register(Helper)
        """, "error", ["mode 'stillborn'", "SystemExit: init boom"]),
    "bad_startup": ("""
        @hookimpl
        def pyrostage_startup(stage):
            raise RuntimeError("startup boom")
        """, "warning", ["pyrostage_startup", "RuntimeError: startup boom"]),
    "bad_first_mode": ("""
        @hookimpl
        def pyrostage_mode_changed(stage, old, new):
            if old is None:
                raise RuntimeError("mode_changed boom")
        """, "warning", ["pyrostage_mode_changed", "RuntimeError: mode_changed boom"]),
}

SHUTDOWN = ("bad_shutdown", """
        @hookimpl
        def pyrostage_shutdown(stage):
            raise RuntimeError("shutdown boom")
        """)


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log lines at INFO and up that carry a traceback (debug may have them)."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO and r.exc_info]


@pytest.mark.parametrize("name", list(AT_START))
def test_a_plugin_that_fails_at_start_is_skipped_or_reported_and_the_node_serves(
    site, start_node, caplog, name
):
    source, kind, reason = AT_START[name]
    install(site, name, source)
    pm, _ = get_plugin_manager()
    with caplog.at_level(logging.INFO):
        node = start_node(pm=pm)
        with node.proxy() as p:
            assert set(p.modes()) == {"colorsquare", "scoreboard", "timer"}
            assert p.call("set_color", "green") == [0, 255, 0]
            assert p.switch("scoreboard") == "scoreboard"
            assert p.call("add_points", 3) == 3
            entry = p.status()["plugins"][name]
            assert "bad_init_helper" not in p.status()["state"]
    assert kind in entry, entry
    for part in reason:
        assert part in entry[kind], entry
        assert part in caplog.text
    assert f"plugin {name!r}" in caplog.text
    assert no_tracebacks(caplog) == []


def test_a_plugin_whose_mode_fails_to_restore_leaves_the_stored_mode_for_another(
    site, start_node
):
    node = start_node()
    with node.proxy() as p:
        p.switch("timer")
    node.stop()
    install(site, "bad_restore", AT_START["bad_restore"][0].replace('"fragile"', '"timer"'))
    pm, _ = get_plugin_manager(block=["timer"])  # its mode takes the stored mode's name
    node = start_node(pm=pm)
    with node.proxy() as p:
        assert p.mode == "colorsquare"
        assert "timer" not in p.modes()
        assert "restore boom" in p.status()["plugins"]["bad_restore"]["error"]
    assert pm.get_plugin("bad_restore") is None


def test_a_hook_that_fails_at_stop_is_logged_and_the_state_is_saved(site, start_node, caplog):
    install(site, *SHUTDOWN)
    pm, loaded = get_plugin_manager()
    node = start_node(pm=pm)
    with node.proxy() as p:
        p.call("scoreboard.set_score", 12)
    with caplog.at_level(logging.INFO):
        node.stop()
    assert "plugin 'bad_shutdown'" in caplog.text and "shutdown boom" in caplog.text
    assert "shutdown boom" in loaded.plugins["bad_shutdown"].warning
    assert no_tracebacks(caplog) == []
    with start_node().proxy() as p:
        assert p.call("scoreboard.get_score") == 12


def test_pyrostage_serve_with_plugins_failing_at_start_serves_the_built_ins(
    site, tmp_path, name_server
):
    for name, (source, _, _) in AT_START.items():
        install(site, name, source)
    install(site, *SHUTDOWN)
    with spawn_node(tmp_path, name_server, "red", env=_pythonpath(site)) as proc:
        p = wait_for(lambda: proc.poll() is None and lookup_proxy(name_server, "red"), timeout=30)
        with p:
            assert set(p.modes()) == {"colorsquare", "scoreboard", "timer"}
            plugins = p.status()["plugins"]
            for name, (_, kind, reason) in AT_START.items():
                assert all(part in plugins[name][kind] for part in reason), plugins[name]
            assert p.call("set_color", "green") == [0, 255, 0]
            assert p.switch("timer") == "timer"
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    log = (tmp_path / "red.log").read_text()
    assert "Traceback" not in log
    for name, (_, _, reason) in AT_START.items():
        assert f"plugin {name!r}" in log and reason[-1] in log
    assert "plugin 'bad_shutdown'" in log and "shutdown boom" in log


def test_when_every_mode_fails_the_node_stops_with_one_line_naming_each_plugin(site, tmp_path):
    install(site, "bad_restore", AT_START["bad_restore"][0])
    install(site, "bad_init", AT_START["bad_init"][0])
    out = subprocess.run(
        [sys.executable, "-m", "engine", "serve", "--name", "red", "--host", "127.0.0.1",
         "--ns-host", "127.0.0.1", "--ns-port", "9", "--state-dir", str(tmp_path / "state"),
         "--headless", "--gpio", "none"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**os.environ, **_pythonpath(site), "PYROSTAGE_PLUGINS": "bad_restore,bad_init"},
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    [line] = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    for part in ["no mode", "bad_restore", "restore boom", "bad_init", "init boom"]:
        assert part in line, line
