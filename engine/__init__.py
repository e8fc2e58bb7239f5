"""pyrostage's engine, and what a plugin author needs from it.

    from engine import hookimpl, Mode, command, Color

plus the drawing helpers (``font``, ``fit_text`` and its ``Fitted``, ``centred``,
``contrast``, ``color_name``) and PNG helpers (``decode_png``, ``scaled_rgb``, ``surface_of``,
``check_png`` ...) the built-in modes use: the names of ``engine.api``, loaded on first use,
so a controller that imports ``engine.control`` never loads pygame, Pillow or pluggy.
Everything else in the package is the host's business.
"""

from __future__ import annotations

import importlib as _importlib
import os as _os
from typing import TYPE_CHECKING, Any

_os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

__version__ = "0.1.0"

if TYPE_CHECKING:
    from engine.api import (
        RGB,
        Behaviour,
        Canvas,
        Color,
        Convert,
        Fitted,
        Length,
        Mode,
        Printable,
        Range,
        Setting,
        Stage,
        State,
        Text,
        centred,
        check_png,
        color_name,
        command,
        contrast,
        decode_png,
        fit_text,
        font,
        hookimpl,
        hookspec,
        load_png,
        parse_color,
        png_size,
        scaled_rgb,
        surface_of,
    )


def __getattr__(name: str) -> Any:
    """``engine.Mode`` and friends: the plugin API, imported when first asked for."""
    api = _importlib.import_module("engine.api")  # `from engine import api` would recurse here
    if name not in api.__all__:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(api, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    api = _importlib.import_module("engine.api")
    return sorted([*globals(), *api.__all__])


__all__ = [
    "RGB",
    "Behaviour",
    "Canvas",
    "Color",
    "Convert",
    "Fitted",
    "Length",
    "Mode",
    "Printable",
    "Range",
    "Setting",
    "Stage",
    "State",
    "Text",
    "__version__",
    "centred",
    "check_png",
    "color_name",
    "command",
    "contrast",
    "decode_png",
    "fit_text",
    "font",
    "hookimpl",
    "hookspec",
    "load_png",
    "parse_color",
    "png_size",
    "scaled_rgb",
    "surface_of",
]
