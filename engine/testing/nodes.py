"""Test nodes: a running node driven over real Pyro, here in this process (``process.py``
has the other kind, a node process).

Both kinds offer the same methods (``call``, ``switch``, ``press``, ``snapshot``, ``status``,
``restart`` ...), each a call through the node's Pyro facade, so a test sees exactly what a
controller sees.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from engine.testing.loading import Builtins, plugin_manager, problems
from engine.testing.support import RunningNode

if TYPE_CHECKING:
    import pluggy
    import pygame
    import Pyro4
    from PIL import Image


class Snapshot:
    """The node's screen at one moment: ``pixel(x, y)``, ``size``, ``surface()``, ``png``."""

    def __init__(self, png: bytes | dict[str, Any]):
        from PIL import Image

        if isinstance(png, dict):  # bytes as serpent sends them to a plain client
            import serpent

            png = bytes(serpent.tobytes(png))
        self.png: bytes = png
        """The PNG bytes ``snapshot()`` returned."""
        self.image: Image.Image = Image.open(io.BytesIO(png)).convert("RGB")
        """The picture as a Pillow image (decoded off pygame's thread, like the node does)."""

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.size

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        """The (r, g, b) at column ``x``, row ``y``; (0, 0) is the top left corner."""
        w, h = self.size
        if not (0 <= x < w and 0 <= y < h):
            raise IndexError(f"pixel ({x}, {y}) is outside the {w}x{h} screen: x must be 0 to "
                             f"{w - 1}, y 0 to {h - 1}")
        r, g, b = self.image.getpixel((x, y))  # type: ignore[misc]
        return (r, g, b)

    def surface(self) -> pygame.Surface:
        """The picture as a new pygame surface (in memory: no display needed)."""
        import pygame

        return pygame.image.frombytes(self.image.tobytes(), self.size, "RGB")

    def __repr__(self) -> str:
        return f"<Snapshot {self.size[0]}x{self.size[1]}>"


class LiveNode:
    """What every test node offers: its facade over real Pyro, snapshots, restart."""

    def __init__(self, name: str, state_dir: Path):
        self.name = name
        self.state_dir = state_dir
        self._proxy: Pyro4.Proxy | None = None

    @property
    def uri(self) -> str:
        raise NotImplementedError

    @property
    def state_file(self) -> Path:
        """The node's SQLite file (it outlives a restart; read it with ``sqlite3``)."""
        return self.state_dir / f"{self.name}.sqlite3"

    @property
    def proxy(self) -> Pyro4.Proxy:
        """A Pyro4 proxy of the node's facade, as a controller has (a new one after restart)."""
        if self._proxy is None:
            from engine.base import pyroconf

            self._proxy = pyroconf.proxy(self.uri)
        return self._proxy

    def call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        """Run a declared command: ``name`` on the active mode, or ``mode.name``."""
        return self.proxy.call(command, *args, **kwargs)

    def switch(self, mode: str) -> str:
        """Make ``mode`` the active mode; returns its name."""
        return str(self.proxy.switch(mode))

    @property
    def mode(self) -> str:
        """The active mode's name; assigning it switches."""
        return str(self.proxy.mode)

    @mode.setter
    def mode(self, name: str) -> None:
        self.switch(name)

    def modes(self) -> list[str]:
        """Names of the modes the node has."""
        return list(self.proxy.modes())

    def commands(self, mode: str | None = None) -> dict[str, Any]:
        """Command name -> parameters, doc ... of ``mode`` (default: the active one)."""
        return dict(self.proxy.commands(mode))

    def status(self) -> dict[str, Any]:
        """The node's ``status()``: mode, plugins, each mode's state summary ..."""
        return dict(self.proxy.status())

    def press(self, button: str = "main") -> bool:
        """Press ``button`` exactly as its pin would; False if the debounce swallowed it."""
        return bool(self.proxy.press(button))

    def snapshot(self) -> Snapshot:
        """The screen now, up to date with every change acknowledged before the call."""
        return Snapshot(self.proxy.snapshot())

    def restart(self) -> LiveNode:
        """Stop the node and start it again on the same state file; returns the node."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the node (the fixture stops it after the test in any case)."""
        raise NotImplementedError

    def _release(self) -> None:
        if self._proxy is not None:
            self._proxy._pyroRelease()
            self._proxy = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class InProcessNode(LiveNode):
    """A node whose main loop runs on a thread of this process: fast to start, and it takes
    plugin objects and classes. One at a time (pygame has one main loop per process)."""

    _current: ClassVar[InProcessNode | None] = None

    def __init__(
        self,
        name: str,
        config_file: Path,
        state_dir: Path,
        plugins: Iterable[Any] = (),
        builtins: Builtins = True,
        clock: Callable[[], float] | None = None,
        today: Callable[[], date] | None = None,
    ):
        super().__init__(name, state_dir)
        self.config_file = config_file
        self.plugins = list(plugins)
        self.builtins = builtins
        self.clock = clock
        self.today = today
        self.running: RunningNode | None = None
        self._pm: pluggy.PluginManager | None = None
        self._start()

    @property
    def uri(self) -> str:
        if self.running is None:
            raise RuntimeError(f"node {self.name!r} is stopped")
        return self.running.uri

    def _start(self) -> None:
        from engine.base import config
        from engine.core.plugins import collect, report
        from engine.remote.node import Node

        current = InProcessNode._current
        if current is not None and current is not self:
            raise RuntimeError(f"node {current.name!r} still runs in this process: one "
                               "in-process node at a time (stop it first, or start several "
                               "with pyrostage_node_process)")
        pm = plugin_manager(self.plugins, self.builtins)
        found = problems(report(collect(pm)))
        if found:
            raise RuntimeError("; ".join(found))
        node = Node(config.load(self.config_file), pm, clock=self.clock, today=self.today)
        self._pm = pm
        InProcessNode._current = self
        try:
            self.running = RunningNode(node)
        except BaseException:
            self._forget()
            raise

    def stop(self) -> None:
        self._release()
        running, self.running = self.running, None
        try:
            if running is not None:
                running.stop()
        finally:
            self._forget()

    def _forget(self) -> None:
        """Unregister the plugins (the test's objects are not held by a stopped node)."""
        if self._pm is not None:
            for name, _plugin in self._pm.list_name_plugin():
                self._pm.unregister(name=name)
            self._pm = None
        if InProcessNode._current is self:
            InProcessNode._current = None

    def restart(self) -> InProcessNode:
        self.stop()
        self._start()
        return self
