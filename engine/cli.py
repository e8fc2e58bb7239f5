"""``pyrostage ...``: serve a node, run a name server, list and drive nodes, the demo."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click
import Pyro4.errors
from rich.console import Console
from rich.table import Table

from . import __version__
from .config import TLS, load, parse_size

console = Console()
log = logging.getLogger(__name__)
NS_OPTIONS = [
    click.option("--ns-host", envvar="PYRO_NS_HOST", help="Name server host [PYRO_NS_HOST]."),
    click.option("--ns-port", envvar="PYRO_NS_PORT", type=int,
                 help="Name server port [PYRO_NS_PORT, default 9090]."),
]
ERRORS = (TypeError, ValueError, LookupError, TimeoutError, ConnectionError, RuntimeError,
          Pyro4.errors.PyroError, OSError)


def ns_options(func: Any) -> Any:
    for option in reversed(NS_OPTIONS):
        func = option(func)
    return func


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def _security() -> tuple[bytes | None, TLS]:
    """The shared key (PYROSTAGE_HMAC_KEY, else the config file) and TLS settings."""
    try:
        cfg = load(None)
    except ERRORS as exc:
        raise fail(exc) from None
    return cfg.key(), cfg.tls


def _serving_security() -> tuple[bytes | None, TLS]:
    """For a process that serves (``ns``, ``demo``): Pyro hardened, the key and TLS in use."""
    from .pyroconf import harden, use_tls

    harden()
    key, tls = _security()
    use_tls(tls)
    return key, tls


def fail(exc: BaseException) -> click.ClickException:
    """One clear line for the user, no traceback."""
    name = type(exc).__name__
    return click.ClickException(f"{name}: {exc}" if name not in ("ClickException",) else str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pyrostage")
def main() -> None:
    """Display nodes for camps, classrooms and quiz nights, driven over the network."""


@main.command()
@click.option("--name", help="Node name; registered as pyrostage.NAME.")
@click.option("--host", help="Address to serve on (default 127.0.0.1; 'auto' = LAN address).")
@click.option("--port", type=int, help="Port to serve on (default: any free port).")
@ns_options
@click.option("--embedded-ns", is_flag=True, default=None,
              help="Start a name server inside this node instead of finding one.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="TOML config file (default: pyrostage.toml in the user config dir).")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Where state is kept.")
@click.option("--size", help="Screen size, e.g. 1280x720.")
@click.option("--fullscreen", is_flag=True, default=None, help="Fullscreen display.")
@click.option("--headless", is_flag=True, default=None, help="No window (SDL dummy driver).")
@click.option("--gpio", type=click.Choice(["auto", "rpi", "sim", "none"]), help="Pin backend.")
@click.option("--group", "groups", multiple=True, help="Name-server group tag (repeatable).")
@click.option("--mode", help="Mode to show on first start.")
@click.option("--dispatch", type=click.Choice(["lock", "inbox"]), help="How changes serialize.")
@click.option("-v", "--verbose", is_flag=True)
def serve(config_path: str | None, verbose: bool, size: str | None, groups: tuple[str, ...],
          **flags: Any) -> None:
    """Run one display node until Ctrl-C or SIGTERM."""
    _setup_logging(verbose)
    from .node import Node

    try:
        cfg = load(config_path, size=parse_size(size) if size else None,
                   groups=list(groups) or None, **flags)
        if cfg.headless:
            os.environ["SDL_VIDEODRIVER"] = "dummy"
        node = Node(cfg)
    except ERRORS as exc:
        raise fail(exc) from None

    def stop(signum: int, frame: Any) -> None:
        node.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        node.serve()
    except ERRORS as exc:  # e.g. the port is taken: one line (the traceback with -v)
        log.debug("the node could not serve", exc_info=True)
        raise fail(exc) from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9090, show_default=True, type=int)
def ns(host: str, port: int) -> None:
    """Run a Pyro4 name server (signed with PYROSTAGE_HMAC_KEY, TLS when configured)."""
    _setup_logging(False)
    from .pyroconf import serve_ns

    key, tls = _serving_security()
    try:
        uri, daemon, _bc = serve_ns(host, port, key)
    except ERRORS as exc:
        raise fail(exc) from None
    how = ("signed" if key else "no HMAC key") + (", TLS" if tls.enabled else "")
    console.print(f"name server {uri} ({how}); Ctrl-C stops it")
    _serve_until_signal(daemon)


def _serve_until_signal(daemon: Any) -> None:
    """Run a Pyro daemon's loop on a thread; stop it promptly on Ctrl-C or SIGTERM."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stopping.set())
    signal.signal(signal.SIGINT, lambda *a: stopping.set())
    thread = threading.Thread(target=daemon.requestLoop, daemon=True)
    thread.start()
    while not stopping.wait(0.5) and thread.is_alive():
        pass
    daemon.shutdown()
    thread.join(timeout=2)


