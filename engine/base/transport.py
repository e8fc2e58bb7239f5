"""Who may connect to a pyrostage daemon, for how long, and what it may send.

Pyro4's thread-pool server gives each connection a worker and trusts it: a handshake fed one
byte every few seconds lasts for ever, the accept thread runs a refusal's handshake itself (so
one silent socket stops everyone), and a message's declared size is the only bound on what a
caller makes the node hold. A camp Wi-Fi has bored campers on it, so every daemon the project
runs (nodes and name servers) goes through a ``Gate``:

- the whole handshake (TLS and Pyro) has a hard deadline, and so has a request's body once its
  header arrived; a controller idle between requests is never dropped;
- at most ``handshaking`` connections may be in their handshake and ``per_peer`` may come from
  one address; a new connection at either bound evicts the oldest one still in its handshake
  (that peer's own first) instead of being refused, so a flood of silent sockets cannot lock
  honest clients out;
- the accept thread never waits on any one connection;
- a request larger than the daemon accepts is read off and answered with a ``ValueError`` (the
  connection stays usable); a few large requests are received and parsed at a time;
- replies have a deadline too, so a client that stops reading cannot hold a worker.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import Pyro4.core
import Pyro4.errors
import Pyro4.message
import Pyro4.util
from Pyro4.socketserver.threadpool import NoFreeWorkersError
from Pyro4.socketserver.threadpoolserver import ClientConnectionJob
from Pyro4.socketutil import SocketConnection

from engine.base import serialized
from engine.base.payload import Limits as ParseLimits
from engine.base.text import size_text

log = logging.getLogger(__name__)
POOL_RETRIES = 40
"""Tries (5 ms apart) to hand a new connection to a worker freed by an eviction."""
_worker = threading.local()  # the connection this worker thread is serving

CONNECT_OK = Pyro4.message.MSG_CONNECTOK.to_bytes(2, "big")  # a header's message type field
REFUSED_FLAGS = Pyro4.message.FLAGS_COMPRESSED | Pyro4.message.FLAGS_KEEPSERIALIZED


@dataclass(frozen=True)
class Limits:
    """The bounds one daemon enforces (see the module docstring)."""

    handshake: float = 10.0
    """Seconds for the whole TLS and Pyro handshake."""
    body: float = 10.0
    """Seconds for a request's body once its header arrived (plus ``size / rate``)."""
    rate: int = 100_000
    """Bytes per second a slow Wi-Fi link is assumed to manage (for bodies and replies)."""
    reply: float = 30.0
    """Seconds for a reply to be taken by the client (plus ``size / rate``)."""
    handshake_bytes: int = 16 * 1024
    """Largest first message: Pyro reads a whole message before it checks the HMAC."""
    inbound: int = 16 * 1024 * 1024
    """Largest request (a node sets it from what its commands accept, see ``budget``)."""
    handshaking: int = 32
    per_peer: int = 100
    large: int = 64 * 1024
    """A request larger than this waits for one of ``large_at_once`` places to be received
    and parsed (a small one never waits)."""
    large_at_once: int = 2
    wait: float = 5.0
    """Seconds a large request waits for a place before it is answered "busy"."""
    parsing: ParseLimits | None = None
    """What a call may cost to parse on this daemon (a controller's event callback takes a
    node's pushes); None: the process's ``GuardedSerpent.limits``."""

    def body_deadline(self, size: int) -> float:
        return time.monotonic() + self.body + size / self.rate

    def reply_timeout(self, size: int) -> float:
        return self.reply + size / self.rate


