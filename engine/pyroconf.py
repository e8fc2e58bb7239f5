"""Pyro4 settings every pyrostage process shares: serpent only, limits, HMAC and TLS.

Pyro4 keeps most settings process-wide in ``Pyro4.config``; this module is the one place
they are set, so a node, the name server and the controller agree.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Any

import Pyro4
import Pyro4.core

if TYPE_CHECKING:
    from .config import TLS

log = logging.getLogger(__name__)

MAX_MESSAGE_SIZE = 16 * 1024 * 1024
THREADPOOL_SIZE = 160


def harden(max_message: int = MAX_MESSAGE_SIZE) -> None:
    """Serpent only (never pickle), bounded messages, a pool for 64+ controllers, no traces.

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


def proxy(uri: Any, hmac_key: bytes | None = None, timeout: float | None = None) -> Pyro4.Proxy:
    """A proxy signed with the shared key (every proxy the project makes comes from here)."""
    p = Pyro4.Proxy(uri)
    if hmac_key:
        p._pyroHmacKey = hmac_key
    if timeout:
        p._pyroTimeout = timeout
    return p


def locate_ns(
    host: str | None, port: int | None, hmac_key: bytes | None = None, broadcast: bool = False
) -> Pyro4.Proxy:
    """The name server at host:port (``PYRO_NS_HOST``/``PYRO_NS_PORT`` when None)."""
    ns = Pyro4.locateNS(host=host, port=port, broadcast=broadcast, hmac_key=hmac_key)
    return ns


def lan_address(ns_host: str | None, ns_port: int | None) -> str:
    """The local address through which the name server is reached (for ``--host auto``)."""
    config: Any = Pyro4.config
    host = ns_host or config.NS_HOST
    port = ns_port or config.NS_PORT
    if host in ("localhost", "127.0.0.1", "::1"):
        return "127.0.0.1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect((host, port))
            return str(s.getsockname()[0])
        except OSError:
            s.connect(("10.255.255.255", 1))  # no packet is sent for a UDP connect
            return str(s.getsockname()[0])


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def serve_ns(
    host: str, port: int, hmac_key: bytes | None
) -> tuple[Any, Pyro4.core.Daemon, Any]:
    """A name server (no broadcast responder) signed with the key; returns (uri, daemon, bc)."""
    import Pyro4.naming

    return Pyro4.naming.startNS(host=host, port=port, enableBroadcast=False, hmac=hmac_key)
