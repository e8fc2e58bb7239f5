"""Arguments checked against a command's type hints, so no command validates by hand.

A command declares ``points: Annotated[int, Range(-999_999, 999_999)]`` and every caller —
a Pyro client, the CLI, the web page, a button — gets the same clear builtin error for a
wrong type or an out-of-range value before the command body runs.
"""

from __future__ import annotations

import base64
import binascii
import enum
import inspect
import math
import types
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from engine.api.constraints import (
    CHOICE_KINDS,
    Choices,
    Convert,
    Length,
    Printable,
    Range,
    check_shown,
)
from engine.base.text import short

NoneType = type(None)
SUPPORTED = (
    "int, float, str, bool, bytes, None, Any, list[X], tuple[X, Y], tuple[X, ...], "
    "X | Y (Optional[X]), Literal[...] of str/int/bool, an enum.Enum, and "
    "Annotated[X, Range/Length/Printable/Convert or an object with check(name, value)]"
)


def _tuple_items(tp: Any) -> tuple[list[Any], bool]:
    """The item types of a tuple type and whether it is ``tuple[X, ...]`` (any length)."""
    args = get_args(tp)
    if not hasattr(tp, "__args__"):  # plain ``tuple`` or ``typing.Tuple``, not ``tuple[()]``
        return [Any], True
    if len(args) == 2 and args[1] is Ellipsis:
        return [args[0]], True
    return list(args), False


def type_name(tp: Any) -> str:
    """A short, stable name for a declared type: what clients convert typed text by
    (``choice``: send the text of one of the ``choices`` the parameter's limits list)."""
    if tp is inspect.Parameter.empty or tp is Any:
        return "any"
    if Choices.of(tp) is not None:
        return "choice"
    origin = get_origin(tp)
    if origin is Annotated:
        base, *metas = get_args(tp)
        for meta in metas:
            if isinstance(meta, Convert):
                return meta.type_name
        return type_name(base)
    if origin in (Union, types.UnionType):
        return "|".join(type_name(a) for a in get_args(tp))
    if origin is list or tp is list:
        args = get_args(tp)
        return f"list[{type_name(args[0]) if args else 'any'}]"
    if origin is tuple or tp is tuple:
        items, variable = _tuple_items(tp)
        if variable:
            return f"tuple[{type_name(items[0])}, ...]"
        return f"tuple[{', '.join(type_name(t) for t in items) or '()'}]"
    if tp is NoneType:
        return "None"
    return getattr(tp, "__name__", str(tp))


# -- what a declaration may use, checked when the command is declared ---------------------


def check_type(tp: Any) -> None:
    """Raise ``TypeError`` saying which part of declared type ``tp`` cannot be checked."""
    if tp is inspect.Parameter.empty:
        raise TypeError("no type annotation: declare its type (Any accepts anything)")
    if tp is Any or tp is NoneType or tp in (list, tuple):
        return
    if isinstance(tp, type) and tp in _SCALARS:
        return
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is Literal:
        wrong = [v for v in args if type(v) not in CHOICE_KINDS]
        if wrong:
            hint = "; write Literal[...] | None for an optional choice" if None in wrong else ""
            raise TypeError(
                f"{tp!r}: Literal values may be str, int or bool, not {short(wrong[0])}{hint}"
            )
        return
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if not len(tp):
            raise TypeError(f"enum {tp.__name__} has no members to choose from")
        return
    if origin is Annotated:
        base, *metas = args
        check_type(base)
        kinds: set[type] | None = _kinds(base)
        for meta in metas:
            kinds = _check_meta(meta, kinds, base)
        return
    if origin in (Union, types.UnionType):
        for option in args:
            check_type(option)
        return
    if origin is list and len(args) <= 1:  # list[X], or typing.List
        check_type(args[0] if args else Any)
        return
    if origin is tuple:
        items, _variable = _tuple_items(tp)
        for item in items:
            if item is Ellipsis:
                raise TypeError(f"{tp!r}: '...' may only follow a single item type")
            check_type(item)
        return
    raise TypeError(f"{_shown(tp)} is not a type a command can declare")


def _shown(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) and get_origin(tp) is None else repr(tp)


