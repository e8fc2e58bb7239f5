"""pyrostage's pytest plugin: real nodes for a plugin author's tests.

Installed with pyrostage and loaded by pytest through the ``pytest11`` entry point (name
``pyrostage``; ``-p no:pyrostage`` turns it off), so a plugin's tests need no conftest::

    def test_quiz_locks_on_the_first_press(pyrostage_node):
        node = pyrostage_node(plugins=[QuizPlugin()], mode="quiz")
        node.press("main")
        assert node.snapshot().pixel(10, 10) == (255, 0, 0)

Every node is real: a headless pygame screen, the Pyro4 facade on 127.0.0.1, a Pyro4 name
server of its own on a free port, SQLite in the test's ``tmp_path``. Importing this module
changes nothing in the process; the fixtures set what they need (SDL's dummy drivers,
Pyro4's settings) and put it back after the test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.testing import configfile
from engine.testing.loading import (
    Builtins,
    allow_list,
    builtin_plugins,
    plugin_manager,
    third_party_plugins,
)
from engine.testing.nodes import InProcessNode, LiveNode, Snapshot
from engine.testing.process import ProcessNode
from engine.testing.sandbox import sandbox
from engine.testing.support import NameServer, RunningNode, free_port, wait_for

__all__ = [
    "InProcessNode",
    "LiveNode",
    "NameServer",
    "ProcessNode",
    "RunningNode",
    "Snapshot",
    "builtin_plugins",
    "free_port",
    "plugin_manager",
    "pyrostage_env",
    "pyrostage_name_server",
    "pyrostage_node",
    "pyrostage_node_process",
    "pyrostage_plugins",
    "third_party_plugins",
    "wait_for",
]

PLUGIN_LISTS = ("PYROSTAGE_PLUGINS", "PYROSTAGE_DISABLE_PLUGINS")


@pytest.fixture
def pyrostage_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process settings every pyrostage fixture needs, put back after the test.

    SDL's dummy video and audio drivers (no window, no sound device), no
    ``PYROSTAGE_HMAC_KEY`` from the developer's shell, and the project's Pyro4 settings
    (serpent only); after the test, the environment, Pyro4's settings and serializers and
    the drawing font are as they were before it.
    """
    with sandbox(monkeypatch):
        yield


@pytest.fixture
def pyrostage_name_server(pyrostage_env: None) -> Iterator[NameServer]:
    """A real Pyro4 name server on 127.0.0.1 and a free port, for this test only.

    Every node the other fixtures start registers in it as ``pyrostage.<name>``; its
    ``host`` and ``port`` are what a controller would be given, and ``proxy()`` returns a
    proxy of it.
    """
    ns = NameServer()
    yield ns
    ns.stop()


@pytest.fixture
def pyrostage_plugins() -> list[Any]:
    """The plugins every node of a test gets when ``plugins=`` is not given: none.

    Override it in your ``conftest.py`` so each test needs no ``plugins=``::

        @pytest.fixture
        def pyrostage_plugins():
            return ["quiz"]          # or [quiz.plugin], [QuizMode] ...
    """
    return []


def _names(prefix: str = "test") -> Callable[[str | None], str]:
    used: set[str] = set()

    def fresh(name: str | None) -> str:
        if name is None:
            name = next(f"{prefix}{n or ''}" for n in range(len(used) + 1)
                        if f"{prefix}{n or ''}" not in used)
        if name in used:
            raise ValueError(f"a node named {name!r} already runs in this test; "
                             "give each node its own name=")
        used.add(name)
        return name

    return fresh


