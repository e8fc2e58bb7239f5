"""Presets: named looks for many screens at once (team names, title colours, colours,
backgrounds, the mode shown), kept in a TOML file a counsellor can edit by hand.

The camp page's "Reset Titles" and title-pair buttons, as a file::

    [presets.reset."*"]          # every node the preset is applied to
    title_color = "gold"
    background = "built-in"

    [presets.reset.red]
    team = "Red"

    [presets.finals.red]
    team = "Foxes"
    title_color = "orange"
    background = "foxes.png"     # a PNG, relative to this file

Everything is checked when the file is read and before anything is sent; what the nodes
themselves refuse (an unknown colour name, a team name too long) comes back per node.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.base.config import APP
from engine.base.names import check_name
from engine.base.text import short

if TYPE_CHECKING:
    from engine.control.controller import Controller
    from engine.control.fleet import Fleet, Results

EVERY = "*"
"""The node key whose settings go to every node a preset is applied to."""
BUILT_IN = "built-in"
"""``background = "built-in"``: the scoreboard's own background again."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BACKGROUND = 2 * 1024 * 1024
"""Largest background PNG in bytes (what the scoreboard takes); a bigger file is refused
after reading one byte more."""
MAX_FILE = 1024 * 1024
"""Largest presets file in bytes."""
SETTINGS = {"team": "team", "title_color": "title colour", "color": "colour",
            "background": "background", "mode": "mode"}
"""Setting -> how people read it, in the order a node is given them (the mode last, so the
screen changes once, to the finished look)."""


def default_path() -> Path:
    """``presets.toml`` next to the node's ``pyrostage.toml`` in the user config dir."""
    import platformdirs

    return Path(platformdirs.user_config_dir(APP)) / "presets.toml"


Colour = str | list[int]


@dataclass(frozen=True)
class Look:
    """What one node is set to show; None leaves that as it is."""

    team: str | None = None
    title_color: Colour | None = None
    color: Colour | None = None
    background: str | None = None
    """A PNG file (relative to the preset file) or ``"built-in"``."""
    mode: str | None = None

    def settings(self) -> dict[str, Any]:
        """The settings given, in ``SETTINGS`` order."""
        return {k: getattr(self, k) for k in SETTINGS if getattr(self, k) is not None}

    def over(self, base: Look) -> Look:
        """This look's settings on top of ``base``'s."""
        return replace(base, **self.settings())

    def describe(self) -> str:
        """``team Red, title colour gold, background built-in`` (for people)."""
        return ", ".join(f"{SETTINGS[k]} {_text(v)}" for k, v in self.settings().items())