def _controller(ns_host: str | None, ns_port: int | None) -> Any:
    from .controller import Controller

    key, tls = _security()
    return Controller(ns_host, ns_port, hmac_key=key, tls=tls)


@main.command(name="list")
@ns_options
@click.option("--group", help="Only nodes in this group.")
def list_(ns_host: str | None, ns_port: int | None, group: str | None) -> None:
    """Nodes in the name server, with their mode and address."""
    try:
        with _controller(ns_host, ns_port) as ctl:
            nodes = ctl.nodes(group)
            table = Table("node", "mode", "uptime", "address", "groups")
            for info in nodes:
                try:
                    st = ctl.member(info.name, "status")
                    mode, uptime = st["mode"], f"{st['uptime']:.0f} s"
                except ERRORS as exc:
                    mode, uptime = "[red]unreachable[/red]", type(exc).__name__
                address = info.uri.split("@", 1)[-1]
                table.add_row(info.name, mode, uptime, address, ", ".join(info.groups))
    except ERRORS as exc:
        raise fail(exc) from None
    if not nodes:
        console.print(f"no nodes in the name server at {ctl.where}")
        return
    console.print(table)


def _show(result: Any) -> None:
    if isinstance(result, list) and all(isinstance(v, int | float | str) for v in result):
        console.print(json.dumps(result), markup=False, highlight=False)
    elif isinstance(result, dict | list):
        console.print_json(json.dumps(result, default=str))
    elif isinstance(result, bytes):
        console.print(f"<{len(result)} bytes>")
    elif result is not None:
        console.print(str(result), markup=False, highlight=False)


@main.command(context_settings={"ignore_unknown_options": True})
@ns_options
@click.argument("node")
@click.argument("command")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def ctl(ns_host: str | None, ns_port: int | None, node: str, command: str,
        args: tuple[str, ...]) -> None:
    """Run COMMAND on NODE: a mode command (set_color 255,0,0) or status/switch/modes/..."""
    from .controller import FACADE_MEMBERS

    try:
        with _controller(ns_host, ns_port) as ctl_:
            if command in FACADE_MEMBERS:
                member_args: list[Any] = list(args)
                if command == "ring" and args:
                    member_args = [float(args[0])]
                result = ctl_.member(node, command, *member_args)
            else:
                result = ctl_.call(node, command, *ctl_.convert(node, command, list(args)))
    except ERRORS as exc:
        raise fail(exc) from None
    _show(result)


