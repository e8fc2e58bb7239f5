"""The PluginManager: entry points of group ``pyrostage``, one bad plugin skipped, not fatal.

pluggy's ``load_setuptools_entrypoints`` stops at the first plugin that fails to import; a
camp node must come up with the plugins that work and say which one did not.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import pluggy

from . import hookspecs
from .modes import Behaviour, Mode

log = logging.getLogger(__name__)

GROUP = "pyrostage"
ALLOW_ENV = "PYROSTAGE_PLUGINS"
BLOCK_ENV = "PYROSTAGE_DISABLE_PLUGINS"


@dataclass
class PluginInfo:
    name: str
    distribution: str = ""
    version: str = ""
    error: str = ""


@dataclass
class Loaded:
    """What loading found: the plugins registered and the ones that failed or were skipped."""

    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    failed: dict[str, PluginInfo] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def _names(value: str | Iterable[str] | None) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str):
        return {v.strip() for v in value.split(",") if v.strip()}
    return set(value)


def new_plugin_manager() -> pluggy.PluginManager:
    """A PluginManager that knows the hooks but has no plugins (what tests start from)."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    return pm


def get_plugin_manager(
    allow: Iterable[str] | None = None, block: Iterable[str] | None = None
) -> tuple[pluggy.PluginManager, Loaded]:
    """A PluginManager with every installed plugin the allow/block lists let through."""
    pm = new_plugin_manager()
    loaded = load_entry_points(pm, allow=allow, block=block)
    pm.check_pending()
    return pm, loaded


def load_entry_points(
    pm: pluggy.PluginManager,
    allow: Iterable[str] | None = None,
    block: Iterable[str] | None = None,
) -> Loaded:
    """Register each ``pyrostage`` entry point; report and skip the ones that fail to import.

    ``PYROSTAGE_PLUGINS`` (allow-list) and ``PYROSTAGE_DISABLE_PLUGINS`` (block-list), both
    comma-separated, add to the lists given from the config.
    """
    allowed = _names(allow) | _names(os.environ.get(ALLOW_ENV))
    blocked = _names(block) | _names(os.environ.get(BLOCK_ENV))
    loaded = Loaded()
    for ep in sorted(importlib.metadata.entry_points(group=GROUP), key=lambda e: e.name):
        if (allowed and ep.name not in allowed) or ep.name in blocked:
            loaded.skipped.append(ep.name)
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        dist = ep.dist
        info = PluginInfo(ep.name, dist.name if dist else "", dist.version if dist else "")
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            info.error = f"{type(exc).__name__}: {exc}"
            loaded.failed[ep.name] = info
            log.error("plugin %r failed to load and is skipped: %s", ep.name, info.error)
            continue
        loaded.plugins[ep.name] = info
    return loaded


@dataclass
class Registry:
    """Modes and behaviours the plugins registered, with the plugin each came from."""

    modes: dict[str, type[Mode]] = field(default_factory=dict)
    behaviours: dict[str, type[Behaviour]] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)


def collect(pm: pluggy.PluginManager) -> Registry:
    """Ask every plugin for its modes and behaviours, recording which plugin gave which."""
    registry = Registry()

    def registrar(plugin: str, kind: str) -> object:
        def register(cls: type[Behaviour]) -> None:
            if kind == "mode" and not (isinstance(cls, type) and issubclass(cls, Mode)):
                raise TypeError(f"plugin {plugin!r} registered {cls!r}, which is not a Mode")
            if not (isinstance(cls, type) and issubclass(cls, Behaviour)) or not cls.name:
                raise TypeError(f"plugin {plugin!r} registered {cls!r} without a name")
            cls.command_specs()  # a command whose types cannot be checked fails here
            if cls.name in registry.source:
                log.warning(
                    "%s %r from plugin %r replaces the one from %r",
                    kind, cls.name, plugin, registry.source[cls.name],
                )
            target = registry.modes if kind == "mode" else registry.behaviours
            target[cls.name] = cls  # type: ignore[assignment]
            registry.source[cls.name] = plugin

        return register

    for hook, kind in ((pm.hook.register_modes, "mode"), (pm.hook.register_commands, "behaviour")):
        for impl in hook.get_hookimpls():  # registration order: a later plugin replaces
            try:
                impl.function(register=registrar(impl.plugin_name, kind))
            except Exception:
                log.exception("plugin %r failed while registering", impl.plugin_name)
    return registry
