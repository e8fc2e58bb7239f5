"""Live events, controller side: nodes push their event records to a Pyro object here, and
each node's records come out once, in order, with nothing missing unsaid.

Every node gets a thread of its own that subscribes (the callback's URI passed as a string:
serpent would send a proxy with its HMAC key), renews the lease, takes the pushed batches and
fills any gap with ``events_since``. What cannot be filled (the node's log no longer holds it)
becomes a notice record of source ``pyrostage``, so a consumer never loses events silently.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from typing import Any

import Pyro4
import Pyro4.errors

from engine.base import pyroconf, serialized, transport
from engine.control.controller import Controller, NodeInfo, _closed_by_peer

log = logging.getLogger(__name__)

Record = dict[str, Any]
"""``{"node", "boot", "seq", "source", "name", "data", "at"}``; ``at`` is the node's wall time."""
Nodes = Iterable[NodeInfo | str]
NOTICE = "pyrostage"
"""The ``source`` of the listener's own notices: ``missed`` (``data``: ``count``, ``first``,
``last``, ``reason``), ``restarted`` (``previous_boot``, ``previous_seq``), ``unreachable``
(``error``) and ``resumed``."""
LEASE = 30.0
RENEW = 10.0
RETRY = 1.0
"""Seconds between attempts to reach a node that is away."""
TIMEOUT = 3.0
"""Seconds a node gets to answer each read of a subscribe or catch-up call."""
STOP_WAIT = 1.0
TROUBLE = (Pyro4.errors.PyroError, OSError, LookupError)
"""What reaching a node may raise: it is away, restarting, or gone from the name server."""


def callback_host(ns_host: str | None, ns_port: int | None) -> str:
    """The address nodes push to: the one this machine reaches the name server through
    (127.0.0.1 when the name server is on this machine)."""
    host = ns_host or Pyro4.config.NS_HOST
    if pyroconf.is_loopback(str(host)):
        return "127.0.0.1"
    return pyroconf.lan_address(ns_host, ns_port)


@Pyro4.expose
class Inbox:
    """The Pyro object nodes push to."""

    def __init__(self, route: Callable[[list[Record]], None]):
        self._route = route

    def events(self, records: list[Record]) -> None:
        """A batch of event records from one node, oldest first."""
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise TypeError("events() takes a list of event records (dicts)")
        self._route(records)


