"""Who may use the API: no token (bound to this machine by default), or one shared token.

With a token, the page sends it once (``POST /api/session`` or the QR's ``/join?token=``) and
keeps a session cookie (HttpOnly, SameSite=Strict) derived from it; scripts send
``Authorization: Bearer``. A change made with the cookie must also carry the page's
``X-Pyrostage`` header, which another site cannot add without asking first (CSRF). Requests
that change something from another site (``Origin``/``Sec-Fetch-Site``) are refused in every
mode, and without a token only an address or this machine's name is accepted as ``Host``, so
a web page elsewhere cannot reach a camp's nodes through the organiser's browser (DNS
rebinding). The token is never logged: the access log's query strings are cut.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import socket
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.security import APIKeyCookie, HTTPBearer

from engine.web.errors import Problem

COOKIE = "pyrostage_session"
HEADER = "X-Pyrostage"
SAFE = {"GET", "HEAD", "OPTIONS"}
TOKEN_LIMIT = 256

bearer = HTTPBearer(auto_error=False, description="The web's token (`pyrostage web --token`).")
cookie = APIKeyCookie(name=COOKIE, auto_error=False,
                      description="Set by POST /api/session or /join?token=.")


def session_value(token: str) -> str:
    """The cookie for ``token``: derived, so the token itself is not kept in the browser."""
    return hmac.new(token.encode(), b"pyrostage web session", hashlib.sha256).hexdigest()


def check_token(token: str | None) -> str | None:
    """A configured token, checked (None or "": no token)."""
    if not token:
        return None
    if len(token) < 8 or len(token) > TOKEN_LIMIT or not token.isprintable() or " " in token:
        raise ValueError(f"the web token must be 8 to {TOKEN_LIMIT} printable characters "
                         "without spaces (e.g. from `python -c \"import secrets; "
                         "print(secrets.token_urlsafe(12))\"`)")
    return token


class Guard:
    """The checks every API request passes, as one FastAPI dependency."""

    def __init__(self, token: str | None):
        self.token = check_token(token)
        self.session = session_value(self.token) if self.token else None
        self.names = _own_names()

    def matches(self, token: str) -> bool:
        return self.token is not None and hmac.compare_digest(
            token.encode("utf-8", "surrogateescape"), self.token.encode())

    def authenticated(self, request: Request) -> str | None:
        """How the request proved itself: "bearer", "cookie", "open" (no token), or None."""
        if self.token is None:
            return "open"
        auth = request.headers.get("authorization", "")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() == "bearer" and given and self.matches(given.strip()):
            return "bearer"
        value = request.cookies.get(COOKIE, "")
        if value and self.session and hmac.compare_digest(
                value.encode("utf-8", "surrogateescape"), self.session.encode()):
            return "cookie"
        return None

    def check(self, request: Request) -> None:
        """401 without the token, 403 for a change from another site or without the
        page's header."""
        self.same_site(request)
        how = self.authenticated(request)
        if how is None:
            raise Problem(401, "this pyrostage web needs its token: enter it on the page, "
                               "or send `Authorization: Bearer TOKEN`")
        if how == "cookie" and request.method not in SAFE and HEADER.lower() not in {
                k.lower() for k in request.headers}:
            raise Problem(403, f"a change made with the session cookie needs the page's "
                               f"{HEADER} header")

    def same_site(self, request: Request) -> None:
        """Refuse changes sent from another site, and, without a token, unknown host names."""
        if self.token is None and not self.host_ok(request.headers.get("host", "")):
            raise Problem(403, "without a token this web answers only to an address or this "
                               "machine's name (start it with --token to use another name)")
        if request.method in SAFE:
            return
        site = request.headers.get("sec-fetch-site", "")
        if site in ("cross-site", "same-site"):
            raise Problem(403, "refused: the request came from another site")
        origin = request.headers.get("origin")
        if origin and origin != "null":
            if urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
                raise Problem(403, "refused: the request came from another site "
                                   f"({origin[:80]})")
        elif origin == "null":
            raise Problem(403, "refused: the request came from a sandboxed page")

    def host_ok(self, host: str) -> bool:
        name = re.sub(r":\d+$", "", host.strip()).strip("[]").lower()
        if not name:
            return True  # HTTP/1.0 without Host: not a browser
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return name in self.names


def _own_names() -> set[str]:
    names = {"localhost", "localhost.localdomain"}
    try:
        host = socket.gethostname().lower()
        names |= {host, f"{host}.local", socket.getfqdn().lower()}
    except OSError:
        pass
    return names


class HideTokens(logging.Filter):
    """Cut query strings out of uvicorn's access log (a ``/join?token=`` would land there)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2]
            if "?" in path:
                record.args = (*args[:2], path.split("?", 1)[0] + "?…", *args[3:])
        return True
