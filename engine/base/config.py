"""Node configuration: a TOML file (``--config`` or the user config dir), then flags on top.

The file is never read from the current directory, so a node started from some folder on a
Pi does not pick up a stranger's settings. ``KEYS`` declares every setting once: ``load()``
checks a file against it, and ``pyrostage config example`` writes it out commented.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.base.names import check_name, default_node_name
from engine.base.text import short

APP = "pyrostage"
HMAC_ENV = "PYROSTAGE_HMAC_KEY"
ROTATIONS = (0, 90, 180, 270)


def default_config_path() -> Path:
    import platformdirs  # on first use: a controller's start is measured in milliseconds

    return Path(platformdirs.user_config_dir(APP)) / "pyrostage.toml"


def default_state_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir(APP))


@dataclass
class TLS:
    cert: str = ""
    key: str = ""
    ca: str = ""
    require_client_cert: bool = False
    client_cert: str = ""
    client_key: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.cert or self.ca)


class Tables(dict[str, dict[str, Any]]):
    """The ``[plugins.<name>]`` tables, and the file they came from (for messages)."""

    file: Path | None = None


@dataclass
class Config:
    name: str = field(default_factory=default_node_name)
    host: str = "127.0.0.1"
    port: int = 0
    ns_host: str | None = None
    ns_port: int | None = None
    embedded_ns: bool = False
    groups: list[str] = field(default_factory=list)
    state_dir: Path = field(default_factory=default_state_dir)
    hmac_key: str | None = None
    size: tuple[int, int] = (1280, 720)
    fullscreen: bool = False
    headless: bool = False
    fps: int = 30
    font: str | None = None
    sound: bool = True
    """Short synthesised sounds in a race where the node has audio (``[display] sound``)."""
    rotate: int = 0
    """Clockwise screen rotation in degrees (``[display] rotate``): 0, 90, 180 or 270."""
    mode: str | None = None
    dispatch: str = "lock"
    timeout: float = 2.0
    gpio: str = "auto"
    debounce_ms: int = 200
    release_ms: int = 50  # a held button is armed again once released this long in a row
    buttons: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"main": {"pin": 14, "pull": "up", "edge": "falling"}}
    )
    """Button name -> its pin (``pin``, ``pull``, ``edge``), for the buttons wired to one.
    Modes declare the buttons they use (``Mode.buttons``); one without a pin here is pressed
    over the network or by a ``sim`` key only."""
    outputs: dict[str, int] = field(default_factory=lambda: {"bell": 17})
    allow: list[str] = field(default_factory=list)
    block: list[str] = field(default_factory=list)
    plugins: dict[str, dict[str, Any]] = field(default_factory=Tables)
    """The ``[plugins.<name>]`` tables, keyed by mode or behaviour name (what ``modes()`` and
    ``status()`` show), not by plugin; each is that one's ``self.config``. The node checks
    them against what each declares (``engine.core.plugins.check_tables``)."""
    web_host: str = "127.0.0.1"
    """Where ``pyrostage web`` serves the page (``[web] host``; "auto": the LAN address)."""
    web_port: int = 8080
    web_token: str | None = None
    """The token the page and API need (``[web] token``; PYROSTAGE_WEB_TOKEN wins)."""
    tls: TLS = field(default_factory=TLS)
    file: Path | None = None
    """The config file read, if any (for messages)."""

    @property
    def state_file(self) -> Path:
        return Path(self.state_dir) / f"{self.name}.sqlite3"

    def key(self) -> bytes | None:
        """The shared HMAC secret: the environment wins over the file."""
        value = os.environ.get(HMAC_ENV) or self.hmac_key
        return value.encode() if value else None


# -- what each setting accepts ---------------------------------------------------------------


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> (1280, 720)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except (ValueError, AttributeError):
        raise ValueError(f"size must look like 1280x720, got {short(text)}") from None
    if not (16 <= w <= 7680 and 16 <= h <= 4320):
        raise ValueError(f"size must be between 16x16 and 7680x4320, got {text!r}")
    return (w, h)


def _size(value: Any) -> tuple[int, int]:
    if isinstance(value, tuple | list) and len(value) == 2:
        value = "x".join(map(str, value))
    if not isinstance(value, str):
        raise TypeError
    return parse_size(value)


def _int(lo: int, hi: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        if not lo <= value <= hi:
            raise ValueError
        return value

    return parse


def _seconds(lo: float, hi: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError
        if not lo <= value <= hi:
            raise ValueError
        return float(value)

    return parse


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    if not value or "\0" in value:
        raise ValueError
    return value


def _path(value: Any) -> Path:
    return Path(_text(str(value) if isinstance(value, Path) else value)).expanduser()


def _token(value: Any) -> str:
    text = _text(value)
    if not 8 <= len(text) <= 256 or not text.isprintable() or " " in text:
        raise ValueError(text)
    return text


def _choice(*choices: Any) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:  # by type too: 90.0 == 90, but a node refuses rotate = 90.0
        if not any(type(value) is type(c) and value == c for c in choices):
            raise ValueError
        return value

    return parse


MODE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _mode(value: Any) -> str:
    if not MODE_NAME.match(_text(value)):
        raise ValueError
    return value


def _list(item: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def parse(value: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise TypeError
        return [item(v) for v in value]

    return parse


def _group(value: Any) -> str:
    return check_name(value, "a group name")


class Refused(ValueError):
    """A part of a setting refused: ``[gpio] buttons.second`` must be ``accepts``."""

    def __init__(self, part: str, accepts: str, value: Any):
        super().__init__(part, accepts, value)
        self.part, self.accepts, self.value = part, accepts, value


PIN = _int(0, 27)
PIN_TEXT = "a GPIO number from 0 to 27"
PULLS = {"up": "falling", "down": "rising", "off": "falling"}
BUTTON = (f"{PIN_TEXT}, or {{pin = N, pull = \"up\"/\"down\"/\"off\", "
          "edge = \"falling\"/\"rising\"/\"both\"}")


def _table(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError
    for name in value:
        if not MODE_NAME.match(name):
            raise Refused(f".{name}", "named with lowercase letters, digits and _", name)
    return value


def _pins(value: Any) -> dict[str, dict[str, Any]]:
    """``{main = 14, second = {pin = 15, pull = "up", edge = "falling"}}``, each button
    filled in: a pull-up (the default) presses on the falling edge, a pull-down on the rising."""
    out = {}
    for name, spec in _table(value).items():
        try:
            spec = {"pin": spec} if isinstance(spec, int) else spec
            if not isinstance(spec, dict) or not set(spec) <= {"pin", "pull", "edge"}:
                raise ValueError
            pull = _choice(*PULLS)(spec.get("pull", "up"))
            edge = _choice("falling", "rising", "both")(spec.get("edge", PULLS[pull]))
            out[name] = {"pin": PIN(spec.get("pin")), "pull": pull, "edge": edge}
        except (TypeError, ValueError):
            raise Refused(f".{name}", BUTTON, value[name]) from None
    return out


def _outputs(value: Any) -> dict[str, int]:
    out = {}
    for name, pin in _table(value).items():
        try:
            out[name] = PIN(pin)
        except (TypeError, ValueError):
            raise Refused(f".{name}", PIN_TEXT, pin) from None
    return out


@dataclass(frozen=True)
class Key:
    """One setting of the file: where it lives, what it accepts, the ``Config`` field it sets."""

    section: str
    key: str
    accepts: str
    doc: str
    parse: Callable[[Any], Any]
    sets: str = ""
    """The ``Config`` field it sets, if not one named like the key."""
    example: Any = None
    """Written commented out in ``config example`` when the default is not a TOML value."""
    toml: Callable[[Any], Any] = lambda value: value
    """The field's default as the file writes it."""

    @property
    def attr(self) -> str:
        return self.sets or self.key

    def __str__(self) -> str:
        return f"[{self.section}] {self.key}"