@pytest.fixture
def pyrostage_node(
    pyrostage_name_server: NameServer, pyrostage_plugins: list[Any], tmp_path: Path
) -> Iterator[Callable[..., InProcessNode]]:
    """Start a node in this process: ``pyrostage_node(plugins=None, *, builtins=True,
    name=None, clock=None, today=None, **settings)`` -> ``InProcessNode``.

    ``plugins``: plugin objects or modules (the ones with ``@hookimpl`` functions), ``Mode``
    or ``Behaviour`` classes (registered for you), or entry-point names of installed plugins;
    default: the ``pyrostage_plugins`` fixture. They are registered on a fresh
    PluginManager, together with the built-in plugins (``builtins=False``: none; a list of
    names: those), and unregistered when the node stops. No other installed plugin is loaded.
    A plugin that fails to load or register raises ``RuntimeError`` saying why.

    ``settings``: ``mode`` (shown on first start), ``size`` (``(w, h)`` or ``"WxH"``,
    default 320x180), ``buttons`` and ``outputs`` (pin tables as in the config file),
    ``plugin_config`` (``{name: {...}}``: the ``[plugins.<name>]`` tables), ``dispatch``,
    ``timeout``, ``fps``, ``font``, ``groups``, ``debounce_ms``, ``release_ms``. ``clock``
    and ``today`` replace the node's ``time.monotonic`` and ``date.today``.

    The node is headless, serves on 127.0.0.1, registers in ``pyrostage_name_server`` as
    ``pyrostage.<name>`` (default name ``test``) and keeps its state in
    ``tmp_path / "pyrostage"``. Use it through ``call``, ``switch``, ``press``,
    ``snapshot``, ``status``, ``mode``, ``modes``, ``commands`` or its ``proxy``; restart it
    with ``restart()`` (same state file, the same plugins on a fresh PluginManager). One runs
    at a time; the fixture stops it after the test.
    """
    nodes: list[InProcessNode] = []
    fresh = _names()

    def start(
        plugins: Iterable[Any] | None = None,
        *,
        builtins: Builtins = True,
        name: str | None = None,
        clock: Callable[[], float] | None = None,
        today: Callable[[], date] | None = None,
        **settings: Any,
    ) -> InProcessNode:
        configfile.check(settings)
        name = fresh(name)
        file = _config(tmp_path, name, pyrostage_name_server, settings)
        node = InProcessNode(name, file, _state_dir(tmp_path),
                             pyrostage_plugins if plugins is None else plugins,
                             builtins=builtins, clock=clock, today=today)
        nodes.append(node)
        return node

    yield start
    for node in reversed(nodes):
        node.stop()


@pytest.fixture
def pyrostage_node_process(
    pyrostage_name_server: NameServer, pyrostage_plugins: list[Any], tmp_path: Path
) -> Iterator[Callable[..., ProcessNode]]:
    """Start a node as its own process, the way a Pi runs it (``pyrostage serve``):
    ``pyrostage_node_process(plugins=None, *, builtins=True, name=None, env=None,
    **settings)`` -> ``ProcessNode``.

    ``plugins``: entry-point names of installed plugins (a process cannot be handed objects;
    ``pip install -e .`` your package first); default: the ``pyrostage_plugins`` fixture.
    ``builtins`` and ``settings`` as for ``pyrostage_node``; ``env`` adds environment
    variables (e.g. ``PYTHONPATH``). Nothing else installed is loaded, whatever
    ``PYROSTAGE_PLUGINS`` or ``PYROSTAGE_DISABLE_PLUGINS`` say.

    Several may run at once (give each a ``name``). The same methods as an in-process node,
    plus ``restart(kill=True)`` (SIGKILL, as a power cut), ``stop(kill=...)``, ``pid`` and
    ``log()``. The fixture stops every one after the test.
    """
    nodes: list[ProcessNode] = []
    fresh = _names()

    def start(
        plugins: Iterable[str] | None = None,
        *,
        builtins: Builtins = True,
        name: str | None = None,
        env: dict[str, str] | None = None,
        **settings: Any,
    ) -> ProcessNode:
        configfile.check(settings)
        wanted = list(pyrostage_plugins if plugins is None else plugins)
        objects = [p for p in wanted if not isinstance(p, str)]
        if objects:
            raise TypeError(f"a node process loads installed plugins by entry-point name; got "
                            f"{objects!r} (pass objects and classes to pyrostage_node)")
        allow = allow_list(wanted, builtins)
        if not allow:
            raise ValueError("a node needs at least one plugin: builtins=False and no plugins")
        name = fresh(name)
        file = _config(tmp_path, name, pyrostage_name_server, settings, allow=allow)
        child_env = {k: v for k, v in os.environ.items() if k not in PLUGIN_LISTS}
        node = ProcessNode(name, file, _state_dir(tmp_path), pyrostage_name_server,
                           {**child_env, **(env or {})})
        nodes.append(node)
        return node

    yield start
    for node in reversed(nodes):
        node.stop()


def _state_dir(tmp_path: Path) -> Path:
    return tmp_path / "pyrostage"


def _config(tmp_path: Path, name: str, ns: NameServer, settings: dict[str, Any],
            allow: list[str] | None = None) -> Path:
    state_dir = _state_dir(tmp_path)
    state_dir.mkdir(exist_ok=True)
    fixed = {"name": name, "host": "127.0.0.1", "port": 0, "ns_host": ns.host,
             "ns_port": ns.port, "state_dir": state_dir, "headless": True, "backend": "none"}
    return configfile.write(state_dir / f"{name}.toml", {"size": (320, 180), **settings,
                                                          **fixed}, allow=allow)
