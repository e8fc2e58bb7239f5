"""``pyrostage install-service``: systemd units that start a node (or the name server, or the
web page) at boot and bring it back whatever stopped it.

The node unit is ``Type=notify``: the node says ``READY=1`` once it serves (not once it is
registered, so a name server that boots late restarts nobody) and pings the watchdog from its
main loop (see ``engine.base.notify``). The hardening keeps what a screen and pins need:
devices stay visible, only the file system is locked down.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from engine.base.config import APP, load
from engine.cli.app import ERRORS, fail, main

KINDS = ("node", "ns", "web")
SYSTEM_DIR = Path("/etc/systemd/system")
ENV_FILE = Path("/etc/pyrostage/env")
GROUPS = ("video", "render", "input", "gpio", "audio")
"""Screen (DRM/KMS), GPU, keyboard and buttons, GPIO chips, sound: added where they exist."""
WATCHDOG_SEC = 30
RESTART_SEC = 3
ENV_TEMPLATE = """\
# Environment for the pyrostage services (read by systemd as root; keep it mode 600).
# The shared key every node, name server and controller must have:
#PYROSTAGE_HMAC_KEY=paste-the-key-here
"""


@dataclass
class Account:
    """Whom the service runs as, and where that user's files are."""

    name: str
    uid: int
    gid: int
    home: Path

    @classmethod
    def find(cls, name: str | None) -> Account:
        """``name``, else whoever called sudo, else the invoking user."""
        name = name or os.environ.get("SUDO_USER") or pwd.getpwuid(os.getuid()).pw_name
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise LookupError(f"no user {name!r} on this machine; give --user an existing "
                              "login (the one that owns the venv and the config)") from None
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))

    @property
    def is_me(self) -> bool:
        return self.uid == os.getuid()

    def config_home(self) -> Path:
        xdg = os.environ.get("XDG_CONFIG_HOME") if self.is_me else None
        return Path(xdg) if xdg else self.home / ".config"

    def state_home(self) -> Path:
        xdg = os.environ.get("XDG_STATE_HOME") if self.is_me else None
        return Path(xdg) if xdg else self.home / ".local" / "state"


def executable() -> Path:
    """The absolute path of this installation's ``pyrostage`` script (systemd wants one)."""
    candidates = [Path(sys.executable).parent / "pyrostage"]  # the venv's bin, never resolved
    found = shutil.which("pyrostage")
    if found:
        candidates.append(Path(found))
    if Path(sys.argv[0]).name == "pyrostage":
        candidates.append(Path(sys.argv[0]))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return Path(os.path.abspath(path))
    raise FileNotFoundError("cannot find the installed `pyrostage` script (looked in "
                            f"{candidates[0].parent}); install pyrostage with pip into a venv")


def quote(arg: str | Path, command: bool = False) -> str:
    """One word of a unit file: specifiers escaped (and ``$`` in a ``command``, the only
    place systemd expands variables), quoted if it has spaces. A line break would end the
    setting (and could start another), so control characters are refused."""
    text = str(arg)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError(f"a unit file cannot hold the path {text!r} (it has a line break or "
                         "another control character); rename or move it")
    text = text.replace("%", "%%").replace("$", "$$" if command else "$")
    if any(c.isspace() or c in "\"'\\;" for c in text) or not text:
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def existing_groups() -> list[str]:
    out = []
    for group in GROUPS:
        try:
            grp.getgrnam(group)
        except KeyError:
            continue
        out.append(group)
    return out


@dataclass
class Plan:
    """What the unit says: the command, the user, the config and state it uses."""

    kind: str
    account: Account
    exe: Path
    config: Path | None
    state_dir: Path
    desktop: bool

    @property
    def unit_name(self) -> str:
        return f"pyrostage-{self.kind}.service"

    @property
    def directory(self) -> Path:
        if self.desktop:
            return self.account.config_home() / "systemd" / "user"
        return SYSTEM_DIR

    def command(self) -> str:
        args: list[str | Path] = [self.exe, "serve" if self.kind == "node" else self.kind]
        if self.kind == "node" and self.config is not None:
            args += ["--config", self.config]
        if self.kind == "ns":
            args += ["--host", "0.0.0.0"]
        if self.kind == "web":  # every address; set [web] token: phones on the LAN reach it
            args += ["--host", "0.0.0.0", "--no-qr"]
        return " ".join(quote(a, command=True) for a in args)