def _size_text(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


PORT = "an integer from 0 (any free port) to 65535"
KEYS: tuple[Key, ...] = (
    Key("node", "name", "1 to 40 letters, digits, - or _, starting with a letter or digit",
        "The node's name: registered as pyrostage.NAME. Default: this machine's host name.",
        check_name, example="red"),
    Key("node", "host", "an address of this machine, or \"auto\"",
        "Address to serve on; \"auto\": the LAN address the name server is reached through.",
        _text),
    Key("node", "port", PORT, "Port to serve on.", _int(0, 65535)),
    Key("node", "ns_host", "a host name or address",
        "The name server's host. Default: found by broadcast, else localhost.", _text,
        example="10.0.0.1"),
    Key("node", "ns_port", "an integer from 1 to 65535", "The name server's port (9090).",
        _int(1, 65535), example=9090),
    Key("node", "embedded_ns", "true or false",
        "Run a name server inside this node instead of finding one.", _bool),
    Key("node", "groups", "a list of names (letters, digits, - or _)",
        "Group tags for selectors such as @hall.", _list(_group)),
    Key("node", "state_dir", "a folder path", "Where state is kept (the user state folder).",
        _path, example="/var/lib/pyrostage"),
    Key("node", "hmac_key", "a non-empty string",
        "The shared secret of the site (PYROSTAGE_HMAC_KEY wins over it).", _text,
        example="change me"),
    Key("node", "mode", "a mode name (lowercase letters, digits and _)",
        "The mode shown on first start.", _mode, example="scoreboard"),
    Key("node", "dispatch", "one of \"lock\", \"inbox\"",
        "How changes take turns: \"inbox\" runs every change on the main loop.",
        _choice("lock", "inbox")),
    Key("node", "timeout", "a number of seconds from 0.01 to 3600",
        "How long a change waits for its turn before it is refused.", _seconds(0.01, 3600)),
    Key("display", "size", "WIDTHxHEIGHT from 16x16 to 7680x4320, like \"1280x720\"",
        "The window's size; fullscreen uses the screen's own.", _size, toml=_size_text),
    Key("display", "fullscreen", "true or false", "Fill the screen.", _bool),
    Key("display", "headless", "true or false", "No window at all (SDL's dummy driver).",
        _bool),
    Key("display", "fps", "an integer from 1 to 240", "Frames a second while animating.",
        _int(1, 240)),
    Key("display", "font", "a path to a .ttf or .otf file", "The font (default: pygame's).",
        _text, example="/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Key("display", "sound", "true or false",
        "Short synthesised race sounds where there is audio.", _bool),
    Key("display", "rotate", "one of 0, 90, 180, 270",
        "Turn the picture clockwise, in degrees, for a TV on its side.", _choice(*ROTATIONS)),
    Key("gpio", "backend", "one of \"auto\", \"rpi\", \"sim\", \"none\"",
        "Pin backend: \"auto\" is rpi on a Pi, else sim (keys in the window).",
        _choice("auto", "rpi", "sim", "none"), sets="gpio"),
    Key("gpio", "debounce_ms", "an integer from 0 to 5000",
        "A button's presses closer together than this count once.", _int(0, 5000)),
    Key("gpio", "release_ms", "an integer from 0 to 5000",
        "A held button counts again once read released this long.", _int(0, 5000)),
    Key("gpio", "buttons", f"a table of button name = {BUTTON}",
        "Buttons wired to pins (BCM numbers); main keeps GPIO14 unless given another.", _pins,
        toml=lambda buttons: {k: v["pin"] for k, v in buttons.items()}),
    Key("gpio", "outputs", f"a table of output name = {PIN_TEXT}",
        "Outputs such as the bell's relay.", _outputs),
    Key("plugins", "allow", "a list of plugin names",
        "Load only these plugins (also PYROSTAGE_PLUGINS).", _list(_text)),
    Key("plugins", "deny", "a list of plugin names",
        "Never load these plugins (also PYROSTAGE_DISABLE_PLUGINS).", _list(_text),
        sets="block"),
    Key("web", "host", "an address of this machine, or \"auto\"",
        "Where `pyrostage web` serves the page: 127.0.0.1 is this machine only; \"auto\": "
        "the LAN address (then set a token).", _text, sets="web_host"),
    Key("web", "port", "an integer from 1 to 65535", "The web page's port.", _int(1, 65535),
        sets="web_port"),
    Key("web", "token", "8 to 256 printable characters without spaces",
        "The token phones enter once (PYROSTAGE_WEB_TOKEN wins over it).", _token,
        sets="web_token", example="pick-a-long-secret"),
    Key("tls", "cert", "a file path", "This machine's certificate (PEM): Pyro over TLS.",
        _text, example="node.crt"),
    Key("tls", "key", "a file path", "Its private key.", _text, example="node.key"),
    Key("tls", "ca", "a file path", "The site's CA certificate.", _text, example="camp-ca.crt"),
    Key("tls", "require_client_cert", "true or false",
        "Serve only clients with a certificate from the CA.", _bool),
    Key("tls", "client_cert", "a file path", "The certificate this machine shows as a client.",
        _text, example="controller.crt"),
    Key("tls", "client_key", "a file path", "Its private key.", _text,
        example="controller.key"),
)
SECTIONS = {section: {k.key: k for k in KEYS if k.section == section}
            for section in dict.fromkeys(k.section for k in KEYS)}
ALIASES = {("plugins", "block"): "deny"}
"""Older spellings still read."""
BY_FIELD = {k.attr: k for k in KEYS if k.section != "tls"}


def refusal(where: str, accepts: str, value: Any, detail: str = "") -> str:
    """What a setting needs, as every message about one says it."""
    got = short(value) if not isinstance(value, str | int | float) else repr(value)
    got = short(value) if len(got) > 60 else got
    return f"{where} must be {accepts}, got {got}" + (f" ({detail})" if detail else "")


def _why(exc: Exception) -> str:
    text = str(exc)
    return "" if not text or "must be" in text or text.startswith("size") else text


# -- reading a file --------------------------------------------------------------------------


def _read(file: Path) -> dict[str, Any]:
    import tomllib

    try:  # utf-8-sig: Windows editors start a UTF-8 file with a byte order mark
        text = file.read_bytes().decode("utf-8-sig")
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file {file}: {exc}{_toml_hint(text, exc)}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"config file {file} is not UTF-8 text: {exc}") from None


