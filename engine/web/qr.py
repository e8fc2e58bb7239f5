"""The address phones use, and its QR code (segno: small, pure Python, no network)."""

from __future__ import annotations

import io

import segno

from engine.base.pyroconf import lan_address

ANY = {"0.0.0.0", "::", ""}


def share_url(host: str, port: int, ns_host: str | None = None,
              ns_port: int | None = None) -> str:
    """The page's URL as phones should open it (no token in it): bound to every address,
    the one this machine is reached by on the network towards the name server."""
    if host in ANY:
        host = lan_address(ns_host, ns_port)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def join_url(url: str, token: str | None) -> str:
    """The organiser's link: logs the phone in (the terminal is the organiser's)."""
    return f"{url}join?token={token}" if token else url


def terminal(url: str) -> str:
    """A QR code drawn with block characters, for the terminal."""
    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def svg(url: str) -> bytes:
    """A QR code as SVG for the page's share dialog."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=8, border=2, xmldecl=False,
                                    title="Scan to open pyrostage")
    return out.getvalue()
