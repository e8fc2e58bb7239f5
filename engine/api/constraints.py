"""The checks a command parameter can carry: ``Annotated[int, Range(1, 10)]`` and friends.

Each is a small frozen object with ``check(name, value)`` (raise ``ValueError``/``TypeError``
with a message naming ``name`` and what is accepted, or return the value the command gets),
``describe()`` (a short phrase for messages) and ``limits()`` (plain data ``commands()`` shows
callers, so a CLI or a web form can show and check the bounds). A plugin may declare its own
object: ``check`` is required, ``describe`` and ``limits`` are shown when present.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, get_args, get_origin

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

    def limits(self) -> dict[str, Any]:
        bounds = {"min": self.lo, "max": self.hi}
        return {key: bound for key, bound in bounds.items() if bound is not None}


def _unit(value: Any) -> str:
    """What ``len()`` counts in ``value``, for a message."""
    if isinstance(value, str):
        return "characters"
    if isinstance(value, bytes | bytearray):
        return "bytes"
    return "items"


@dataclass(frozen=True)
class Length:
    """Bounds on ``len()`` of a string, bytes or list argument."""

    lo: int = 0
    hi: int | None = None

    def check(self, name: str, value: Any) -> Any:
        n = len(value)
        if n < self.lo or (self.hi is not None and n > self.hi):
            unit = _unit(value)
            raise ValueError(f"{name} must have {self.describe(unit)}, got {n} {unit}")
        return value

    def describe(self, unit: str = "items") -> str:
        if self.hi is None:
            return f"at least {self.lo} {unit}"
        if self.lo == 0:
            return f"at most {self.hi} {unit}"
        return f"{self.lo} to {self.hi} {unit}"

    def limits(self) -> dict[str, Any]:
        out: dict[str, Any] = {"min_length": self.lo} if self.lo else {}
        if self.hi is not None:
            out["max_length"] = self.hi
        return out


@dataclass(frozen=True)
class Printable:
    """Only printable characters (no control characters, no newlines)."""

    def check(self, name: str, value: Any) -> Any:
        if not value.isprintable():
            raise ValueError(f"{name} must contain printable characters only, got {short(value)}")
        return value

    def describe(self) -> str:
        return "printable characters only"

    def limits(self) -> dict[str, Any]:
        return {"printable": True}


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


SHOWN_CHOICES = 20
"""How many choices an error message lists (``commands()`` lists them all)."""
CHOICE_KINDS = (str, int, bool)
"""What a ``Literal[...]`` may list: values every client can send and show."""


def _text(value: Any) -> str:
    """A choice as a person types it: ``2``, ``true``, ``main``."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _typeable(value: Any) -> bool:
    """A value whose text a person could type (not str itself, nor an int of 300+ digits)."""
    if type(value) is int:
        return value.bit_length() <= 1000
    return type(value) in (float, bool)


@dataclass(frozen=True)
class Choices:
    """One of a fixed set: how a ``Literal[...]`` or ``enum.Enum`` parameter is checked.

    The engine makes it from the declared type (declare the type, not this). A caller sends
    a choice itself or, from typed text, its text form (``"2"`` for ``Literal[1, 2]``); an
    enum is named by member name or by value, and the command receives the member.
    """

    shown: tuple[Any, ...]
    """What ``commands()`` lists: the Literal's values, or the enum's member names."""
    accepted: tuple[tuple[Any, Any], ...]
    """(what a caller may send, what the command receives), tried in order."""

    @classmethod
    def of(cls, tp: Any) -> Choices | None:
        """The choices of a ``Literal`` or ``Enum`` type; None for any other type."""
        is_enum = isinstance(tp, type) and issubclass(tp, enum.Enum)
        if not is_enum and get_origin(tp) is not Literal:
            return None
        try:
            return _choices(tp)
        except TypeError:  # not hashable: a Literal of something no caller could send anyway
            return cls._of(tp)

    @classmethod
    def _of(cls, tp: Any) -> Choices | None:
        if get_origin(tp) is Literal:
            values = get_args(tp)
            texts = [(_text(v), v) for v in values if _typeable(v)]
            return cls(values, (*((v, v) for v in values), *texts))
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            members = list(tp)
            plain = [m for m in members if type(m.value) is str or _typeable(m.value)]
            return cls(
                tuple(m.name for m in members),
                (
                    *tp.__members__.items(),  # names, aliases included
                    *((m.value, m) for m in plain),
                    *((_text(m.value), m) for m in plain if _typeable(m.value)),
                ),
            )
        return None

    def check(self, name: str, value: Any) -> Any:
        for given, result in self.accepted:
            if value is result or (type(value) is type(given) and value == given):
                return result
        wrong = TypeError if type(value) not in {type(g) for g, _ in self.accepted} else ValueError
        got = short(value) if wrong is ValueError else f"{type(value).__name__} {short(value)}"
        raise wrong(f"{name} must be {self.describe()}, got {got}")

    def describe(self) -> str:
        listed = [short(c) for c in self.shown[:SHOWN_CHOICES]]
        more = len(self.shown) - len(listed)
        return f"one of {', '.join(listed)}" + (f" (and {more} more)" if more > 0 else "")

    def limits(self) -> dict[str, Any]:
        return {"choices": list(self.shown)}


@lru_cache(maxsize=256)
def _choices(tp: Any) -> Choices | None:
    """``Choices._of``, once per declared type: checking a call looks it up each time."""
    return Choices._of(tp)


def check_shown(meta: Any) -> None:
    """A plugin's own check may say what it accepts: ``describe()`` a str, ``limits()`` a dict
    of plain data (``commands()`` sends both to every client)."""
    for method, ok, wanted in (
        ("describe", lambda v: isinstance(v, str), "a str"),
        ("limits", lambda v: isinstance(v, dict) and _plain(v), "a dict of plain data "
         "(str keys; str, int, float, bool, None, and lists and dicts of them)"),
    ):
        if getattr(meta, method, None) is None:
            continue
        try:
            shown = getattr(meta, method)()
        except Exception as exc:
            raise TypeError(f"{short(meta)}.{method}() raised {type(exc).__name__}: {exc}"
                            ) from None
        if not ok(shown):
            raise TypeError(f"{short(meta)}.{method}() must return {wanted}, got {short(shown)}")


def _plain(value: Any, depth: int = 0) -> bool:
    """JSON-plain data, as every client (Pyro, the web page) reads it the same."""
    if depth > 8:
        return False
    if value is None or type(value) in (str, bool, int):
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is list:
        return all(_plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _plain(v, depth + 1) for k, v in value.items())
    return False
