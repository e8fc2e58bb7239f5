"""What a line typed into ``pyrostage shell`` means, and what the shell knows to complete and
explain: pure logic (no prompt, no network), so it is tested without either.

A line is, in this order:

1. empty: nothing;
2. one of the original camp controller's inputs, exactly as it read them: ``RED``, ``GREEN``,
   ``BLUE``, ``TIME`` (upper case) or ``r,g,b`` (three integers 0-255), run on colorsquare
   whatever mode shows;
3. a shell word: ``help [COMMAND]``, ``use SELECTOR``, ``quit``, ``exit``;
4. a command: a facade member (``status``, ``switch`` ...), a qualified ``mode.command``, or a
   command name some mode of a selected node declares (the node says if its mode lacks it);
5. anything else: the original controller's "Couldn't parse an R,G,B argument", with a
   "did you mean" hint (for the shell to print apart) when the first word is close to one.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.control.controller import FACADE_MEMBERS, MEMBER_PARAMS

PARSE_ERROR = "Couldn't parse an R,G,B argument"
"""What the original controller printed for a line it could not read, and so does the shell."""
ORIGINAL = {"RED": "colorsquare.red", "GREEN": "colorsquare.green",
            "BLUE": "colorsquare.blue", "TIME": "colorsquare.get_time"}
SET_COLOR = "colorsquare.set_color"
MAX_LINE = 10_000
"""Longest line read, in characters (shlex takes time growing with the square of a word's
length: a pasted megabyte would hold the shell for a minute)."""
CUSTOM = "CUSTOM"
"""The original square's answer to ``r,g,b`` (its setColor returned it), printed as then."""
RGB = re.compile(r"\s*([+-]?\d+)\s*,\s*([+-]?\d+)\s*,\s*([+-]?\d+)\s*")
BUILTINS = {
    "help": ("help [COMMAND]", "the commands, or one command's parameters, limits and doc"),
    "use": ("use SELECTOR", "talk to other nodes: red, red,blue, @group or all"),
    "quit": ("quit", "leave the shell (so do exit and Ctrl-D)"),
    "exit": ("exit", "leave the shell"),
}
ORIGINAL_DOCS = {
    "RED": "RED: colour the square red (colorsquare.red); prints what the node returns",
    "GREEN": "GREEN: colour the square green (colorsquare.green)",
    "BLUE": "BLUE: colour the square blue (colorsquare.blue)",
    "TIME": "TIME: how long the square has been running (colorsquare.get_time)",
    "R,G,B": "R,G,B: colour the square, e.g. 255,128,0 (each 0-255; colorsquare.set_color)",
}
MEMBER_DOCS = {
    "status": "The node's status: mode, what it shows, uptime, GPIO, registration.",
    "modes": "The modes this node has.",
    "switch": "Show another mode; returns its name.",
    "mode": "The mode shown (mode NAME switches).",
    "commands": "Each command's parameters and doc (of one mode, or of the one shown).",
    "press": "A button press, exactly as if its pin fell.",
    "snapshot": "The screen as PNG bytes (pyrostage snapshot saves it).",
    "ring": "Ring the bell (or another output) for some seconds.",
    "clock": "The node's stage and wall clocks, read together.",
    "uptime": "Seconds since the node started.",
    "node": "The node's name.",
}
MEMBER_DEFAULTS: dict[str, dict[str, Any]] = {
    "press": {"button": "main"}, "ring": {"seconds": 1.0, "output": "bell"},
    "commands": {"mode": None}, "mode": {"mode": None},
}
MEMBER_LIMITS: dict[str, dict[str, dict[str, Any]]] = {"ring": {"seconds": {"max": 30}}}


@dataclass(frozen=True)
class Original:
    """One of the original controller's inputs: ``word`` is RED, GREEN, BLUE, TIME or R,G,B."""

    word: str
    command: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Builtin:
    name: str
    args: list[str]


@dataclass(frozen=True)
class Command:
    name: str
    words: list[str]


@dataclass(frozen=True)
class Unparsed:
    """A line nothing reads; ``hint`` says what it may have meant (None: no idea)."""

    hint: str | None = None


Action = Original | Builtin | Command | Unparsed | None


def parse_rgb(text: str) -> tuple[int, int, int] | None:
    """``"255, 128,0"`` -> (255, 128, 0); None unless three integers, each 0-255."""
    match = RGB.fullmatch(text)
    if match is None:
        return None
    try:
        r, g, b = (int(v) for v in match.groups())
    except ValueError:  # more digits than Python turns into an int: far beyond 255
        return None
    if not all(0 <= v <= 255 for v in (r, g, b)):
        return None
    return r, g, b


