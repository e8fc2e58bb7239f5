"""pyrostage's engine, and what a plugin author needs from it.

    from engine import hookimpl, Mode, command, Color

plus the drawing helpers (``font``, ``fit_text``, ``centred``, ``contrast``, ``color_name``)
and PNG helpers (``decode_png``, ``scaled_rgb``, ``surface_of``, ``check_png`` ...) the
built-in modes use. Everything else in the package is the host's business.
"""

import os as _os

_os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

__version__ = "0.1.0"

from .colors import RGB, Color, color_name, parse_color
from .drawing import centred, contrast, fit_text, font
from .hookspecs import hookimpl, hookspec
from .images import check_png, decode_png, load_png, png_size, scaled_rgb, surface_of
from .modes import Behaviour, Mode, command
from .validation import Convert, Length, Printable, Range

__all__ = [
    "RGB",
    "Behaviour",
    "Color",
    "Convert",
    "Length",
    "Mode",
    "Printable",
    "Range",
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
