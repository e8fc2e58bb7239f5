"""The checks a command parameter can carry: ``Annotated[int, Range(1, 10)]`` and friends.

Each is a small frozen object with ``check(name, value)`` (raise ``ValueError``/``TypeError``
with a message naming ``name`` and what is accepted) and ``describe()`` (what ``commands()``
shows callers). A plugin may declare its own object with the same two methods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.base.text import short


@dataclass(frozen=True)
class Range:
    """Inclusive numeric bounds for an ``int`` or ``float`` argument."""

    lo: float | None = None
    hi: float | None = None

    def check(self, name: str, value: Any) -> Any:
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise ValueError(f"{name} must be {self.describe()}, got {short(value)}")
        return value

    def describe(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f"between {self.lo} and {self.hi}"
        return f">= {self.lo}" if self.lo is not None else f"<= {self.hi}"


@dataclass(frozen=True)
class Length:
    """Bounds on ``len()`` of a string, bytes or list argument."""

    lo: int = 0
    hi: int | None = None

    def check(self, name: str, value: Any) -> Any:
        n = len(value)
        if n < self.lo or (self.hi is not None and n > self.hi):
            raise ValueError(f"{name} must have {self.describe()}, got length {n}")
        return value

    def describe(self) -> str:
        unit = "items/characters/bytes"
        if self.hi is None:
            return f"at least {self.lo} {unit}"
        if self.lo == 0:
            return f"at most {self.hi} {unit}"
        return f"{self.lo} to {self.hi} {unit}"


@dataclass(frozen=True)
class Printable:
    """Only printable characters (no control characters, no newlines)."""

    def check(self, name: str, value: Any) -> Any:
        if not value.isprintable():
            raise ValueError(f"{name} must contain printable characters only, got {short(value)}")
        return value


@dataclass(frozen=True)
class Convert:
    """Turn an accepted value into the form the command wants (e.g. a colour into r, g, b).

    ``fn`` raises ``ValueError``/``TypeError`` with a helpful message for values it refuses;
    ``type_name`` is what ``commands()`` shows callers so text can be converted for it.
    """

    fn: Callable[[Any], Any]
    type_name: str

    def check(self, name: str, value: Any) -> Any:
        try:
            return self.fn(value)
        except TypeError as exc:  # the plain class: a subclass may not take one message
            raise TypeError(f"{name}: {exc}") from None
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
