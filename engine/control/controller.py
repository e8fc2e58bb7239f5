"""The client side: find nodes in the name server, call them, retry safely (typed text is
converted by ``engine.control.convert``).

This is the one place on the controller side that talks Pyro; the CLI, the shell and the web
page build on it.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import Pyro4
import Pyro4.errors
import serpent

from engine.base import pyroconf
from engine.base.config import HMAC_ENV, TLS
from engine.base.names import GROUP_TAG, PREFIX, group_tag, object_name
from engine.control.convert import convert_words

if TYPE_CHECKING:
    from concurrent.futures import Future

FACADE_PROPERTIES = ("mode", "uptime", "node")
FACADE_MEMBERS = ("status", "modes", "switch", "commands", "press", "snapshot", "ring", "clock",
                  "events_since", *FACADE_PROPERTIES)
IDEMPOTENT_MEMBERS = {"status", "modes", "switch", "commands", "snapshot", "clock",
                      "events_since", *FACADE_PROPERTIES}
MEMBER_PARAMS: dict[str, list[tuple[str, str]]] = {
    "switch": [("mode", "str")],
    "commands": [("mode", "str|None")],
    "press": [("button", "str")],
    "ring": [("seconds", "float"), ("output", "str")],
    "events_since": [("seq", "int"), ("boot", "str|None")],
}
"""Typed words for facade members are converted by these, as commands by ``commands()``."""
NETWORK_ERRORS = (Pyro4.errors.ConnectionClosedError, Pyro4.errors.CommunicationError)
CONNECT_TIMEOUT = 5.0
"""Seconds in all a node gets to answer a new connection (a call then gets the controller's
timeout for each read), so a name-server entry pointing at a port that accepts and never
answers, or answers a byte at a time, costs no more."""
PROBE_TIMEOUT = 3.0
"""Seconds in all each node gets to answer ``status()`` in ``Controller.probe``."""


@dataclass(frozen=True)
class NodeInfo:
    name: str
    uri: str
    metadata: frozenset[str]

    @property
    def groups(self) -> list[str]:
        return sorted(m.removeprefix(GROUP_TAG) for m in self.metadata if m.startswith(GROUP_TAG))


@dataclass(frozen=True)
class Probe:
    """One name-server entry asked for its status: the status, or what is wrong with it."""

    info: NodeInfo
    status: dict[str, Any] | None = None
    problem: str | None = None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _silent(timeout: float) -> str:
    return f"unreachable: did not answer within {timeout:g} s"


def _hang_up(proxy: Pyro4.Proxy) -> None:
    """Close a connection another thread is reading from (which wakes it: it ends); a proxy
    still in its handshake has none yet."""
    conn = proxy._pyroConnection
    if conn is not None:
        conn.close()


def _closed_by_peer(proxy: Pyro4.Proxy) -> bool:
    """True when an idle proxy's socket is readable: the node closed it (it restarted), so a
    request sent on it would be lost without telling whether it ran."""
    conn = getattr(proxy, "_pyroConnection", None)
    sock = getattr(conn, "sock", None)
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class Controller:
    """Talks to the nodes registered in one name server."""

    def __init__(
        self,
        ns_host: str | None = None,
        ns_port: int | None = None,
        hmac_key: bytes | str | None = None,
        timeout: float = 10.0,
        tls: TLS | None = None,
        source: str = "controller",
    ):
        pyroconf.harden()
        self.source = source
        if tls is not None:
            pyroconf.use_tls(tls)
        self.ns_host = ns_host or os.environ.get("PYRO_NS_HOST") or None
        port = ns_port or os.environ.get("PYRO_NS_PORT")
        self.ns_port = int(port) if port else None
        if hmac_key is None:
            hmac_key = os.environ.get(HMAC_ENV) or None
        self.hmac_key = hmac_key.encode() if isinstance(hmac_key, str) else hmac_key
        self.timeout = timeout
        self._proxies: dict[str, Pyro4.Proxy] = {}
        self._known: dict[str, str] = {}
        self._commands: dict[str, dict[str, dict[str, Any]]] = {}
        self._asking: dict[str, tuple[Future[Probe], Pyro4.Proxy]] = {}
        self._lock = threading.Lock()

    def clone(self, timeout: float | None = None) -> Controller:
        """A controller with the same name server, key and source, for another thread."""
        return Controller(self.ns_host, self.ns_port, self.hmac_key,
                          self.timeout if timeout is None else timeout, source=self.source)

    def remember(self, node: str, uri: str) -> None:
        """Use ``uri`` (from a listing just made) for the first proxy of ``node``, saving a
        lookup; a reconnection looks it up again."""
        self._known[node] = uri

    @property
    def where(self) -> str:
        return f"{self.ns_host or Pyro4.config.NS_HOST}:{self.ns_port or Pyro4.config.NS_PORT}"

    def name_server(self) -> Pyro4.Proxy:
        try:
            ns = pyroconf.locate_ns(self.ns_host, self.ns_port, self.hmac_key)
        except Pyro4.errors.NamingError as exc:
            why = f" ({exc.__cause__})" if exc.__cause__ else ""
            raise ConnectionError(
                f"no name server at {self.where}{why}: start one with `pyrostage ns` or "
                "`pyrostage demo`, or pass --ns-host/--ns-port"
            ) from None
        ns._pyroTimeout = self.timeout
        return ns

    def nodes(self, group: str | None = None) -> list[NodeInfo]:
        """Every node in the name server (optionally only those in ``group``)."""
        with self.name_server() as ns:  # it filters on one thing: the group there, if any
            if group:
                found = ns.list(metadata_all={group_tag(group)}, return_metadata=True)
            else:
                found = ns.list(prefix=PREFIX, return_metadata=True)
        return [
            NodeInfo(name.removeprefix(PREFIX), str(uri), frozenset(meta))
            for name, (uri, meta) in sorted(found.items()) if name.startswith(PREFIX)
        ]

    def lookup(self, node: str) -> str:
        with self.name_server() as ns:
            try:
                return str(ns.lookup(object_name(node)))
            except Pyro4.errors.NamingError:
                raise LookupError(
                    f"no node named {node!r} in the name server at {self.where} "
                    "(see `pyrostage list`)"
                ) from None

    def proxy(self, node: str, fresh: bool = False) -> Pyro4.Proxy:
        """A proxy for ``node`` (one per node, created on first use)."""
        with self._lock:
            if not fresh and node in self._proxies:
                return self._proxies[node]
        uri = (None if fresh else self._known.pop(node, None)) or self.lookup(node)
        p = pyroconf.proxy(uri, self.hmac_key, self.timeout)
        with self._lock:
            old = self._proxies.pop(node, None)
            self._proxies[node] = p
        if old is not None:
            old._pyroRelease()
        return p

    def commands(self, node: str, mode: str | None = None) -> dict[str, dict[str, Any]]:
        key = f"{node}\0{mode or '*'}"
        if key not in self._commands:
            self._commands[key] = self._invoke(node, "commands", mode or "*", idempotent=True)
        return self._commands[key]

    def describe(self, node: str, command: str) -> dict[str, Any] | None:
        """The declaration of ``command`` as the node's active mode would resolve it."""
        if "." in command:
            return self.commands(node).get(command)
        return self._invoke(node, "commands", None, idempotent=True).get(command)

    def convert(self, node: str, command: str, texts: list[str]
                ) -> tuple[dict[str, Any] | None, list[Any]]:
        """Typed words as the command's declared argument types: (its declaration, or None
        when the node declares no such command — the words then go as they are, and the node
        says what is wrong — and the arguments)."""
        spec = self.describe(node, command)
        if spec is None:
            return None, list(texts)
        params = [(p["name"], p["type"]) for p in spec["params"]]
        return spec, convert_words(command, spec["signature"], params, texts)

    def call_words(self, node: str, command: str, texts: list[str]
                   ) -> tuple[dict[str, Any] | None, list[Any], Any]:
        """Run a command or facade member given as typed words (``ctl``, the shell), the
        words converted by this node's own declaration; (its declaration, or None for a
        member, the arguments sent, the result)."""
        if command in FACADE_MEMBERS:
            member = "switch" if command == "mode" and texts else command
            sent = self.convert_member(member, texts)
            return None, sent, self.member(node, member, *sent)
        spec, sent = self.convert(node, command, texts)
        return spec, sent, self.call(node, command, *sent)

    @staticmethod
    def convert_member(member: str, texts: list[str]) -> list[Any]:
        """Typed words for a facade member (``ring 2.5``, ``switch scoreboard``)."""
        params = MEMBER_PARAMS.get(member, [])
        signature = f"({', '.join(name for name, _ in params)})"
        return convert_words(member, signature, params, texts)

    def call(self, node: str, command: str, *args: Any, **kwargs: Any) -> Any:
        """Run a command (one round trip). If the connection is lost, the node is looked up
        again and asked whether the command is safe to repeat; only then is it retried once."""
        return self.call_as(self.source, node, command, *args, **kwargs)

    def call_as(self, source: str, node: str, command: str, *args: Any, **kwargs: Any) -> Any:
        """``call`` journaled as made by ``source`` (``web``, ``shell``, ``race``)."""
        if source != "controller":
            return self._invoke(node, "call_as", source, command, *args,
                                idempotent=lambda: self._idempotent(node, command), **kwargs)
        return self._invoke(node, "call", command, *args,
                            idempotent=lambda: self._idempotent(node, command), **kwargs)

    def _idempotent(self, node: str, command: str) -> bool:
        """Whether the node, looked up afresh, declares ``command`` safe to repeat."""
        self._commands = {k: v for k, v in self._commands.items()
                          if not k.startswith(f"{node}\0")}
        proxy = self.proxy(node, fresh=True)
        commands = self._send(node, proxy, "commands", ("*" if "." in command else None,), {})
        spec = commands.get(command) or {}
        return bool(spec.get("idempotent"))

    def member(self, node: str, name: str, *args: Any) -> Any:
        """Call a facade member (status, switch, press, snapshot ...) or read a property
        (mode, uptime, node); ``member(node, "mode", "timer")`` switches."""
        if name not in FACADE_MEMBERS:
            raise LookupError(f"{name!r} is not one of {', '.join(FACADE_MEMBERS)}")
        if name in FACADE_PROPERTIES and args:
            if name != "mode":
                raise TypeError(f"{name} is read-only")
            name = "switch"
        result = self._invoke(node, name, *args, idempotent=name in IDEMPOTENT_MEMBERS)
        return serpent.tobytes(result) if name == "snapshot" else result

    def probe(self, nodes: list[NodeInfo], timeout: float = PROBE_TIMEOUT) -> list[Probe]:
        """Ask every node for its status at once and wait ``timeout`` in all: a silent or
        dripping entry costs that once, whatever the count, and a foreign one breaks nothing.

        Pyro's timeout bounds each read, not a call (a byte every second keeps it waiting for
        ever), so each entry is asked on a daemon thread of its own that nobody waits for past
        the deadline, whose connection is then closed. An entry still hanging from an earlier
        probe is not asked again (a shell listing every few seconds piles nothing up).
        """
        deadline = time.monotonic() + timeout
        asked = [(info, self._ask(info, timeout)) for info in nodes]
        probes = []
        for info, (future, proxy) in asked:
            try:
                probe = future.result(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                _hang_up(proxy)
                probe = Probe(info, problem=_silent(timeout))
            probes.append(replace(probe, info=info))  # two names may share an address
        return probes

    def _ask(self, info: NodeInfo, timeout: float) -> tuple[Future[Probe], Pyro4.Proxy]:
        from concurrent.futures import Future  # only `list` fans out

        with self._lock:
            if info.uri in self._asking:
                return self._asking[info.uri]
            future: Future[Probe] = Future()
            proxy = pyroconf.proxy(info.uri, self.hmac_key, timeout)
            self._asking[info.uri] = future, proxy

        def run() -> None:
            try:
                future.set_result(self._probe(info, proxy, timeout))
            finally:
                with self._lock:
                    self._asking.pop(info.uri, None)

        threading.Thread(target=run, name=f"probe {info.name}", daemon=True).start()
        return future, proxy

    def _probe(self, info: NodeInfo, proxy: Pyro4.Proxy, timeout: float) -> Probe:
        try:
            with proxy as p:
                status = p.status()
        except AttributeError:  # no status() exposed: another program's object
            return Probe(info, problem="not a pyrostage node")
        except (Pyro4.errors.ProtocolError, Pyro4.errors.SerializeError):
            return Probe(info, problem="not a pyrostage node")
        except (Pyro4.errors.PyroError, OSError) as exc:
            refusal = pyroconf.key_refusal(exc, "it", self.hmac_key)
            if refusal is not None:
                return Probe(info, problem=f"refused: {refusal}")
            if isinstance(exc, Pyro4.errors.TimeoutError):
                return Probe(info, problem=_silent(timeout))
            return Probe(info, problem=f"unreachable: {_one_line(exc)}")
        except Exception as exc:  # whatever a stranger's status() raised
            return Probe(info, problem=f"not a pyrostage node ({type(exc).__name__})")
        if not isinstance(status, dict) or not {"node", "mode", "uptime"} <= status.keys():
            return Probe(info, problem="not a pyrostage node")
        return Probe(info, status=status)

    def _invoke(
        self, node: str, member: str, *args: Any, idempotent: bool | Callable[[], bool],
        **kwargs: Any,
    ) -> Any:
        """Call ``member``; on a lost connection retry once on a fresh lookup, but only when
        ``idempotent`` (or, when it is a function, what it answers after the loss) says so."""
        proxy = self.proxy(node)
        if _closed_by_peer(proxy):  # the node restarted since: reconnect before sending
            proxy = self.proxy(node, fresh=True)
        try:
            return self._send(node, proxy, member, args, kwargs)
        except NETWORK_ERRORS as exc:
            self._check_key(node, exc)
            self._check_silent(node, member, args, exc)
            lost: BaseException = exc
        safe, why = idempotent, "It is not safe to repeat"
        if callable(safe):
            try:
                safe = safe()
            except (*NETWORK_ERRORS, LookupError, ConnectionError) as exc:
                self._check_key(node, exc)
                safe = False
                why = f"The node could not be asked whether it is safe to repeat ({exc})"
        if not safe:
            self._forget(node)
            what = args[1] if member == "call_as" else args[0] if args else ""
            raise ConnectionError(
                f"lost the connection to node {node!r} during {member} {what}: {lost}. "
                f"{why}, so it was "
                "not retried; check the node's state before trying again"
            ) from None
        proxy = self.proxy(node, fresh=not callable(idempotent))
        try:
            return self._send(node, proxy, member, args, kwargs)
        except NETWORK_ERRORS as exc:
            self._forget(node)
            self._check_key(node, exc)
            raise ConnectionError(f"node {node!r} cannot be reached: {exc}") from None

    def _send(
        self, node: str, proxy: Pyro4.Proxy, member: str, args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """One call (a property is read); a new connection gets ``CONNECT_TIMEOUT``."""
        try:
            if proxy._pyroConnection is None:
                self._connect(node, proxy)
            if member in FACADE_PROPERTIES:
                return getattr(proxy, member)
            return getattr(proxy, member)(*args, **kwargs)
        except AttributeError as exc:
            if getattr(exc, "_pyroTraceback", None) is not None:  # raised on the node itself
                raise
            self._forget(node)
            raise LookupError(
                f"{node!r} in the name server at {self.where} is not a pyrostage node "
                f"(its object has no {member!r})"
            ) from None

    def _connect(self, node: str, proxy: Pyro4.Proxy) -> None:
        """Bind ``proxy`` within ``CONNECT_TIMEOUT`` in all. Pyro's timeout bounds each read,
        so a handshake answered a byte at a time would hold the caller for ever: the bind runs
        on a daemon thread, left behind with its proxy (whose lock it holds) when time is up."""
        from concurrent.futures import Future

        bound: Future[None] = Future()

        def bind() -> None:
            try:
                proxy._pyroBind()
            except BaseException as exc:
                bound.set_exception(exc)
            else:
                bound.set_result(None)

        limit = min(self.timeout, CONNECT_TIMEOUT)
        proxy._pyroTimeout = limit
        threading.Thread(target=bind, name=f"connect {node}", daemon=True).start()
        try:
            error = bound.exception(limit)
        except TimeoutError:
            with self._lock:
                if self._proxies.get(node) is proxy:
                    del self._proxies[node]  # never released: that would wait for the bind
            raise ConnectionError(
                f"node {node!r} did not answer within {limit:g} s of connecting: it is busy "
                "or not a pyrostage node; not retried"
            ) from None
        if error is not None:
            raise error
        proxy._pyroTimeout = self.timeout

    def _check_silent(
        self, node: str, member: str, args: tuple[Any, ...], exc: BaseException
    ) -> None:
        """A call that timed out is not repeated: the node is busy or not answering at all."""
        if isinstance(exc, Pyro4.errors.TimeoutError):
            self._forget(node)
            what = str(args[1] if member == "call_as" else args[0])[:60] if args else ""
            doing = ("when asked for its commands" if member == "commands"
                     else f"{member} {what}".strip())
            raise ConnectionError(
                f"node {node!r} did not answer {doing} in time: it is busy or not "
                "answering; not retried"
            ) from None

    def _check_key(self, node: str, exc: BaseException) -> None:
        refusal = pyroconf.key_refusal(exc, f"node {node!r}", self.hmac_key)
        if refusal is not None:
            self._forget(node)
            raise refusal from None

    def _forget(self, node: str) -> None:
        with self._lock:
            p = self._proxies.pop(node, None)
        if p is not None:
            p._pyroRelease()

    def hang_up(self) -> None:
        """Close every connection from any thread, waking a call stuck reading (it fails)."""
        with self._lock:
            proxies = list(self._proxies.values())
        for p in proxies:
            _hang_up(p)

    def close(self) -> None:
        with self._lock:
            proxies, self._proxies = list(self._proxies.values()), {}
            asking = [proxy for _future, proxy in self._asking.values()]
        for p in proxies:
            p._pyroRelease()
        for p in asking:
            _hang_up(p)

    def __enter__(self) -> Controller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
