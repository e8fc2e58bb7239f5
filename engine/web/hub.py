"""Node events for the page: one listener for every node, fanned out to each open stream.

Every record gets an id ``<hub>-<n>`` (``n`` counts up in this process; ``hub`` changes when
the web restarts), and the last ``KEEP`` are held, so a phone that lost its connection and
comes back with ``Last-Event-ID`` gets what it missed, in order; one away too long (or from
before a restart) is told so (``missed``) and reloads its cards. Each stream has its own
bounded queue: a phone that stops reading loses its own stream, never anyone else's.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from engine.control.events import Listener, Record
from engine.control.fleet import Fleet

log = logging.getLogger(__name__)

KEEP = 2000
"""Records held for streams that come back (the node's own log holds as many)."""
QUEUE = 1000
"""Items one stream may fall behind by before it is closed (its page then resumes)."""

Item = tuple[str, str, dict[str, Any]]
"""(kind: ``record`` or ``race``, its id or "", its data)."""


def local(at: Any) -> str | None:
    """A node's wall time as this machine's local clock time (the page shows these)."""
    try:
        return datetime.fromtimestamp(float(at)).strftime("%H:%M:%S")
    except (TypeError, ValueError, OverflowError, OSError):
        return None


class Stream:
    """One open event stream: an asyncio queue filled from other threads."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.queue: asyncio.Queue[Item | None] = asyncio.Queue(QUEUE)
        self.closed = False

    def put(self, item: Item | None) -> None:
        """On the loop: queue it, or close a stream that fell too far behind."""
        if self.closed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.closed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


class Hub:
    """Listens to every node of the fleet's name server while the app runs."""

    def __init__(self, fleet: Fleet, *, lease: float = 30.0, renew: float = 10.0):
        self.fleet = fleet
        self.id = secrets.token_hex(4)
        self._count = itertools.count(1)
        self._kept: deque[tuple[int, Record]] = deque(maxlen=KEEP)
        self._streams: set[Stream] = set()
        self._watchers: list[Callable[[Record], None]] = []
        self._lock = threading.Lock()
        self.lease, self.renew = lease, renew
        self.listener: Listener | None = None
        self.started = False

    def start(self) -> None:
        """Listen (again: a stopped listener cannot start twice, so each start has its own)."""
        listener = Listener(self.fleet.controller.clone(), self._nodes, self._take,
                            lease=self.lease, renew=self.renew)
        try:
            listener.start()
        except Exception as exc:  # TLS without a certificate for the callback
            log.warning("web: node events unavailable: %s", exc)
            return
        self.listener, self.started = listener, True

    def stop(self) -> None:
        listener, self.listener, self.started = self.listener, None, False
        if listener is not None:
            listener.stop()
        self.end_streams()

    def end_streams(self) -> None:
        """End every open stream cleanly (the server is stopping: pages reconnect later)."""
        with self._lock:
            streams = list(self._streams)
        self._send(streams, None)

    def _nodes(self) -> list[Any]:
        """Every node, asked again each ``renew`` seconds (none while the name server is
        away: the listener asks again, so the page goes live once it is back)."""
        try:
            return list(self.fleet.controller.clone().nodes())
        except Exception as exc:
            log.debug("web: cannot list the nodes now: %s", exc)
            return []

    # -- records in (the listener's thread) ----------------------------------------------

    def _take(self, record: Record) -> None:
        record = dict(record, local=local(record.get("at")))
        with self._lock:
            n = next(self._count)
            self._kept.append((n, record))
            streams = list(self._streams)
            watchers = list(self._watchers)
        self._send(streams, ("record", f"{self.id}-{n}", record))
        for watch in watchers:
            try:
                watch(record)
            except Exception:
                log.exception("web: a record watcher failed")

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Something of the app's own (a race's progress) to every open stream."""
        with self._lock:
            streams = list(self._streams)
        self._send(streams, (kind, "", data))

    @staticmethod
    def _send(streams: list[Stream], item: Item | None) -> None:
        for stream in streams:
            try:
                stream.loop.call_soon_threadsafe(stream.put, item)
            except RuntimeError:  # its loop has closed
                stream.closed = True

    @contextmanager
    def watching(self, watch: Callable[[Record], None]) -> Iterator[None]:
        """Hand every record to ``watch`` (on the listener's thread) while open."""
        with self._lock:
            self._watchers.append(watch)
        try:
            yield
        finally:
            with self._lock:
                self._watchers.remove(watch)

    # -- streams out (the event loop) ------------------------------------------------------

    def open(self, last_id: str | None) -> tuple[Stream, dict[str, Any], list[Item]]:
        """A new stream, its hello, and the records it missed since ``last_id``."""
        stream = Stream(asyncio.get_running_loop())
        since = self._position(last_id)
        with self._lock:
            self._streams.add(stream)
            kept = list(self._kept)
        hello = {"hub": self.id, "resumed": False, "missed": False,
                 "listening": self.started}
        backlog: list[Item] = []
        if since is not None:
            oldest = kept[0][0] if kept else since + 1
            newest = kept[-1][0] if kept else 0
            if since + 1 < oldest or since > newest:  # too old, or never given
                hello["missed"] = True
            else:
                hello["resumed"] = True
                backlog = [("record", f"{self.id}-{n}", r) for n, r in kept if n > since]
        elif last_id:
            hello["missed"] = True  # an id from before a restart of the web
        return stream, hello, backlog

    def close(self, stream: Stream) -> None:
        with self._lock:
            self._streams.discard(stream)

    def _position(self, last_id: str | None) -> int | None:
        """The count in an id of this hub (None: none given, or another hub's)."""
        if not last_id:
            return None
        hub, _, n = last_id.strip().rpartition("-")
        if hub != self.id or not re.fullmatch(r"[0-9]{1,18}", n):
            return None
        return int(n)

    @property
    def streams(self) -> int:
        with self._lock:
            return len(self._streams)