def original_output(word: str, result: Any) -> str:
    """What the original controller printed for ``word`` given the node's ``result``."""
    if word == "TIME":
        return f"The square has been running for {result} seconds"
    if word == "R,G,B":
        return CUSTOM
    return str(result)


@dataclass
class Catalog:
    """What the shell knows about the name server and the selected nodes, for reading lines,
    completing them and ``help``. Filled by the shell; empty parts are simply not offered."""

    nodes: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    commands: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Node -> every qualified command (``mode.name``) -> its declaration."""
    active: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Node -> the bare commands of the mode it shows -> their declarations."""
    modes: dict[str, list[str]] = field(default_factory=dict)

    def mode_names(self) -> list[str]:
        return sorted({m for n in self.selected for m in self.modes.get(n, [])})

    def command_names(self) -> list[str]:
        """Bare names of the modes shown, then qualified names: what a line may start with."""
        bare = {c for n in self.selected for c in self.active.get(n, {})}
        qualified = {c for n in self.selected for c in self.commands.get(n, {})}
        return sorted(bare) + sorted(qualified - bare)

    def known(self, word: str) -> bool:
        """Whether ``word`` is a command a selected node could run (in some mode)."""
        if word in FACADE_MEMBERS or word in self.command_names():
            return True
        if "." in word:
            return re.fullmatch(r"[A-Za-z_][\w-]*\.[A-Za-z_]\w*", word) is not None
        if not any(self.commands.get(n) for n in self.selected):  # nodes that did not say:
            return re.fullmatch(r"[a-z_]\w*", word) is not None  # they will, when asked
        return any(q.rsplit(".", 1)[-1] == word for q in self.command_names())

    def specs(self, name: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """Node -> (qualified name, declaration) of ``name`` as each selected node would run
        it: the mode it shows first, else any mode that declares it."""
        if name in MEMBER_PARAMS or name in FACADE_MEMBERS:
            return {n: (name, member_spec(name)) for n in self.selected}
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        for node in self.selected:
            everything = self.commands.get(node, {})
            if name in everything:
                found[node] = (name, everything[name])
                continue
            shown = self.active.get(node, {})
            qualified = sorted(q for q in everything if q.rsplit(".", 1)[-1] == name)
            if name in shown:
                mode = next((q for q in qualified if everything[q] == shown[name]), name)
                found[node] = (mode, shown[name])
            elif qualified:
                found[node] = (qualified[0], everything[qualified[0]])
        return found

    def vocabulary(self) -> list[str]:
        """Every word a line may start with."""
        return [*BUILTINS, *ORIGINAL, *FACADE_MEMBERS, *self.command_names()]


def member_spec(name: str) -> dict[str, Any]:
    """A facade member declared as ``commands()`` declares a command, for help and
    completion."""
    pairs = [("mode", "str")] if name == "mode" else MEMBER_PARAMS.get(name, [])
    defaults, limits = MEMBER_DEFAULTS.get(name, {}), MEMBER_LIMITS.get(name, {})
    params = []
    for p, t in pairs:
        param: dict[str, Any] = {"name": p, "type": t, "required": p not in defaults}
        if p in defaults:
            param["default"] = defaults[p]
        if p in limits:
            param["limits"] = limits[p]
        params.append(param)
    signature = ", ".join(f"{p}: {t}" + (f" = {defaults[p]!r}" if p in defaults else "")
                          for p, t in pairs)
    return {"params": params, "signature": f"({signature})", "doc": MEMBER_DOCS.get(name, "")}


def parse_line(line: str, catalog: Catalog) -> Action:
    """What ``line`` asks for (see the module's docstring for the order)."""
    text = line.strip()
    if not text:
        return None
    if len(text) > MAX_LINE:
        return Unparsed(f"a line is at most {MAX_LINE} characters, this one has {len(text)}")
    if text in ORIGINAL:
        return Original(text, ORIGINAL[text])
    if RGB.fullmatch(text):
        rgb = parse_rgb(text)
        if rgb is None:
            return Unparsed("each of r,g,b is a whole number from 0 to 255")
        return Original("R,G,B", SET_COLOR, (list(rgb),))
    try:
        words = shlex.split(text)
    except ValueError as exc:  # an unclosed quote
        return Unparsed(f"{exc}")
    head, args = words[0], words[1:]
    if head in BUILTINS or head == "?":
        return Builtin("help" if head == "?" else head, args)
    if catalog.known(head):
        return Command(head, args)
    guess = suggest(head, catalog.vocabulary())
    return Unparsed(f"did you mean {guess}?" if guess else None)


def suggest(word: str, vocabulary: Iterable[str]) -> str | None:
    """The word of ``vocabulary`` closest to ``word`` (case aside), if any is close."""
    import difflib

    by_lower: dict[str, str] = {}
    for candidate in vocabulary:
        by_lower.setdefault(candidate.lower(), candidate)
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    if not close:  # a bare name typed for a qualified one: get_colr -> colorsquare.get_color
        bare = {c.rsplit(".", 1)[-1]: c for c in by_lower if "." in c}
        close = [bare[m] for m in difflib.get_close_matches(word.lower(), list(bare), n=1,
                                                            cutoff=0.75)]
    return by_lower[close[0]] if close else None


def limits_text(type_name: str, limits: dict[str, Any]) -> str:
    """``{"min": 1, "max": 1000}`` -> "1 to 1000", as ``help`` shows a parameter's limits."""
    unit = "bytes" if "bytes" in type_name else (
        "items" if type_name.startswith(("list", "tuple")) else "characters")
    parts = []
    low, high = limits.get("min"), limits.get("max")
    if low is not None and high is not None:
        parts.append(f"{low} to {high}")
    elif low is not None:
        parts.append(f"at least {low}")
    elif high is not None:
        parts.append(f"at most {high}")
    short, long = limits.get("min_length"), limits.get("max_length")
    if short is not None and long is not None:
        parts.append(f"{short} to {long} {unit}")
    elif long is not None:
        parts.append(f"at most {long} {unit}")
    elif short is not None:
        parts.append(f"at least {short} {unit}")
    if limits.get("printable"):
        parts.append("printable")
    if "choices" in limits:
        parts.append("one of " + ", ".join(str(c) for c in limits["choices"]))
    seen = {"min", "max", "min_length", "max_length", "printable", "choices"}
    parts += [f"{k} {v}" for k, v in limits.items() if k not in seen]
    return ", ".join(parts)


def param_text(param: dict[str, Any]) -> str:
    """``n: int = 10 (1 to 1000)`` -- one parameter as ``help`` lists it."""
    text = f"{param['name']}: {param.get('type', 'any')}"
    if not param.get("required", True):
        text += f" = {param['default']!r}" if "default" in param else " (optional)"
    limits = limits_text(param.get("type", ""), param.get("limits") or {})
    return f"{text} ({limits})" if limits else text


def help_text(name: str, catalog: Catalog) -> str | None:
    """``help NAME``: signature, doc, then each parameter with its limits; one block per
    different declaration among the selected nodes (they may run other plugin versions).
    None when no selected node knows ``name``."""
    if name in BUILTINS or name == "?":
        return "  ".join(BUILTINS.get(name, BUILTINS["help"]))
    if name.upper() in ORIGINAL_DOCS or parse_rgb(name) or name.upper() == "R,G,B":
        return ORIGINAL_DOCS.get(name.upper(), ORIGINAL_DOCS["R,G,B"])
    found = catalog.specs(name)
    if not found:
        return None
    blocks: list[tuple[str, dict[str, Any], list[str]]] = []
    for node, (qualified, spec) in found.items():
        for block in blocks:
            if block[0] == qualified and block[1] == spec:
                block[2].append(node)
                break
        else:
            blocks.append((qualified, spec, [node]))
    out = []
    for qualified, spec, nodes in blocks:
        head = f"{qualified}{spec.get('signature', '()')}"
        if len(blocks) > 1 or len(nodes) < len(catalog.selected):
            head += f"  on {', '.join(nodes)}"
        lines = [head]
        if spec.get("doc"):
            lines.append(f"  {spec['doc']}")
        lines += [f"  {param_text(p)}" for p in spec.get("params", [])]
        out.append("\n".join(lines))
    return "\n".join(out)


def overview(catalog: Catalog, width: int = 100) -> str:
    """``help`` alone: the shell's words, the original inputs and the commands there are."""
    import textwrap

    def listed(title: str, names: Iterable[str]) -> list[str]:
        return textwrap.wrap(", ".join(names), width, initial_indent=f"{title}: ",
                             subsequent_indent="  ", break_on_hyphens=False)

    usage = max(len(u) for u, _ in BUILTINS.values())
    lines = [f"{u:<{usage}}  {doc}" for u, doc in BUILTINS.values()]
    lines += listed("original inputs", ["RED", "GREEN", "BLUE", "TIME", "r,g,b (255,128,0)"])
    lines += listed("every node", FACADE_MEMBERS)
    shown = {c for n in catalog.selected for c in catalog.active.get(n, {})}
    if shown:
        lines += listed("the mode shown", sorted(shown))
    others = [c for c in catalog.command_names() if c not in shown]
    if others:
        lines += listed("by mode", others)
    lines.append("help COMMAND shows its parameters, limits and doc; Tab completes.")
    return "\n".join(lines)


@dataclass(frozen=True)
class Candidate:
    """One completion: ``text`` replaces the last ``-start`` characters before the cursor."""

    text: str
    start: int
    display: str = ""
    meta: str = ""


def complete(text: str, catalog: Catalog) -> list[Candidate]:
    """Completions for the line typed so far (``text``, up to the cursor)."""
    words = text.split()
    if not text or text[-1].isspace():
        words.append("")
    word, position = words[-1], len(words) - 1
    if position == 0:
        return _words(word, catalog.vocabulary(), lambda w: _first_line(catalog, w))
    head = words[0]
    if head == "use":
        return _selector(word, catalog) if position == 1 else []
    if head in ("help", "?"):
        return _words(word, catalog.vocabulary(), lambda w: _first_line(catalog, w)) \
            if position == 1 else []
    if head in ("switch", "mode", "commands") and position == 1:
        return _words(word, catalog.mode_names(), lambda w: "mode")
    specs = catalog.specs(head)
    if not specs:
        return []
    params = next(iter(specs.values()))[1].get("params", [])
    if position - 1 >= len(params):
        return []
    return _param(word, params[position - 1])


def _words(word: str, vocabulary: Iterable[str], meta: Any) -> list[Candidate]:
    lower = word.lower()
    seen = dict.fromkeys(v for v in vocabulary if v.lower().startswith(lower))
    return [Candidate(v, -len(word), v, meta(v)) for v in seen]


def _selector(word: str, catalog: Catalog) -> list[Candidate]:
    """``red,b`` completes its last part: a node, ``@group`` or ``all``."""
    part = word.rsplit(",", 1)[-1]
    options = [*catalog.nodes, *(f"@{g}" for g in catalog.groups), "all"]
    return [Candidate(o, -len(part), o, "group" if o.startswith("@") else
                      "every node" if o == "all" else "node")
            for o in options if o.startswith(part)]


def _param(word: str, param: dict[str, Any]) -> list[Candidate]:
    """Values for one parameter: its choices, true/false, or its default (``hint`` names the
    parameter being typed)."""
    kind = param.get("type", "")
    meta = param_text(param)
    values = [str(c) for c in (param.get("limits") or {}).get("choices", [])]
    if "bool" in kind.split("|"):
        values += ["true", "false"]
    default = param.get("default")
    if default is not None:
        values.append(str(default).lower() if isinstance(default, bool) else str(default))
    return [Candidate(v, -len(word), v, meta) for v in dict.fromkeys(values)
            if v.lower().startswith(word.lower())]


def hint(text: str, catalog: Catalog) -> str:
    """One line about the line being typed, for the bottom of the screen: the command's
    signature and the parameter being typed, with its limits."""
    words = text.split()
    if not words:
        return "help lists the commands · Tab completes · Ctrl-D leaves"
    head = words[0]
    position = len(words) - (0 if text[-1:].isspace() else 1)
    if head in BUILTINS or head == "?":
        return "  ".join(BUILTINS.get(head, BUILTINS["help"]))
    if head in ORIGINAL:
        return ORIGINAL_DOCS[head]
    if parse_rgb(head):
        return ORIGINAL_DOCS["R,G,B"]
    found = catalog.specs(head)
    if not found:
        return ""
    qualified, spec = next(iter(found.values()))
    params = spec.get("params", [])
    line = f"{qualified}{spec.get('signature', '()')}"
    if position == 0 or not params:
        doc = str(spec.get("doc") or "").split("\n", 1)[0]
        return f"{line}  {doc}".strip()
    if position > len(params):
        return f"{line}  (takes {len(params)} argument{'s' if len(params) != 1 else ''})"
    param = params[position - 1]
    limits = limits_text(param.get("type", ""), param.get("limits") or {})
    default = f", default {param['default']!r}" if param.get("default") is not None else ""
    return f"{line} · {param['name']}: {limits or param.get('type', 'any')}{default}"


def _first_line(catalog: Catalog, word: str) -> str:
    if word in BUILTINS:
        return BUILTINS[word][1]
    if word in ORIGINAL:
        return ORIGINAL_DOCS[word].split(": ", 1)[-1]
    found = catalog.specs(word)
    if not found:
        return ""
    doc = str(next(iter(found.values()))[1].get("doc") or "")
    return doc.split("\n", 1)[0]
