"""The plugin host: entry points, a throwaway plugin's mode on a real node, bad plugins skipped."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Annotated

import pygame
import pytest
from conftest import ROOT, lookup_proxy, pixel, spawn_node, wait_for

from engine import Mode, Range, command, hookimpl
from engine.api import hookspecs
from engine.core.plugins import collect, get_plugin_manager, new_plugin_manager

BUILTINS = {"colorsquare", "scoreboard", "timer", "easter_egg"}


class Stripes(Mode):
    """A throwaway mode: vertical stripes of a width the caller sets."""

    name = "stripes"
    width = 10

    def restore(self) -> None:
        self.width = self.state.get("width", 10)

    @command
    def set_width(self, pixels: Annotated[int, Range(1, 100)]) -> int:
        """Stripe width in pixels."""
        self.state.set("width", pixels)
        self.width = pixels
        return pixels

    def draw(self, surface: pygame.Surface) -> None:
        surface.fill((0, 0, 0))
        for x in range(0, surface.get_width(), 2 * self.width):
            pygame.draw.rect(surface, (255, 255, 255), (x, 0, self.width, surface.get_height()))


class StripesPlugin:
    @hookimpl
    def register_modes(self, register):
        register(Stripes)


def test_builtins_load_through_the_entry_point_group():
    pm, loaded = get_plugin_manager()
    assert set(loaded.plugins) >= BUILTINS
    assert all(info.distribution == "pyrostage" for info in loaded.plugins.values())
    registry = collect(pm)
    assert registry.source["colorsquare"] == "colorsquare"


def test_allow_and_block_lists(monkeypatch):
    _, loaded = get_plugin_manager(allow=["colorsquare", "timer"])
    assert set(loaded.plugins) == {"colorsquare", "timer"}
    monkeypatch.setenv("PYROSTAGE_DISABLE_PLUGINS", "timer")
    _, loaded = get_plugin_manager(allow=["colorsquare", "timer"])
    assert set(loaded.plugins) == {"colorsquare"}


def test_throwaway_plugin_adds_a_mode(start_node):
    pm, _ = get_plugin_manager()
    plugin = StripesPlugin()
    pm.register(plugin, name="stripes-test")
    try:
        node = start_node(pm=pm)
        with node.proxy() as p:
            assert "stripes" in p.modes()
            assert p.switch("stripes") == "stripes"
            assert p.call("set_width", 20) == 20
            png = p.snapshot()
            assert pixel(png, (5, 90)) == (255, 255, 255)
            assert pixel(png, (25, 90)) == (0, 0, 0)
            with pytest.raises(ValueError, match="between 1 and 100"):
                p.call("set_width", 0)
            assert p.status()["plugins"]["stripes-test"]["provides"] == ["stripes"]
    finally:
        pm.unregister(plugin)


def _broken_distribution(where: Path) -> Path:
    """A distribution whose entry point names a module that cannot be imported."""
    dist = where / "broken_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[pyrostage]\nbroken = no_such_module_here\n")
    return where


def test_a_plugin_that_fails_to_import_is_reported_and_skipped(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(_broken_distribution(tmp_path / "site")))
    _pm, loaded = get_plugin_manager()
    assert "broken" in loaded.failed
    assert "ModuleNotFoundError" in loaded.failed["broken"].error
    assert set(loaded.plugins) >= BUILTINS


def test_a_node_starts_despite_a_broken_plugin(tmp_path, name_server):
    site = _broken_distribution(tmp_path / "site")
    env = {"PYTHONPATH": f"{site}:{ROOT}"}
    with spawn_node(tmp_path, name_server, "red", env=env):
        p = wait_for(lambda: lookup_proxy(name_server, "red"), timeout=30)
        with p:
            status = p.status()
            assert "ModuleNotFoundError" in status["plugins"]["broken"]["error"]
            assert p.call("set_color", "green") == [0, 255, 0]
    assert "failed to load" in (tmp_path / "red.log").read_text()


def test_registering_a_non_mode_is_logged_and_skipped(caplog):
    pm = new_plugin_manager()

    class Bad:
        @hookimpl
        def register_modes(self, register):
            register(object)

    class Good:
        @hookimpl
        def register_modes(self, register):
            register(Stripes)

    pm.register(Bad(), name="bad")
    pm.register(Good(), name="good")
    registry = collect(pm)
    assert list(registry.modes) == ["stripes"]
    assert "plugin 'bad' failed while registering" in caplog.text
    assert "which is not a Mode" in caplog.text


# -- the plugin contract is documented ---------------------------------------------------

def _hookspecs():
    return [
        (name, fn) for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "pyrostage_spec")
    ]


def test_every_hook_is_documented():
    """Each hook has a docstring with a :param: per argument and a section in docs/plugins.md
    that shows its signature."""
    doc = (ROOT / "docs" / "plugins.md").read_text()
    specs = _hookspecs()
    assert len(specs) >= 6
    for name, fn in specs:
        params = list(inspect.signature(fn).parameters)
        assert fn.__doc__, f"hook {name} has no docstring"
        for param in params:
            assert f":param {param}:" in fn.__doc__, f"hook {name}: {param} undocumented"
        heading = re.search(rf"^#+ `{name}\(([^)]*)\)`", doc, re.MULTILINE)
        assert heading, f"hook {name} is not documented in docs/plugins.md"
        documented = [p.split(":")[0].strip() for p in heading.group(1).split(",") if p.strip()]
        assert documented == params, f"docs/plugins.md shows {name}({documented}), not {params}"


def test_hooks_use_the_project_prefix():
    for name, _ in _hookspecs():
        assert name.startswith(("pyrostage_", "register_")), name


# -- a command declaring a type validation cannot check ------------------------------------


class Ledger(Mode):
    """A throwaway mode whose command declares a type defined later in this module, so it
    is resolved (and refused) when the plugin registers, not when the class is made."""

    name = "ledger"

    @command
    def set_entries(self, entries: Entries) -> None:
        """Keep some entries."""

    def draw(self, surface: pygame.Surface) -> None:
        surface.fill((0, 0, 0))


Entries = dict[str, int]


class LedgerPlugin:
    @hookimpl
    def register_modes(self, register):
        register(Ledger)


class DictPlugin:
    @hookimpl
    def register_modes(self, register):
        class Drawer(Mode):
            name = "drawer"

            @command
            def put(self, things: dict) -> None:
                """Keep a dict (which callers cannot be checked against)."""

            def draw(self, surface: pygame.Surface) -> None:
                surface.fill((0, 0, 0))

        register(Drawer)


def test_a_command_declaring_an_unsupported_type_is_skipped_at_registration(start_node, caplog):
    pm, _ = get_plugin_manager()
    pm.register(DictPlugin(), name="dict-plugin")
    pm.register(LedgerPlugin(), name="ledger-plugin")
    pm.register(StripesPlugin(), name="stripes-test")
    node = start_node(pm=pm)
    with node.proxy() as p:
        modes = p.modes()
        assert "drawer" not in modes and "ledger" not in modes
        assert {"colorsquare", "scoreboard", "timer", "stripes"} <= set(modes)
        assert p.switch("stripes") == "stripes"
        assert p.call("set_width", 20) == 20
    assert "plugin 'dict-plugin' failed while registering" in caplog.text
    assert "command DictPlugin.register_modes.<locals>.Drawer.put: parameter 'things': dict " \
           "is not a type a command can declare; supported types: int, float" in caplog.text
    assert "plugin 'ledger-plugin' failed while registering" in caplog.text
    assert "command Ledger.set_entries: parameter 'entries': dict[str, int] is not a type" \
        in caplog.text
