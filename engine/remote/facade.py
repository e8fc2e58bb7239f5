"""The one Pyro4-exposed class: a thin, typed door onto the stage.

Everything here is plain data in and out (strings, numbers, lists, dicts, bytes), so a Pyro4
client that has never heard of pyrostage can use all of it. Errors reach callers as builtin
exceptions, because serpent cannot rebuild other classes on a plain client.
"""

from __future__ import annotations

import builtins
import logging
import time
from typing import TYPE_CHECKING, Any

import Pyro4

from engine import __version__
from engine.api.images import encode_png, grab
from engine.base.text import short
from engine.core.stage import ring_seconds
from engine.core.store import StateNotSaved

if TYPE_CHECKING:
    from engine.remote.node import Node

log = logging.getLogger(__name__)

SOURCES = ("controller", "web", "shell", "race")
CLIENT_ERRORS = (TypeError, ValueError, LookupError, TimeoutError)
"""Longest bell pulse in seconds a controller may ask for."""


def _builtin(exc: BaseException) -> BaseException:
    """The exception a plain client can rebuild: builtins pass, plugin classes are wrapped."""
    if type(exc).__module__ == "builtins":
        return exc
    for base in type(exc).__mro__:
        builtin = base.__module__ == "builtins" and base not in (Exception, BaseException, object)
        if builtin and getattr(builtins, base.__name__, None) is base:
            try:
                return base(f"{type(exc).__name__}: {exc}")
            except TypeError:  # e.g. UnicodeDecodeError wants five arguments
                continue
    return RuntimeError(f"{type(exc).__name__}: {exc}")


