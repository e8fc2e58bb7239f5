"""Real parts for every test: a Pyro4 name server and nodes on 127.0.0.1, pygame's dummy video
driver, SQLite files in tmp dirs. Only hardware is faked (see ``fake_gpio.py``).
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
os.environ.pop("PYROSTAGE_HMAC_KEY", None)
# never read the developer's own pyrostage.toml
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="pyrostage-test-config-")

import pluggy
import Pyro4
import pytest
from PIL import Image

from engine.base import config as config_module
from engine.base import pyroconf
from engine.base.pyroconf import harden
from engine.control.controller import Controller
from engine.core.plugins import BLOCK_ENV, get_plugin_manager
from engine.remote.node import Node
from engine.testing import NameServer, RunningNode, third_party_plugins
from engine.testing import free_port as free_port  # tests import these from here
from engine.testing import wait_for as wait_for

harden()
atexit.register(shutil.rmtree, os.environ["XDG_CONFIG_HOME"], True)  # leave no config dirs


def _import_everything() -> None:
    """Import every engine and plugin module now, on the main thread: pytest rewrites the
    asserts of ``engine`` (a pytest plugin's package) as it is imported, and CPython 3.11's
    parser is not thread-safe, so a module first imported on a node's or a server's thread
    while pytest formats a failure could end the session ("SystemError: AST constructor
    recursion depth mismatch"). (anyio's pytest plugin is off, ``-p no:anyio``, for the same
    reason: the web server imports anyio's modules lazily on its thread.)"""
    import importlib
    import pkgutil

    import engine
    import plugins

    for package in (engine, plugins):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not info.name.endswith("__main__"):
                with suppress(ImportError):  # an extra that is not installed
                    importlib.import_module(info.name)


_import_everything()

# The suite sees the built-in plugins only, whatever else is installed here (llm and datasette
# keep their suites from loading installed plugins too); subprocess nodes inherit the list.
# Tests that want a third-party plugin install it themselves (test_broken_plugins.py).
_blocked = {*third_party_plugins(), *filter(None, os.environ.get(BLOCK_ENV, "").split(","))}
if _blocked:
    os.environ[BLOCK_ENV] = ",".join(sorted(_blocked))

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def name_server() -> Iterator[NameServer]:
    ns = NameServer()
    yield ns
    ns.stop()


def node_config(tmp_path: Path, ns: NameServer | None, name: str = "red", **overrides: Any):
    """A node config for tests: headless, small screen, state in ``tmp_path``."""
    defaults: dict[str, Any] = dict(
        name=name, host="127.0.0.1", port=0, headless=True, size=(320, 180),
        state_dir=tmp_path / "state", gpio="none",
    )
    if ns is not None:
        defaults.update(ns_host=ns.host, ns_port=ns.port)
    defaults.update(overrides)
    return config_module.load(None, **defaults)


@pytest.fixture
def start_node(tmp_path: Path, name_server: NameServer) -> Iterator[Callable[..., RunningNode]]:
    """``start_node(pm=None, **config)`` -> a running in-process node registered in the NS."""
    running: list[RunningNode] = []

    def start(pm: pluggy.PluginManager | None = None, clock: Any = None, today: Any = None,
              **overrides: Any) -> RunningNode:
        cfg = node_config(tmp_path, name_server, **overrides)
        if pm is None:
            pm, _ = get_plugin_manager()
        node = RunningNode(Node(cfg, pm, clock=clock, today=today))
        running.append(node)
        return node

    yield start
    for node in running:
        if node.thread.is_alive():
            node.stop()


@pytest.fixture(scope="module")
def camp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NameServer, dict]]:
    """Four subprocess nodes in groups (``fleetnodes.GROUPS``) and their name server, shared
    by a module's tests: (name server, node name -> process)."""
    from fleetnodes import four_nodes

    ns = NameServer()
    try:
        with four_nodes(Path(tmp_path_factory.mktemp("camp")), ns) as procs:
            yield ns, procs
    finally:
        ns.stop()


@pytest.fixture(scope="module")
def camp_web(camp) -> Iterator[Any]:
    """``pyrostage web`` (in this process, a free port) for the ``camp`` nodes: ``.url``,
    ``.web``; nodes get 2 s to answer each call."""
    from webtools import web_for

    ns, _ = camp
    with web_for(ns) as running:
        yield running


@pytest.fixture
def ctl(camp) -> Iterator[Controller]:
    """A controller for the ``camp`` nodes."""
    ns, _ = camp
    with Controller(ns.host, ns.port, ns.hmac_key) as c:
        yield c


@pytest.fixture
def node(start_node: Callable[..., RunningNode]) -> RunningNode:
    return start_node()


@pytest.fixture
def proxy(node: RunningNode) -> Iterator[Pyro4.Proxy]:
    p = node.proxy()
    yield p
    p._pyroRelease()


def pixel(png: bytes, xy: tuple[int, int] | None = None) -> tuple[int, int, int]:
    """The RGB at ``xy`` (default: the centre) of PNG bytes from ``snapshot()``."""
    if isinstance(png, dict):
        import serpent

        png = serpent.tobytes(png)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if xy is None:
        xy = (image.width // 2, image.height // 2)
    r, g, b = image.getpixel(xy)  # type: ignore[misc]
    return (r, g, b)


def image(png: bytes) -> Image.Image:
    if isinstance(png, dict):
        import serpent

        png = serpent.tobytes(png)
    return Image.open(io.BytesIO(png)).convert("RGB")


@contextmanager
def spawn_node(
    tmp_path: Path, ns: NameServer, name: str = "red", *extra: str,
    env: dict[str, str] | None = None, python_prelude: str | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A node as its own process (``pyrostage serve``), the way a Pi runs it."""
    cmd = [sys.executable]
    if python_prelude:
        cmd += ["-c", python_prelude + "\nfrom engine.cli import main\nmain()"]
    else:
        cmd += ["-m", "engine"]
    cmd += ["serve", "--name", name, "--host", "127.0.0.1", "--ns-host", ns.host,
            "--ns-port", str(ns.port), "--state-dir", str(tmp_path / "state"),
            "--headless", "--size", "320x180", "--gpio", "none", *extra]
    full_env = {**os.environ, "SDL_VIDEODRIVER": "dummy", **(env or {})}
    log = open(tmp_path / f"{name}.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def closed_by_peer(s: socket.socket, timeout: float = 15.0) -> bool:
    """Read until the other end closes the connection (True), or ``timeout`` passes (False)."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    except TimeoutError:
        return False
    return True


def lookup_proxy(ns: NameServer, name: str) -> Pyro4.Proxy:
    with ns.proxy() as nsp:
        uri = nsp.lookup(f"pyrostage.{name}")
    p = Pyro4.Proxy(uri)
    if ns.hmac_key:
        p._pyroHmacKey = ns.hmac_key
    return p


@pytest.fixture
def lan_address() -> str:
    """This machine's own non-loopback address (binding to it sends nothing anywhere)."""
    candidates = []
    with suppress(OSError):
        candidates.append(socket.gethostbyname(socket.gethostname()))
    with suppress(OSError):
        candidates.append(pyroconf.lan_address("10.255.255.255", 9))
    for address in candidates:
        if pyroconf.is_loopback(address) or address == "0.0.0.0":
            continue
        with socket.socket() as s:
            try:
                s.bind((address, 0))
            except OSError:
                continue
        return address
    pytest.skip("this machine has no non-loopback address")
