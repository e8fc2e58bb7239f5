"""pyrostage's engine, and what a plugin author needs from it.

    from engine import hookimpl, Mode, command, Color

Everything else in the package is the host's business.
"""

import os as _os

_os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

__version__ = "0.1.0"

from .colors import RGB, Color, parse_color
from .hookspecs import hookimpl, hookspec
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
    "command",
    "hookimpl",
    "hookspec",
    "parse_color",
]
