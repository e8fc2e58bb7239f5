"""The checks of ``pyrostage doctor`` that need no hardware: Python, the install, the config
file, the node's name, the state directory, the name server, the shared key, TLS, the clock.

Each check takes the ``Context`` and returns one ``Check`` (or a few); what it finds wrong is
said in words a camp counsellor can act on, with the fix next to it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import stat
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.base.names import PREFIX, check_name, default_node_name
from engine.base.text import size_text

if TYPE_CHECKING:
    from engine.base.config import Config
    from engine.cli.doctor_hardware import Probes

OK, INFO, WARNING, PROBLEM = "ok", "info", "warning", "problem"
STATUSES = (OK, INFO, WARNING, PROBLEM)
LOW_SPACE = 50_000_000
"""Bytes free below which the state directory gets a warning."""
NO_SPACE = 5_000_000
"""Bytes free below which it is a problem: a node must write before it acknowledges."""
NS_TIMEOUT = 2.0
MIN_PYTHON = (3, 11)
OLDEST_YEAR = 2024
"""A wall clock before this year was never set (a Pi has no battery clock)."""
DEFAULT_HOSTS = {"raspberrypi", "raspberry", "pi", "localhost", "debian", "ubuntu", "node"}
"""Host names every freshly flashed card of a kind shares."""
GUIDE = "docs/raspberry-pi.md"


@dataclass
class Check:
    check: str
    status: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Context:
    """What the checks share: the config (defaults when it could not be read), the file it
    came from and the probes running meanwhile."""

    cfg: Config
    config_file: Path | None
    config_error: str | None
    probes: Probes
    pi: str | None = None
    """The Raspberry Pi's model, None elsewhere."""
    facts: dict[str, Any] = field(default_factory=dict)


def python(ctx: Context) -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info < MIN_PYTHON:
        return Check("python", PROBLEM, f"{version} at {sys.executable}: pyrostage needs 3.11+",
                     "install Python 3.11 or newer (Raspberry Pi OS Bookworm has 3.11)")
    return Check("python", OK, f"{version} at {sys.executable}")


def install(ctx: Context) -> Check:
    import importlib.metadata
    import json

    import engine

    where = Path(engine.__file__).resolve().parent
    how = ""
    with contextlib.suppress(Exception):
        direct = importlib.metadata.distribution("pyrostage").read_text("direct_url.json")
        if direct and json.loads(direct).get("dir_info", {}).get("editable"):
            how = " (editable install)"
    return Check("pyrostage", OK, f"{engine.__version__} at {where}{how}")


def config_file(ctx: Context) -> Check:
    if ctx.config_error:
        where = f"{ctx.config_file}: " if ctx.config_file and str(ctx.config_file) not in \
            ctx.config_error else ""
        return Check("config", PROBLEM, f"{where}{ctx.config_error}",
                     "fix the file (`pyrostage config check` says what is accepted)")
    if ctx.config_file is None or not ctx.config_file.exists():
        from engine.base.config import default_config_path

        return Check("config", INFO, f"none, the defaults apply (no {default_config_path()})",
                     "`pyrostage config example > FILE` writes one with every setting")
    return Check("config", OK, str(ctx.config_file))


def node_name(ctx: Context) -> Check:
    host = socket.gethostname().split(".")[0]
    name = ctx.cfg.name
    configured = name != default_node_name()
    rename = ("give each card its own host name (sudo raspi-config nonint do_hostname red, "
              "then reboot)")
    if host.lower() in DEFAULT_HOSTS:
        who = f"the node is called {name!r} (from the config file)" if configured else \
            f"the node would be called {name!r}"
        return Check("node name", WARNING, f"host name {host!r} is a default: cloned cards all "
                     f"share it (and {host}.local); {who}", rename)
    try:
        check_name(host)
    except ValueError:
        if not configured:
            return Check("node name", WARNING, f"host name {host!r} is not a node name: the "
                         f"node would be called {name!r}",
                         "a host name of letters, digits and - (or name = under [node])")
    where = "from the config file" if configured else "the host name"
    return Check("node name", OK, f"{name} ({where})")


