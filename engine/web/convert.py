"""Node answers as JSON: bytes as base64 text, non-finite numbers as null, tuples as lists."""

from __future__ import annotations

import base64
import math
from typing import Any


def jsonable(value: Any, depth: int = 0) -> Any:
    if depth > 32:
        return None
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        if set(value) == {"data", "encoding"} and value.get("encoding") == "base64":
            return value["data"]  # bytes as serpent sends them to a plain client
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [jsonable(v, depth + 1) for v in items]
    return str(value)
