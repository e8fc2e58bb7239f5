"""A test node's settings as the TOML file ``pyrostage serve --config`` reads.

In-process nodes read the same file, so both kinds of test node are configured alike and
neither reads the developer's own ``pyrostage.toml``.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from engine.base.config import SECTIONS as DECLARED

SECTIONS = {section: tuple(DECLARED[section]) for section in ("node", "display", "gpio")}
"""The sections a test node's file has, and their keys (``engine.base.config.KEYS``)."""
SETTINGS = ("mode", "size", "dispatch", "timeout", "fps", "font", "groups", "buttons",
            "outputs", "debounce_ms", "release_ms", "plugin_config")
"""What a test may set; the address, name server, state directory and headless screen are
the fixture's."""


def check(settings: dict[str, Any]) -> None:
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise TypeError(f"unknown node setting {', '.join(map(repr, unknown))}; a test node "
                        f"takes {', '.join(SETTINGS)}")


def write(path: Path, settings: dict[str, Any], allow: list[str] | None = None) -> Path:
    """``settings`` (``Config`` field names, ``plugin_config`` for the ``[plugins.<name>]``
    tables) and the plugin allow-list, as a config file at ``path``."""
    settings = {k: v for k, v in settings.items() if v is not None}
    if isinstance(settings.get("size"), tuple | list):
        w, h = settings["size"]
        settings["size"] = f"{w}x{h}"
    lines: list[str] = []
    for section, keys in SECTIONS.items():
        lines.append(f"[{section}]")
        fields = {DECLARED[section][key].attr: key for key in keys}
        lines += [f"{key} = {_toml(settings[attr])}" for attr, key in fields.items()
                  if attr in settings]
    lines.append("[plugins]")
    if allow is not None:
        lines.append(f"allow = {_toml(allow)}")
    for name, table in settings.get("plugin_config", {}).items():
        lines.append(f"{_toml(str(name))} = {_toml(dict(table))}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: Any) -> str:
    """A TOML value: strings, numbers, booleans, dates, lists and (inline) tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, str | Path):  # JSON's escapes are TOML's, but for DEL
        return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"a node setting must be a string, number, boolean, date, list or dict; "
                    f"got {type(value).__name__}")