def state_dir(ctx: Context) -> Check:
    path = Path(ctx.cfg.state_dir)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    fix_perm = f"make it writable for this user, or set state_dir under [node] ({path})"
    if not path.exists():
        if not os.access(existing, os.W_OK | os.X_OK):
            return Check("state dir", PROBLEM, f"{path} does not exist and cannot be created "
                         f"({existing} is not writable)", fix_perm)
        wrote, how = True, "does not exist yet, will be created at first start"
    elif not path.is_dir():
        return Check("state dir", PROBLEM, f"{path} is not a directory", fix_perm)
    else:
        wrote, how = _can_write(path)
    try:
        free = shutil.disk_usage(existing).free
    except OSError as exc:
        return Check("state dir", PROBLEM, f"{path}: {exc.strerror or exc}", fix_perm)
    detail = f"{path}: {how}, {_space(free)} free"
    if not wrote:
        if "space" in how:
            return Check("state dir", PROBLEM, detail, "free some space on that disk")
        return Check("state dir", PROBLEM, detail, fix_perm)
    if free < NO_SPACE:
        return Check("state dir", PROBLEM, detail, "free some space on that disk: a node must "
                     "save each change before it acknowledges it")
    if free < LOW_SPACE:
        return Check("state dir", WARNING, detail, "free some space on that disk (a full disk "
                     "makes the node refuse changes)")
    return Check("state dir", OK, detail)


def _space(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 10e9 else size_text(n)


def _can_write(path: Path) -> tuple[bool, str]:
    """Whether a file can be written there for real (``os.access`` says yes to root on a full
    disk, and to anyone on a read-only mount on some systems)."""
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".doctor-") as fh:
            fh.write(b"\0" * 4096)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        why = exc.strerror or str(exc)
        if exc.errno == 28:
            why = "no space left"
        return False, f"cannot write ({why.lower()})"
    return True, "writable"


def state_files(ctx: Context) -> Check:
    path = Path(ctx.cfg.state_dir)
    own = ctx.cfg.state_file.name
    try:
        files = sorted(p for p in path.glob("*.sqlite3") if p.is_file())
        size = sum(p.stat().st_size for p in path.iterdir() if ".sqlite3" in p.name)
    except OSError as exc:
        if not path.exists():
            return Check("state files", INFO, "none yet")
        return Check("state files", PROBLEM, f"{path}: {exc.strerror or exc}",
                     "make the state directory readable for this user")
    if not files:
        return Check("state files", INFO, "none yet (a node starts with default scores)")
    mine = f"; {own} is this node's" if any(p.name == own for p in files) else \
        f"; none for this node yet ({own})"
    unreadable = [p.name for p in files if not os.access(p, os.R_OK | os.W_OK)]
    count = f"{len(files)} file{'s' if len(files) != 1 else ''}, {size_text(size)}{mine}"
    if unreadable:
        return Check("state files", PROBLEM, f"{count}; cannot read and write "
                     f"{', '.join(unreadable)}", "chown them to the node's user")
    return Check("state files", OK, count)


def name_server(ctx: Context) -> Check:
    import Pyro4
    import Pyro4.errors

    from engine.base.pyroconf import harden, locate_ns, use_tls

    cfg = ctx.cfg
    if cfg.embedded_ns:
        return Check("name server", INFO, "the node starts its own (embedded_ns = true)")
    harden()
    use_tls(cfg.tls)
    config: Any = Pyro4.config
    host, port = cfg.ns_host or config.NS_HOST, cfg.ns_port or config.NS_PORT
    where = f"{host}:{port}"
    try:
        ns = locate_ns(host, port, cfg.key(), timeout=NS_TIMEOUT)
        with ns:
            names = sorted(n.removeprefix(PREFIX) for n in ns.list(prefix=PREFIX))
    except PermissionError as exc:
        return Check("name server", PROBLEM, str(exc),
                     "the same hmac_key (or PYROSTAGE_HMAC_KEY) on every machine")
    except (Pyro4.errors.PyroError, OSError) as exc:
        why = str(exc).removeprefix(f"no name server answered at {where}: ")
        return Check("name server", WARNING, f"none answered at {where} within "
                     f"{NS_TIMEOUT:g} s ({why})",
                     "start one on one machine (`pyrostage ns --host 0.0.0.0`) and set ns_host "
                     "under [node] (or --ns-host / PYRO_NS_HOST); nodes keep serving and "
                     "register once it answers")
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    listed = f": {shown}" if names else ""
    return Check("name server", OK, f"{where} answers, {len(names)} "
                 f"node{'s' if len(names) != 1 else ''}{listed}")


