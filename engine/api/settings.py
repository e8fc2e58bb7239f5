"""Plugin settings: what a mode's or behaviour's ``[plugins.<name>]`` table may hold.

A plugin declares its table once, typed, with defaults and a line of help each::

    class Timer(Mode):
        name = "timer"
        settings = {
            "bell_seconds": Setting(float, 1.0, "How long the bell rings.", Range(0, 60)),
        }

and reads ``self.config["bell_seconds"]``: a float, the default when the file has none. The
node refuses to start with a wrong value or an unknown key (``pyrostage config check`` says
the same), and ``pyrostage config example`` shows the table. Types are the ones a command
parameter may declare (``int``, ``float``, ``str``, ``bool``, ``list[X]``, ``Literal[...]``)
and ``date``; checks are the commands' own (``Range``, ``Length``, a ``Literal`` for choices).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, get_args, get_origin

from engine.api.constraints import Choices, Convert, Length
from engine.api.validation import check_type, coerce
from engine.base.config import entry, refusal
from engine.base.text import short

KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def _day(value: Any) -> date:
    """A TOML date (``2027-08-14``, unquoted) or the same as a string."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    raise TypeError(f"a date is written like 2027-08-14, got {short(value)}")


DATE = Convert(_day, "date")
_PLURAL = {int: "integers", float: "numbers", str: "strings", bool: "true or false values",
           date: "dates"}
_SINGLE = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
           date: "a date like 2027-08-14"}


def _accepts(tp: Any, checks: tuple[Any, ...]) -> str:
    """A setting's type and checks in words: "a number between 0 and 60"."""
    choices = Choices.of(tp)
    if choices is not None:
        phrase = choices.describe()
    elif get_origin(tp) is list:
        (item,) = get_args(tp) or (Any,)
        phrase = f"a list of {_PLURAL.get(item, 'values')}"
    else:
        phrase = _SINGLE.get(tp, getattr(tp, "__name__", str(tp)))
    for check in checks:
        if isinstance(check, Length):
            said = check.describe("characters" if tp is str else "items")
        else:
            said = check.describe() if callable(getattr(check, "describe", None)) else ""
        phrase += f" {said}" if said else ""
    return phrase


class Setting:
    """One key of a plugin's table: its type, default, a line of help and the checks it must
    pass (``Range``, ``Length`` or any object with ``check(name, value)``). A default of None
    means unset: ``self.config`` holds None unless the file gives a value, and ``example``
    is what ``config example`` shows for it."""

    def __init__(self, type: Any, default: Any, doc: str = "", *checks: Any,
                 example: Any = None, accepts: str = ""):
        self.type = type
        self.default = default
        self.doc = doc
        self.checks = checks
        self.example = example
        base = Annotated[Any, DATE] if type is date else type
        self.declared: Any = Annotated[(base, *checks)] if checks else base
        self.accepts = accepts or _accepts(type, checks)

    def __repr__(self) -> str:
        return f"Setting({getattr(self.type, '__name__', self.type)}, {self.default!r})"

    def check(self, where: str, value: Any) -> Any:
        """The value as the plugin gets it, or ``ValueError`` saying what ``where`` accepts."""
        try:
            return coerce(where, value, self.declared, bounded=True)
        except (TypeError, ValueError) as exc:
            detail = str(exc).removeprefix(where).strip(" :")
            detail = "" if detail.startswith("must be") else detail
            raise ValueError(refusal(where, self.accepts, value, detail)) from None


def declared(cls: type) -> dict[str, Setting] | None:
    """``cls.settings`` checked as the class registers (``TypeError`` saying what is wrong);
    None when it declares none, and its table then reaches it unchecked."""
    settings = getattr(cls, "settings", None)
    if settings is None:
        return None
    what = f"{cls.__name__}.settings"
    if not isinstance(settings, Mapping):
        raise TypeError(f"{what} must be a dict of name -> Setting, got {short(settings)}")
    for key, setting in settings.items():
        if not isinstance(key, str) or not KEY.match(key):
            raise TypeError(f"{what}: {short(key)} is not a setting name (lowercase letters, "
                            "digits and _, starting with a letter)")
        if not isinstance(setting, Setting):
            raise TypeError(f"{what}[{key!r}] must be a Setting(type, default, doc, ...), "
                            f"got {short(setting)}")
        try:
            check_type(setting.declared)
        except TypeError as exc:
            raise TypeError(f"{what}[{key!r}]: {exc}") from None
        for value, role in ((setting.default, "default"), (setting.example, "example")):
            if value is not None:
                try:
                    setting.check(key, value)
                except ValueError as exc:
                    raise TypeError(f"{what}[{key!r}]: its {role} is refused: {exc}") from None
    return dict(settings)


def table(name: str, settings: Mapping[str, Setting], raw: Mapping[str, Any]
          ) -> tuple[dict[str, Any], list[str]]:
    """``[plugins.<name>]`` as the plugin reads it: every declared key typed, defaults filled;
    and one line for each thing that is wrong (an unknown key, a refused value)."""
    out = {key: setting.default for key, setting in settings.items()}
    problems = []
    for key, value in raw.items():
        where = f"[plugins.{name}] {key}"
        setting = settings.get(key)
        if setting is None:
            has = ", ".join(settings) or "no settings"
            problems.append(f"{where} is not a setting; [plugins.{name}] has {has}")
            continue
        try:
            out[key] = setting.check(where, value)
        except ValueError as exc:
            problems.append(str(exc))
    return out, problems


def example_table(name: str, settings: Mapping[str, Setting], doc: str = "") -> list[str]:
    """``[plugins.<name>]`` for ``config example``: each setting, commented, with its default."""
    lines = [f"[plugins.{name}]"] + ([f"# {doc}"] if doc else [])
    for key, setting in settings.items():
        unset = setting.default is None
        value = _toml(setting.example if unset else setting.default)
        if value is None:
            lines.append(f"# {key}: {setting.doc} Accepts {setting.accepts}; unset by default.")
        else:
            lines += entry(key, value, setting.doc, setting.accepts, commented=unset)
        lines.append("")
    return lines


def _toml(value: Any) -> Any:
    """A value as TOML writes it (a tuple as a list, an enum as its name)."""
    if isinstance(value, tuple):
        return [_toml(v) for v in value]
    if hasattr(value, "name") and hasattr(value, "value") and not isinstance(value, str):
        return value.name
    return value


