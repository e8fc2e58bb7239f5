"""``pyrostage ...``: serve a node, run a name server, list and drive nodes, the demo."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import Pyro4.errors
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine import __version__
from engine.base.config import TLS, load, parse_size

console = Console()
log = logging.getLogger(__name__)
NS_OPTIONS = [
    click.option("--ns-host", envvar="PYRO_NS_HOST", help="Name server host [PYRO_NS_HOST]."),
    click.option("--ns-port", envvar="PYRO_NS_PORT", type=int,
                 help="Name server port [PYRO_NS_PORT, default 9090]."),
]
ERRORS = (TypeError, ValueError, LookupError, TimeoutError, ConnectionError, RuntimeError,
          Pyro4.errors.PyroError, OSError)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def on_stop_signals(stop: Callable[[int], None]) -> None:
    """Call ``stop(signum)`` for every SIGINT and SIGTERM, on a thread of its own.

    Python runs a signal handler on the main thread, once that thread runs Python code again,
    while the kernel may hand the signal to any thread (it does when a second signal comes
    before a busy CPU let the main thread take the first): a main thread asleep in
    ``Event.wait()`` then never runs the handler, and a handler that sets an Event can
    deadlock on the lock the interrupted main thread holds. So the handlers do nothing: the
    byte the C-level handler writes to the wakeup socket, on whichever thread got the signal,
    wakes a watcher thread that calls ``stop``. Main thread only.
    """
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    for signum in STOP_SIGNALS:
        signal.signal(signum, _noted)

    def watch() -> None:
        with reader, writer:
            while data := reader.recv(64):
                for signum in data:
                    if signum in STOP_SIGNALS:
                        stop(signum)

    threading.Thread(target=watch, name="pyrostage-signals", daemon=True).start()


def _noted(signum: int, frame: Any) -> None:
    """The wakeup socket carries the signal (see ``on_stop_signals``); nothing may happen here."""


def ns_options(func: Any) -> Any:
    for option in reversed(NS_OPTIONS):
        func = option(func)
    return func


def _setup_logging(verbose: bool) -> None:
    VERBOSE[0] = VERBOSE[0] or verbose
    verbose = VERBOSE[0]
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
    from engine.base.pyroconf import harden, use_tls

    harden()
    key, tls = _security()
    use_tls(tls)
    return key, tls


def fail(exc: BaseException) -> click.ClickException:
    """One clear line for the user, no traceback."""
    name = type(exc).__name__
    return click.ClickException(f"{name}: {exc}" if name not in ("ClickException",) else str(exc))


class Commands(click.Group):
    """The subcommands; whatever one of them did not expect is one line on stderr, never a
    traceback (that only with ``-v``)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if VERBOSE[0]:
                log.error("unexpected error", exc_info=True)
                hint = ""
            else:
                hint = " (-v shows the details)"
            raise click.ClickException(f"{_one_line(fail(exc).message)}{hint}") from None


VERBOSE = [False]


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pyrostage")
@click.option("-v", "--verbose", is_flag=True, help="Tracebacks and debug logs.")
def main(verbose: bool) -> None:
    """Display nodes for camps, classrooms and quiz nights, driven over the network."""
    if verbose:
        _setup_logging(True)


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
    from engine.remote.node import Node

    requested = threading.Event()
    nodes: list[Node] = []

    def stop(signum: int) -> None:
        if not requested.is_set():
            log.info("%s: stopping", signal.Signals(signum).name)
        requested.set()
        for node in nodes:
            node.stop()

    on_stop_signals(stop)  # from the start: a signal while the node starts stops it too
    try:
        cfg = load(config_path, size=parse_size(size) if size else None,
                   groups=list(groups) or None, **flags)
        if cfg.headless:
            os.environ["SDL_VIDEODRIVER"] = "dummy"
        node = Node(cfg)
    except ERRORS as exc:
        raise fail(exc) from None
    nodes.append(node)
    if requested.is_set():
        node.stop()
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
    from engine.base.pyroconf import serve_ns

    stopping = threading.Event()
    on_stop_signals(lambda signum: stopping.set())
    key, tls = _serving_security()
    try:
        uri, daemon, _bc = serve_ns(host, port, key)
    except ERRORS as exc:
        raise fail(exc) from None
    how = ("signed" if key else "no HMAC key") + (", TLS" if tls.enabled else "")
    console.print(f"name server {uri} ({how}); Ctrl-C stops it")
    _serve_until(daemon, stopping)


