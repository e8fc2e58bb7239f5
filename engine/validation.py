"""Arguments checked against a command's type hints, so no command validates by hand.

A command declares ``points: Annotated[int, Range(-999_999, 999_999)]`` and every caller —
a Pyro client, the CLI, the web page, a button — gets the same clear builtin error for a
wrong type or an out-of-range value before the command body runs.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import math
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

NoneType = type(None)
_POSITIONAL_OR_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD


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
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"{name}: {exc}") from None


def short(value: Any) -> str:
    """A value as it appears in an error message: its repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def type_name(tp: Any) -> str:
    """A short, stable name for a declared type: what clients convert typed text by."""
    if tp is inspect.Parameter.empty or tp is Any:
        return "any"
    origin = get_origin(tp)
    if origin is Annotated:
        base, *metas = get_args(tp)
        for meta in metas:
            if isinstance(meta, Convert):
                return meta.type_name
        return type_name(base)
    if origin in (Union, types.UnionType):
        return "|".join(type_name(a) for a in get_args(tp))
    if origin in (list, tuple):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        inner = type_name(args[0]) if args else "any"
        return f"list[{inner}]"
    if tp is NoneType:
        return "None"
    return getattr(tp, "__name__", str(tp))


def coerce(name: str, value: Any, tp: Any) -> Any:
    """Return ``value`` checked (and normalised) against ``tp``, or raise a builtin error."""
    if tp is inspect.Parameter.empty or tp is Any:
        return value
    origin = get_origin(tp)
    if origin is Annotated:
        base, *metas = get_args(tp)
        value = coerce(name, value, base)
        for meta in metas:
            if hasattr(meta, "check"):
                value = meta.check(name, value)
        return value
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and NoneType in options:
            return None
        for option in options:
            if option is NoneType:
                continue
            try:
                return coerce(name, value, option)
            except TypeError:
                if isinstance(value, _outer(option)):
                    raise  # the right kind of value with a wrong part: say which part
        raise TypeError(
            f"{name} must be {type_name(tp).replace('|', ' or ')}, "
            f"got {type(value).__name__} {short(value)}"
        )
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise TypeError(f"{name} must be a list, got {type(value).__name__} {short(value)}")
        args = [a for a in get_args(tp) if a is not Ellipsis]
        inner = args[0] if args else Any
        return [coerce(f"{name}[{i}]", item, inner) for i, item in enumerate(value)]
    if tp is NoneType:
        if value is not None:
            raise TypeError(f"{name} must be None, got {short(value)}")
        return None
    checker = _SCALARS.get(tp)
    if checker is None:
        raise TypeError(f"{name}: unsupported declared type {tp!r}")
    return checker(name, value)


def _outer(tp: Any) -> type | tuple[type, ...]:
    """The Python type(s) a value of declared type ``tp`` is an instance of."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _outer(get_args(tp)[0])
    if origin in (list, tuple):
        return (list, tuple)
    if origin in (Union, types.UnionType):
        return tuple(t for a in get_args(tp) for t in _as_tuple(_outer(a)))
    return tp if isinstance(tp, type) else object


def _as_tuple(t: type | tuple[type, ...]) -> tuple[type, ...]:
    return t if isinstance(t, tuple) else (t,)


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {short(value)}")
    return value


def _float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {short(value)}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__} {short(value)}")
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false, got {type(value).__name__} {short(value)}")
    return value


def _bytes(name: str, value: Any) -> bytes:
    """Bytes, or serpent's ``{"data": ..., "encoding": "base64"}`` form from plain clients."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict) and value.get("encoding") == "base64" and set(value) == {
        "data",
        "encoding",
    }:
        data = value["data"]
        if isinstance(data, str):
            try:
                return base64.b64decode(data.encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError):
                raise ValueError(f"{name}: the base64 data is not valid base64") from None
    raise TypeError(f"{name} must be bytes, got {type(value).__name__} {short(value)}")


_SCALARS: dict[Any, Callable[[str, Any], Any]] = {
    int: _int,
    float: _float,
    str: _str,
    bool: _bool,
    bytes: _bytes,
}


@dataclass(frozen=True)
class Param:
    name: str
    annotation: Any
    default: Any = inspect.Parameter.empty

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"name": self.name, "type": type_name(self.annotation)}
        info["required"] = self.required
        if not self.required:
            info["default"] = self.default
        return info


class Signature:
    """The declared parameters of one command and the check of a call against them."""

    def __init__(self, func: Callable[..., Any]):
        sig = inspect.signature(func)
        hints = get_type_hints(func, include_extras=True)
        params = list(sig.parameters.values())
        if params and params[0].name == "self":
            params = params[1:]
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{func.__qualname__}: commands take named parameters only")
        self.params = [Param(p.name, hints.get(p.name, p.annotation), p.default) for p in params]
        self._names = [p.name for p in self.params]
        self._sig = inspect.Signature(
            [
                inspect.Parameter(p.name, _POSITIONAL_OR_KEYWORD, default=p.default)
                for p in self.params
            ]
        )

    def __str__(self) -> str:
        parts = []
        for p in self.params:
            text = f"{p.name}: {type_name(p.annotation)}"
            if not p.required:
                text += f" = {p.default!r}"
            parts.append(text)
        return f"({', '.join(parts)})"

    def bind(self, command: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Checked keyword arguments for a call, or a builtin error naming what is accepted."""
        if not self.params and not args and not kwargs:
            return {}  # the common read (get_color, get_score): nothing to check
        unknown = sorted(set(kwargs) - {p.name for p in self.params})
        if unknown:
            accepted = ", ".join(p.name for p in self.params) or "none"
            raise TypeError(
                f"{command}{self}: got an unexpected keyword argument {unknown[0]!r}; "
                f"accepted: {accepted}"
            )
        if not kwargs and len(args) <= len(self.params):  # the usual positional call
            given = dict(zip(self._names, args, strict=False))
        else:
            try:
                given = self._sig.bind(*args, **kwargs).arguments
            except TypeError as exc:
                raise TypeError(f"{command}{self}: {exc}") from None
        checked = {}
        for p in self.params:
            if p.name not in given:
                if p.required:
                    raise TypeError(
                        f"{command}{self}: missing a required argument: {p.name!r}"
                    )
                checked[p.name] = p.default
                continue
            value = given[p.name]
            if not p.required and value is p.default:
                checked[p.name] = value
                continue
            try:
                checked[p.name] = coerce(p.name, value, p.annotation)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{command}: {exc}") from None
        return checked
