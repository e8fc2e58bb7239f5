"""A command's declared parameters, checked once when declared and on every call.

``Signature.bind`` turns a caller's arguments into checked keyword arguments or a builtin
error naming the command, the parameter and what it accepts.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from engine.api.validation import SUPPORTED, check_type, coerce, type_name
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