@Pyro4.expose
@Pyro4.behavior(instance_mode="single")
class Facade:
    """``pyrostage.<node>`` in the name server; see DESIGN.md's remote contract."""

    def __init__(self, node: Node):
        self._node = node
        self._stage = node.stage

    def _guard(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StateNotSaved as exc:  # the store logged why, once; a plain OSError travels
            raise OSError(exc.errno, exc.strerror) from None
        except CLIENT_ERRORS as exc:
            if type(exc).__module__ == "builtins":
                raise
            raise _builtin(exc) from None  # a plugin's subclass: clients cannot rebuild it
        except Exception as exc:
            log.exception("%s failed", what)
            raise _builtin(exc) from None

    @property
    def node(self) -> str:
        return self._node.name

    @property
    def uptime(self) -> float:
        return self._stage.uptime

    @property
    def mode(self) -> str:
        return self._stage.active.name

    @mode.setter
    def mode(self, name: str) -> None:
        self.switch(name)

    def modes(self) -> list[str]:
        """Names of the modes this node has."""
        return list(self._stage.modes)

    def switch(self, mode: str) -> str:
        """Make ``mode`` the active mode; returns its name."""
        return str(self._guard("switch", self._stage.switch, mode))

    def commands(self, mode: str | None = None) -> dict[str, dict[str, Any]]:
        """Command name -> params, doc, oneway, idempotent, for ``mode`` (default: active).

        ``mode="*"`` lists every command of every mode and plugin, qualified.
        """
        if mode == "*":
            return self._stage.all_commands()
        return dict(self._guard("commands", self._stage.describe, mode))

    def call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        """Run a declared command: ``name`` on the active mode, or ``mode.name``/``plugin.name``."""
        return self._guard(f"call {short(command)}", self._stage.invoke, command, args, kwargs)

    def call_as(self, source: str, command: str, *args: Any, **kwargs: Any) -> Any:
        """``call`` on behalf of a named kind of controller (``web``, ``shell``), so the
        journal records who changed what."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {short(source)}")
        return self._guard(f"call {short(command)}", self._stage.invoke, command, args, kwargs,
                           source)

    @Pyro4.oneway
    def send(self, command: str, *args: Any, **kwargs: Any) -> None:
        """Fire-and-forget ``call``: no answer, errors only logged on the node."""
        try:
            self._stage.invoke(command, args, kwargs)
        except Exception as exc:
            log.warning("oneway %.80r failed: %.300s", command, exc)  # bounded: no log flood

    def press(self, button: str = "main") -> bool:
        """A button press, exactly as if its pin fell; False if the debounce swallowed it."""
        buttons = self._node.buttons.names
        if not isinstance(button, str):
            raise TypeError(f"button must be a string, got {type(button).__name__}")
        if button not in buttons:
            raise LookupError(f"unknown button {short(button)}; this node has: "
                              f"{', '.join(buttons)}")
        return bool(self._guard("press", self._node.buttons.edge, button, None, True))

    def ring(self, seconds: float = 1.0, output: str = "bell") -> bool:
        """Drive the bell (or another output) for ``seconds`` (more than 0, at most 30) in the
        background; returns at once, True if an output was driven (False: the node has none)."""
        seconds = ring_seconds(seconds)
        outputs = ["bell", *sorted(set(self._node.pins.outputs.pins) - {"bell"})]
        if not isinstance(output, str):
            raise TypeError(f"output must be an output name ({', '.join(outputs)}), "
                            f"got {type(output).__name__}")
        if output not in outputs:
            raise ValueError(f"output must be one of {', '.join(outputs)}; got {short(output)}")
        return bool(self._guard("ring", self._stage.ring, float(seconds), output))

    def clock(self) -> dict[str, float]:
        """The node's clocks now, read together: ``monotonic`` (the stage clock that button
        times, timers and ``timer.start_at`` use) and ``wall`` (``time.time()``, which event
        and journal times use; a Pi without a real-time clock may have it wrong). A
        controller measures its offset to them NTP-style (``engine.control.clock``)."""
        return {"monotonic": self._stage.clock(), "wall": time.time()}

    def events_since(self, seq: int, boot: str | None = None) -> dict[str, Any]:
        """This node's event records after ``seq`` (0: from the start), oldest first, at most
        500 (``more``: ask again from the last one). ``boot`` is the boot the seq came from:
        when the node has restarted since, the records start at this boot's beginning.
        ``complete`` is False when records were lost (the log keeps the newest 2000, or the
        node restarted); ``missed`` counts those lost from this boot. Also ``boot``, ``seq``
        (the newest) and ``now`` (the node's wall time)."""
        return self._node.events.since(seq, boot)

    def subscribe(self, uri: str, lease: float = 60) -> dict[str, Any]:
        """Push every event record after the returned ``seq`` to the Pyro object at ``uri``
        (a ``PYRO:`` URI string, never a proxy), calling its ``events(records)`` with
        batches, until ``lease`` seconds (1 to 3600) pass; subscribing again with the same
        uri renews the lease and returns the same ``id``. A subscriber that fails three
        pushes in a row, or falls 1000 records behind (the oldest are dropped), catches up
        with ``events_since``. Returns ``id``, ``boot`` and ``seq``."""
        return self._node.events.subscribe(uri, lease)

    def unsubscribe(self, id: str) -> bool:
        """Stop pushing events to subscriber ``id``; False if it was not subscribed."""
        return self._node.events.unsubscribe(id)

    def snapshot(self) -> bytes:
        """What is on the screen now, as PNG bytes."""
        size, rgb = self._stage.on_main(grab)
        return encode_png(size, rgb)

    def status(self) -> dict[str, Any]:
        """Node, mode, uptime, version, plugins and a summary of each mode's state; with
        ``PYROSTAGE_TRACE=1`` also ``trace``, the frames last shown (``display.Trace``)."""
        node = self._node
        report = {
            "node": node.name,
            "mode": self._stage.active.name,
            "uptime": round(self._stage.uptime, 3),
            "version": __version__,
            "modes": list(self._stage.modes),
            "plugins": node.plugin_report(),
            "state": self._stage.summaries(),
            "display": node.display_report(),
            "gpio": node.gpio_report(),
            "dispatch": self._stage.dispatch,
            "store": node.store.report(),
            "draw_error": self._stage.draw_error,
            "events": node.events.report(),
            "registration": (node.registrar.report() if node.registrar is not None
                             else {"registered": False, "conflict": None}),
        }
        trace = node.display.trace
        if trace is not None:
            report["trace"] = trace.report(self._stage)
        return report
