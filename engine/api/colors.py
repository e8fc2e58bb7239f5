"""One colour parser for every plugin: names pygame knows, ``[r, g, b]`` or ``"r,g,b"``.

It reads pygame's colour table as plain data, so it is safe on any thread (it calls no SDL).
"""

from __future__ import annotations

from typing import Annotated, Any

from pygame.colordict import THECOLORS

from engine.api.constraints import Convert, Length
from engine.base.text import short

RGB = tuple[int, int, int]


def _channels(parts: list[Any], original: Any) -> RGB:
    if len(parts) != 3:
        raise ValueError(f"expected 3 values r, g, b, got {len(parts)} in {short(original)}")
    out = []
    for part in parts:
        if isinstance(part, bool) or not isinstance(part, int):
            raise ValueError(f"each of r, g, b must be an integer 0-255, got {part!r}")
        if not 0 <= part <= 255:
            raise ValueError(f"each of r, g, b must be 0-255, got {part}")
        out.append(part)
    return (out[0], out[1], out[2])


def parse_color(value: Any) -> RGB:
    """``"red"``, ``"Dark Green"``, ``"255,0,0"``, ``"#ff0000"`` or ``[255, 0, 0]`` -> (r, g, b)."""
    if isinstance(value, list | tuple):
        return _channels(list(value), value)
    if not isinstance(value, str):
        raise TypeError(f"a colour is a name, 'r,g,b' or [r, g, b], got {type(value).__name__}")
    text = value.strip()
    if "," in text:
        parts: list[Any] = []
        for piece in text.split(","):
            piece = piece.strip()
            if not piece.lstrip("-").isdigit():
                raise ValueError(f"'r,g,b' needs three integers 0-255, got {short(value)}")
            parts.append(int(piece))
        return _channels(parts, value)
    if text.startswith("#") and len(text) == 7:
        try:
            return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))
        except ValueError:
            pass
    key = text.lower().replace(" ", "").replace("_", "")
    if key in THECOLORS:
        r, g, b, _a = THECOLORS[key]
        return (r, g, b)
    raise ValueError(
        f"unknown colour {short(value)}: use a colour name pygame knows (e.g. red, navyblue), "
        "'r,g,b' with each 0-255, '#rrggbb' or [r, g, b]"
    )


def _names() -> dict[RGB, str]:
    """rgb -> its shortest plain name in pygame's table (no digits: "navyblue", not "navy1")."""
    names: dict[RGB, str] = {}
    for name in ("red", "green", "blue", "yellow", "white", "black", "orange", "purple"):
        r, g, b, _a = THECOLORS[name]
        names[(r, g, b)] = name
    for name, (r, g, b, _a) in sorted(THECOLORS.items(), key=lambda kv: (len(kv[0]), kv[0])):
        if not any(ch.isdigit() for ch in name):
            names.setdefault((r, g, b), name)
    return names


_NAMES = _names()


def color_name(rgb: RGB) -> str:
    """The plain name of a colour when pygame has one, else ``r,g,b``."""
    return _NAMES.get((rgb[0], rgb[1], rgb[2])) or ",".join(str(c) for c in rgb)


Color = Annotated[str | list[int], Length(0, 64), Convert(parse_color, "color")]
"""Declare a command parameter as ``color: Color`` to accept every colour form."""
