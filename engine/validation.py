"""Arguments checked against a command's type hints, so no command validates by hand.

A command declares ``points: Annotated[int, Range(-999_999, 999_999)]`` and every caller —
a Pyro client, the CLI, the web page, a button — gets the same clear builtin error for a
wrong type or an out-of-range value before the command body runs.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import logging
import math
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

log = logging.getLogger(__name__)

NoneType = type(None)
_POSITIONAL_OR_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD
SUPPORTED = (
    "int, float, str, bool, bytes, None, Any (or no annotation), list[X], tuple[X, Y], "
    "tuple[X, ...], X | Y (Optional[X]) and Annotated[X, Range/Length/Printable/Convert]"
)


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


def _tuple_items(tp: Any) -> tuple[list[Any], bool]:
    """The item types of a tuple type and whether it is ``tuple[X, ...]`` (any length)."""
    args = get_args(tp)
    if not hasattr(tp, "__args__"):  # plain ``tuple`` or ``typing.Tuple``, not ``tuple[()]``
        return [Any], True
    if len(args) == 2 and args[1] is Ellipsis:
        return [args[0]], True
    return list(args), False


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
    if tp is inspect.Parameter.empty or tp is Any or tp is NoneType or tp in (list, tuple):
        return
    if isinstance(tp, type) and tp in _SCALARS:
        return
    origin = get_origin(tp)
    args = get_args(tp)
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
    return None  # a Convert (or a plugin's own check) may hand on any kind of value


# -- what a declaration lets a caller send ------------------------------------------------


@dataclass(frozen=True)
class WireCost:
    """The most a value of a declared type can take in a serpent message."""

    size: int
    items: int
    depth: int

    def __add__(self, other: WireCost) -> WireCost:
        return WireCost(self.size + other.size, self.items + other.items,
                        max(self.depth, other.depth))

    def most(self, other: WireCost) -> WireCost:
        return WireCost(max(self.size, other.size), max(self.items, other.items),
                        max(self.depth, other.depth))


UNKNOWN_COST = WireCost(64 * 1024, 2_000, 8)
"""What an ``Any`` parameter (or a conversion's raw input) is allowed."""
_SCALAR_COST = {int: WireCost(4302, 4, 0), float: WireCost(32, 4, 0),
                bool: WireCost(5, 1, 0), NoneType: WireCost(4, 1, 0)}


def wire_cost(tp: Any, length: int | None = None) -> WireCost:
    """How large, how many items and how deep a value of ``tp`` can be on the wire (serpent
    escapes a character in at most 10 bytes and sends bytes as a base64 dict)."""
    if tp is inspect.Parameter.empty or tp is Any:
        return UNKNOWN_COST
    origin = get_origin(tp)
    if origin is Annotated:
        base, *metas = get_args(tp)
        bounds = [m.hi for m in metas if isinstance(m, Length) and m.hi is not None]
        ranges = [m for m in metas if isinstance(m, Range) and None not in (m.lo, m.hi)]
        if ranges and base in (int, float):
            widest = max(max(abs(r.lo), abs(r.hi)) for r in ranges)  # type: ignore[arg-type]
            return WireCost(len(str(int(widest))) + (2 if base is int else 26), 4, 0)
        return wire_cost(base, min(bounds) if bounds else length)
    if origin in (Union, types.UnionType):
        cost = WireCost(0, 0, 0)
        for option in get_args(tp):
            cost = cost.most(wire_cost(option, length))
        return cost
    if origin in (list, tuple) or tp in (list, tuple):
        items, variable = _tuple_items(tp) if origin is tuple or tp is tuple else (
            [get_args(tp)[0] if get_args(tp) else Any], True)
        if variable:
            n = length if length is not None else DEFAULT_LENGTH[list]
            inner = wire_cost(items[0])
            return WireCost(2 + n * (inner.size + 2), 1 + n * (inner.items + 1), inner.depth + 1)
        total = WireCost(2, 1, 0)
        for item in items:
            total = total + wire_cost(item) + WireCost(2, 1, 0)
        return WireCost(total.size, total.items, total.depth + 1)
    if tp is str:
        n = length if length is not None else DEFAULT_LENGTH[str]
        return WireCost(2 + 10 * n, 1, 0)
    if tp is bytes:
        n = length if length is not None else DEFAULT_LENGTH[bytes]
        return WireCost(48 + 4 * (n // 3 + 1), 9, 1)
    return _SCALAR_COST.get(tp, UNKNOWN_COST)


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


def coerce(name: str, value: Any, tp: Any, bounded: bool = False) -> Any:
    """Return ``value`` checked (and normalised) against ``tp``, or raise a builtin error.

    ``bounded``: an ``Annotated`` Length bounds this value, so the default length does not.
    """
    if tp is inspect.Parameter.empty or tp is Any:
        return value
    origin = get_origin(tp)
    if origin is Annotated:
        base, *metas = get_args(tp)
        try:
            value = coerce(name, value, base, any(isinstance(m, Length) for m in metas))
        except (TypeError, ValueError) as exc:
            ranges = [m.describe() for m in metas if isinstance(m, Range)]
            if not ranges or base not in (int, float):
                raise
            raise type(exc)(f"{exc}; accepted: {' and '.join(ranges)}") from None
        if value is None:  # None was declared (Optional): the checks are for values
            return None
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
                return coerce(name, value, option, bounded)
            except TypeError:
                if isinstance(value, _outer(option)):
                    raise  # the right kind of value with a wrong part: say which part
        raise TypeError(
            f"{name} must be {type_name(tp).replace('|', ' or ')}, "
            f"got {type(value).__name__} {short(value)}"
        )
    if origin is list or tp is list:
        if not isinstance(value, list | tuple):
            raise TypeError(f"{name} must be a list, got {type(value).__name__} {short(value)}")
        if not bounded:
            _default_length(name, value, list)
        args = get_args(tp)
        inner = args[0] if args else Any
        return [coerce(f"{name}[{i}]", item, inner) for i, item in enumerate(value)]
    if origin is tuple or tp is tuple:
        return _tuple(name, value, tp, bounded)
    if tp is NoneType:
        if value is not None:
            raise TypeError(f"{name} must be None, got {short(value)}")
        return None
    checker = _SCALARS.get(tp)
    if checker is None:
        raise TypeError(f"{name}: unsupported declared type {tp!r}")
    checked = checker(name, value)
    if not bounded and tp in DEFAULT_LENGTH:
        _default_length(name, checked, tp)
    return checked


def _tuple(name: str, value: Any, tp: Any, bounded: bool = False) -> tuple[Any, ...]:
    """A fixed-length tuple checked position by position, or ``tuple[X, ...]`` item by item."""
    items, variable = _tuple_items(tp)
    if variable:
        if not isinstance(value, list | tuple):
            raise TypeError(
                f"{name} must be a list of {type_name(items[0])}, "
                f"got {type(value).__name__} {short(value)}"
            )
        if not bounded:
            _default_length(name, value, list)
        return tuple(coerce(f"{name}[{i}]", item, items[0]) for i, item in enumerate(value))
    expected = f"{len(items)} item{'s' if len(items) != 1 else ''} ({type_name(tp)})"
    if not isinstance(value, list | tuple):
        raise TypeError(
            f"{name} must be a list of {expected}, got {type(value).__name__} {short(value)}"
        )
    if len(value) != len(items):
        raise ValueError(f"{name} must have exactly {expected}, got {len(value)}: {short(value)}")
    pairs = enumerate(zip(value, items, strict=True))
    return tuple(coerce(f"{name}[{i}]", item, kind) for i, (item, kind) in pairs)


def _outer(tp: Any) -> type | tuple[type, ...]:
    """The Python type(s) a value of declared type ``tp`` is an instance of."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _outer(get_args(tp)[0])
    if origin in (list, tuple) or tp in (list, tuple):
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
    """The declared parameters of one command and the check of a call against them.

    Every parameter's type is checked when the command is declared, so a plugin that declares
    one validation cannot check fails as it loads, not on each call. A type hint that names
    something not defined yet (``from __future__ import annotations`` with a later alias) is
    resolved on first use instead; ``resolve()`` does that and the registry calls it when the
    plugin registers, so such a plugin still fails there rather than at its first call.
    """

    def __init__(self, func: Callable[..., Any]):
        self.func = func
        sig = inspect.signature(func)
        params = list(sig.parameters.values())
        if params and params[0].name == "self":
            params = params[1:]
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{func.__qualname__}: commands take named parameters only")
        self._declared = params
        self._names = [p.name for p in params]
        self._sig = inspect.Signature(
            [inspect.Parameter(p.name, _POSITIONAL_OR_KEYWORD, default=p.default) for p in params]
        )
        self._params: list[Param] | None = None
        try:
            hints = get_type_hints(func, include_extras=True)
        except Exception:  # a forward reference not defined yet: resolve() tries again later
            return
        self._params = self._checked(hints)

    def resolve(self) -> list[Param]:
        """The parameters with their types resolved and checked; ``TypeError`` if they cannot
        be (a name that is still undefined, or a type validation cannot check)."""
        if self._params is None:
            try:
                hints = get_type_hints(self.func, include_extras=True)
            except Exception as exc:
                raise TypeError(
                    f"command {self.func.__qualname__}: its type hints cannot be resolved "
                    f"({type(exc).__name__}: {exc}); supported types: {SUPPORTED}"
                ) from None
            self._params = self._checked(hints)
        return self._params

    @property
    def params(self) -> list[Param]:
        return self._params if self._params is not None else self.resolve()

    def _checked(self, hints: dict[str, Any]) -> list[Param]:
        params = []
        for p in self._declared:
            annotation = hints.get(p.name, p.annotation)
            try:
                check_type(annotation)
            except TypeError as exc:
                raise TypeError(
                    f"command {self.func.__qualname__}: parameter {p.name!r}: {exc}; "
                    f"supported types: {SUPPORTED}"
                ) from None
            params.append(Param(p.name, annotation, p.default))
        return params

    def __str__(self) -> str:
        parts = []
        for p in self.params:
            text = f"{p.name}: {type_name(p.annotation)}"
            if not p.required:
                text += f" = {p.default!r}"
            parts.append(text)
        return f"({', '.join(parts)})"

    def bind(self, command: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Checked keyword arguments for a call, or a builtin error naming what is accepted.

        Only ``TypeError`` and ``ValueError`` leave here, each naming the command: a check
        that fails some other way (a plugin's converter with a bug) is reported as refusing
        the value, and logged on the node.
        """
        params = self.params
        if not params and not args and not kwargs:
            return {}  # the common read (get_color, get_score): nothing to check
        unknown = sorted(set(kwargs) - set(self._names))
        if unknown:
            accepted = ", ".join(self._names) or "none"
            raise TypeError(
                f"{command}{self}: got an unexpected keyword argument {short(unknown[0])}; "
                f"accepted: {accepted}"
            )
        if not kwargs and len(args) <= len(params):  # the usual positional call
            given = dict(zip(self._names, args, strict=False))
        else:
            try:
                given = self._sig.bind(*args, **kwargs).arguments
            except TypeError as exc:
                raise TypeError(f"{command}{self}: {exc}") from None
        checked = {}
        for p in params:
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
            except TypeError as exc:
                raise TypeError(f"{command}: {exc}") from None
            except ValueError as exc:
                raise ValueError(f"{command}: {exc}") from None
            except Exception as exc:
                log.warning("%s: checking %s raised %s", command, p.name, type(exc).__name__,
                            exc_info=True)
                wrong = TypeError if isinstance(exc, AttributeError) else ValueError
                raise wrong(
                    f"{command}: {p.name} was refused ({type(exc).__name__}: {exc}); "
                    f"accepted: {type_name(p.annotation)}, got {type(value).__name__} "
                    f"{short(value)}"
                ) from None
        return checked

