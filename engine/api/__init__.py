"""The plugin API: everything a mode or behaviour may use, and nothing of the host.

Plugins import it through ``engine`` (``from engine import Mode, command, hookimpl``); this
package is what that name resolves to.
"""

from __future__ import annotations

from engine.api.colors import RGB, Color, color_name, parse_color
from engine.api.constraints import Convert, Length, Printable, Range
from engine.api.drawing import Fitted, centred, contrast, fit_text, font
from engine.api.frames import Canvas, Text
from engine.api.hookspecs import hookimpl, hookspec
from engine.api.images import check_png, decode_png, load_png, png_size, scaled_rgb, surface_of
from engine.api.modes import Behaviour, Mode, command
from engine.api.settings import Setting
from engine.api.stageapi import Stage, State

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