class Gate:
    """Admission for one daemon: counts connections by peer and by phase, evicts, logs."""

    def __init__(self, daemon: Pyro4.core.Daemon, limits: Limits):
        self.daemon = daemon
        self.limits = limits
        self._lock = threading.Lock()
        self._peers: Counter[str] = Counter()
        self._handshaking: dict[GuardedConnection, None] = {}  # oldest first
        self.large = threading.BoundedSemaphore(limits.large_at_once)
        self.evicted = 0
        self.refused = 0
        self._reported = (0, 0)
        self._next_report = 0.0

    def admit(self, conn: GuardedConnection) -> bool:
        """Count a new connection in, evicting the oldest handshake where a bound is full;
        False when its peer is at its bound with no handshake to evict."""
        with self._lock:
            if self._peers[conn.peer] >= self.limits.per_peer:
                victim = self._oldest(conn.peer)
                if victim is None:
                    self.refused += 1
                    self._report()
                    return False
                self._evict(victim)
            elif len(self._handshaking) >= self.limits.handshaking:
                victim = self._oldest(conn.peer) or next(iter(self._handshaking))
                self._evict(victim)
            self._peers[conn.peer] += 1
            conn.counted = True
            self._handshaking[conn] = None
        return True

    def _oldest(self, peer: str) -> GuardedConnection | None:
        return next((c for c in self._handshaking if c.peer == peer), None)

    def _evict(self, victim: GuardedConnection) -> None:
        self._forget(victim)
        self.evicted += 1
        self._report()
        victim.abort()

    def _forget(self, conn: GuardedConnection) -> None:
        self._handshaking.pop(conn, None)
        if conn.counted:
            conn.counted = False
            self._peers[conn.peer] -= 1
            if self._peers[conn.peer] <= 0:
                del self._peers[conn.peer]

    def established(self, conn: GuardedConnection) -> None:
        with self._lock:
            self._handshaking.pop(conn, None)

    def done(self, conn: GuardedConnection) -> None:
        with self._lock:
            self._forget(conn)

    def make_room(self) -> bool:
        """Evict the oldest handshake (the pool is full: its worker is the next free one);
        False when no connection is in its handshake."""
        with self._lock:
            if self._handshaking:
                self._evict(next(iter(self._handshaking)))
                return True
            self.refused += 1
            self._report()
            return False

    def _report(self) -> None:
        """One log line per ten seconds while connections are evicted or refused."""
        now = time.monotonic()
        if now < self._next_report:
            return
        evicted, refused = self.evicted - self._reported[0], self.refused - self._reported[1]
        self._reported, self._next_report = (self.evicted, self.refused), now + 10.0
        log.warning(
            "connection flood: %d connection(s) still in their handshake evicted, %d refused "
            "(at most %d handshaking, %d per address); %s",
            evicted, refused, self.limits.handshaking, self.limits.per_peer,
            "the HMAC key keeps strangers out" if self.daemon._pyroHmacKey else
            "set PYROSTAGE_HMAC_KEY to keep strangers out",
        )

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"connections": sum(self._peers.values()),
                    "handshaking": len(self._handshaking),
                    "evicted": self.evicted, "refused": self.refused}