TOML_HINTS = (
    (re.compile(r"=\s*(True|False|yes|no|on|off)\s*(#.*)?$"), "true and false are lowercase"),
    (re.compile(r"=\s*[A-Za-z][^\"'\[{]*$"), "text needs quotes: key = \"value\""),
    (re.compile(r"=\s*\"[^\"]*$"), "a quote is not closed"),
    (re.compile(r",\s*}"), "no comma before the closing }"),
    (re.compile(r"^\s*\[\s*(\w+)\s*\]"), "each [section] once: add its keys under the first"),
)


def _toml_hint(text: str, exc: Exception) -> str:
    """The line the TOML parser stopped at, and what is usually wrong with such a line."""
    at = re.search(r"at line (\d+)", str(exc))  # tomllib's own attributes come in 3.14
    lineno = int(at.group(1)) if at else None
    lines = text.splitlines()
    if not isinstance(lineno, int) or not 1 <= lineno <= len(lines):
        return ""
    line = lines[lineno - 1].strip()
    hint = next((why for pattern, why in TOML_HINTS if pattern.search(line)), "")
    shown = line if len(line) <= 60 else line[:57] + "..."
    return f": `{shown}`" + (f" ({hint})" if hint else "")


def _apply(cfg: Config, data: dict[str, Any]) -> Iterator[str]:
    """Set ``cfg`` from the file's ``data``; yield a message for each thing that is wrong."""
    for section, table in data.items():
        if section not in SECTIONS and not isinstance(table, dict):
            yield (f"{section} is outside any section; settings go in "
                   f"{', '.join(f'[{s}]' for s in SECTIONS)}")
            continue
        if section not in SECTIONS:
            yield (f"[{section}] is not a section pyrostage knows; the sections are "
                   f"{', '.join(f'[{s}]' for s in SECTIONS)}")
            continue
        if not isinstance(table, dict):
            yield f"{section} must be a [{section}] table, got {short(table)}"
            continue
        for name, value in table.items():
            name = ALIASES.get((section, name)) or name
            key = SECTIONS[section].get(name)
            if key is None:
                if section == "plugins" and isinstance(value, dict):
                    cfg.plugins[name] = value  # checked against the plugin by the node
                    continue
                known = ", ".join(SECTIONS[section])
                extra = "; or a [plugins.<mode name>] table" if section == "plugins" else ""
                yield f"[{section}] {name} is not a setting; [{section}] has {known}{extra}"
                continue
            try:
                parsed = key.parse(value)
            except Refused as exc:
                yield refusal(f"{key}{exc.part}", exc.accepts, exc.value)
                continue
            except (TypeError, ValueError) as exc:
                yield refusal(str(key), key.accepts, value, _why(exc))
                continue
            if key.attr == "buttons":  # main keeps GPIO14 unless the table gives it another
                parsed = {**cfg.buttons, **parsed}
            setattr(cfg.tls if section == "tls" else cfg, key.attr, parsed)


