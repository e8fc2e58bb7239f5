"""Wiring one node: config -> plugins -> store -> stage -> pins -> display -> Pyro daemon.

``serve()`` runs on the main thread (pygame lives there); the Pyro request loop, the name
server registrar and GPIO callbacks run on threads of their own and never draw.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pluggy
import Pyro4

from engine.api import drawing
from engine.base import notify, pyroconf, transport
from engine.base.config import Config
from engine.base.names import NODE_TAG, group_tag, object_name
from engine.core import budget
from engine.core.plugins import collect, declared_buttons, get_plugin_manager, report
from engine.core.stage import Stage
from engine.core.store import Store
from engine.hardware.display import Display
from engine.hardware.gpio import ButtonPin, Buttons, Pins, make_backend
from engine.hardware.sound import Sound
from engine.remote.events import PLUGIN_NAME as EVENTS_PLUGIN
from engine.remote.events import EventLog
from engine.remote.facade import Facade
from engine.remote.registrar import Registrar

log = logging.getLogger(__name__)

KEY_BUTTONS = {ord(" "): 0, **{ord(str(i)): i - 1 for i in range(1, 10)}}
"""Window key -> index into the node's buttons (``sim`` backend): space and 1 = ``main``."""


class Node:
    """A display node: build it, call ``serve()`` on the main thread, ``stop()`` from anywhere."""

    def __init__(
        self,
        config: Config,
        pm: pluggy.PluginManager | None = None,
        *,
        clock: Callable[[], float] | None = None,
        today: Callable[[], date] | None = None,
    ):
        pyroconf.harden(max_message=config.size[0] * config.size[1] * 6)
        pyroconf.use_tls(config.tls)
        self.config = config
        self.name = config.name
        if pm is None:
            pm, _ = get_plugin_manager(config.allow, config.block)
        self.pm = pm
        self.registry = collect(pm)
        self.loaded = self.registry.loaded
        self.store = Store(config.state_file)
        backend = make_backend(config.gpio)
        # main, then the buttons the modes declare, then the ones only the config names
        names = [*declared_buttons(self.registry), *config.buttons]
        self.buttons = Buttons(names, config.debounce_ms / 1000, self._post_press,
                               timeout=config.timeout, clock=clock or time.monotonic)
        button_pins = [
            ButtonPin(n, int(b["pin"]), b.get("pull", "up") == "up",
                      b.get("edge", "falling") == "falling")
            for n, b in config.buttons.items()
        ]
        try:
            self.pins = Pins(backend, self.buttons, button_pins, config.outputs,
                             release=config.release_ms / 1000)
        except BaseException:
            self.store.close()
            raise
        extra: dict[str, Any] = {}
        if clock is not None:
            extra["clock"] = clock
        if today is not None:
            extra["today"] = today
        self.sound = Sound(config.sound)
        try:
            self.stage = Stage(
                config.name, pm, self.registry, self.store,
                plugin_config=config.plugins, default_mode=config.mode,
                dispatch=config.dispatch, timeout=config.timeout, outputs=self.pins.outputs,
                sound=self.sound, **extra,
            )
        except BaseException:  # e.g. no modes installed: release what is already claimed
            self.pins.close()
            self.store.close()
            raise
        self.events = EventLog(config.name, config.key())
        pm.register(self.events, name=EVENTS_PLUGIN)
        self.display = Display(config.size, config.fullscreen, config.headless, config.fps,
                               title=f"pyrostage: {config.name}",
                               rotate=config.rotate)
        drawing.set_font_path(config.font)
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.daemon: Pyro4.Daemon | None = None
        self.uri: Any = None
        self.registrar: Registrar | None = None
        self._ns_daemon: Any = None
        self._threads: list[threading.Thread] = []
        self.heartbeat = notify.Heartbeat(self.ready, self._main_loop_answers, self.status_line)
        self._was_registered = False

    # -- running --------------------------------------------------------------------------

    def serve(self) -> None:
        """Open the screen, restore state, start serving, run the main loop until stopped."""
        try:
            self.display.open()
            self.stage.start()
            self._start_pyro()
            self.heartbeat.start()  # READY=1 once the main loop runs, then the watchdog
            self.display.run(self.stage, self.stopping, self._key, ready=self.ready)
        finally:
            self.close()

    def stop(self) -> None:
        """Ask the node to stop, from any thread (not from a signal handler: setting an Event
        takes a lock the interrupted main thread may hold; see ``cli.on_stop_signals``)."""
        self.stopping.set()
        self.stage.wake.set()
        self.heartbeat.stop()

    def _start_pyro(self) -> None:
        cfg = self.config
        key = cfg.key()
        host = cfg.host
        if host == "auto":
            host = pyroconf.lan_address(cfg.ns_host, cfg.ns_port)
        pyroconf.warn_if_exposed(host, key, f"node {self.name!r}")
        if cfg.embedded_ns:
            ns_host = cfg.ns_host or host
            ns_uri, self._ns_daemon, _bc = pyroconf.serve_ns(ns_host, cfg.ns_port or 9090, key)
            cfg.ns_host, cfg.ns_port = ns_uri.host, ns_uri.port
            self._spawn(self._ns_daemon.requestLoop, "pyrostage-ns")
            log.info("embedded name server at %s:%s", ns_uri.host, ns_uri.port)
        limits, parsing, _largest = budget.for_behaviours(
            type(b) for b in self.stage.behaviours.values()
        )
        transport.parse_limits(parsing)
        daemon = pyroconf.serve_daemon(host, cfg.port, key, limits)
        self.daemon = daemon
        self.uri = daemon.register(Facade(self), objectId=object_name(self.name))
        self._spawn(daemon.requestLoop, "pyrostage-pyro")
        metadata = {NODE_TAG, *(group_tag(g) for g in cfg.groups)}
        self.registrar = Registrar(self.name, self.uri, metadata, cfg.ns_host, cfg.ns_port, key)
        self.registrar.start()
        log.info("node %r serving at %s", self.name, self.uri)

    def _spawn(self, target: Callable[[], Any], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _post_press(self, button: str, at: float, done: Any) -> None:
        self.stage.post_press(button, at, done)

    def _key(self, key: int, at: float) -> None:
        """A key in the window: a button press only on the simulated backend."""
        if not self.pins.backend.keys:
            return
        index = KEY_BUTTONS.get(key)
        name = self.buttons.key(index) if index is not None else None
        if name is not None:
            self.buttons.edge(name, at)

    def close(self) -> None:
        """Unregister, stop serving, release pins, make state durable, close the screen."""
        self.heartbeat.stop()
        if self.registrar is not None:
            self.registrar.stop(unregister=True)
        if self.daemon is not None:  # connected clients get "unknown object", not a closed store
            self.daemon.unregister(object_name(self.name))
            self.daemon.shutdown()
        if self._ns_daemon is not None:
            self._ns_daemon.shutdown()
        try:
            self.stage.shutdown()
        except Exception:
            log.exception("a plugin failed during shutdown")
        self.events.close()  # after the last events went out to it
        if self.pm.is_registered(self.events):
            self.pm.unregister(self.events)
        self.pins.close()
        self.store.close()
        self.sound.close()
        self.display.close()

    def _main_loop_answers(self, timeout: float) -> bool:
        """For the systemd watchdog: the main loop ran a tiny job within ``timeout``."""
        return bool(self.stage.on_main(lambda _surface: True, timeout=timeout))

    def status_line(self) -> str:
        """systemd's STATUS= line: the mode on screen and where the node is registered."""
        r = self.registrar
        if r is None:
            return f"serving {self.stage.active.name}"
        where = f"{r.ns_host or Pyro4.config.NS_HOST}:{r.ns_port or Pyro4.config.NS_PORT}"
        if r.registered:
            self._was_registered = True
            found = f"registered as {r.name} in {where}"
        elif r.conflict:
            found = f"{r.name} in {where} is held by another live node"
        elif self._was_registered:
            found = f"name server {where} lost, retrying"
        else:
            found = f"name server {where} not found yet"
        return f"serving {self.stage.active.name}; {found}"

    # -- reports for status() ---------------------------------------------------------------

    def plugin_report(self) -> dict[str, Any]:
        return report(self.registry)

    def display_report(self) -> dict[str, Any]:
        d = self.display
        return {"size": list(d.size), "rotate": d.rotate, "headless": d.headless,
                "window": d.window,
                "fullscreen": d.fullscreen, "frames": d.frames, "sound": self.sound.report()}

    def gpio_report(self) -> dict[str, Any]:
        """Buttons in key order (``sim``: space and 1 = the first), the pin of each (None:
        no pin, so it is pressed over the network, or by a key on the ``sim`` backend, only)."""
        pins = {b: self.config.buttons.get(b, {}).get("pin") for b in self.buttons.names}
        return {"backend": self.pins.backend.name, "buttons": self.buttons.names,
                "pins": pins, "unwired": [b for b, pin in pins.items() if pin is None],
                "held": self.pins.held(),
                "presses": self.buttons.presses, "outputs": sorted(self.pins.outputs.pins)}