def _serve_until(daemon: Any, stopping: threading.Event) -> None:
    """Run a Pyro daemon's loop on a thread until ``stopping`` is set (or the loop ends)."""
    thread = threading.Thread(target=daemon.requestLoop, daemon=True)
    thread.start()
    while not stopping.wait(0.5) and thread.is_alive():
        pass
    daemon.shutdown()
    thread.join(timeout=2)


def _controller(ns_host: str | None, ns_port: int | None) -> Any:
    from engine.control.controller import Controller

    key, tls = _security()
    return Controller(ns_host, ns_port, hmac_key=key, tls=tls)


@main.command(name="list")
@ns_options
@click.option("--group", help="Only nodes in this group.")
def list_(ns_host: str | None, ns_port: int | None, group: str | None) -> None:
    """Nodes in the name server, with their mode and address."""
    try:
        with _controller(ns_host, ns_port) as ctl:
            probes = ctl.probe(ctl.nodes(group))
    except ERRORS as exc:
        raise fail(exc) from None
    if not probes:
        console.print(f"no nodes in the name server at {ctl.where}")
        return
    table = Table("node", "mode", "uptime", "address", "groups")
    for probe in probes:
        info, st = probe.info, probe.status
        if st is not None:
            mode, uptime = escape(str(st["mode"])), escape(_uptime(st["uptime"]))
        else:
            mode, uptime = f"[red]{escape(probe.problem or '')}[/red]", ""
        address = info.uri.split("@", 1)[-1]
        table.add_row(escape(info.name), mode, uptime, escape(address),
                      escape(", ".join(info.groups)))
    console.print(table)


def _uptime(value: Any) -> str:
    return f"{value:.0f} s" if isinstance(value, int | float) else str(value)


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
    """Run COMMAND on NODE: a mode command (set_color 255,0,0), a member (status, switch,
    modes, commands, press, ring, snapshot) or a property (mode, uptime, node; mode NAME
    switches)."""
    from engine.control.controller import FACADE_MEMBERS, Controller

    try:
        with _controller(ns_host, ns_port) as ctl_:
            if command in FACADE_MEMBERS:
                member = "switch" if command == "mode" and args else command
                result = ctl_.member(node, member, *Controller.convert_member(member, list(args)))
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
    from rich.markup import escape

    from engine.core.plugins import collect, get_plugin_manager, report

    try:
        cfg = load(config_path)
        pm, _ = get_plugin_manager(cfg.allow, cfg.block)
    except ERRORS as exc:
        raise fail(exc) from None
    table = Table("plugin", "distribution", "provides")
    for name, entry in report(collect(pm)).items():
        if "error" in entry:
            table.add_row(name, "[red]failed[/red]", escape(entry["error"]))
        elif "skipped" in entry:
            table.add_row(name, "[yellow]skipped[/yellow]", entry["skipped"])
        else:
            provides = ", ".join(entry["provides"])
            if "warning" in entry:
                provides += f" [yellow]warning:[/yellow] {escape(entry['warning'])}"
            table.add_row(name, f"{entry['distribution']} {entry['version']}", provides.strip())
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
    from engine.base.pyroconf import serve_ns

    stopping = threading.Event()  # Ctrl-C reaches the nodes too; they stop by themselves
    on_stop_signals(lambda signum: stopping.set())
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
    try:
        ctl_ = _controller("127.0.0.1", ns_port)
        deadline = time.monotonic() + 60
        while {n.name for n in ctl_.nodes()} < {"red", "blue"}:
            if time.monotonic() > deadline or any(c.poll() is not None for c in children):
                raise click.ClickException("the demo nodes did not come up; see the log above")
            if stopping.wait(0.2):
                return
        p = "" if ns_port == 9090 else f" --ns-port {ns_port}"
        me = _this_command()
        console.print(f"""
[bold]pyrostage demo[/bold]: name server 127.0.0.1:{ns_port}, nodes [red]red[/red] and \
[blue]blue[/blue] (state in {state_dir}). In another terminal try:

  {me} list{p}
  {me} ctl{p} red colorsquare.set_color 255,0,0
  {me} ctl{p} blue set_color navyblue
  {me} ctl{p} red switch scoreboard
  {me} ctl{p} red add_points 10
  {me} ctl{p} red status
  {me} snapshot{p} blue blue.png

Ctrl-C stops the demo.""")
        while not stopping.wait(0.5):
            if all(c.poll() is not None for c in children):
                break
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