@dataclass(frozen=True)
class Preset:
    """A named set of looks: node (or ``"*"``) -> ``Look``."""

    name: str
    looks: dict[str, Look]
    folder: Path = Path(".")
    """Where relative background paths start: the preset file's folder."""

    @property
    def nodes(self) -> list[str]:
        """The nodes it names (not ``"*"``)."""
        return [n for n in self.looks if n != EVERY]

    @property
    def selector(self) -> str:
        """What ``apply`` selects by default: the nodes it names, else every node."""
        return ",".join(self.nodes) or "all"

    def look_for(self, node: str) -> Look | None:
        """``"*"``'s settings with the node's own on top; None if it has neither."""
        every, own = self.looks.get(EVERY), self.looks.get(node)
        if every is None or own is None:
            return every or own
        return own.over(every)

    def plan(self, nodes: list[str]) -> dict[str, Look]:
        """node -> its look, for each of ``nodes``; ``LookupError`` for a node the preset has
        nothing for (found before anything is sent)."""
        plan = {n: look for n in nodes if (look := self.look_for(n)) is not None}
        missing = [n for n in nodes if n not in plan]
        if missing:
            raise LookupError(
                f"preset {self.name!r} has nothing for {', '.join(map(repr, missing))}: it "
                f"names {', '.join(self.nodes) or 'no node'}; a [presets.{self.name}.\"*\"] "
                "table would apply to every selected node")
        return plan

    def background_file(self, value: str) -> Path:
        return (self.folder / Path(value).expanduser()).resolve()

    def backgrounds(self, plan: Mapping[str, Look]) -> dict[str, bytes | None]:
        """Each background the plan uses (as written) -> its PNG bytes (None: built-in).
        A missing or unreadable file, or one that is no PNG, is an error here, before
        anything is sent."""
        out: dict[str, bytes | None] = {}
        for node, look in plan.items():
            value = look.background
            if value is None or value in out:
                continue
            if value == BUILT_IN:
                out[value] = None
                continue
            path = self.background_file(value)
            where = f"preset {self.name!r}, node {node!r}: background"
            try:
                if path.exists() and not path.is_file():  # a directory, a device, a pipe
                    raise OSError(0, "it is not a regular file")
                with path.open("rb") as fh:
                    data = fh.read(MAX_BACKGROUND + 1)
            except FileNotFoundError:
                raise FileNotFoundError(
                    f"{where} file {path} does not exist (a PNG path, relative to the preset "
                    f"file's folder, or {BUILT_IN!r})") from None
            except OSError as exc:
                raise OSError(f"{where} file {path} cannot be read: "
                              f"{exc.strerror or exc}") from None
            if not data.startswith(PNG_SIGNATURE):
                raise ValueError(f"{where} file {path} is not a PNG image")
            if len(data) > MAX_BACKGROUND:
                raise ValueError(f"{where} file {path} is more than {MAX_BACKGROUND} bytes, "
                                 "the largest background a node takes")
            out[value] = data
        return out


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


# -- reading ---------------------------------------------------------------------------------


def parse(data: Mapping[str, Any], source: str = "presets", folder: Path = Path(".")
          ) -> dict[str, Preset]:
    """The presets in a TOML document (as ``tomllib`` reads it); ``ValueError`` or
    ``TypeError`` naming the table and key that is wrong, and what is accepted."""
    unknown = [k for k in data if k != "presets"]
    if unknown:
        raise ValueError(f"{source}: unknown top-level key {short(unknown[0])}; presets go in "
                         "[presets.NAME.NODE] tables")
    presets = data.get("presets", {})
    if not isinstance(presets, dict):
        raise TypeError(f"{source}: 'presets' must be a table of presets "
                        "([presets.NAME.NODE] tables)")
    out = {}
    for name, nodes in presets.items():
        check_name(name, f"{source}: preset name")
        where = f"{source}: [presets.{name}]"
        if not isinstance(nodes, dict):
            raise TypeError(f"{where} must be a table of nodes ([presets.{name}.NODE] tables), "
                            f"got {short(nodes)}")
        if not nodes:
            raise ValueError(f"{where} names no nodes: add a [presets.{name}.NODE] table")
        looks = {}
        for node, settings in nodes.items():
            if not isinstance(settings, dict):
                raise TypeError(f"{where}: {short(node)} = {short(settings)} is not a node: "
                                f"settings go under one, [presets.{name}.NODE], or under "
                                f"[presets.{name}.\"*\"] for every node")
            if node != EVERY:
                check_name(node, f"{where}: node name (or \"*\" for every node)")
            label = f'"{node}"' if node == EVERY else node
            looks[node] = _look(settings, f"{source}: [presets.{name}.{label}]")
        if EVERY in looks:  # "*" first, as people read it
            looks = {EVERY: looks.pop(EVERY), **looks}
        out[name] = Preset(name, looks, folder)
    return out