@main.command()
@ns_options
@click.argument("node")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def snapshot(ns_host: str | None, ns_port: int | None, node: str, file: str) -> None:
    """Save what NODE shows now as a PNG file."""
    try:
        with _controller(ns_host, ns_port) as ctl_:
            data = ctl_.member(node, "snapshot")
        Path(file).write_bytes(data)
    except ERRORS as exc:
        raise fail(exc) from None
    console.print(f"saved {len(data)} bytes to {file}")


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="TOML config file whose allow/deny lists apply.")
def plugins(config_path: str | None) -> None:
    """Installed plugins, the modes and commands each provides, and the ones skipped."""
    from .plugins import collect, get_plugin_manager

    try:
        cfg = load(config_path)
        pm, loaded = get_plugin_manager(cfg.allow, cfg.block)
    except ERRORS as exc:
        raise fail(exc) from None
    registry = collect(pm)
    table = Table("plugin", "distribution", "provides")
    for name, info in loaded.plugins.items():
        things = sorted(k for k, v in registry.source.items() if v == name)
        table.add_row(name, f"{info.distribution} {info.version}", ", ".join(things))
    for name, info in loaded.failed.items():
        table.add_row(name, "[red]failed[/red]", info.error)
    for name in loaded.skipped:
        table.add_row(name, "[yellow]skipped[/yellow]", "left out by the allow/deny lists")
    console.print(table)


def _this_command() -> str:
    """How to call this pyrostage from another terminal: plain, or its path in the venv."""
    mine = Path(sys.executable).parent / "pyrostage"
    found = shutil.which("pyrostage")
    if found and Path(found).resolve() == mine.resolve():
        return "pyrostage"
    try:
        return str(mine.relative_to(Path.cwd()))
    except ValueError:
        return str(mine)


@main.command()
@click.option("--ns-port", default=9090, show_default=True, type=int)
@click.option("--headless", is_flag=True, help="No windows even where a screen exists.")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Where the demo keeps state.")
def demo(ns_port: int, headless: bool, state_dir: str | None) -> None:
    """An embedded name server and two nodes, "red" and "blue", on this machine."""
    _setup_logging(False)
    from .pyroconf import serve_ns

    key, _tls = _serving_security()
    try:
        _uri, daemon, _bc = serve_ns("127.0.0.1", ns_port, key)
    except ERRORS as exc:
        raise click.ClickException(f"cannot start the name server: {exc}") from None
    threading.Thread(target=daemon.requestLoop, daemon=True).start()
    if state_dir is None:
        import platformdirs

        state_dir = str(Path(platformdirs.user_state_dir("pyrostage")) / "demo")
    children = []
    for name, size in (("red", "640x360"), ("blue", "640x360")):
        cmd = [sys.executable, "-m", "engine", "serve", "--name", name, "--ns-host", "127.0.0.1",
               "--ns-port", str(ns_port), "--state-dir", state_dir, "--size", size]
        if headless:
            cmd.append("--headless")
        children.append(subprocess.Popen(cmd))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stopping.set())
    try:
        ctl_ = _controller("127.0.0.1", ns_port)
        deadline = time.monotonic() + 60
        while {n.name for n in ctl_.nodes()} < {"red", "blue"}:
            if time.monotonic() > deadline or any(c.poll() is not None for c in children):
                raise click.ClickException("the demo nodes did not come up; see the log above")
            time.sleep(0.2)
        p = "" if ns_port == 9090 else f" --ns-port {ns_port}"
        me = _this_command()
        console.print(f"""
[bold]pyrostage demo[/bold]: name server 127.0.0.1:{ns_port}, nodes [red]red[/red] and \
[blue]blue[/blue] (state in {state_dir}). In another terminal try:

  {me} list{p}
  {me} ctl{p} red set_color 255,0,0
  {me} ctl{p} blue set_color navyblue
  {me} ctl{p} red switch scoreboard
  {me} ctl{p} red add_points 10
  {me} ctl{p} red status
  {me} snapshot{p} blue blue.png

Ctrl-C stops the demo.""")
        while not stopping.wait(0.5):
            if all(c.poll() is not None for c in children):
                break
    except KeyboardInterrupt:
        pass
    finally:
        for c in children:
            if c.poll() is None:
                c.send_signal(signal.SIGTERM)
        for c in children:
            try:
                c.wait(timeout=5)
            except subprocess.TimeoutExpired:
                c.kill()
        daemon.shutdown()
