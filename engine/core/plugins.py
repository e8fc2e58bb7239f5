"""The PluginManager: entry points of group ``pyrostage``, one bad plugin skipped, not fatal.

pluggy's ``load_setuptools_entrypoints`` stops at the first plugin that fails to import, and
``check_pending`` at the first misspelled hook; a camp node must come up with the plugins that
work and say which ones did not. A bad plugin is skipped whole (unregistered: a half-registered
plugin whose other hooks still fire is worse) and reported in the log, ``status()`` and
``pyrostage plugins``.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
import os
import re
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy
from pluggy import HookImpl

from engine.api import hookspecs
from engine.api import settings as plugin_settings
from engine.api.modes import Behaviour, Mode
from engine.api.settings import declared
from engine.base.names import BUILTIN
from engine.base.names import ENTRY_POINTS as GROUP
from engine.base.text import short
from engine.core.store import RESERVED

log = logging.getLogger(__name__)

ALLOW_ENV = "PYROSTAGE_PLUGINS"
BLOCK_ENV = "PYROSTAGE_DISABLE_PLUGINS"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
"""What a mode or behaviour may be called: its commands are called ``<name>.<command>``."""


@dataclass
class PluginInfo:
    name: str
    distribution: str = ""
    version: str = ""
    error: str = ""
    warning: str = ""


@dataclass
class Loaded:
    """What loading found: the plugins registered and the ones that failed or were skipped."""

    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    failed: dict[str, PluginInfo] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def builtin(self, name: str) -> bool:
        info = self.plugins.get(name)
        return info is not None and info.distribution.lower() == BUILTIN

    def fail(self, pm: pluggy.PluginManager, name: str, what: str, reason: str) -> None:
        """Skip plugin ``name`` whole: unregistered, so none of its hooks runs; say why."""
        info = self.plugins.pop(name, None) or self.failed.get(name) or PluginInfo(name)
        info.error = reason
        self.failed[name] = info
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)
        log.error("plugin %r %s and is skipped: %s", name, what, reason)

    def warn(self, name: str, warning: str) -> None:
        info = self.plugins.setdefault(name, PluginInfo(name))
        if info.warning != warning:
            info.warning = warning
            log.warning("plugin %r %s", name, warning)


_loaded: weakref.WeakKeyDictionary[pluggy.PluginManager, Loaded] = weakref.WeakKeyDictionary()


def loaded_of(pm: pluggy.PluginManager) -> Loaded:
    """The load report of ``pm``, which ``collect()`` adds its own findings to."""
    return _loaded.setdefault(pm, Loaded())


def why(exc: BaseException) -> str:
    """An exception as one line for the plugin report."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


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
    vet(pm)
    pm.check_pending()  # vet() has skipped every plugin this would raise for
    return pm, loaded


def load_entry_points(
    pm: pluggy.PluginManager,
    allow: Iterable[str] | None = None,
    block: Iterable[str] | None = None,
) -> Loaded:
    """Register each ``pyrostage`` entry point; report and skip the ones that fail to import
    or that pluggy refuses (a hook implemented with arguments the hook does not have).

    ``PYROSTAGE_PLUGINS`` (allow-list) and ``PYROSTAGE_DISABLE_PLUGINS`` (block-list), both
    comma-separated, add to the lists given from the config.
    """
    allowed = _names(allow) | _names(os.environ.get(ALLOW_ENV))
    blocked = _names(block) | _names(os.environ.get(BLOCK_ENV))
    loaded = loaded_of(pm)
    eps = importlib.metadata.entry_points(group=GROUP)
    for ep in sorted(eps, key=lambda e: (e.name, _distribution(e).lower() != BUILTIN)):
        if (allowed and ep.name not in allowed) or ep.name in blocked:
            loaded.skipped.append(ep.name)
            continue
        dist = ep.dist
        info = PluginInfo(ep.name, dist.name if dist else "", dist.version if dist else "")
        if pm.get_plugin(ep.name) is not None:
            if ep.name in loaded.plugins:  # two distributions, one entry-point name
                key = f"{ep.name} ({info.distribution})"
                loaded.plugins[key] = info
                loaded.fail(pm, key, "has a name already taken", f"plugin {ep.name!r} is "
                            f"already provided by {loaded.plugins[ep.name].distribution}")
            continue
        loaded.plugins[ep.name] = info
        try:
            if pm.register(ep.load(), name=ep.name) is None:
                raise TypeError(f"entry point {ep.value!r} is None, not a plugin")
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a sys.exit() at import must not end the node
            log.debug("plugin %r failed to load", ep.name, exc_info=True)
            loaded.fail(pm, ep.name, "failed to load", why(exc))
    return loaded


