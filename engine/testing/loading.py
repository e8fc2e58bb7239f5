"""Which plugins a test node gets: the built-ins and what the test names, nothing else.

A stranger's plugin installed in the same environment must not change a test's result (llm
and datasette keep their own suites from loading installed plugins the same way), so entry
points are chosen by distribution: the built-ins are those of the ``pyrostage`` distribution,
any other installed plugin loads only when a test names it.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy

    from engine.api.modes import Behaviour

Builtins = bool | Iterable[str]
"""``True``: every built-in plugin; ``False``: none; names: those built-ins only."""



def _builtin(ep: importlib.metadata.EntryPoint) -> bool:
    from engine.core.plugins import BUILTIN

    return ep.dist is not None and ep.dist.name.lower() == BUILTIN


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    """The group's entry points, the built-in one first where two share a name."""
    from engine.core.plugins import GROUP

    eps = importlib.metadata.entry_points(group=GROUP)
    return sorted(eps, key=lambda ep: (ep.name, not _builtin(ep)))


def builtin_plugins() -> list[str]:
    """Entry-point names of the built-in plugins."""
    return sorted({ep.name for ep in _entry_points() if _builtin(ep)})


def third_party_plugins() -> list[str]:
    """Entry-point names of installed plugins from other distributions (a name a built-in
    also has is left out: blocking it would block the built-in)."""
    builtin = set(builtin_plugins())
    return sorted({ep.name for ep in _entry_points() if ep.name not in builtin})


def allow_list(plugins: Iterable[str], builtins: Builtins) -> list[str]:
    """The entry-point names a node loads: the chosen built-ins and ``plugins``."""
    known = builtin_plugins()
    if builtins is True:
        chosen = known
    elif builtins is False:
        chosen = []
    else:
        chosen = [builtins] if isinstance(builtins, str) else list(builtins)
        unknown = sorted(set(chosen) - set(known))
        if unknown:
            raise LookupError(f"no built-in plugin {', '.join(map(repr, unknown))}; "
                              f"the built-ins are {', '.join(known)}")
    return sorted({*chosen, *plugins})


def plugin_manager(plugins: Iterable[Any] = (), builtins: Builtins = True) -> pluggy.PluginManager:
    """A fresh PluginManager with the chosen built-ins and ``plugins``: plugin objects or
    modules (registered under their ``__name__`` or class name), ``Mode``/``Behaviour``
    classes (registered for you, under their ``name``), or entry-point names of installed
    plugins. Raises ``LookupError`` for a name no installed plugin has."""
    from engine.core.plugins import PluginInfo, loaded_of, new_plugin_manager

    plugins = list(plugins)
    names = [p for p in plugins if isinstance(p, str)]
    wanted = set(allow_list(names, builtins))
    pm = new_plugin_manager()
    loaded = loaded_of(pm)
    for ep in _entry_points():
        if ep.name not in wanted or pm.has_plugin(ep.name):
            continue
        if ep.name not in names and not _builtin(ep):
            continue  # a built-in's name, taken by a distribution nobody asked for
        dist = ep.dist
        pm.register(ep.load(), name=ep.name)
        loaded.plugins[ep.name] = PluginInfo(ep.name, dist.name if dist else "",
                                             dist.version if dist else "")
    missing = sorted(n for n in names if not pm.has_plugin(n))
    if missing:
        installed = ", ".join(sorted({ep.name for ep in _entry_points()})) or "none"
        raise LookupError(f"no installed pyrostage plugin {', '.join(map(repr, missing))} "
                          f"(entry-point group 'pyrostage'); installed: {installed}")
    for plugin in plugins:
        if isinstance(plugin, str):
            continue
        if isinstance(plugin, type):
            pm.register(offering(plugin), name=str(getattr(plugin, "name", "") or
                                                  plugin.__name__))
        else:
            pm.register(plugin, name=getattr(plugin, "__name__", None) or type(plugin).__name__)
    return pm


def offering(cls: type[Behaviour]) -> object:
    """A plugin that registers one ``Mode`` or ``Behaviour`` class (what a test passes when it
    has no plugin object of its own)."""
    from engine.api.hookspecs import hookimpl
    from engine.api.modes import Behaviour, Mode

    if not issubclass(cls, Behaviour):
        raise TypeError(f"plugins must be plugin objects or modules, Mode or Behaviour "
                        f"classes, or entry-point names; got the class {cls.__name__}")
    mode = issubclass(cls, Mode)

    class Offering:
        @hookimpl
        def register_modes(self, register: Callable[[type[Behaviour]], None]) -> None:
            if mode:
                register(cls)

        @hookimpl
        def register_commands(self, register: Callable[[type[Behaviour]], None]) -> None:
            if not mode:
                register(cls)

    return Offering()


def problems(report: dict[str, dict[str, Any]]) -> list[str]:
    """What went wrong with a node's plugins, from its ``status()["plugins"]`` report."""
    found = []
    for name, entry in report.items():
        if "error" in entry:
            found.append(f"plugin {name!r} was skipped: {entry['error']}")
        elif "warning" in entry:
            found.append(f"plugin {name!r} {entry['warning']}")
    return found
