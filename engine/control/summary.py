"""What a node shows and its values, in a few words for people: shared by the CLI's lines
and tables and the web page's cards (both controller side: no node code)."""

from __future__ import annotations

from typing import Any

PNG_MAGIC = b"\x89PNG"


def plain(v: Any) -> str:
    """A scalar or flat list as people type it: 255,0,0, yes, 12.5, Red Foxes."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if abs(v) < 1e12 else f"{v:g}"
    if isinstance(v, bytes | bytearray):
        kind = "PNG, " if bytes(v[:4]) == PNG_MAGIC else ""
        return f"<{kind}{len(v)} bytes>"
    if isinstance(v, list | tuple):
        if all(isinstance(x, int | float) and not isinstance(x, bool) for x in v):
            return ",".join(plain(x) for x in v)
        return ", ".join(plain(x) for x in v)
    return str(v)


def _colour(state: dict[str, Any]) -> str:
    return str(state.get("name") or plain(state.get("color")))  # the name is r,g,b if none


def _score(state: dict[str, Any]) -> str:
    return f"{state.get('team')}: {plain(state.get('score'))}"


def _timer(state: dict[str, Any]) -> str:
    shown = state.get("shown")
    if state.get("running"):
        limit = state.get("countdown")
        return f"countdown {plain(limit)} s: {shown}" if limit else f"running {shown}"
    return f"stopped {shown}"


SHOWS = {"colorsquare": _colour, "scoreboard": _score, "timer": _timer}
"""The built-in modes' summaries in a few words; other modes get their first few values."""


def shows(status: dict[str, Any]) -> str:
    """What a node shows now, in a few words, from its ``status()``."""
    mode = status.get("mode")
    state = (status.get("state") or {}).get(mode)
    if not isinstance(state, dict):
        return ""
    try:
        if mode in SHOWS:
            return SHOWS[str(mode)](state)
    except Exception:  # a summary of another version's shape: fall back to the values
        pass
    items = [(k, v) for k, v in state.items()
             if v is not None and not isinstance(v, dict) and not k.endswith("error")]
    return ", ".join(f"{k.replace('_', ' ')} {plain(v)}" for k, v in items[:3])


def problems(status: dict[str, Any], *, modes: bool = True) -> list[str]:
    """What is wrong on a node, each in a few words, from its ``status()``: drawing, saving,
    plugins and (``modes``) a mode's own ``...error`` values, such as a background that
    cannot be drawn."""
    out = []
    if status.get("draw_error"):
        out.append(f"drawing fails: {status['draw_error']}")
    store = status.get("store") or {}
    if isinstance(store, dict) and not store.get("ok", True):
        out.append(f"state not saved: {store.get('error')}")
    for plugin, about in (status.get("plugins") or {}).items():
        if isinstance(about, dict) and about.get("error"):
            out.append(f"plugin {plugin} failed: {about['error']}")
    states = (status.get("state") or {}) if modes else {}
    for mode, state in states.items():
        if isinstance(state, dict):
            out += [f"{mode}: {item}" for key, item in state.items()
                    if key.endswith("error") and item]
    return out