def _distribution(ep: importlib.metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist else ""


def vet(pm: pluggy.PluginManager) -> None:
    """Skip every plugin that implements a hook pyrostage does not have (pluggy's
    ``check_pending`` names the first one only), and warn of plugins that implement none."""
    loaded = loaded_of(pm)
    hooks = {name: caller for name, caller in vars(pm.hook).items() if not name.startswith("_")}
    known = sorted(name for name, caller in hooks.items() if caller.has_spec())
    unknown: dict[str, list[str]] = {}
    for name, caller in hooks.items():
        if not caller.has_spec():
            for impl in caller.get_hookimpls():
                if not impl.optionalhook:
                    unknown.setdefault(impl.plugin_name, []).append(name)
    for plugin_name, names in unknown.items():
        loaded.fail(pm, plugin_name, "implements a hook pyrostage does not have",
                    "; ".join(_unknown_hook(name, known) for name in names))
    for plugin_name, plugin in pm.list_name_plugin():
        if plugin is not None and not pm.get_hookcallers(plugin):
            loaded.warn(plugin_name, "implements no pyrostage hook: is a @hookimpl missing?")


def _unknown_hook(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"pyrostage's hooks: {', '.join(known)}"
    return f"unknown hook {name!r} ({hint})"


@dataclass
class Registry:
    """Modes and behaviours the plugins registered, with the plugin each came from."""

    modes: dict[str, type[Mode]] = field(default_factory=dict)
    behaviours: dict[str, type[Behaviour]] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)
    loaded: Loaded = field(default_factory=Loaded)

    def drop(self, pm: pluggy.PluginManager, plugin: str, what: str, reason: str) -> list[str]:
        """Skip ``plugin`` after it registered (a mode of it cannot start): everything it
        provides goes with it. Returns the names of what went."""
        gone = [name for name, source in self.source.items() if source == plugin]
        for name in gone:
            del self.source[name]
            self.modes.pop(name, None)
            self.behaviours.pop(name, None)
        self.loaded.fail(pm, plugin, what, reason)
        return gone


def collect(pm: pluggy.PluginManager) -> Registry:
    """Ask every plugin for its modes and behaviours, recording which plugin gave which.

    A plugin whose registration raises, or that offers a name another plugin already has
    (built-ins are asked first, then the others in the order they were loaded), is skipped
    whole: nothing it registered is kept and it is unregistered.
    """
    loaded = loaded_of(pm)
    vet(pm)
    registry = Registry(loaded=loaded)
    offers: dict[str, list[tuple[str, HookImpl]]] = {}
    for hook, kind in ((pm.hook.register_modes, "mode"), (pm.hook.register_commands, "behaviour")):
        for impl in hook.get_hookimpls():
            offers.setdefault(impl.plugin_name, []).append((kind, impl))
    order = [name for name, _ in pm.list_name_plugin() if name in offers]
    order.sort(key=lambda name: not loaded.builtin(name))
    for plugin in order:
        try:
            found = _ask(plugin, offers[plugin])
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            log.debug("plugin %r failed while registering", plugin, exc_info=True)
            loaded.fail(pm, plugin, "failed while registering", why(exc))
            continue
        taken = [f"{kind} {name!r} is already provided by plugin {registry.source[name]!r}"
                 + (" (built in)" if loaded.builtin(registry.source[name]) else "")
                 for name, (kind, _) in found.items() if name in registry.source]
        if taken:
            loaded.fail(pm, plugin, "clashes with another plugin", "; ".join(taken))
            continue
        for name, (kind, cls) in found.items():
            target = registry.modes if kind == "mode" else registry.behaviours
            target[name] = cls  # type: ignore[assignment]
            registry.source[name] = plugin
    return registry


def _ask(plugin: str, impls: list[tuple[str, HookImpl]]) -> dict[str, tuple[str, type[Behaviour]]]:
    """What one plugin registers: name -> (kind, class); raises if any of it is wrong."""
    found: dict[str, tuple[str, type[Behaviour]]] = {}

    def registrar(kind: str) -> Callable[[type[Behaviour]], None]:
        def register(cls: type[Behaviour]) -> None:
            if kind == "mode" and not (isinstance(cls, type) and issubclass(cls, Mode)):
                raise TypeError(f"plugin {plugin!r} registered {cls!r}, which is not a Mode")
            if not (isinstance(cls, type) and issubclass(cls, Behaviour)):
                raise TypeError(f"plugin {plugin!r} registered {cls!r}, which is not a Behaviour")
            if not (isinstance(cls.name, str) and cls.name):
                raise TypeError(f"plugin {plugin!r} registered {cls!r} without a name")
            if not NAME.match(cls.name):
                raise ValueError(
                    f"plugin {plugin!r} registered {cls.__name__} as {short(cls.name)}: a name "
                    "is lowercase letters, digits and _, starting with a letter"
                )
            if cls.name in RESERVED:
                raise ValueError(f"plugin {plugin!r} registered {cls.__name__} as "
                                 f"{cls.name!r}, a name that is the engine's own")
            if issubclass(cls, Mode):
                _check_buttons(plugin, cls)
            cls.command_specs()  # a command whose types cannot be checked fails here
            declared(cls)  # so do settings that cannot be checked
            if found.setdefault(cls.name, (kind, cls)) != (kind, cls):
                raise ValueError(f"plugin {plugin!r} registered two things named {cls.name!r}")

        return register

    for kind, impl in impls:
        impl.function(register=registrar(kind))
    return found


def _check_buttons(plugin: str, cls: type[Mode]) -> None:
    buttons = getattr(cls, "buttons", ())
    if not isinstance(buttons, tuple | list) or not all(isinstance(b, str) for b in buttons):
        raise TypeError(f"plugin {plugin!r}: {cls.__name__}.buttons must be a tuple of button "
                        f"names, got {short(buttons)}")
    for button in buttons:
        if not NAME.match(button):
            raise ValueError(f"plugin {plugin!r}: {cls.__name__}.buttons has {short(button)}: a "
                             "button name is lowercase letters, digits and _, starting with a "
                             "letter")


def declared_buttons(registry: Registry) -> list[str]:
    """The buttons the installed modes declare (``Mode.buttons``), in the order of the modes,
    each once."""
    return list(dict.fromkeys(b for cls in registry.modes.values()
                              for b in getattr(cls, "buttons", ())))


def check_tables(registry: Registry, tables: Mapping[str, Any]
                 ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each ``[plugins.<name>]`` table as its mode or behaviour reads it (typed, defaults
    filled, for every one that declares ``settings``), and one line for each thing wrong in
    them. A table of one that declares no settings is passed on as it is."""
    out: dict[str, Any] = {name: dict(raw) if isinstance(raw, Mapping) else raw
                           for name, raw in tables.items()}
    problems: list[str] = []
    for name, cls in {**registry.modes, **registry.behaviours}.items():
        raw = tables.get(name, {})
        settings = declared(cls)
        if settings is None:
            continue
        if not isinstance(raw, Mapping):
            problems.append(f"[plugins.{name}] must be a table, got {short(raw)}")
            raw = {}
        out[name], wrong = plugin_settings.table(name, settings, raw)
        problems += wrong
    return out, problems


def plugin_tables(registry: Registry, tables: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[plugins.<name>]`` tables as the node's behaviours read them (typed, defaults
    filled): a wrong value or unknown key in one is a ``ValueError`` (the node does not start).

    Warns (log, ``pyrostage plugins``) about each table that names no mode or behaviour
    installed here: tables are keyed by the mode or behaviour name (what ``modes()`` and
    ``status()`` show), not by the plugin that provides it."""
    typed, problems = check_tables(registry, tables)
    if problems:
        file = getattr(tables, "file", None)
        more = len(problems) - 1
        raise ValueError((f"config file {file}: " if file else "config: ") + problems[0]
                         + (f" (and {more} more: `pyrostage config check` lists them)"
                            if more else ""))
    warnings = table_warnings(registry, tables)
    loaded = registry.loaded
    for table, warning in zip(_unused(registry, tables), warnings, strict=True):
        info = loaded.plugins.setdefault(table, PluginInfo(table))
        if info.warning != warning:
            info.warning = warning
            log.warning("%s", warning)
    return typed


def _unused(registry: Registry, tables: Mapping[str, Any]) -> list[str]:
    names = {*registry.modes, *registry.behaviours}
    loaded = registry.loaded
    return [table for table in tables
            if not (table in names or table in loaded.failed or table in loaded.skipped)]


def table_warnings(registry: Registry, tables: Mapping[str, Any]) -> list[str]:
    """One line for each table that names no mode or behaviour installed here."""
    names = {*registry.modes, *registry.behaviours}
    warnings = []
    for table in _unused(registry, tables):
        provides = sorted(n for n, plugin in registry.source.items() if plugin == table)
        if provides:
            hint = (f"plugin {table!r} provides {', '.join(provides)}: configure it as "
                    + " or ".join(f"[plugins.{name}]" for name in provides))
        else:
            hint = f"this node has: {', '.join(sorted(names)) or 'nothing'}"
        warnings.append(f"[plugins.{table}] in the config names no mode or behaviour, so "
                        f"nothing reads it; tables are keyed by mode or behaviour name ({hint})")
    return warnings


def report(registry: Registry) -> dict[str, dict[str, Any]]:
    """Plugin name -> what it provides and where from, or why it was skipped: what
    ``status()["plugins"]`` and ``pyrostage plugins`` show."""
    loaded = registry.loaded
    provides: dict[str, list[str]] = {}
    for thing, plugin in registry.source.items():
        provides.setdefault(plugin, []).append(thing)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(provides) | set(loaded.plugins)):
        info = loaded.plugins.get(name) or PluginInfo(name)
        out[name] = {"provides": sorted(provides.get(name, [])),
                     "distribution": info.distribution, "version": info.version}
        if info.warning:
            out[name]["warning"] = info.warning
    for name, info in sorted(loaded.failed.items()):
        out[name] = {"error": info.error, "distribution": info.distribution,
                     "version": info.version}
    for name in loaded.skipped:
        out[name] = {"skipped": "left out by the allow/deny lists"}
    return out
