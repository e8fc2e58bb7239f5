"""Subcommands that run node-side processes: ``serve``, ``ns`` and ``demo``.
Each imports the node side (pygame, pluggy, SQLite) only when it runs."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engine.base.config import Config, load, parse_size
from engine.base.notify import notify
from engine.cli.app import (
    ERRORS,
    NS_PORT,
    PORT,
    console,
    controller,
    fail,
    main,
    ns_options,
    serving_security,
    setup_logging,
)
from engine.cli.signals import on_stop_signals

log = logging.getLogger("engine.cli")


@main.command()
@click.option("--name", help="Node name; registered as pyrostage.NAME.")
@click.option("--host", help="Address to serve on (default 127.0.0.1; 'auto' = LAN address).")
@click.option("--port", type=PORT, help="Port to serve on (default: any free port).")
@ns_options
@click.option("--embedded-ns/--no-embedded-ns", default=None,
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
@click.option("--reload", is_flag=True,
              help="Restart the node whenever a plugin's source changes (for plugin authors).")
@click.option("--supervised", is_flag=True, hidden=True,
              help="Stop when standard input closes (the --reload supervisor is gone).")
@click.option("-v", "--verbose", is_flag=True)
def serve(config_path: str | None, verbose: bool, size: str | None, groups: tuple[str, ...],
          reload: bool, supervised: bool, **flags: Any) -> None:
    """Run one display node until Ctrl-C or SIGTERM. With --reload (for plugin authors) it
    runs as a child process, restarted on the same port whenever a plugin's source or the
    config file changes; state is kept."""
    setup_logging(verbose)
    if reload:
        from engine.cli.reload import supervise

        supervise(click.get_current_context(), _config(config_path, size, groups, flags))
        return
    from engine.remote.node import Node

    requested = threading.Event()
    nodes: list[Node] = []

    def stop(signum: int | None) -> None:
        if not requested.is_set():
            why = signal.Signals(signum).name if signum else "the --reload supervisor is gone"
            log.info("%s: stopping", why)
        requested.set()
        for node in nodes:
            node.stop()

    on_stop_signals(stop)  # from the start: a signal while the node starts stops it too
    if supervised:
        threading.Thread(target=_at_eof, args=(stop,), name="pyrostage-supervised",
                         daemon=True).start()
    try:
        cfg = _config(config_path, size, groups, flags)
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


def _config(config_path: str | None, size: str | None, groups: tuple[str, ...],
            flags: dict[str, Any]) -> Config:
    try:
        return load(config_path, size=parse_size(size) if size else None,
                    groups=list(groups) or None, **flags)
    except ERRORS as exc:
        raise fail(exc) from None


def _at_eof(stop: Callable[[int | None], None]) -> None:
    """Stop once standard input closes: the ``--reload`` supervisor holds its other end, so a
    supervisor that was killed leaves no node behind."""
    try:  # the file descriptor, not sys.stdin: its lock would stall the interpreter's exit
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    stop(None)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9090, show_default=True, type=PORT)
def ns(host: str, port: int) -> None:
    """Run a Pyro4 name server (signed with PYROSTAGE_HMAC_KEY, TLS when configured)."""
    setup_logging(False)
    from engine.base.pyroconf import serve_ns

    stopping = threading.Event()
    on_stop_signals(lambda signum: stopping.set())
    key, tls = serving_security()
    try:
        uri, daemon, _bc = serve_ns(host, port, key)
    except ERRORS as exc:
        raise fail(exc) from None
    how = ("signed" if key else "no HMAC key") + (", TLS" if tls.enabled else "")
    console().print(f"name server {uri} ({how}); Ctrl-C stops it")
    notify("READY=1", f"STATUS=name server {uri.host}:{uri.port} ({how})")
    _serve_until(daemon, stopping)
    notify("STOPPING=1")


def _serve_until(daemon: Any, stopping: threading.Event) -> None:
    """Run a Pyro daemon's loop on a thread until ``stopping`` is set (or the loop ends)."""
    thread = threading.Thread(target=daemon.requestLoop, daemon=True)
    thread.start()
    while not stopping.wait(0.5) and thread.is_alive():
        pass
    daemon.shutdown()
    thread.join(timeout=2)


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


DEMO_NODES = {"red": "red", "blue": "blue", "green": "green", "gold": "gold1",
              "purple": "purple", "orange": "orange1", "teal": "cyan", "pink": "pink1"}
"""The demo's nodes, in order, with the terminal colour each is named in; all in ``teams``."""
DEMO_GROUP = "teams"


@main.command()
@click.option("--nodes", "count", default=2, show_default=True,
              type=click.IntRange(1, len(DEMO_NODES)),
              help=f"How many nodes: {', '.join(DEMO_NODES)}, in that order.")