class GuardedConnection(SocketConnection):
    """A Pyro connection that keeps deadlines and checks each message's header first."""

    def __init__(self, sock: socket.socket, peer: str, gate: Gate):
        super().__init__(sock)
        self.peer = peer
        self.gate = gate
        self.limits = gate.limits
        self.counted = False
        self.established = False
        self.deadline = time.monotonic() + self.limits.handshake
        self._body_left = 0
        self._body_deadline = self.deadline
        self._plain = not hasattr(sock, "do_handshake")  # TLS sockets take no recv flags
        self.holds_large = False

    # -- phases ---------------------------------------------------------------------------

    def tls_handshake(self) -> None:
        """Finish a TLS handshake (if any) within the handshake deadline, on this worker."""
        if hasattr(self.sock, "do_handshake"):
            self.sock.settimeout(self._remaining())
            try:
                self.sock.do_handshake()
            except (OSError, ValueError) as exc:
                raise Pyro4.errors.ConnectionClosedError(f"TLS handshake failed: {exc}") from None

    def handshake_done(self) -> None:
        if not self.established:
            self.established = True
            self.gate.established(self)

    def abort(self) -> None:
        """Make a worker blocked on this connection give up (from any thread)."""
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)  # under TLS too

    def release_large(self) -> None:
        if self.holds_large:
            self.holds_large = False
            self.gate.large.release()

    # -- receiving ------------------------------------------------------------------------

    def recv(self, size: int) -> bytes:
        if size == 0:
            return b""
        if self._body_left:
            data = self._recv_by(size, self._body_deadline)
            self._body_left -= size
            return data
        while True:
            header = self._recv_header(size)
            verdict = self._check_header(header)
            if verdict is None:
                return header

    def _recv_header(self, size: int) -> bytes:
        if not self.established:
            return self._recv_by(size, self.deadline)
        if self.sock.gettimeout() is not None:
            self.sock.settimeout(None)  # idle between requests: no limit
        first = self._recv_some(size)
        if len(first) == size:
            return first
        return first + self._recv_by(size - len(first), self.limits.body_deadline(0))

    def _check_header(self, data: bytes) -> str | None:
        """None if the message may be read; else it was read off and refused (loop again)."""
        try:
            header = Pyro4.message.Message.from_header(data)
        except Pyro4.errors.ProtocolError:
            return None  # Pyro says so and closes
        declared = header.data_size + header.annotations_size
        if not self.established:
            if declared > self.limits.handshake_bytes or header.flags & REFUSED_FLAGS:
                raise Pyro4.errors.ConnectionClosedError(
                    f"first message refused ({declared} bytes, flags {header.flags:#x}): at "
                    f"most {self.limits.handshake_bytes} bytes, uncompressed, before the HMAC "
                    "key is checked"
                )
            self._expect(declared)
            return None
        self._body_deadline = self.limits.body_deadline(declared)
        refusal: BaseException | None = None
        if header.flags & REFUSED_FLAGS:
            refusal = ValueError(
                "compressed and blob messages are refused: set Pyro4.config.COMPRESSION = False"
            )
        elif declared > self.limits.inbound:
            refusal = ValueError(
                f"the request is {size_text(declared)}; this node accepts at most "
                f"{size_text(self.limits.inbound)} in one call (what its largest command takes)"
            )
        elif declared > self.limits.large:
            if self.gate.large.acquire(timeout=self.limits.wait):
                self.holds_large = True
            else:
                refusal = TimeoutError(
                    "the node is busy receiving other large requests; try again in a moment"
                )
        if refusal is None:
            self._expect(declared)
            _worker.conn = self
            return None
        if declared > 4 * self.limits.inbound + (1 << 20):
            raise Pyro4.errors.ConnectionClosedError(
                f"request of {declared} bytes refused without reading it"
            )
        self._body_deadline = self.limits.body_deadline(declared)  # the wait is not its time
        self._discard(declared)
        log.info("refused a request from %s: %s", self.peer, refusal)
        if not header.flags & Pyro4.message.FLAGS_ONEWAY:
            self.gate.daemon._sendExceptionResponse(
                self, header.seq, header.serializer_id, refusal, None
            )
        return "refused"

    def _expect(self, declared: int) -> None:
        self._body_left = declared

    def _remaining(self, deadline: float | None = None) -> float:
        left = (self.deadline if deadline is None else deadline) - time.monotonic()
        if left <= 0:
            raise Pyro4.errors.TimeoutError("receiving: deadline passed")
        return left

    def _recv_some(self, size: int) -> bytes:
        try:
            chunk = self.sock.recv(size)
        except TimeoutError:  # socket.timeout
            raise Pyro4.errors.TimeoutError("receiving: deadline passed") from None
        except OSError as exc:
            raise Pyro4.errors.ConnectionClosedError(f"receiving: {exc}") from None
        if not chunk:
            raise Pyro4.errors.ConnectionClosedError("receiving: connection closed")
        return chunk

    def _recv_by(self, size: int, deadline: float) -> bytes:
        """Exactly ``size`` bytes before ``deadline``, however slowly they trickle in."""
        chunks = []
        if self._plain:  # the usual case: the whole body is already here
            try:
                chunk = self.sock.recv(size, socket.MSG_DONTWAIT)
            except BlockingIOError:
                chunk = None
            except OSError as exc:
                raise Pyro4.errors.ConnectionClosedError(f"receiving: {exc}") from None
            if chunk is not None:
                if not chunk:
                    raise Pyro4.errors.ConnectionClosedError("receiving: connection closed")
                if len(chunk) == size:
                    return chunk
                chunks.append(chunk)
                size -= len(chunk)
        while size > 0:
            self.sock.settimeout(self._remaining(deadline))
            chunk = self._recv_some(min(size, 1 << 20))
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _discard(self, size: int) -> None:
        while size > 0:
            self.sock.settimeout(self._remaining(self._body_deadline))
            size -= len(self._recv_some(min(size, 1 << 16)))

    # -- sending --------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Send a reply whole within its deadline (``sendall`` with a timeout is a total)."""
        if not self.established and data[6:8] == CONNECT_OK:
            self.handshake_done()  # before the client can hear it: never evicted after that
        view = memoryview(data)
        try:
            if self._plain:  # the usual case: it fits in the socket's buffer at once
                with contextlib.suppress(BlockingIOError):
                    view = view[self.sock.send(view, socket.MSG_DONTWAIT):]
                if not view:
                    return
            timeout = self.limits.reply_timeout(len(view))
            if not self.established:
                timeout = min(timeout, max(0.001, self.deadline - time.monotonic()))
            self.sock.settimeout(timeout)
            self.sock.sendall(view)
        except TimeoutError:
            raise Pyro4.errors.TimeoutError("sending: the client did not take the reply") from None
        except OSError as exc:
            raise Pyro4.errors.ConnectionClosedError(f"sending: {exc}") from None


