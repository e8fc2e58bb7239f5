"""What starting a node changes process-wide, kept and put back after a test.

A node sets Pyro4's process-wide settings (serpent only, limits), swaps in the guarded
serpent parser, and sets the drawing font; a test suite that also runs other Pyro code must
find them as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

ENVIRONMENT = {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
               "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
"""Set for the test: no window, no sound device, no pygame banner."""
CLEARED = ("PYROSTAGE_HMAC_KEY",)
"""Unset for the test: a developer's shared key must not reach test nodes."""

_REGISTRY = "_SerializerBase__custom_dict_to_class_registry"


@contextmanager
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Test settings in the environment (through ``monkeypatch``, which puts them back), the
    project's Pyro4 settings, and Pyro4's and the engine's globals restored on the way out."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    import Pyro4.util

    from engine.api import drawing
    from engine.base import pyroconf
    from engine.base.transport import GuardedSerpent

    util: Any = Pyro4.util
    config = Pyro4.config.asDict()
    serializers = dict(util._serializers), dict(util._serializers_by_id)
    registry = dict(getattr(util.SerializerBase, _REGISTRY))
    limits = GuardedSerpent.limits
    font = drawing._font_path
    pyroconf.harden()
    try:
        yield
    finally:
        for key, value in config.items():
            setattr(Pyro4.config, key, value)
        for current, kept in zip((util._serializers, util._serializers_by_id), serializers,
                                 strict=True):
            current.clear()
            current.update(kept)
        current_registry = getattr(util.SerializerBase, _REGISTRY)
        current_registry.clear()
        current_registry.update(registry)
        GuardedSerpent.limits = limits
        drawing.set_font_path(font)