def plan(kind: str, user: str | None, config: str | None, desktop: bool) -> Plan:
    account = Account.find(user)
    if config is not None:
        given = Path(os.path.abspath(Path(config).expanduser()))
        if not given.is_file():
            raise FileNotFoundError(f"config file {given} does not exist")
        config_file: Path | None = given
    else:
        default = account.config_home() / APP / "pyrostage.toml"
        config_file = default if default.is_file() else None
    state_dir = account.state_home() / APP
    if config_file is not None and kind == "node":
        state_dir = load(config_file).state_dir.expanduser()  # and a broken file is said now
    return Plan(kind, account, executable(), config_file, Path(os.path.abspath(state_dir)),
                desktop)


def render(p: Plan) -> str:
    """The unit file's text."""
    node = p.kind == "node"
    what = {"node": "display node", "ns": "name server",
            "web": "web page for phones"}[p.kind]
    lines = ["# Written by `pyrostage install-service`; run it again rather than editing this.",
             "[Unit]", f"Description=pyrostage {what}"]
    if p.desktop:
        lines += ["# Runs in the desktop session, which owns the screen.",
                  "PartOf=graphical-session.target", "After=graphical-session.target"]
    else:
        uses = {"node": "the node registers and listens on it", "ns": "it listens on it",
                "web": "phones reach it over it"}[p.kind]
        lines += [f"# Start once the network is up ({uses}).",
                  "Wants=network-online.target", "After=network-online.target"]
    lines += ["# Never give up restarting: a camp's screens and their name server must come",
              "# back, however often they stopped.",
              "StartLimitIntervalSec=0", "", "[Service]"]
    if node:
        lines += ["# The node says READY=1 once it serves and pings the watchdog from its main",
                  "# loop; a main loop that hangs longer than WatchdogSec gets it restarted.",
                  "Type=notify", "NotifyAccess=main", f"WatchdogSec={WATCHDOG_SEC}"]
    else:
        lines += [f"# The {what} says READY=1 once it listens.", "Type=notify",
                  "NotifyAccess=main"]
    lines.append(f"ExecStart={p.command()}")
    why = "Escape twice at the keyboard" if node else "a stop by hand is `systemctl stop`"
    lines += [f"# Also after a clean exit ({why}).", "Restart=always",
              f"RestartSec={RESTART_SEC}", "TimeoutStopSec=15"]
    if not p.desktop:
        lines.append(f"User={p.account.name}")
    rundir = f"pyrostage-{p.kind}"
    lines += ["# A writable working directory: lgpio puts its .lgd-nfy* files there (or in LG_WD).",
              f"RuntimeDirectory={rundir}", f"WorkingDirectory=%t/{rundir}",
              f"Environment=LG_WD=%t/{rundir}",
              "# Log lines reach the journal at once.", "Environment=PYTHONUNBUFFERED=1"]
    if p.desktop:
        lines += ["# PYROSTAGE_HMAC_KEY=... here (~/.config/pyrostage/env, mode 600), if not in "
                  "the config file.", "EnvironmentFile=-%E/pyrostage/env",
                  "# Hardening: no privilege gains. (The file-system sandbox of a system unit",
                  "# would need user namespaces here, which hide the device groups.)",
                  "NoNewPrivileges=yes"]
    else:
        groups = existing_groups()
        lines += ["# PYROSTAGE_HMAC_KEY=... here (mode 600), if not in the config file.",
                  f"EnvironmentFile=-{ENV_FILE}",
                  "# Hardening. Devices stay visible: the screen (/dev/dri), buttons and",
                  "# keyboard (/dev/input), pins (/dev/gpiochip*, /dev/gpiomem*) and sound."]
        if groups:
            lines += ["# The device groups, in case the user is not in them yet.",
                      f"SupplementaryGroups={' '.join(groups)}"]
        lines += ["# No setuid or capability gains, ever.", "NoNewPrivileges=yes",
                  "# /usr, /boot and /etc read-only; nothing else writable but what follows.",
                  "ProtectSystem=strict",
                  "# Home read-only: the config file, certificates and ~/.asoundrc are read.",
                  "ProtectHome=read-only"]
        if node:
            lines += ["# The state directory (scores, team names, timer results) stays writable.",
                      f"ReadWritePaths={quote(p.state_dir)}"]
        lines += ["# A /tmp of its own.", "PrivateTmp=yes",
                  "# No kernel modules loaded, no cgroup changes, no setuid files made.",
                  "ProtectKernelModules=yes", "ProtectControlGroups=yes",
                  "RestrictSUIDSGID=yes"]
    wanted = "graphical-session.target" if p.desktop else "multi-user.target"
    lines += ["", "[Install]", f"WantedBy={wanted}"]
    return "\n".join(lines) + "\n"


