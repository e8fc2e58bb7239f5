"""Results for people: what a command returned (or did) as short text, node times in the
controller's local time. ``ctl``, ``list``, ``snapshot`` and the shell print through here.

Everything is derived from the result's shape and the command's name and declaration (its
doc, whether it only reads), so a plugin's new command reads well without code here. rich is
imported only when a table is drawn, which keeps ``ctl red status`` fast.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from engine.control.summary import plain, problems, shows

if TYPE_CHECKING:
    from engine.control.clock import Offset

IRREGULAR = {"set": "set", "reset": "reset", "put": "put", "run": "ran", "ring": "rang",
             "undo": "undid", "begin": "began", "send": "sent", "make": "made", "get": "got",
             "stop": "stopped", "drop": "dropped", "step": "stepped", "shut": "shut",
             "read": "read", "hide": "hid"}
"""English past tenses the regular rule gets wrong (for "what it did" lines)."""


def human(node: str, command: str, result: Any, offset: Offset | None = None, *,
          spec: dict[str, Any] | None = None, args: Sequence[Any] = ()) -> str:
    """One node's result of ``command`` as text for people; may span lines (tables are
    rendered to text). The node's name is not in front: a caller showing several nodes puts
    it there (``line``). ``offset`` (the node's measured clock offset) turns the node's wall
    times into ours; ``spec`` (the command's declaration from ``commands()``) and ``args``
    (the values sent) make "what it did" lines read better."""
    name = command.rsplit(".", 1)[-1]
    if command == "status" and isinstance(result, dict) and "mode" in result:
        return status_summary(result)
    if command in MEMBERS:
        said = (_clock(result, list(args), offset) if command == "clock"
                else MEMBERS[command](result, list(args)))
        if said is not None:
            return said
    if result is None:
        return did(command, spec, args)
    if _rows(result):
        return table(result, offset)
    shown = value(result, offset)
    if name.startswith("get_") or (spec or {}).get("read"):
        label = name.removeprefix("get_").replace("_", " ")
        return f"{label}:{_joined(shown)}"
    if name.startswith("set_") and len(name) > 4:
        return f"{name[4:].replace('_', ' ')} is now{_joined(shown)}"
    call = " ".join([name.replace("_", " "), *(plain(a) for a in args)])
    return f"{call} →{_joined(shown)}"


def _joined(text: str) -> str:
    """Text after a space on the same line, or indented on the lines below."""
    if "\n" not in text:
        return f" {text}"
    return "\n" + indent(text)


def indent(text: str, by: int = 2) -> str:
    return "\n".join(" " * by + line if line else line for line in text.splitlines())


def did(command: str, spec: dict[str, Any] | None, args: Sequence[Any]) -> str:
    """What a command that returns nothing did: its doc's first clause in the past tense
    when the doc starts with the command's verb ("Start the stopwatch from zero" -> "started
    the stopwatch from zero", ``param`` replaced by the value sent), else "NAME ARGS: done"."""
    name = command.rsplit(".", 1)[-1]
    verb = name.split("_")[0].lower()
    doc = str((spec or {}).get("doc") or "")
    clause = re.split(r"[.;:(,]|\s[-—]\s", doc, maxsplit=1)[0].split()
    if clause and clause[0].lower() == verb:
        values = {p.get("name"): a for p, a in zip((spec or {}).get("params", []), args,
                                                    strict=False)}
        rest = re.sub(r"``(\w+)``", lambda m: plain(values[m[1]]) if m[1] in values else m[1],
                      " ".join(clause[1:]))
        return f"{past(verb)} {rest}".strip()
    return " ".join([name.replace("_", " "), *(plain(a) for a in args)]) + ": done"


def past(verb: str) -> str:
    """The past tense of an English verb (regular rules, a few irregular ones)."""
    verb = verb.lower()
    if verb in IRREGULAR:
        return IRREGULAR[verb]
    if verb.endswith("e"):
        return verb + "d"
    if len(verb) > 2 and verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + "ed"


def value(v: Any, offset: Offset | None = None) -> str:
    """Any result as text: scalars and flat lists on one line, dicts as "key: value" lines,
    lists of records as a table."""
    if _rows(v):
        return table(v, offset)
    if isinstance(v, dict):
        if not v:
            return "(empty)"
        lines = []
        for key, item in v.items():
            text = value(item, offset)
            lines.append(f"{key}:{_joined(text)}")
        return "\n".join(lines)
    if isinstance(v, list | tuple) and any(isinstance(x, dict | list | tuple) for x in v):
        return "\n".join(f"- {value(x, offset)}" for x in v) or "(none)"
    if isinstance(v, list | tuple) and not v:
        return "none"
    return plain(v)


def needs_clock(v: Any) -> bool:
    """Whether a result holds node wall times (records with an ``at``) worth converting."""
    return _rows(v) and any(isinstance(row.get("at"), int | float) for row in v)


def _rows(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def local_time(at: Any, offset: Offset | None, millis: bool = False) -> str:
    """A node wall time (``time.time()`` on the node) as our local clock time; without an
    offset it is taken as is. Today's times show the time of day only (``millis``: to the
    millisecond, as ``watch`` prints them)."""
    from datetime import datetime

    if not isinstance(at, int | float):
        return "--:--:--.---" if millis else "--:--:--"
    when = datetime.fromtimestamp(offset.local_time(at) if offset is not None else at)
    if millis:
        return when.strftime("%H:%M:%S.%f")[:-3]
    fmt = "%H:%M:%S" if when.date() == datetime.now().date() else "%Y-%m-%d %H:%M:%S"
    return when.strftime(fmt)


def table(rows: list[dict[str, Any]], offset: Offset | None = None) -> str:
    """Records (journal entries and the like) as a table; an ``at`` column (a node wall time)
    becomes ``time`` in our local time, and the node's own rendering of it is left out."""
    from rich import box
    from rich.table import Table

    keys = list(dict.fromkeys(k for row in rows for k in row))
    has_at = "at" in keys and all(isinstance(r.get("at"), int | float) for r in rows)
    if has_at:
        keys = ["at", *[k for k in keys if k not in ("at", "time")]]
    if "id" in keys:
        keys = ["id", *[k for k in keys if k != "id"]]
    heads = {"id": "#", "at": "time" if offset is not None else "time (node clock)"}
    out = Table(*[heads.get(k, k.replace("_", " ")) for k in keys], box=box.SIMPLE_HEAD,
                show_edge=False, pad_edge=False)
    for row in rows:
        cells = []
        for key in keys:
            item = row.get(key)
            if key == "at" and has_at and isinstance(item, int | float):
                cells.append(local_time(item, offset))
            elif key == "delta" and isinstance(item, int) and not isinstance(item, bool):
                cells.append(f"{item:+d}")
            elif item is None or item is False:
                cells.append("")
            else:
                cells.append(plain(item) if not isinstance(item, dict) else json.dumps(item))
        out.add_row(*cells)
    return render(out)


def render(renderable: Any) -> str:
    """A rich renderable as plain text, as wide as the terminal."""
    import io
    import shutil

    from rich.console import Console

    width = shutil.get_terminal_size((100, 24)).columns
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False,
                      soft_wrap=False)
    console.print(renderable)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def duration(seconds: Any) -> str:
    """Seconds as people say them: 8 s, 3 min 12 s, 2 h 05 min, 3 d 4 h."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return str(seconds)
    s = int(seconds)
    if s < 60:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1f} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


# -- what a node shows, its status ---------------------------------------------------------

def status_summary(status: dict[str, Any]) -> str:
    """``status()`` in a line (a second one only for what is wrong): mode and what it shows,
    uptime, GPIO backend and buttons, registration, easter egg."""
    mode = status.get("mode")
    what = shows(status)
    parts = [str(mode), *([what] if what else []), f"up {duration(status.get('uptime'))}"]
    gpio = status.get("gpio") or {}
    if gpio:
        buttons = ", ".join(gpio.get("buttons") or []) or "no buttons"
        parts.append(f"GPIO {gpio.get('backend')} ({buttons})")
    reg = status.get("registration") or {}
    if reg.get("conflict"):
        parts.append(f"name taken by {reg['conflict']}")
    else:
        parts.append("registered" if reg.get("registered") else "not registered")
    egg = (status.get("state") or {}).get("easter_egg") or {}
    if egg.get("enabled"):
        parts.append("easter egg on")
    wrong = problems(status)
    return " · ".join(parts) + ("\n" + "; ".join(wrong) if wrong else "")


# -- facade members -----------------------------------------------------------------------

def _commands(result: Any, args: list[Any]) -> str | None:
    if not isinstance(result, dict):
        return None
    lines = []
    for name, spec in result.items():
        sig = spec.get("signature", "()") if isinstance(spec, dict) else "()"
        doc = _first_paragraph(spec.get("doc") or "") if isinstance(spec, dict) else ""
        lines.append((f"{name}{sig}", doc))
    width = max((len(head) for head, _ in lines), default=0)
    listed = "\n".join(f"{head:<{width}}  {doc}".rstrip() for head, doc in lines) or "(none)"
    if not args:  # the active mode's: say where the rest are
        listed += ("\n(the active mode's commands; `commands '*'` lists every mode's, and "
                   "status, switch, modes, press, ring, snapshot, clock work on every node)")
    return listed


def _first_paragraph(doc: str) -> str:
    """A docstring's first paragraph on one line (not its first source line, which may stop
    mid-sentence)."""
    return " ".join(doc.strip().split("\n\n")[0].split())


def _press(result: Any, args: list[Any]) -> str:
    button = args[0] if args else "main"
    return f"pressed {button}" if result else f"press of {button} ignored (debounce)"


def _ring(result: Any, args: list[Any]) -> str:
    output = args[1] if len(args) > 1 else "bell"
    seconds = plain(args[0]) if args else "1"
    return f"ringing the {output} for {seconds} s" if result else f"no {output} on this node"


def _clock(result: Any, args: list[Any], offset: Offset | None) -> str | None:
    if offset is None or not isinstance(result, dict):
        return None
    return (f"wall clock {offset.wall * 1000:+.1f} ms from ours (±{offset.error * 1000:.1f} ms), "
            f"stage clock at {plain(result.get('monotonic'))} s")


MEMBERS: dict[str, Callable[..., str | None]] = {
    "switch": lambda r, a: f"switched to {r}",
    "mode": lambda r, a: f"switched to {r}" if a else f"mode: {r}",
    "modes": lambda r, a: f"modes: {plain(r)}",
    "uptime": lambda r, a: f"up {duration(r)}",
    "node": lambda r, a: f"node: {r}",
    "snapshot": lambda r, a: (f"PNG, {len(r)} bytes (pyrostage snapshot NODE FILE.png saves it)"
                              if isinstance(r, bytes | bytearray) else None),
    "commands": _commands,
    "press": _press,
    "ring": _ring,
    "clock": _clock,
}
"""Facade members: fixed, so their results have fixed words."""


# -- several nodes -------------------------------------------------------------------------

def line(node: str, width: int, text: str, word: str = "ok") -> str:
    """``red   ok: text`` — a node's line among others; more lines indented below it."""
    head = f"{node:<{width}}  {word}:"
    if "\n" not in text:
        return f"{head} {text}"
    return f"{head}\n{indent(text, width + 2)}"


def error_text(exc: BaseException) -> str:
    """An error in one line: ``Type: message``."""
    text = " ".join(str(exc).split()) or "(no message)"
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}"


def error_json(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc)}


def to_json(document: Any) -> str:
    """One JSON document; bytes as serpent sends them (base64)."""
    import base64

    def default(o: Any) -> Any:
        if isinstance(o, bytes | bytearray):
            return {"data": base64.b64encode(o).decode(), "encoding": "base64"}
        if isinstance(o, set | frozenset | tuple):
            return list(o)
        return str(o)

    return json.dumps(document, indent=2, default=default)