def read(path: str | Path | None = None) -> tuple[Config, list[str]]:
    """The file (or the defaults) as a Config, and every problem found, one line each."""
    cfg = Config()
    file = Path(path) if path else default_config_path()
    if path and not file.is_file():
        what = ("is a folder, not a file" if file.is_dir() else
                "is not a regular file" if file.exists() else "does not exist")
        raise FileNotFoundError(f"config file {file} {what}")
    if not file.exists():
        return cfg, []
    cfg.file = cfg.plugins.file = file  # type: ignore[attr-defined]
    problems = [*_apply(cfg, _read(file)), *_shared_pins(cfg)]
    return cfg, [f"config file {file}: {p}" for p in problems]


def _shared_pins(cfg: Config) -> Iterator[str]:
    """Two things wired to one pin: a bell driven on a button's pin shorts it when pressed."""
    users: dict[int, str] = {}
    wired = [(f"buttons.{n}", b["pin"]) for n, b in cfg.buttons.items()]
    for what, pin in [*wired, *((f"outputs.{n}", p) for n, p in cfg.outputs.items())]:
        if pin in users:
            yield (f"[gpio] {what} is on GPIO{pin}, which {users[pin]} uses already; "
                   "each button and output needs a pin of its own")
        else:
            users[pin] = what