def _look(settings: dict[str, Any], where: str) -> Look:
    """One node's table -> ``Look``."""
    if not settings:
        raise ValueError(f"{where} sets nothing: give one of {', '.join(SETTINGS)}")
    for key, value in settings.items():
        if key not in SETTINGS:
            close = difflib.get_close_matches(key, list(SETTINGS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"{where}: unknown setting {short(key)} ({hint}settings: "
                             f"{', '.join(SETTINGS)})")
        if key in ("title_color", "color"):
            _check_colour(value, f"{where} {key}")
        elif not isinstance(value, str):
            raise TypeError(f"{where} {key} must be text in quotes ({key} = \"...\"), got "
                            f"{short(value)}")
        elif not value.strip():
            raise ValueError(f"{where} {key} is empty")
    return Look(**settings)


def _check_colour(value: Any, where: str) -> None:
    """A colour name or ``"r,g,b"`` (the node knows the names) or ``[r, g, b]``."""
    if isinstance(value, str):
        if not value.strip():
            raise ValueError(f"{where} is empty: a colour name, \"r,g,b\" or [r, g, b]")
        return
    if (isinstance(value, list) and len(value) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255
                    for c in value)):
        return
    raise TypeError(f"{where} must be a colour name, \"r,g,b\" or [r, g, b] with each 0-255, "
                    f"got {short(value)}")


