"""Caller-supplied values and sizes as they appear in messages: short, whatever they hold.

Errors quote what a caller sent; a 9 MB argument must not become a 9 MB error (or a reply
over the size cap), so every message goes through ``short``.
"""

from __future__ import annotations

import math
from typing import Any


def short(value: Any) -> str:
    """A value as it appears in an error message: its repr, cut to a readable length."""
    if isinstance(value, int) and value.bit_length() > 192:  # repr may refuse > 4300 digits
        return f"an integer of {_digits(value)} digits"
    try:
        text = repr(value)
    except Exception:
        return f"a {type(value).__name__} that cannot be shown"
    return text if len(text) <= 60 else text[:57] + "..."


def size_text(n: int) -> str:
    """A byte count for people: "2.7 MB", "640 KB", "12 bytes"."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 10_000:
        return f"{n // 1000} KB"
    return f"{n} bytes"


def _digits(value: int) -> int:
    """About how many decimal digits an integer has (without ``str()``, which may refuse)."""
    return int(abs(value).bit_length() * math.log10(2)) + 1
