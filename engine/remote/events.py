"""Live events, node side: every ``pyrostage_event`` becomes a numbered record, kept in a
bounded log and pushed to subscribers.

A record is ``{"node", "boot", "seq", "source", "name", "data", "at"}``: ``boot`` names this
start of the node, ``seq`` counts 1, 2, 3 ... within it, ``at`` is the node's wall time. A
controller that missed some asks ``since(seq, boot)`` and learns when the log no longer holds
them. Each subscriber has its own bounded queue (oldest dropped first) and its own sender
thread and proxy with a short timeout, so a slow, dead or frozen subscriber costs the node
nothing but that thread: the hook only appends under a lock (a record with its serpent text,
made once for every subscriber: ``engine.base.serialized``).
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import Any

import Pyro4.core
import Pyro4.errors

from engine.api.hookspecs import hookimpl
from engine.base import pyroconf, serialized
from engine.base.text import short

log = logging.getLogger(__name__)

PLUGIN_NAME = "pyrostage:events"
"""The log's name in the plugin manager (no entry point can be called that)."""
RING = 2000
"""Records the log keeps for ``since``."""
BATCH = 500
"""Most records one ``since`` answer carries (``more`` says there are others)."""
PUSH = 200
"""Most records one push carries (and at most ``serialized.PUSH_BYTES`` of them)."""
QUEUE = 1000
"""Records waiting for one subscriber; beyond that the oldest are dropped (it catches up)."""
MAX_SUBSCRIBERS = 16
LEASE = (1.0, 3600.0)
"""Shortest and longest lease in seconds."""
SEND_TIMEOUT = 2.5
"""Seconds a subscriber gets to answer each read of a push."""
FAILURES = 3
"""Pushes failed in a row after which a subscriber is dropped."""
RETRY = 0.5
"""Seconds before a failed push is tried again (times the failures so far)."""
CLOSE_GRACE = 0.5
"""Seconds a closing node gives its subscribers to take their last records."""
MAX_URI = 300
MAX_DATA = 16_000
"""Most bytes (as JSON) of one event's data the log keeps and sends: a page of ``BATCH``
records must fit in one Pyro message (``pyroconf.MAX_MESSAGE_SIZE``) and the log in a Pi's
memory; bigger data is replaced by ``{"truncated": True, "bytes": N, "limit": MAX_DATA}``."""


def check_uri(uri: Any) -> str:
    """``uri`` if it is a ``PYRO:object@host:port`` string; a clear error otherwise."""
    accepted = "a callback URI string like 'PYRO:obj_123@192.168.1.5:40123'"
    if not isinstance(uri, str):
        raise TypeError(f"uri must be {accepted} (pass str(uri), never a proxy), got "
                        f"{type(uri).__name__} {short(uri)}")
    if len(uri) > MAX_URI:
        raise ValueError(f"uri must be {accepted}, at most {MAX_URI} characters; got "
                         f"{len(uri)} characters")
    try:
        parsed = Pyro4.core.URI(uri)
    except (Pyro4.errors.PyroError, ValueError) as exc:
        raise ValueError(f"uri must be {accepted}; got {short(uri)} ({exc})") from None
    if parsed.protocol != "PYRO" or parsed.sockname or not parsed.host or not parsed.port:
        raise ValueError(f"uri must be {accepted} (a direct PYRO: address with host and "
                         f"port, not PYRONAME:, PYROMETA: or a unix socket); got {short(uri)}")
    return str(parsed)


def check_lease(lease: Any) -> float:
    low, high = LEASE
    wanted = f"a number of seconds from {low:g} to {high:g}"
    if isinstance(lease, bool) or not isinstance(lease, int | float):
        raise TypeError(f"lease must be {wanted}, got {short(lease)}")
    if not (math.isfinite(lease) and low <= lease <= high):
        raise ValueError(f"lease must be {wanted}, got {short(lease)}")
    return float(lease)