def _kinds(tp: Any) -> set[type] | None:
    """The Python types a value of ``tp`` (other than None) can be; None = cannot tell."""
    if tp is inspect.Parameter.empty or tp is Any:
        return None
    origin = get_origin(tp)
    if origin is Annotated:
        base, *metas = get_args(tp)
        if any(not isinstance(m, Range | Length | Printable) for m in metas):
            return None  # a conversion may hand on any kind of value
        return _kinds(base)
    if origin in (Union, types.UnionType):
        kinds: set[type] = set()
        for option in get_args(tp):
            inner = _kinds(option)
            if inner is None:
                return None
            kinds |= inner
        return kinds
    if origin is list or tp is list:
        return {list}
    if origin is tuple or tp is tuple:
        return {tuple}
    if origin is Literal:
        return {type(v) for v in get_args(tp)}
    return set() if tp is NoneType else {tp}


_META_KINDS: dict[type, tuple[set[type], str]] = {
    Range: ({int, float}, "numbers (int, float)"),
    Length: ({str, bytes, list, tuple}, "str, bytes, lists and tuples"),
    Printable: ({str}, "str"),
}


def _check_meta(meta: Any, kinds: set[type] | None, base: Any) -> set[type] | None:
    """Check one ``Annotated`` metadata item against the kinds of value that reach it; return
    the kinds the next item sees (None = unknown, after a conversion)."""
    rule = _META_KINDS.get(type(meta))
    if rule is not None:
        allowed, what = rule
        if kinds is not None and not kinds <= allowed:
            raise TypeError(f"{short(meta)} checks {what} only, not {type_name(base)}")
        return kinds
    if not callable(getattr(meta, "check", None)):
        raise TypeError(
            f"Annotated metadata {short(meta)} is not a check: use Range, Length, Printable, "
            "Convert or an object with a check(name, value) method"
        )
    check_shown(meta)
    return None  # a Convert (or a plugin's own check) may hand on any kind of value


# -- checking a value ----------------------------------------------------------------------


DEFAULT_LENGTH: dict[type, int] = {str: 10_000, bytes: 1_000_000, list: 1_000}
"""How long a ``str``, ``bytes`` or list/``tuple[X, ...]`` argument may be when its command
declares no ``Length``: the largest call a node accepts follows from its commands."""


def _default_length(name: str, value: Any, kind: type) -> None:
    limit = DEFAULT_LENGTH[kind]
    if len(value) > limit:
        what = "characters" if kind is str else "bytes" if kind is bytes else "items"
        raise ValueError(
            f"{name} must have at most {limit} {what} (declare a Length to accept more), "
            f"got {len(value)}"
        )


Checker = Callable[[str, Any], Any]
"""``check(name, value)``: the value checked (and normalised), or a builtin error naming
``name``."""


def coerce(name: str, value: Any, tp: Any, bounded: bool = False) -> Any:
    """Return ``value`` checked (and normalised) against ``tp``, or raise a builtin error.

    ``bounded``: an ``Annotated`` Length bounds this value, so the default length does not.
    """
    return checker(tp, bounded)(name, value)


def checker(tp: Any, bounded: bool = False) -> Checker:
    """The check of declared type ``tp``, worked out once per type: every call of a command
    checks its arguments against the same few types, so the type is taken apart here, not
    on each call."""
    try:
        hash(tp)
    except TypeError:  # e.g. Annotated with a plugin's unhashable check: made each time
        return _compile(tp, bounded)
    return _compiled(tp, bounded)


@lru_cache(maxsize=1024)
def _compiled(tp: Any, bounded: bool) -> Checker:
    return _compile(tp, bounded)


def _anything(name: str, value: Any) -> Any:
    return value


def _compile(tp: Any, bounded: bool) -> Checker:
    if tp is inspect.Parameter.empty or tp is Any:
        return _anything
    origin = get_origin(tp)
    if origin is Annotated:
        return _annotated(tp)
    if origin in (Union, types.UnionType):
        return _union(tp, bounded)
    if origin is list or tp is list:
        return _list(tp, bounded)
    if origin is tuple or tp is tuple:
        return _tuple(tp, bounded)
    choices = Choices.of(tp)
    if choices is not None:
        return choices.check
    if tp is NoneType:
        return _none
    scalar = _SCALARS.get(tp)
    if scalar is None:
        def unsupported(name: str, value: Any) -> Any:
            raise TypeError(f"{name}: unsupported declared type {tp!r}")
        return unsupported
    if bounded or tp not in DEFAULT_LENGTH:
        return scalar

    def sized(name: str, value: Any) -> Any:
        checked = scalar(name, value)
        _default_length(name, checked, tp)
        return checked
    return sized


