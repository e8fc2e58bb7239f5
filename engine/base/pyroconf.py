"""Pyro4 settings every pyrostage process shares: serpent only, limits, HMAC and TLS.

Pyro4 keeps most settings process-wide in ``Pyro4.config``; this module is the one place
they are set, so a node, the name server and the controller agree. Every daemon the project
runs goes through ``secure_daemon`` and every proxy through ``proxy``/``locate_ns``.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Any

import Pyro4
import Pyro4.constants
import Pyro4.core
import Pyro4.errors
import Pyro4.message
import Pyro4.util

if TYPE_CHECKING:
    from engine.base.config import TLS
    from engine.base.transport import Limits

log = logging.getLogger(__name__)

MAX_MESSAGE_SIZE = 16 * 1024 * 1024
THREADPOOL_SIZE = 320
NS_INBOUND = 256 * 1024
"""Bytes a name server accepts in one request: names, URIs and metadata are small."""

# Pyro4 objects a serpent message may otherwise rebuild on the receiving side; pyrostage never
# sends them, so they stay the plain dicts they arrived as (and fail validation like any dict).
_NOT_REBUILT = (
    "Pyro4.core.Proxy",
    "Pyro4.core.Daemon",
    *(f"Pyro4.util.{s}Serializer" for s in ("Serpent", "Pickle", "Marshal", "Json",
                                               "Msgpack", "Cloudpickle", "Dill")),
)


def _as_plain_dict(classname: str, data: dict[str, Any]) -> dict[str, Any]:
    return data


def harden(max_message: int = MAX_MESSAGE_SIZE) -> None:
    """Serpent only (never pickle), bounded messages, a pool for 64+ controllers, no traces,
    no thread per oneway call.

    COMMTIMEOUT stays 0: Pyro4 proxies do not reconnect after a server-side close, so a
    timeout would break idle plain clients.
    """
    config: Any = Pyro4.config
    config.SERIALIZER = "serpent"
    config.SERIALIZERS_ACCEPTED = {"serpent"}
    config.MAX_MESSAGE_SIZE = max(max_message, MAX_MESSAGE_SIZE)
    config.THREADPOOL_SIZE = THREADPOOL_SIZE
    config.THREADPOOL_SIZE_MIN = 8
    config.DETAILED_TRACEBACK = False
    config.COMMTIMEOUT = 0.0
    config.SOCK_NODELAY = True
    config.SERVERTYPE = "thread"
    config.ONEWAY_THREADED = False  # oneway calls run in order on their connection's worker
    for classname in _NOT_REBUILT:
        Pyro4.util.SerializerBase.register_dict_to_class(classname, _as_plain_dict)


def use_tls(tls: TLS | None) -> None:
    """Switch Pyro4 to SSL when certificates are configured (optionally client certs)."""
    config: Any = Pyro4.config
    if tls is None or not tls.enabled:
        config.SSL = False
        return
    config.SSL = True
    config.SSL_SERVERCERT = tls.cert
    config.SSL_SERVERKEY = tls.key
    config.SSL_CACERTS = tls.ca
    config.SSL_REQUIRECLIENTCERT = tls.require_client_cert
    config.SSL_CLIENTCERT = tls.client_cert
    config.SSL_CLIENTKEY = tls.client_key


def warn_if_exposed(host: str, hmac_key: bytes | None, what: str = "this node") -> bool:
    """Log a warning when ``host`` is reachable from the network and no key is set."""
    if is_loopback(host) or hmac_key:
        return False
    log.warning(
        "serving %s on %s without PYROSTAGE_HMAC_KEY: anyone on this network can drive it "
        "(and rewrite the name server's entries); set the same shared key on every node, "
        "name server and controller", what, host,
    )
    return True


def secure_daemon(
    daemon: Pyro4.core.Daemon, hmac_key: bytes | None, limits: Limits | None = None
) -> Pyro4.core.Daemon:
    """Sign the daemon with the key and put its connections behind a ``transport.Gate``.

    Pyro4 runs a TLS handshake inside ``accept()`` on the one thread that accepts, so a
    single idle TCP connection would stop a TLS daemon from accepting anyone; here the TLS
    handshake is moved to the connection's own worker, within the handshake deadline.
    """
    if hmac_key:
        daemon._pyroHmacKey = hmac_key
    listening: Any = daemon.transportServer.sock
    if hasattr(listening, "do_handshake_on_connect"):  # an ssl.SSLSocket
        listening.do_handshake_on_connect = False  # read by accept() for each new socket
    from engine.base import transport  # servers only: controllers never load it

    transport.install(daemon, limits or transport.Limits())
    return daemon


def _cannot_serve(exc: OSError, host: str, port: int) -> OSError:
    """``exc`` saying where: "cannot serve on 127.0.0.1:9090: Address already in use"."""
    where = f"{host}:{port}" if port else host
    clear = OSError(f"cannot serve on {where}: {exc.strerror or exc}")
    clear.errno = exc.errno
    return clear


def serve_daemon(
    host: str, port: int, hmac_key: bytes | None, limits: Limits | None = None
) -> Pyro4.core.Daemon:
    """A Pyro daemon on host:port, secured (see ``secure_daemon``)."""
    try:
        daemon = Pyro4.Daemon(host=host, port=port)
    except OSError as exc:
        raise _cannot_serve(exc, host, port) from None
    return secure_daemon(daemon, hmac_key, limits)


def proxy(uri: Any, hmac_key: bytes | None = None, timeout: float | None = None) -> Pyro4.Proxy:
    """A proxy signed with the shared key (every proxy the project makes comes from here)."""
    p = Pyro4.Proxy(uri)
    if hmac_key:
        p._pyroHmacKey = hmac_key
    if timeout:
        p._pyroTimeout = timeout
    return p


def key_refusal(exc: BaseException, who: str, hmac_key: bytes | None) -> PermissionError | None:
    """A clear ``PermissionError`` when ``exc`` (or its cause) is Pyro's HMAC refusal."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, Pyro4.errors.SecurityError):
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return None
    if "hmac" not in str(seen).lower():
        return PermissionError(f"{who} refused the connection: {seen}")
    if "mismatch" in str(seen):
        why = "its HMAC key differs from this one"
    elif hmac_key:
        why = "it has no HMAC key but this side has one"
    else:
        why = "it requires an HMAC key and none is set here"
    return PermissionError(
        f"{who} refused the connection: {why}; set the same PYROSTAGE_HMAC_KEY (or hmac_key "
        "in the config file) on every node, name server and controller"
    )