class GuardedJob(ClientConnectionJob):
    """Pyro's per-connection job, on a ``GuardedConnection``, counted out when it ends."""

    def __init__(self, conn: GuardedConnection, addr: Any, daemon: Pyro4.core.Daemon):
        self.csock = conn
        self.caddr = addr
        self.daemon = daemon

    def __call__(self) -> None:
        try:
            super().__call__()
        finally:
            self.csock.release_large()
            self.csock.gate.done(self.csock)
            self.csock.close()

    def handleConnection(self) -> bool:
        try:
            self.csock.tls_handshake()
        except (OSError, Pyro4.errors.CommunicationError) as exc:
            log.debug("dropped %s before its handshake: %s", self.caddr, exc)
            self.csock.close()
            return False
        if not super().handleConnection():
            return False
        self.csock.handshake_done()
        return True


class GuardedSerpent(Pyro4.util.SerpentSerializer):
    """serpent, but a call is measured before it is parsed (see ``engine.base.payload``) and
    compressed data, which Pyro4 would inflate without any bound, is refused; a call sending
    a ``Serialized`` list is put together from the texts it carries (a node's event pushes)."""

    limits = ParseLimits(items=1_000, depth=10)  # a name server's needs; nodes raise it
    heavy_items = 2_000
    """A call with more items than this waits for one of the daemon's few large places."""

    def deserializeCall(self, data: bytes, compressed: bool = False) -> Any:
        if compressed:
            raise ValueError(COMPRESSED)
        conn: GuardedConnection | None = getattr(_worker, "conn", None)
        daemon = conn.limits.parsing if conn is not None else None
        found = (daemon or self.limits).check(data)
        try:
            if found is not None and found.items > self.heavy_items:
                hold_large()
            return super().deserializeCall(data)
        finally:  # parsed: the place is free for the next large request
            if conn is not None:
                conn.release_large()

    def dumpsCall(self, obj: str, method: str, vargs: Any, kwargs: Any) -> bytes:
        """A call whose one argument is ``Serialized`` is put together from its texts."""
        if len(vargs) == 1 and not kwargs and type(vargs[0]) is serialized.Serialized:
            return serialized.call(obj, method, vargs[0])
        data: bytes = super().dumpsCall(obj, method, vargs, kwargs)
        return data

    def deserializeData(self, data: bytes, compressed: bool = False) -> Any:
        if compressed:
            raise ValueError(COMPRESSED)
        return super().deserializeData(data)