@click.option("--ns-port", default=9090, show_default=True, type=NS_PORT)
@click.option("--headless", is_flag=True, help="No windows even where a screen exists.")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Where the demo keeps state.")
@click.option("--web-port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port of the web page (taken: a free one; 0: no web page).")
def demo(count: int, ns_port: int, headless: bool, state_dir: str | None,
         web_port: int) -> None:
    """An embedded name server and N nodes (default 2: "red" and "blue") on this machine,
    all in group "teams": rehearse a camp's screens from one terminal."""
    setup_logging(False)
    from engine.base.pyroconf import serve_ns

    stopping = threading.Event()  # Ctrl-C reaches the nodes too; they stop by themselves
    on_stop_signals(lambda signum: stopping.set())
    key, _tls = serving_security()
    try:
        _uri, daemon, _bc = serve_ns("127.0.0.1", ns_port, key)
    except ERRORS as exc:
        raise click.ClickException(f"cannot start the name server: {exc}") from None
    threading.Thread(target=daemon.requestLoop, daemon=True).start()
    if state_dir is None:
        import platformdirs

        # one folder per name-server port: two demos side by side never share a state file
        folder = "demo" if ns_port == 9090 else f"demo-{ns_port}"
        state_dir = str(Path(platformdirs.user_state_dir("pyrostage")) / folder)
    names = list(DEMO_NODES)[:count]
    size = "640x360" if count <= 2 else "480x270"
    children = []
    for name in names:
        cmd = [sys.executable, "-m", "engine", "serve", "--name", name, "--ns-host", "127.0.0.1",
               "--ns-port", str(ns_port), "--state-dir", state_dir, "--size", size,
               "--group", DEMO_GROUP]
        if headless:
            cmd.append("--headless")
        children.append(subprocess.Popen(cmd))
    try:
        ctl_ = controller("127.0.0.1", ns_port)
        deadline = time.monotonic() + 30 + 15 * count
        while {n.name for n in ctl_.nodes()} < set(names):
            if time.monotonic() > deadline or any(c.poll() is not None for c in children):
                raise click.ClickException("the demo nodes did not come up; see the log above")
            if stopping.wait(0.2):
                return
        page = _demo_web(ns_port, web_port)
        _print_demo_help(names, ns_port, state_dir)
        if page is not None:
            from engine.cli.web import announce

            click.echo()
            announce(page.url, None, "127.0.0.1")
        while not stopping.wait(0.5):
            if all(c.poll() is not None for c in children):
                break
    finally:
        if page is not None:
            page.stop()
        for c in children:
            if c.poll() is None:
                c.send_signal(signal.SIGTERM)
        for c in children:
            try:
                c.wait(timeout=5)
            except subprocess.TimeoutExpired:
                c.kill()
        daemon.shutdown()


def _demo_web(ns_port: int, port: int) -> Any:
    """The web page beside the demo's nodes (this machine only, no token), if installed."""
    if port == 0:
        return None
    try:
        from engine.cli.web import build
        from engine.web.server import serve_in_thread
    except ImportError as exc:
        click.echo(f"(no web page: pip install 'pyrostage[web]' for it; {exc.name} is "
                   "missing)", err=True)
        return None
    for attempt in (port, 0):  # a taken port: any free one
        try:
            web, _host, _port = build("127.0.0.1", attempt or port, "", "127.0.0.1", ns_port,
                                      None)
            running = serve_in_thread(web, "127.0.0.1", attempt)
        except OSError:
            continue
        web.share_url = running.url
        return running
    click.echo("(no web page: it could not start; see the log above)", err=True)
    return None


def _print_demo_help(names: list[str], ns_port: int, state_dir: str) -> None:
    """What to try next, never wrapped, so each command can be copied whole."""
    p = "" if ns_port == 9090 else f" --ns-port {ns_port}"
    me = _this_command()
    first, last = names[0], names[-1]
    shown = ", ".join(f"[{DEMO_NODES[n]}]{n}[/]" for n in names)
    console().print(f"\n[bold]pyrostage demo[/bold]: name server 127.0.0.1:{ns_port}, "
                    f"nodes {shown} (group {DEMO_GROUP}).", soft_wrap=True)
    click.echo(f"""State in {state_dir}. In another terminal try (commands are never wrapped,
so they can be copied whole):

  {me} list{p}
  {me} ctl{p} all status
  {me} ctl{p} {first} colorsquare.set_color 255,0,0
  {me} ctl{p} @{DEMO_GROUP} switch scoreboard
  {me} ctl{p} {first} set_team "Red Foxes"
  {me} ctl{p} {first} add_points 10
  {me} watch{p}
  {me} race{p} @{DEMO_GROUP}
  {me} shell{p}
  {me} snapshot{p} {last} {last}.png

Ctrl-C stops the demo.""")