NS_TIMEOUT = 3.0
"""Seconds the name server gets to answer: a hung or half-open one must not hold a node's
registrar, its exit or a controller forever (COMMTIMEOUT stays 0 for everything else)."""

DEFAULT_ROUTE_PROBE = ("198.51.100.1", 9)
"""Any address outside the LAN (TEST-NET-2): a UDP connect to it picks the default route's
source address and sends nothing."""


def locate_ns(
    host: str | None, port: int | None, hmac_key: bytes | None = None,
    timeout: float = NS_TIMEOUT,
) -> Pyro4.Proxy:
    """The name server at host:port (``PYRO_NS_HOST``/``PYRO_NS_PORT`` when None), bound.

    Never broadcasts. One that does not answer within ``timeout`` raises ``NamingError``, as
    Pyro's own lookup does when there is none; one that refuses this side's HMAC key raises
    ``PermissionError`` saying so. The proxy keeps ``timeout`` for its calls.
    """
    config: Any = Pyro4.config
    host = host or config.NS_HOST
    port = port or config.NS_PORT
    where = f"{host}:{port}"
    address = f"[{host}]" if ":" in str(host) else host
    ns = proxy(f"PYRO:{Pyro4.constants.NAMESERVER_NAME}@{address}:{port}", hmac_key, timeout)
    try:
        ns._pyroBind()
    except (Pyro4.errors.PyroError, OSError) as exc:
        ns._pyroRelease()
        refusal = key_refusal(exc, f"the name server at {where}", hmac_key)
        if refusal is not None:
            raise refusal from None
        raise Pyro4.errors.NamingError(f"no name server answered at {where}: {exc}") from exc
    return ns


def lan_address(ns_host: str | None, ns_port: int | None) -> str:
    """The local address other machines reach this one by (for ``--host auto``).

    With a name server elsewhere, the address the route to it leaves from; with none given (or
    one on this machine, e.g. ``--embedded-ns``), the default route's. 127.0.0.1 only when
    there is no network at all, with a warning.
    """
    config: Any = Pyro4.config
    host = ns_host or config.NS_HOST
    targets = [] if is_loopback(host) else [(host, ns_port or config.NS_PORT)]
    for target in [*targets, DEFAULT_ROUTE_PROBE]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect(target)  # no packet is sent for a UDP connect
            except OSError:
                continue
            address = str(s.getsockname()[0])
        if address != "0.0.0.0" and not is_loopback(address):  # e.g. a hostname on 127.0.1.1
            return address
    log.warning("--host auto: this machine has no network route; serving on 127.0.0.1, "
                "which only this machine can reach")
    return "127.0.0.1"


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def serve_ns(
    host: str, port: int, hmac_key: bytes | None
) -> tuple[Any, Pyro4.core.Daemon, Any]:
    """A name server (no broadcast responder) signed with the key; returns (uri, daemon, bc)."""
    import Pyro4.naming

    warn_if_exposed(host, hmac_key, "the name server")
    try:
        uri, daemon, bc = Pyro4.naming.startNS(host=host, port=port, enableBroadcast=False,
                                               hmac=hmac_key)
    except OSError as exc:
        raise _cannot_serve(exc, host, port) from None
    return uri, secure_daemon(daemon, hmac_key, _ns_limits()), bc


def _ns_limits() -> Limits:
    from engine.base.transport import Limits

    return Limits(inbound=NS_INBOUND)