class EventLog:
    """The node's event log and its subscribers (a plain pluggy plugin)."""

    def __init__(self, node: str, hmac_key: bytes | None = None, *,
                 wall: Callable[[], float] = time.time, size: int | None = None,
                 queue: int | None = None, timeout: float | None = None):
        self.node = node
        self.boot = secrets.token_hex(4)
        self.hmac_key = hmac_key
        self.wall = wall
        self.queue = QUEUE if queue is None else queue
        self.timeout = SEND_TIMEOUT if timeout is None else timeout
        self.seq = 0
        self.records: deque[dict[str, Any]] = deque(maxlen=RING if size is None else size)
        self.subscribers: dict[str, Subscriber] = {}
        self.lock = threading.Lock()
        self.closed = False

    @hookimpl
    def pyrostage_event(self, source: str, name: str, data: dict[str, Any]) -> None:
        size = len(json.dumps(data))
        if size > MAX_DATA:
            log.warning("event %s.%s: its data (%d bytes as JSON) is more than the %d an event "
                        "record carries; sent without it", source, name, size, MAX_DATA)
            data = {"truncated": True, "bytes": size, "limit": MAX_DATA}
        with self.lock:
            self.seq += 1
            record = {"node": self.node, "boot": self.boot, "seq": self.seq, "source": source,
                      "name": name, "data": data, "at": self.wall()}
            self.records.append(record)
            if self.subscribers:  # serialized once here, not once per subscriber's push
                text = serialized.text(record)
                for subscriber in self.subscribers.values():
                    subscriber.put(record, text)

    def since(self, seq: Any, boot: Any = None) -> dict[str, Any]:
        """The records after ``seq`` of boot ``boot`` (default: this one), oldest first, at
        most ``BATCH``; from the start of this boot when ``boot`` is another one.
        ``complete`` is False when some were lost (``missed`` says how many)."""
        wanted = "a whole number, 0 or more (the last seq seen; 0: from the start)"
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise TypeError(f"seq must be {wanted}, got {short(seq)}")
        if seq < 0:
            raise ValueError(f"seq must be {wanted}, got {short(seq)}")
        if boot is not None and not isinstance(boot, str):
            raise TypeError(f"boot must be a boot id string from a record or None, got "
                            f"{short(boot)}")
        with self.lock:
            newest = self.seq
            other_boot = boot is not None and boot != self.boot
            after = 0 if other_boot else seq
            if after > newest:
                raise ValueError(
                    f"seq {seq} is beyond this node's newest event ({newest} of boot "
                    f"{self.boot}): pass the boot it came from to learn whether the node "
                    "restarted")
            oldest = self.records[0]["seq"] if self.records else newest + 1
            start = max(after + 1, oldest)
            events = list(islice(self.records, start - oldest, start - oldest + BATCH))
        missed = start - (after + 1)
        last = events[-1]["seq"] if events else newest
        return {"boot": self.boot, "seq": newest, "events": events, "more": last < newest,
                "complete": not other_boot and missed == 0, "missed": missed,
                "now": self.wall()}

    def subscribe(self, uri: Any, lease: Any = 60.0) -> dict[str, Any]:
        """Push every record after the returned ``seq`` to ``uri``'s ``events(records)``
        until the lease lapses; the same uri again renews it (same id)."""
        uri = check_uri(uri)
        lease = check_lease(lease)
        with self.lock:
            if self.closed:
                raise RuntimeError(f"node {self.node!r} is stopping")
            self._prune()
            for subscriber in self.subscribers.values():
                if subscriber.uri == uri:
                    subscriber.renew(lease)
                    return {"id": subscriber.id, "boot": self.boot, "seq": self.seq}
            if len(self.subscribers) >= MAX_SUBSCRIBERS:
                raise ValueError(
                    f"node {self.node!r} already has {MAX_SUBSCRIBERS} event subscribers, "
                    "the most it takes: unsubscribe one or let its lease lapse")
            subscriber = Subscriber(self, secrets.token_hex(8), uri, lease)
            self.subscribers[subscriber.id] = subscriber
            subscriber.start()
            return {"id": subscriber.id, "boot": self.boot, "seq": self.seq}

    def unsubscribe(self, id: Any) -> bool:
        """Stop pushing to subscriber ``id``; False if there is none (any more)."""
        if not isinstance(id, str):
            raise TypeError(f"id must be the string subscribe() returned, got {short(id)}")
        with self.lock:
            subscriber = self.subscribers.pop(id, None)
        if subscriber is None:
            return False
        subscriber.stop()
        return True

    def drop(self, subscriber: Subscriber, why: str) -> None:
        with self.lock:
            if self.subscribers.get(subscriber.id) is not subscriber:
                return
            del self.subscribers[subscriber.id]
        log.warning("event subscriber %s dropped: %s", subscriber.uri, why)

    def _prune(self) -> None:
        """Forget subscribers whose lease lapsed while their sender is stuck in a push."""
        now = time.monotonic()
        for id, subscriber in list(self.subscribers.items()):
            if subscriber.expires < now:
                del self.subscribers[id]
                subscriber.stop()
                log.warning("event subscriber %s dropped: its lease lapsed", subscriber.uri)

    def report(self) -> dict[str, Any]:
        with self.lock:
            self._prune()
            return {"boot": self.boot, "seq": self.seq, "subscribers": len(self.subscribers),
                    "held": len(self.records)}

    def close(self, grace: float = CLOSE_GRACE) -> None:
        """Give the subscribers ``grace`` seconds to take what is queued, then stop them."""
        with self.lock:
            self.closed = True
            subscribers = list(self.subscribers.values())
            self.subscribers.clear()
        deadline = time.monotonic() + grace
        for subscriber in subscribers:
            subscriber.finish()
        for subscriber in subscribers:
            subscriber.join(max(0.0, deadline - time.monotonic()))
        for subscriber in subscribers:
            subscriber.stop()