def _own(path: Path, account: Account) -> None:
    if os.getuid() == 0 and account.uid != 0:
        os.chown(path, account.uid, account.gid)


def _make_dirs(path: Path, account: Account) -> None:
    """``mkdir -p`` whose new folders belong to the service's user (when run as root)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir()
        _own(folder, account)


def install(p: Plan) -> list[str]:
    """Write the unit (and what it needs); return what to tell the user."""
    target = p.directory / p.unit_name
    if not p.desktop and not SYSTEM_DIR.is_dir():
        raise click.ClickException(f"no {SYSTEM_DIR} here: this machine does not run systemd "
                                   "(`--print` shows the unit)")
    try:
        if p.desktop:
            _make_dirs(p.directory, p.account)
        target.write_text(render(p))
        if p.desktop:
            _own(target, p.account)
        notes = [f"wrote {target}"]
        if p.kind == "node":
            _make_dirs(p.state_dir, p.account)  # ReadWritePaths= needs it to exist
        if not p.desktop and not ENV_FILE.exists():
            ENV_FILE.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(ENV_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(ENV_TEMPLATE)
            notes.append(f"wrote {ENV_FILE} (mode 600): put PYROSTAGE_HMAC_KEY=... there")
    except PermissionError:
        me = quote(p.exe)
        raise click.ClickException(
            f"no permission to write {target}: run `sudo {me} install-service --user "
            f"{p.account.name} {p.kind}`, or `--print` to see the unit") from None
    return notes


def _commands(p: Plan) -> list[str]:
    if p.desktop:
        return ["systemctl --user daemon-reload",
                f"systemctl --user enable --now {p.unit_name}",
                f"systemctl --user status {p.unit_name}"]
    return ["sudo systemctl daemon-reload",
            f"sudo systemctl enable --now {p.unit_name}",
            f"systemctl status {p.unit_name}",
            f"journalctl -u {p.unit_name} -f"]


@main.command("install-service")
@click.argument("kind", type=click.Choice(KINDS), default="node", required=False)
@click.option("--user", "user", metavar="USER",
              help="Run as this user (default: the one who ran sudo, else you).")
@click.option("--config", "config", type=click.Path(dir_okay=False),
              help="The node's config file (default: the user's pyrostage.toml, if any).")
@click.option("--print", "show", is_flag=True, help="Print the unit instead of installing it.")
@click.option("--desktop", "--user-unit", "desktop", is_flag=True,
              help="A user unit in the desktop session (Desktop images), not a system unit.")
def install_service(kind: str, user: str | None, config: str | None, show: bool,
                    desktop: bool) -> None:
    """Install a systemd unit that runs KIND (node, ns or web; default node) at boot and
    restarts it whatever stopped it. Prints the systemctl commands to run next."""
    try:
        p = plan(kind, user, config, desktop)
        unit = render(p)  # a path no unit file can hold is refused here, in one line
    except ERRORS as exc:
        raise fail(exc) from None
    if not show and not desktop and p.account.uid == 0 and user is None:
        raise click.ClickException(f"the {kind} would run as root: run `sudo pyrostage "
                                   f"install-service --user NAME {kind}` with the user who "
                                   "owns the venv and the config (or --user root)")
    if show:
        click.echo(unit, nl=False)
        return
    try:
        notes = install(p)
    except click.ClickException:
        raise
    except ERRORS as exc:
        raise fail(exc) from None
    for note in notes:
        click.echo(note)
    if p.config is None and p.kind == "node":
        where = p.account.config_home() / APP / "pyrostage.toml"
        click.echo(f"no config file yet: the node reads {where} once it exists")
    click.echo("Then run:\n" + "\n".join(f"  {c}" for c in _commands(p)))
