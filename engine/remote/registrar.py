"""Keeping ``pyrostage.<node>`` in the name server, whatever the name server does.

Several Pis booting at once must not each start a name server, so a node that finds none
keeps serving and keeps trying (a log line every few seconds). A name server that restarts
or loses the entry is noticed within one check interval and the entry is put back. Every
check runs on the registrar's own thread with short timeouts, so a hung name server delays
neither the node's start nor its exit.

An entry that points at another node which still answers is not taken over: two live nodes
with the same name (cloned SD cards) would otherwise take turns stealing it. The node logs an
error and reports the conflict in ``status()`` until the other one is gone.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import Pyro4
import Pyro4.errors

from engine.base.names import object_name
from engine.base.pyroconf import locate_ns, proxy

log = logging.getLogger(__name__)

CHECK_INTERVAL = 2.0
LOG_EVERY = 5.0
PING_TIMEOUT = 2.0
"""Seconds the node an existing entry points at gets to answer before it counts as gone."""
FIRST_CHECK_WAIT = 2.0
"""Seconds ``start()`` waits for the first check, so a node that reports ready is normally
registered already; a name server that does not answer delays the start by no more."""


def _address(uri: str) -> str:
    return uri.rsplit("@", 1)[-1]


def _same_endpoint(a: str, b: str) -> bool:
    """Whether two URIs name the same host and port (``localhost`` and ``127.0.0.1`` alike):
    an old entry of this very daemon written another way is not another node."""
    try:
        ua, ub = Pyro4.URI(a), Pyro4.URI(b)
        if ua.port != ub.port or ua.object != ub.object:
            return False
        return bool(ua.host == ub.host
                    or socket.gethostbyname(ua.host) == socket.gethostbyname(ub.host))
    except (Pyro4.errors.PyroError, OSError, TypeError):
        return False


class Registrar:
    """A background thread that registers a node and re-registers it when needed."""

    def __init__(
        self,
        name: str,
        uri: Any,
        metadata: set[str],
        ns_host: str | None,
        ns_port: int | None,
        hmac_key: bytes | None,
        interval: float = CHECK_INTERVAL,
    ):
        self.name = object_name(name)
        self.uri = str(uri)
        self.metadata = metadata
        self.ns_host = ns_host
        self.ns_port = ns_port
        self.hmac_key = hmac_key
        self.interval = interval
        self.registered = False
        """The last check found this node's entry in place (or put it there)."""
        self.conflict: str | None = None
        """The URI of another live node holding this node's name, if the last check found one."""
        self._stop = threading.Event()
        self._checked = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pyrostage-registrar", daemon=True)
        self._last_log = 0.0
        self._last_conflict_log = 0.0

    def start(self, wait: float = FIRST_CHECK_WAIT) -> None:
        """Start checking now, on the registrar's thread; wait up to ``wait`` s for the first."""
        self._thread.start()
        self._checked.wait(wait)

    def _run(self) -> None:
        while True:
            try:
                self.check()
            except Exception:  # keep checking whatever one check ran into
                log.exception("checking the name server entry %s failed", self.name)
            self._checked.set()
            if self._stop.wait(self.interval):
                return

    def report(self) -> dict[str, Any]:
        """For ``status()``: whether the entry is in place, and whose it is if not ours."""
        return {"registered": self.registered, "conflict": self.conflict}

    def check(self) -> bool:
        """Register if the entry is missing or points at a node that no longer answers;
        True when this node's entry is in place."""
        try:
            with locate_ns(self.ns_host, self.ns_port, self.hmac_key) as ns:
                try:
                    current: str | None = str(ns.lookup(self.name))
                except Pyro4.errors.NamingError:
                    current = None
                if (current is not None and current != self.uri
                        and not _same_endpoint(current, self.uri) and self._answers(current)):
                    self._report_conflict(current)
                    return False
                if current != self.uri:
                    if self._stop.is_set():  # stopping: never re-register after unregister
                        return False
                    ns.register(self.name, self.uri, safe=False, metadata=self.metadata)
                    how = "registered" if current is None else "replaced a stale entry as"
                    log.info("%s %s at %s", how, self.name, self.uri)
            self.registered, self.conflict = True, None
            return True
        except (Pyro4.errors.CommunicationError, Pyro4.errors.NamingError, OSError) as exc:
            self.registered = False
            now = time.monotonic()
            if now - self._last_log >= LOG_EVERY:
                self._last_log = now
                where = f"{self.ns_host or 'the name server'}:{self.ns_port or 'default port'}"
                log.warning("no name server at %s (%s); still serving, retrying",
                            where, exc.__cause__ or exc)
            return False

    def _answers(self, uri: str) -> bool:
        """Whether the node at ``uri`` is alive (a handshake with its object succeeds)."""
        try:
            with proxy(uri, self.hmac_key, PING_TIMEOUT) as other:
                other._pyroBind()
            return True
        except (Pyro4.errors.PyroError, OSError):
            return False

    def _report_conflict(self, other: str) -> None:
        self.registered, self.conflict = False, other
        now = time.monotonic()
        if now - self._last_conflict_log >= LOG_EVERY:
            self._last_conflict_log = now
            log.error(
                "another live node already holds %s at %s; this node (%s) leaves that entry "
                "alone and cannot be found by name. Give each node its own `name` (in its "
                "config file or with --name; cloned SD cards keep the same one)",
                self.name, _address(other), _address(self.uri),
            )

    def stop(self, unregister: bool = True) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)
        if unregister:  # bounded: an unreachable name server must not delay the exit
            remover = threading.Thread(target=self._unregister, daemon=True)
            remover.start()
            remover.join(timeout=1.0)

    def _unregister(self) -> None:
        try:
            with locate_ns(self.ns_host, self.ns_port, self.hmac_key, timeout=1.0) as ns:
                if str(ns.lookup(self.name)) == self.uri:
                    ns.remove(self.name)
                    log.info("unregistered %s", self.name)
        except Exception as exc:
            log.debug("could not unregister %s: %s", self.name, exc)