class Listener:
    """Subscribes to nodes and hands their records to ``consumer(record)`` (on a thread of
    its own), or, without a consumer, to whoever iterates over the listener (or ``get()``).

    ``nodes``: ``NodeInfo``s or node names, or a function returning them, asked again every
    ``renew`` seconds so nodes that join later are subscribed too. Use it as a context
    manager (or ``start()``/``stop()``).
    """

    def __init__(
        self,
        controller: Controller,
        nodes: Nodes | Callable[[], Nodes],
        consumer: Callable[[Record], None] | None = None,
        *,
        lease: float = LEASE,
        renew: float = RENEW,
        timeout: float = TIMEOUT,
        host: str | None = None,
    ):
        if not 1 <= lease <= 3600:
            raise ValueError(f"lease must be 1 to 3600 seconds, got {lease!r}")
        if not 0 < renew < lease:
            raise ValueError(f"renew must be more than 0 and less than the lease ({lease:g} "
                             f"s), got {renew!r}")
        self.controller = controller
        self.consumer = consumer
        self.lease = lease
        self.renew = renew
        self.timeout = timeout
        self.host = host
        self._select = nodes if callable(nodes) else _fixed(list(nodes))
        self._feeds: dict[str, _Feed] = {}
        self._lock = threading.Lock()
        self._out: queue.SimpleQueue[Record | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.daemon: Pyro4.Daemon | None = None
        self.uri = ""
        """The callback's URI, as the nodes are given it."""

    # -- running ----------------------------------------------------------------------------

    def start(self) -> Listener:
        """Serve the callback and subscribe to the nodes (in the background)."""
        ctl = self.controller
        _check_tls()
        host = self.host or callback_host(ctl.ns_host, ctl.ns_port)
        self.daemon = pyroconf.serve_daemon(  # it parses what a node pushes in one call
            host, 0, ctl.hmac_key, transport.Limits(parsing=serialized.PUSH_PARSING))
        self.uri = str(self.daemon.register(Inbox(self._route)))
        self._spawn(self.daemon.requestLoop, "events callback")
        try:
            self._refresh(self._select())
        except BaseException:
            self.stop()
            raise
        self._spawn(self._watch_selection, "events nodes")
        if self.consumer is not None:
            self._spawn(self._consume, "events consumer")
        return self

    def stop(self) -> None:
        """Unsubscribe (briefly: a node that does not answer lets the lease lapse), stop."""
        self._stopping.set()
        with self._lock:
            feeds = list(self._feeds.values())
        for feed in feeds:
            feed.inbox.put(None)
        deadline = time.monotonic() + STOP_WAIT
        for feed in feeds:
            feed.thread.join(max(0.0, deadline - time.monotonic()))
        if self.daemon is not None:
            self.daemon.shutdown()
        self._out.put(None)

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __iter__(self) -> Iterator[Record]:
        """Records as they come, until ``stop()`` (without a consumer only)."""
        while (record := self._out.get()) is not None:
            yield record

    def get(self, timeout: float | None = None) -> Record | None:
        """The next record, or None after ``timeout`` seconds or once stopped."""
        try:
            return self._out.get(timeout=timeout)
        except queue.Empty:
            return None

    def wait(self, timeout: float = 10.0) -> list[str]:
        """Wait until every node is subscribed, at most ``timeout`` seconds; returns the
        names of those that are not (yet)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                missing = sorted(name for name, feed in self._feeds.items() if not feed.live)
            if not missing or time.monotonic() >= deadline:
                return missing
            time.sleep(0.02)

    @property
    def subscribed(self) -> list[str]:
        """The nodes whose subscription is live now."""
        with self._lock:
            return sorted(name for name, feed in self._feeds.items() if feed.live)

    # -- inside -----------------------------------------------------------------------------

    def _spawn(self, target: Callable[[], Any], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _refresh(self, nodes: Nodes) -> None:
        with self._lock:
            for node in nodes:
                name, uri = (node.name, node.uri) if isinstance(node, NodeInfo) else (node, None)
                if name not in self._feeds and not self._stopping.is_set():
                    self._feeds[name] = _Feed(self, name, uri)

    def _watch_selection(self) -> None:
        while not self._stopping.wait(self.renew):
            try:
                self._refresh(self._select())
            except Exception as exc:  # the name server is away: keep the nodes we have
                log.debug("events: cannot list the nodes now: %s", exc)

    def _route(self, records: list[Record]) -> None:
        """Pushed records (on a Pyro worker thread) to their node's feed: quick, no calls."""
        by_node: dict[Any, list[Record]] = {}
        for record in records:
            by_node.setdefault(record.get("node"), []).append(record)
        with self._lock:
            for name, batch in by_node.items():
                feed = self._feeds.get(name) if isinstance(name, str) else None
                if feed is not None:
                    feed.inbox.put(batch)

    def _emit(self, record: Record) -> None:
        self._out.put(record)

    def _consume(self) -> None:
        assert self.consumer is not None
        while (record := self._out.get()) is not None:
            try:
                self.consumer(record)
            except Exception:
                log.exception("the events consumer failed on %s %s", record.get("node"),
                              record.get("name"))


def _fixed(nodes: list[NodeInfo | str]) -> Callable[[], Nodes]:
    return lambda: nodes


def _check_tls() -> None:
    """With TLS on, the nodes connect to the callback as to any server and check its
    certificate against this machine's address, so it needs a certificate of its own."""
    config: Any = Pyro4.config
    if config.SSL and not config.SSL_SERVERCERT:
        raise ValueError("TLS is on, so the event listener needs a certificate for this "
                         "machine's address, signed by the CA the nodes trust, to serve "
                         "their pushes: set cert and key in the [tls] section")


class _Feed:
    """One node's subscription and its records, in order, on a thread of its own."""

    def __init__(self, listener: Listener, name: str, uri: str | None):
        self.listener = listener
        self.name = name
        self.uri = uri
        self.inbox: queue.SimpleQueue[list[Record] | None] = queue.SimpleQueue()
        self.proxy: Pyro4.Proxy | None = None
        self.id: str | None = None
        self.boot: str | None = None
        self.seq = 0
        self.behind = False
        """Records may be missing since ``seq``: catch up at the next subscription."""
        self.live = False
        self.away: str | None = None
        self.wall_offset = 0.0
        """The node's wall clock minus ours, roughly (for the ``at`` of notices)."""
        self.thread = threading.Thread(target=self._run, name=f"events from {name}",
                                       daemon=True)
        self.thread.start()

    def _run(self) -> None:
        due = 0.0
        while True:
            wait = min(due - time.monotonic(), RETRY)
            try:
                batch = self.inbox.get(timeout=max(0.0, wait))
            except queue.Empty:
                batch = []
            if batch is None:
                break
            if self.proxy is not None and _closed_by_peer(self.proxy):
                self._release()  # the node went away (restarting?): find it again now
                self.uri, due = None, 0.0
            try:
                if batch:
                    self._take(batch)
                if time.monotonic() >= due:
                    self._subscribe()
                    due = time.monotonic() + self.listener.renew
            except Exception as exc:  # away, or it refused (full, not a pyrostage node)
                self._lost(exc)
                due = time.monotonic() + (RETRY if isinstance(exc, TROUBLE) else
                                          self.listener.renew)
        self._unsubscribe()

    def _take(self, batch: list[Record]) -> None:
        for record in batch:
            if self.boot is None or self.behind:
                return  # not subscribed yet, or a catch-up is due that will bring them
            if record.get("boot") == self.boot and isinstance(record.get("seq"), int):
                if record["seq"] <= self.seq:
                    continue  # had it already (from a catch-up)
                if record["seq"] == self.seq + 1:
                    self._deliver(record)
                    continue
            self.behind = True  # a gap (the node dropped some), or another boot
            self._catch_up()
            return  # the rest of the batch came with the catch-up

    def _subscribe(self) -> None:
        answer = self._node().subscribe(self.listener.uri, self.listener.lease)
        fresh = answer["id"] != self.id
        self.id = answer["id"]
        self.live = True
        if self.away is not None:
            self.away = None
            self._notice("resumed", {}, self.seq, time.time() + self.wall_offset)
        if self.boot is None:  # the first time: from now on
            self.boot, self.seq = answer["boot"], answer["seq"]
        elif fresh or self.behind or answer["boot"] != self.boot:
            self.behind = True  # dropped by the node, or it restarted: fetch what was missed
            self._catch_up()

    def _catch_up(self) -> None:
        """Fetch the records after ``seq`` from the node's log, saying what it lost."""
        while True:
            answer = self._node().events_since(self.seq, self.boot)
            self.wall_offset = answer["now"] - time.time()
            if answer["boot"] != self.boot:
                self._notice("restarted", {"previous_boot": self.boot,
                                           "previous_seq": self.seq}, 0, answer["now"],
                             boot=answer["boot"])
                self.boot, self.seq = answer["boot"], 0
            events = answer["events"]
            first = events[0]["seq"] if events else answer["seq"] + 1
            if first > self.seq + 1:
                count = first - self.seq - 1
                self._notice("missed", {"count": count, "first": self.seq + 1,
                                        "last": first - 1,
                                        "reason": "the node's event log no longer holds them"},
                             first - 1, events[0]["at"] if events else answer["now"])
                self.seq = first - 1
            for record in events:
                if record["seq"] == self.seq + 1:
                    self._deliver(record)
            if not answer["more"]:
                break
        self.behind = False

    def _deliver(self, record: Record) -> None:
        self.seq = record["seq"]
        self.listener._emit(record)

    def _notice(self, name: str, data: dict[str, Any], seq: int, at: float,
                boot: str | None = None) -> None:
        self.listener._emit({"node": self.name, "boot": boot or self.boot, "seq": seq,
                             "source": NOTICE, "name": name, "data": data, "at": at})

    def _node(self) -> Pyro4.Proxy:
        if self.proxy is None:
            if self.uri is None:
                self.uri = self.listener.controller.lookup(self.name)
            self.proxy = pyroconf.proxy(self.uri, self.listener.controller.hmac_key,
                                        self.listener.timeout)
        return self.proxy

    def _lost(self, exc: BaseException) -> None:
        """The node is away (or moved): look it up again and resubscribe at the next try."""
        self._release()
        self.uri = None
        self.live = False
        self.behind = self.boot is not None
        if self.away is None:
            self.away = " ".join(str(exc).split())[:200] or type(exc).__name__
            log.info("events: node %r is away (%s); trying again", self.name, self.away)
            self._notice("unreachable", {"error": self.away}, self.seq,
                         time.time() + self.wall_offset)

    def _unsubscribe(self) -> None:
        if self.proxy is not None and self.id is not None and self.live:
            with suppress(*TROUBLE):  # else its lease lapses
                self.proxy.unsubscribe(self.id)
        self._release()

    def _release(self) -> None:
        proxy, self.proxy = self.proxy, None
        if proxy is not None:
            proxy._pyroRelease()