@dataclass
class PresetFile:
    """The presets in one file (none yet if it does not exist)."""

    path: Path
    presets: dict[str, Preset]
    exists: bool

    @classmethod
    def load(cls, path: str | Path | None = None) -> PresetFile:
        import tomllib

        file = Path(path).expanduser() if path else default_path()
        try:
            if file.exists() and not file.is_file():  # /dev/zero would never end
                raise OSError(0, "it is not a regular file")
            with file.open("rb") as fh:
                raw = fh.read(MAX_FILE + 1)
            if len(raw) > MAX_FILE:
                raise OSError(0, f"it is more than {MAX_FILE} bytes")
            text = raw.decode("utf-8")
        except FileNotFoundError:
            return cls(file, {}, exists=False)
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            raise ValueError(f"presets file {file} cannot be read: {why or exc}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"presets file {file}: {exc}") from None
        return cls(file, parse(data, f"presets file {file}", file.parent.resolve()), exists=True)

    def get(self, name: str) -> Preset:
        if name in self.presets:
            return self.presets[name]
        if not self.exists:
            raise LookupError(f"no preset {name!r}: {self.path} does not exist yet (write it by "
                              "hand or make one with `pyrostage preset save NAME SELECTOR`)")
        known = ", ".join(self.presets) or "none"
        raise LookupError(f"no preset {name!r} in {self.path} (presets: {known})")

    def save(self, preset: Preset, force: bool = False) -> bool:
        """Add ``preset`` to the file (``force``: replace one of that name). A new preset is
        appended, so the file's comments and layout stay; replacing one rewrites the file.
        Returns whether the file was rewritten."""
        import tomllib

        import tomli_w

        if preset.name in self.presets and not force:
            raise ValueError(f"preset {preset.name!r} already exists in {self.path}; "
                             "--force replaces it")
        check_name(preset.name, "preset name")
        old = self.path.read_text(encoding="utf-8") if self.exists else ""
        text: str | None = tomli_w.dumps({"presets": {preset.name: to_toml(preset)}})
        if old and preset.name not in self.presets:
            gap = "" if old.endswith("\n\n") else "\n" if old.endswith("\n") else "\n\n"
            text = old + gap + str(text)
            try:
                parse(tomllib.loads(text))
            except (ValueError, TypeError):  # e.g. presets written as inline tables
                text = None
        elif old:
            text = None
        if text is None:
            data = {n: to_toml(p) for n, p in self.presets.items()}
            data[preset.name] = to_toml(preset)
            text = tomli_w.dumps({"presets": data})
            rewritten = True
        else:
            rewritten = False
        _write(self.path, text)
        self.presets[preset.name] = preset
        self.exists = True
        return rewritten


def to_toml(preset: Preset) -> dict[str, dict[str, Any]]:
    return {node: look.settings() for node, look in preset.looks.items()}


def _write(path: Path, text: str) -> None:
    """Write whole or not at all (a crash leaves the old file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- applying and saving ---------------------------------------------------------------------


def prepare(fleet: Fleet, preset: Preset, selector: str | None = None
            ) -> tuple[dict[str, Look], dict[str, bytes | None]]:
    """The nodes and what each gets, with every background read: all that can go wrong
    before anything is sent (an unknown node, a node with nothing, a missing file)."""
    nodes = [info.name for info in fleet.select(selector or preset.selector)]
    plan = preset.plan(nodes)
    return plan, preset.backgrounds(plan)


def apply(fleet: Fleet, preset: Preset, selector: str | None = None,
          timeout: float | None = None) -> Results:
    """Give every selected node (default: those the preset names) its look, in parallel.
    Each node's result is setting -> what the node answered; a node that refused a setting
    fails with the setting named and what it had set before it."""
    plan, pictures = prepare(fleet, preset, selector)

    def job(ctl: Controller, node: str) -> dict[str, Any]:
        done: dict[str, Any] = {}
        for key, value in plan[node].settings().items():
            try:
                if key == "mode":
                    done[key] = ctl.member(node, "switch", value)
                elif key == "background":
                    done[key] = ctl.call(node, "scoreboard.set_background", pictures[value])
                else:
                    done[key] = ctl.call(node, f"scoreboard.set_{key}" if key != "color"
                                         else "colorsquare.set_color", value)
            except Exception as exc:
                raise _setting_failed(exc, key, done) from None
        return done

    return fleet.run(list(plan), job, timeout)


def _setting_failed(exc: Exception, key: str, done: dict[str, Any]) -> Exception:
    """The node's error, with the setting it was for and what was set before it."""
    before = f" ({', '.join(SETTINGS[k] for k in done)} set before it)" if done else ""
    return _again(exc, f"{SETTINGS[key]}: {str(exc) or type(exc).__name__}{before}")


def _again(exc: BaseException | None, text: str) -> Exception:
    """``text`` as the builtin kind of error ``exc`` is (Pyro's own errors: RuntimeError)."""
    kind = next((k for k in (TimeoutError, ConnectionError, LookupError, TypeError, ValueError)
                 if isinstance(exc, k)), RuntimeError)
    return kind(text)


def capture(fleet: Fleet, name: str, selector: str, timeout: float | None = None
            ) -> tuple[Preset, list[str]]:
    """A preset of what the selected nodes show now, and notes on what could not be kept
    (a custom background: a node cannot hand its PNG back)."""
    check_name(name, "preset name")
    results = fleet.member(selector, "status", timeout=timeout)
    for outcome in results.failed:
        text = str(outcome.error)
        raise _again(outcome.error, text if repr(outcome.node) in text
                     else f"node {outcome.node!r}: {text}")
    looks, notes = {}, []
    for node, outcome in results.items():
        look, note = look_of(outcome.result)
        looks[node] = look
        if note:
            notes.append(f"{node} {note}: add background = \"FILE.png\" under "
                         f"[presets.{name}.{node}] by hand")
    return Preset(name, looks), notes


def look_of(status: Mapping[str, Any]) -> tuple[Look, str | None]:
    """What a node's ``status()`` says it shows, and a note if its background is a custom
    PNG (which no node hands back)."""
    state = status.get("state") or {}
    board, square = state.get("scoreboard") or {}, state.get("colorsquare") or {}
    look: dict[str, Any] = {}
    if "team" in board:
        look["team"] = board["team"]
    if isinstance(board.get("title_color"), list):
        look["title_color"] = _text(board["title_color"])
    if isinstance(square.get("name"), str):
        look["color"] = square["name"]
    elif isinstance(square.get("color"), list):
        look["color"] = _text(square["color"])
    note = None
    background = board.get("background")
    if background == BUILT_IN:
        look["background"] = BUILT_IN
    elif background:
        note = f"shows a custom background ({background}), which a node cannot hand back"
    if isinstance(status.get("mode"), str):
        look["mode"] = status["mode"]
    return Look(**look), note
