"""Keeping ``pyrostage.<node>`` in the name server, whatever the name server does.

Several Pis booting at once must not each start a name server, so a node that finds none
keeps serving and keeps trying (a log line every few seconds). A name server that restarts
or loses the entry is noticed within one check interval and the entry is put back.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import Pyro4.errors

from .pyroconf import locate_ns

log = logging.getLogger(__name__)

PREFIX = "pyrostage."
CHECK_INTERVAL = 2.0
LOG_EVERY = 5.0


def object_name(node: str) -> str:
    return PREFIX + node


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
        self.registrations = 0
        self.registered_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pyrostage-registrar", daemon=True)
        self._last_log = 0.0

    def start(self) -> None:
        self.check()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def check(self) -> bool:
        """Register if the entry is missing or points elsewhere; True when it is in place."""
        try:
            with locate_ns(self.ns_host, self.ns_port, self.hmac_key) as ns:
                try:
                    current = str(ns.lookup(self.name))
                except Pyro4.errors.NamingError:
                    current = None
                if current != self.uri:
                    ns.register(self.name, self.uri, safe=False, metadata=self.metadata)
                    self.registrations += 1
                    self.registered_at = time.monotonic()
                    how = "registered" if current is None else "replaced a stale entry as"
                    log.info("%s %s at %s", how, self.name, self.uri)
            return True
        except (Pyro4.errors.CommunicationError, Pyro4.errors.NamingError, OSError) as exc:
            now = time.monotonic()
            if now - self._last_log >= LOG_EVERY:
                self._last_log = now
                where = f"{self.ns_host or 'the name server'}:{self.ns_port or 'default port'}"
                log.warning("no name server at %s (%s); still serving, retrying", where, exc)
            return False

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
            with locate_ns(self.ns_host, self.ns_port, self.hmac_key) as ns:
                ns._pyroTimeout = 1.0
                if str(ns.lookup(self.name)) == self.uri:
                    ns.remove(self.name)
                    log.info("unregistered %s", self.name)
        except Exception as exc:
            log.debug("could not unregister %s: %s", self.name, exc)
