"""Typed words -> the values a command declares, so ``add_points -5`` is -5 and
``set_team 2024`` the text "2024": what the CLI, the shell and the web form send.

The node's ``commands()`` names each parameter's type; this module turns what a person typed
into that type (or a clear ``ValueError`` naming what was expected), before anything is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_BOOL = {"true": True, "yes": True, "on": True, "1": True,
         "false": False, "no": False, "off": False, "0": False}
_SCALARS = ("int", "float", "bool", "str", "bytes", "any")


def convert_text(type_name: str, text: str) -> Any:
    """Typed text -> the value a command declares: ``add_points -5`` is -5, a team "2024".

    Lists and tuples are typed ``1,2,3``, ``[1,2,3]`` or ``[1, 2, 3]``. For a union such as
    ``str | list[int]`` the first kind the text parses as wins, text kinds last. A kind the
    node converts itself (e.g. ``color``) gets the text, or the list when it is bracketed.
    """
    options = [o.strip() for o in type_name.split("|")]
    if "None" in options and text.strip().lower() in ("none", "null", ""):
        return None
    kinds = [o for o in options if o != "None"] or ["str"]
    if len(kinds) == 1:
        return _convert(kinds[0], text)
    text_like = ("str", "any", "choice")  # tried last; sorted() keeps the declared order
    for kind in sorted(kinds, key=lambda k: k in text_like):
        try:
            return _convert(kind, text)
        except ValueError:
            pass
    raise ValueError(f"expected {' or '.join(kinds)}, got {_quote(text)}")


def _convert(kind: str, text: str) -> Any:
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected an integer, got {_quote(text)}") from None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {_quote(text)}") from None
    if kind == "bool":
        try:
            return _BOOL[text.strip().lower()]
        except KeyError:
            raise ValueError(f"expected true or false, got {_quote(text)}") from None
    if kind == "bytes":
        path = Path(text.removeprefix("@")).expanduser()
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ValueError(f"expected a file to send, cannot read {_quote(text)}: {exc}"
                             ) from None
    if kind.startswith(("list[", "tuple[")):
        return _sequence(kind, text)
    if kind not in _SCALARS and _bracketed(text):  # a kind the node converts, e.g. a colour
        return [_scalar(item) for item in _items(text)]
    return text


def _sequence(kind: str, text: str) -> list[Any]:
    """``1,2,3`` or ``[1, 2, 3]`` for ``list[int]``, ``tuple[int, ...]`` or ``tuple[int, str]``."""
    parts = _items(text)
    inner = [t.strip() for t in kind[kind.index("[") + 1:-1].split(",")]
    if kind.startswith("list[") or inner[-1] == "...":
        return [_convert(inner[0], part) for part in parts]
    if len(parts) != len(inner):
        raise ValueError(f"expected {len(inner)} comma-separated values, got {_quote(text)}")
    return [_convert(t, part) for t, part in zip(inner, parts, strict=True)]


def _bracketed(text: str) -> bool:
    text = text.strip()
    return text[:1] + text[-1:] in ("[]", "()")


def _items(text: str) -> list[str]:
    """``1,2,3``, ``[1,2,3]`` or ``[1, 2, 3]`` -> ["1", "2", "3"] (quotes around items go)."""
    text = text.strip()
    if _bracketed(text):
        text = text[1:-1]
    items = [part.strip() for part in text.split(",")]
    return [item[1:-1] if item[:1] + item[-1:] in ('""', "''") else item
            for item in items if item]


def _scalar(item: str) -> Any:
    for kind in (int, float):
        try:
            return kind(item)
        except ValueError:
            pass
    return item


def _quote(text: str) -> str:
    """Typed text in an error message, cut to a readable length."""
    return repr(text) if len(text) <= 60 else repr(text[:57]) + "..."


def _join_brackets(texts: list[str]) -> list[str]:
    """Words the shell split inside brackets back into one: ``[10,`` ``20,`` ``30]``."""
    out: list[str] = []
    open_ = False
    for text in texts:
        if open_:
            out[-1] += " " + text
        else:
            out.append(text)
        if out[-1].lstrip().startswith(("[", "(")):
            open_ = not out[-1].rstrip().endswith(("]", ")"))
    return out


def convert_words(
    command: str, signature: str, params: list[tuple[str, str]], texts: list[str]
) -> list[Any]:
    texts = _join_brackets(texts)
    if len(texts) > len(params):
        raise TypeError(f"{command}{signature} takes {len(params)} argument(s), got {len(texts)}")
    out = []
    for (name, type_name), text in zip(params, texts, strict=False):
        try:
            out.append(convert_text(type_name, text))
        except ValueError as exc:
            raise ValueError(f"{command}: {name}: {exc}") from None
    return out