COMPRESSED = "compressed messages are refused: set Pyro4.config.COMPRESSION = False"


def parse_limits(limits: ParseLimits) -> None:
    """Let this process's daemons parse calls up to ``limits`` (the largest of its nodes')."""
    current = GuardedSerpent.limits
    GuardedSerpent.limits = ParseLimits(items=max(limits.items, current.items),
                                        depth=max(limits.depth, current.depth))


def guard_serpent() -> None:
    """Parse every call this process serves with ``GuardedSerpent`` (servers only)."""
    if not isinstance(Pyro4.util._serializers.get("serpent"), GuardedSerpent):
        guarded = GuardedSerpent()
        Pyro4.util._serializers["serpent"] = guarded
        Pyro4.util._serializers_by_id[guarded.serializer_id] = guarded


def hold_large() -> None:
    """Take one of the few places for a heavy request (many items) for the request this
    worker is serving, or raise ``TimeoutError``; it is given back once the call is parsed."""
    conn: GuardedConnection | None = getattr(_worker, "conn", None)
    if conn is None or conn.holds_large:
        return
    if not conn.gate.large.acquire(timeout=conn.limits.wait):
        raise TimeoutError("the node is busy parsing other large requests; try again in a moment")
    conn.holds_large = True


def install(daemon: Pyro4.core.Daemon, limits: Limits) -> Gate:
    """Put ``daemon``'s accepting and connection handling behind a new ``Gate``."""
    guard_serpent()
    gate = Gate(daemon, limits)
    server: Any = daemon.transportServer
    handshake = daemon._handshake
    handle = daemon.handleRequest

    def quiet_handshake(conn: Any, denied_reason: str | None = None) -> bool:
        try:
            return bool(handshake(conn, denied_reason))
        except (OSError, Pyro4.errors.CommunicationError) as exc:
            log.debug("dropped a connection in its handshake: %s", exc)
            return False

    def handle_request(conn: Any) -> None:
        try:
            handle(conn)
        finally:
            if isinstance(conn, GuardedConnection):
                conn.release_large()

    def events(eventsockets: Any) -> None:
        """Accept one connection and hand it on; never wait on any one connection."""
        if server._selector and not server._selector.select(Pyro4.config.POLLTIMEOUT):
            return
        try:
            sock, addr = server.sock.accept()
        except (TimeoutError, BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # e.g. out of file descriptors: not a reason to spin
            if not server.shutting_down:
                log.warning("cannot accept connections: %s", exc)
                time.sleep(0.1)
            return
        if server.shutting_down:
            sock.close()
            return
        peer = addr[0] if isinstance(addr, tuple) else str(addr)
        conn = GuardedConnection(sock, peer, gate)
        if not gate.admit(conn):
            conn.close()
            return
        job = GuardedJob(conn, addr, daemon)
        for _ in range(POOL_RETRIES):
            try:
                server.pool.process(job)
                return
            except NoFreeWorkersError:
                if not gate.make_room():  # every worker serves an established client
                    break
                time.sleep(0.005)  # the evicted handshake's worker is about to be free
        gate.done(conn)
        conn.close()

    daemon._handshake = quiet_handshake
    daemon.handleRequest = handle_request
    server.events = events
    daemon.pyrostage_gate = gate
    return gate