def _annotated(tp: Any) -> Checker:
    base, *metas = get_args(tp)
    inner = checker(base, any(isinstance(m, Length) for m in metas))
    ranges = [m.describe() for m in metas if isinstance(m, Range)]
    explain = " and ".join(ranges) if ranges and base in (int, float) else None
    checks = [m.check for m in metas if hasattr(m, "check")]

    def annotated(name: str, value: Any) -> Any:
        try:
            value = inner(name, value)
        except (TypeError, ValueError) as exc:
            if explain is None:
                raise
            raise type(exc)(f"{exc}; accepted: {explain}") from None
        if value is None:  # None was declared (Optional): the checks are for values
            return None
        for check in checks:
            value = check(name, value)
        return value
    return annotated


def _union(tp: Any, bounded: bool) -> Checker:
    options = get_args(tp)
    nullable = NoneType in options
    tries = [(checker(o, bounded), _outer(o)) for o in options if o is not NoneType]
    expected = type_name(tp).replace("|", " or ")

    def union(name: str, value: Any) -> Any:
        if value is None and nullable:
            return None
        refused: ValueError | None = None
        for check, outer in tries:
            try:
                return check(name, value)
            except TypeError:
                if isinstance(value, outer):
                    raise  # the right kind of value with a wrong part: say which part
            except ValueError as exc:  # e.g. text that is no choice may still fit a later str
                refused = refused or exc
        if refused is not None:
            raise refused
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {short(value)}")
    return union


def _list(tp: Any, bounded: bool) -> Checker:
    args = get_args(tp)
    item = checker(args[0] if args else Any)

    def list_(name: str, value: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise TypeError(f"{name} must be a list, got {type(value).__name__} {short(value)}")
        if not bounded:
            _default_length(name, value, list)
        if item is _anything:
            return list(value)
        return [item(f"{name}[{i}]", v) for i, v in enumerate(value)]
    return list_


def _tuple(tp: Any, bounded: bool) -> Checker:
    """A fixed-length tuple checked position by position, or ``tuple[X, ...]`` item by item."""
    items, variable = _tuple_items(tp)
    if variable:
        item = checker(items[0])
        of = type_name(items[0])

        def tuple_of(name: str, value: Any) -> tuple[Any, ...]:
            if not isinstance(value, list | tuple):
                raise TypeError(
                    f"{name} must be a list of {of}, got {type(value).__name__} {short(value)}"
                )
            if not bounded:
                _default_length(name, value, list)
            return tuple(item(f"{name}[{i}]", v) for i, v in enumerate(value))
        return tuple_of
    expected = f"{len(items)} item{'s' if len(items) != 1 else ''} ({type_name(tp)})"
    checks = [checker(kind) for kind in items]

    def fixed(name: str, value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise TypeError(
                f"{name} must be a list of {expected}, got {type(value).__name__} {short(value)}"
            )
        if len(value) != len(checks):
            raise ValueError(
                f"{name} must have exactly {expected}, got {len(value)}: {short(value)}"
            )
        pairs = enumerate(zip(value, checks, strict=True))
        return tuple(check(f"{name}[{i}]", v) for i, (v, check) in pairs)
    return fixed


def _none(name: str, value: Any) -> None:
    if value is not None:
        raise TypeError(f"{name} must be None, got {short(value)}")
    return None


def _outer(tp: Any) -> type | tuple[type, ...]:
    """The Python type(s) a value of declared type ``tp`` is an instance of."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _outer(get_args(tp)[0])
    if origin in (list, tuple) or tp in (list, tuple):
        return (list, tuple)
    if origin in (Union, types.UnionType):
        return tuple(t for a in get_args(tp) for t in _as_tuple(_outer(a)))
    if origin is Literal:
        return tuple({type(v) for v in get_args(tp)})
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
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range (10**400): not a finite float
        raise ValueError(
            f"{name} must be a finite number, got {short(value)} (too large for a float)"
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


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
