"""Errors as the API answers them: a status and one line for people, never a traceback.

A node raises builtins (its facade turns anything else into one), so the status follows the
exception's kind: bad input 400, nothing by that name 404, refused in the current state 409,
the node away 502, the name server away 503, no answer in time 504.
"""

from __future__ import annotations

from typing import Any

PROBLEM = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "kind": {"type": "string"}},
    "required": ["error", "kind"],
}
"""The JSON schema of every error body."""

STATUS_TEXT = {
    400: "Bad input: the message says what is accepted",
    401: "The token is missing or wrong",
    403: "Refused: a request from another site, or without the page's header",
    404: "No such node, command, preset or race",
    409: "Refused in the current state (a race is running, the node cannot save)",
    413: "The upload is too large",
    502: "The node could not be reached",
    503: "The name server could not be reached",
    504: "The node did not answer in time",
}


class Problem(Exception):
    """An answer other than 2xx, raised by the app's own checks."""

    def __init__(self, status: int, message: str, kind: str = ""):
        super().__init__(message)
        self.status = status
        self.kind = kind or {400: "ValueError", 401: "PermissionError",
                             403: "PermissionError", 404: "LookupError",
                             409: "RuntimeError", 413: "ValueError"}.get(status, "Error")


def status_of(exc: BaseException) -> int:
    """The HTTP status for what a node call (or the web's own work) raised."""
    if isinstance(exc, Problem):
        return exc.status
    if isinstance(exc, TimeoutError) or (  # silent: at a call, or already at connecting
        isinstance(exc, ConnectionError) and ("in time" in str(exc)
                                              or "did not answer" in str(exc))
    ):
        return 504
    if isinstance(exc, ConnectionError) or (
        isinstance(exc, PermissionError) and "refused the connection" in str(exc)
    ):  # away, or it refused our key: nothing the caller can fix
        return 503 if "name server" in str(exc) and "node" not in str(exc) else 502
    if isinstance(exc, KeyError | LookupError):
        return 404
    if isinstance(exc, ValueError | TypeError | OverflowError):
        return 400
    return 409  # the node cannot save, a file cannot be written: refused as things are


def message(exc: BaseException) -> str:
    """One line: KeyError's repr quotes are dropped, long messages shortened."""
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    text = " ".join(str(text).split()) or type(exc).__name__
    return text if len(text) <= 400 else text[:397] + "..."


def body(exc: BaseException) -> dict[str, Any]:
    kind = exc.kind if isinstance(exc, Problem) else type(exc).__name__
    return {"error": message(exc), "kind": kind}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error codes a route may answer."""
    return {code: {"description": STATUS_TEXT[code],
                   "content": {"application/json": {"schema": PROBLEM}}} for code in codes}