class Subscriber(threading.Thread):
    """One subscriber: its queue, and the thread that pushes it batches."""

    def __init__(self, owner: EventLog, id: str, uri: str, lease: float):
        super().__init__(name=f"events to {uri}", daemon=True)
        self.owner = owner
        self.id = id
        self.uri = uri
        self.queue: deque[tuple[dict[str, Any], bytes]] = deque(maxlen=owner.queue)
        """Records waiting, each with its serpent text."""
        self.expires = time.monotonic() + lease
        self.dropped = 0
        self.proxy: Pyro4.Proxy | None = None
        self.wake = threading.Condition()
        self.stopping = False
        self.finishing = False

    def put(self, record: dict[str, Any], text: bytes) -> None:
        with self.wake:
            if len(self.queue) == self.queue.maxlen:
                self.dropped += 1
            waiting = not self.queue  # else the sender is pushing, or backing off after a
            self.queue.append((record, text))  # failure: it takes this one next either way
            if waiting:
                self.wake.notify()

    def renew(self, lease: float) -> None:
        with self.wake:
            self.expires = time.monotonic() + lease
            self.wake.notify()

    def finish(self) -> None:
        """Push what is queued, then stop (the node is closing)."""
        with self.wake:
            self.finishing = True
            self.wake.notify()

    def stop(self) -> None:
        with self.wake:
            self.stopping = True
            self.wake.notify()
        proxy = self.proxy
        conn = getattr(proxy, "_pyroConnection", None)
        if conn is not None:  # wakes a push stuck reading: it fails, the thread ends
            conn.close()

    def run(self) -> None:
        failures = 0
        try:
            while (batch := self._next()) is not None:
                try:
                    self._push(batch)
                except Exception as exc:
                    failures += 1
                    self._release()
                    if failures >= FAILURES:
                        self.owner.drop(self, f"{failures} pushes failed in a row, the last: "
                                      f"{type(exc).__name__}: {str(exc)[:120]}")
                        return
                    with self.wake:
                        if not self.stopping:
                            self.wake.wait(RETRY * failures)
                    continue
                failures = 0
                with self.wake:
                    while self.queue and self.queue[0][0]["seq"] <= batch[-1]["seq"]:
                        self.queue.popleft()
        finally:
            self._release()

    def _next(self) -> serialized.Serialized | None:
        """The next batch to push, once there is one; None: stop (dropped if it lapsed)."""
        with self.wake:
            while True:
                if self.stopping or (self.finishing and not self.queue):
                    return None
                left = self.expires - time.monotonic()
                if left <= 0:
                    break
                if self.queue:
                    # a change's records are all queued before its senders run: the thread
                    # delivering them holds the interpreter until it is done
                    return _batch(self.queue)
                self.wake.wait(left)
        self.owner.drop(self, "its lease lapsed")
        return None

    def _push(self, batch: serialized.Serialized) -> None:
        if self.proxy is None:
            self.proxy = pyroconf.proxy(self.uri, self.owner.hmac_key, self.owner.timeout)
        if self.stopping:
            raise ConnectionAbortedError("unsubscribed")
        self.proxy.events(batch)

    def _release(self) -> None:
        proxy, self.proxy = self.proxy, None
        if proxy is not None:
            proxy._pyroRelease()


def _batch(queue: deque[tuple[dict[str, Any], bytes]]) -> serialized.Serialized:
    """The oldest records waiting, as many as one push carries: ``PUSH`` at most, and at most
    ``serialized.PUSH_BYTES`` of text unless the first alone is more."""
    records: list[dict[str, Any]] = []
    texts: list[bytes] = []
    size = 0
    for record, text in islice(queue, PUSH):
        size += len(text)
        if texts and size > serialized.PUSH_BYTES:
            break
        records.append(record)
        texts.append(text)
    return serialized.Serialized(records, texts)