def shared_key(ctx: Context) -> Check:
    from engine.base.config import HMAC_ENV
    from engine.base.pyroconf import is_loopback

    cfg = ctx.cfg
    key = cfg.key()
    lan = cfg.host == "auto" or not is_loopback(cfg.host)
    where = "the LAN address (host = auto)" if cfg.host == "auto" else cfg.host
    if not key:
        if lan:
            return Check("shared key", WARNING, f"the node would serve on {where} without a "
                         "shared key: it runs, but anyone on this network could drive it",
                         f"set hmac_key under [node] (or {HMAC_ENV}), the same on every node, "
                         "name server and controller")
        status = WARNING if ctx.pi else INFO
        return Check("shared key", status, f"none, and none needed: the node serves on "
                     f"{cfg.host} (only this machine can reach it)",
                     'host = "auto" under [node] lets controllers elsewhere reach it (then '
                     "set hmac_key too)")
    source = HMAC_ENV if os.environ.get(HMAC_ENV) else "the config file"
    detail = f"set (from {source}, {len(key)} characters)"
    if source != HMAC_ENV and ctx.config_file is not None:
        with contextlib.suppress(OSError):
            if ctx.config_file.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
                return Check("shared key", WARNING, f"{detail}, but other users can read "
                             f"{ctx.config_file}", f"chmod 600 {ctx.config_file}")
    if len(key) < 16:
        return Check("shared key", WARNING, f"{detail}: short enough to guess",
                     'a longer one: python3 -c "import secrets; '
                     'print(secrets.token_urlsafe(24))"')
    return Check("shared key", OK, detail)


def tls(ctx: Context) -> list[Check]:
    t = ctx.cfg.tls
    if not t.enabled:
        return []
    files = {"cert": t.cert, "key": t.key, "ca": t.ca, "client_cert": t.client_cert,
             "client_key": t.client_key}
    bad = [f"{k} {v} {'is missing' if not Path(v).exists() else 'is not readable'}"
           for k, v in files.items() if v and not os.access(v, os.R_OK)]
    fix = "put the files there, readable by the node's user (chmod 600), or fix [tls]"
    if bad:
        return [Check("tls", PROBLEM, "; ".join(bad), fix)]
    try:
        context = ssl.create_default_context()
        if t.cert:
            context.load_cert_chain(t.cert, t.key or None)
        if t.ca:
            context.load_verify_locations(t.ca)
    except (ssl.SSLError, OSError, ValueError) as exc:
        return [Check("tls", PROBLEM, f"the certificate files do not load: {exc}", fix)]
    used = ", ".join(f"{k} {v}" for k, v in files.items() if v)
    return [Check("tls", OK, f"on: {used}")]


def clock(ctx: Context) -> Check:
    now = datetime.now().astimezone()
    mono = time.get_clock_info("monotonic")
    detail = f"{now:%Y-%m-%d %H:%M} {now.tzname()}"
    if not mono.monotonic:
        return Check("clock", PROBLEM, f"{detail}; this system has no monotonic clock",
                     "button presses and races need one: another operating system")
    stale = _installed_after(now.timestamp())
    journal = ("races measure each node's clock themselves, but dates in journals and "
               "history will look wrong")
    if now.year < OLDEST_YEAR or stale:
        why = "was never set" if now.year < OLDEST_YEAR else \
            "is earlier than when pyrostage was installed"
        return Check("clock", WARNING, f"{detail}: the clock {why} (no network time, no battery "
                     f"clock); {journal}", "let the Pi reach network time once "
                     "(or set it: sudo date -s '2025-07-01 12:00')")
    synced = _synchronised()
    if synced is False:
        return Check("clock", WARNING, f"{detail}, not synchronised with network time: it may "
                     f"be the time of the last shutdown; {journal}",
                     "fine for races; for correct dates let the Pi reach the internet once")
    return Check("clock", OK, f"{detail}; monotonic clock present")


def _installed_after(now: float) -> bool:
    import engine

    try:
        return Path(engine.__file__).stat().st_mtime > now + 86400
    except OSError:
        return False


def _synchronised() -> bool | None:
    """systemd's verdict (``timedatectl``), None where there is none."""
    import subprocess

    if not shutil.which("timedatectl"):
        return None
    try:
        out = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                             capture_output=True, text=True, timeout=2, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return {"yes": True, "no": False}.get(value) if out.returncode == 0 else None
