"""The one address a shared screen may carry: the web page's, without its token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

SCHEMES = ("http", "https")


def _quoted(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class WebAddress:
    """An ``http://`` or ``https://`` address with a host and no secret in it.

    A TV is seen by every camper: the token (or a password) stays on the organiser's
    terminal and is typed on the phone, so an address carrying one is refused (and not
    repeated in the message).
    """

    def check(self, name: str, value: Any) -> Any:
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in SCHEMES:
            raise ValueError(f"{name} must start with http:// or https://, got {_quoted(value)}")
        if any(ch.isspace() for ch in value):
            raise ValueError(f"{name} must be a web address without spaces, got {_quoted(value)}")
        try:
            parts = urlsplit(value)
            host = parts.hostname
            secret = parts.password is not None or parts.username is not None
        except ValueError as exc:  # a malformed [IPv6] host or port
            raise ValueError(f"{name} is not a valid web address ({exc}), got "
                             f"{_quoted(value)}") from None
        if not host:
            raise ValueError(f"{name} needs a host after {scheme}://, got {_quoted(value)}")
        if secret:
            raise ValueError(f"{name} must not carry a user name or password: the screen is "
                             "seen by every camper; give the page's address alone")
        for part in (parts.query, parts.fragment):
            for key, _ in parse_qsl(part, keep_blank_values=True):
                if key.lower().endswith("token"):
                    raise ValueError(
                        f"{name} must not carry a token ({key}=...): the screen is seen by "
                        "every camper; give the page's address alone, the token is typed on "
                        "the phone"
                    )
        return value

    def describe(self) -> str:
        return "an http:// or https:// address without a token"

    def limits(self) -> dict[str, Any]:
        return {"schemes": list(SCHEMES)}