CHECKED_FLAGS = ("name", "groups", "size", "state_dir", "rotate", "port", "ns_port")
"""Overrides checked (and normalised) as the file's values are; the others are the
caller's (click checks the flags; tests set wide debounce windows)."""


def load(path: str | Path | None = None, **overrides: Any) -> Config:
    """Read the TOML file (if any) and apply non-None ``overrides`` (the command-line flags).

    A wrong file is one ``ValueError`` naming the file, the setting and what it accepts;
    ``pyrostage config check`` lists every problem.
    """
    cfg, problems = read(path)
    if problems:
        more = len(problems) - 1
        raise ValueError(problems[0] + (f" (and {more} more: `pyrostage config check "
                                        f"{cfg.file}` lists them)" if more else ""))
    for name, value in overrides.items():
        if value is None:
            continue
        if not hasattr(cfg, name) or name == "file":
            raise TypeError(f"unknown setting {name!r}")
        key = BY_FIELD.get(name)
        if key is not None and name in CHECKED_FLAGS:
            try:
                value = key.parse(value)
            except TypeError as exc:
                raise TypeError(refusal(name, key.accepts, value, _why(exc))) from None
            except ValueError as exc:
                raise ValueError(refusal(name, key.accepts, value, _why(exc))) from None
        if name == "plugins":
            value = Tables(value)
        setattr(cfg, name, value)
    return cfg


# -- the commented example -------------------------------------------------------------------


def entry(key: str, value: Any, doc: str, accepts: str, commented: bool = False) -> list[str]:
    """One setting in ``config example``: what it does, what it accepts, its line."""
    line = f"{key} = {_inline(value)}"
    return [f"# {doc}", f"# Accepts {accepts}.", f"# {line}" if commented else line]


def _inline(value: Any) -> str:
    """A TOML value on one line: tables inline (tomli-w writes them as sections)."""
    import tomli_w

    if isinstance(value, dict):
        items = ", ".join(f"{_key(k)} = {_inline(v)}" for k, v in value.items())
        return f"{{ {items} }}" if items else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return tomli_w.dumps({"v": value}).partition("=")[2].strip()


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _inline(name)


def example(plugin_tables: list[str] | None = None) -> str:
    """Every setting with its default and what it accepts, as a commented ``pyrostage.toml``;
    ``plugin_tables`` (the installed plugins' ``[plugins.<name>]`` tables) follow ``[plugins]``."""
    defaults = Config(name="", state_dir=Path())
    lines = ["# pyrostage.toml: every setting with its default. Lines starting with `# key =`",
             "# are unset; remove the `#` to set one. `pyrostage config check` checks a file.",
             ""]
    for section, keys in SECTIONS.items():
        lines.append(f"[{section}]")
        for key in keys.values():
            value = getattr(defaults.tls if section == "tls" else defaults, key.attr)
            unset = key.example is not None
            shown = key.example if unset else key.toml(value)
            lines += [*entry(key.key, shown, key.doc, key.accepts, commented=unset), ""]
        if section == "plugins":
            lines += plugin_tables or []
    return "\n".join(lines).rstrip() + "\n"
