"""Node configuration: a TOML file (``--config`` or the user config dir), then flags on top.

The file is never read from the current directory, so a node started from some folder on a
Pi does not pick up a stranger's settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from engine.base.names import check_name, default_node_name

APP = "pyrostage"
HMAC_ENV = "PYROSTAGE_HMAC_KEY"


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
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The ``[plugins.<name>]`` tables, keyed by mode or behaviour name (what ``modes()`` and
    ``status()`` show), not by plugin; each is that one's ``self.config``."""
    tls: TLS = field(default_factory=TLS)

    @property
    def state_file(self) -> Path:
        return Path(self.state_dir) / f"{self.name}.sqlite3"

    def key(self) -> bytes | None:
        """The shared HMAC secret: the environment wins over the file."""
        value = os.environ.get(HMAC_ENV) or self.hmac_key
        return value.encode() if value else None


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> (1280, 720)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size must look like 1280x720, got {text!r}") from None
    if not (16 <= w <= 7680 and 16 <= h <= 4320):
        raise ValueError(f"size must be between 16x16 and 7680x4320, got {text!r}")
    return (w, h)


def _pins(table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, value in table.items():
        spec = {"pin": value} if isinstance(value, int) else dict(value)
        spec.setdefault("pull", "up")
        spec.setdefault("edge", "falling" if spec["pull"] == "up" else "rising")
        out[name] = spec
    return out


def load(path: str | Path | None = None, **overrides: Any) -> Config:
    """Read the TOML file (if any) and apply non-None ``overrides`` (the command-line flags)."""
    cfg = Config()
    file = Path(path) if path else default_config_path()
    if path and not file.exists():
        raise FileNotFoundError(f"config file {file} does not exist")
    data: dict[str, Any] = {}
    if file.exists():
        import tomllib

        with file.open("rb") as fh:
            try:
                data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"config file {file}: {exc}") from None
    node = data.get("node", {})
    display = data.get("display", {})
    gpio = data.get("gpio", {})
    plugins = data.get("plugins", {})
    for key in ("name", "host", "port", "ns_host", "ns_port", "embedded_ns", "groups",
                "hmac_key", "mode", "dispatch", "timeout"):
        if key in node:
            setattr(cfg, key, node[key])
    if "state_dir" in node:
        cfg.state_dir = Path(node["state_dir"]).expanduser()
    if "size" in display:
        cfg.size = parse_size(display["size"])
    for key in ("fullscreen", "headless", "fps", "font", "sound"):
        if key in display:
            setattr(cfg, key, display[key])
    if "backend" in gpio:
        cfg.gpio = gpio["backend"]
    for key in ("debounce_ms", "release_ms"):
        if key in gpio:
            setattr(cfg, key, int(gpio[key]))
    if "buttons" in gpio:  # main keeps GPIO14 unless the table gives it another pin
        cfg.buttons = {**cfg.buttons, **_pins(gpio["buttons"])}
    if "outputs" in gpio:
        cfg.outputs = {k: int(v) for k, v in gpio["outputs"].items()}
    cfg.allow = list(plugins.get("allow", []))
    cfg.block = list(plugins.get("deny", plugins.get("block", [])))
    cfg.plugins = {k: v for k, v in plugins.items() if isinstance(v, dict)}
    if "tls" in data:
        cfg.tls = TLS(**data["tls"])
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "size" and isinstance(value, str):
            value = parse_size(value)
        if key == "state_dir":
            value = Path(value).expanduser()
        if not hasattr(cfg, key):
            raise TypeError(f"unknown setting {key!r}")
        setattr(cfg, key, value)
    cfg.name = check_name(cfg.name)
    for group in cfg.groups:
        check_name(group, "group name")
    enable_on = cfg.plugins.get("easter_egg", {}).get("enable_on")
    if isinstance(enable_on, str):
        cfg.plugins["easter_egg"]["enable_on"] = date.fromisoformat(enable_on)
    return cfg
