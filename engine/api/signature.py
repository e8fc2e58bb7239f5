"""A command's declared parameters, checked once when declared and on every call.

``Signature.bind`` turns a caller's arguments into checked keyword arguments or a builtin
error naming the command, the parameter and what it accepts.
"""

from __future__ import annotations

import inspect
import logging
import types
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

from engine.api.constraints import Choices, Convert, Length, Printable, Range
from engine.api.validation import (
    DEFAULT_LENGTH,
    SUPPORTED,
    Checker,
    _tuple_items,
    check_type,
    checker,
    type_name,
)
from engine.base.text import short

log = logging.getLogger(__name__)
_POSITIONAL_OR_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD


@dataclass(frozen=True)
class Param:
    name: str
    annotation: Any
    default: Any = inspect.Parameter.empty

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty

    def describe(self) -> dict[str, Any]:
        """What ``commands()`` shows: name, type, required, default and limits."""
        info: dict[str, Any] = {"name": self.name, "type": type_name(self.annotation)}
        info["required"] = self.required
        if not self.required:  # an enum default by name, as its choices are listed
            info["default"] = self.default.name if isinstance(self.default, Enum) else self.default
        info["limits"] = limits(self.annotation)
        return info


_BUILTIN_CHECKS = (Range, Length, Printable, Convert)


def limits(tp: Any, bounded: bool = False) -> dict[str, Any]:
    """A declared type's bounds as plain data, so a CLI, a shell's help or a web form can show
    (and check) them before calling: ``min``/``max`` (Range), ``min_length``/``max_length``
    (Length, or the default length of an undeclared ``str``, ``bytes`` or list), ``choices``
    (Literal, Enum), ``printable``, ``items`` (the limits of a list's items, or of a tuple's
    positions), whatever a plugin's own check returns from ``limits()``, and its
    ``describe()`` text under ``rules``."""
    origin = get_origin(tp)
    if origin is Annotated:
        base, *metas = get_args(tp)
        out = limits(base, bounded or any(isinstance(m, Length) for m in metas))
        for meta in metas:
            shown = getattr(meta, "limits", None)
            if shown is not None:
                out.update(shown())
            describe = getattr(meta, "describe", None)
            if describe is not None and not isinstance(meta, _BUILTIN_CHECKS):
                out.setdefault("rules", []).append(describe())
        return out
    if origin in (Union, types.UnionType):
        out = {}
        for option in get_args(tp):
            for key, value in limits(option, bounded).items():
                out.setdefault(key, value)
        return out
    choices = Choices.of(tp)
    if choices is not None:
        return choices.limits()
    if origin in (list, tuple) or tp in (list, tuple):
        items, variable = _tuple_items(tp) if origin is tuple or tp is tuple else (
            [get_args(tp)[0] if get_args(tp) else Any], True)
        out = {} if bounded or not variable else {"max_length": DEFAULT_LENGTH[list]}
        each = [limits(item) for item in items]
        if any(each):
            out["items"] = each[0] if variable else each
        return out
    if tp in (str, bytes) and not bounded:
        return {"max_length": DEFAULT_LENGTH[tp]}
    return {}


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
            if p.annotation is p.empty:
                raise TypeError(
                    f"command {func.__qualname__}: parameter {p.name!r} has no type annotation: "
                    "declare its type, Any to accept anything on purpose; supported types: "
                    f"{SUPPORTED}"
                )
        self._declared = params
        self._names = [p.name for p in params]
        self._sig = inspect.Signature(
            [inspect.Parameter(p.name, _POSITIONAL_OR_KEYWORD, default=p.default) for p in params]
        )
        self._params: list[Param] | None = None
        self._checks: list[Checker] = []
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
        self._checks = [checker(p.annotation) for p in params]  # worked out once, not per call
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
        unknown = sorted(set(kwargs) - set(self._names)) if kwargs else ()
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
        for p, check in zip(params, self._checks, strict=True):
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
                checked[p.name] = check(p.name, value)
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
