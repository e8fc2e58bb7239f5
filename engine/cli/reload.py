"""``pyrostage serve --reload``: the node runs as a child process that is started again whenever
a plugin's source changes, so a plugin author sees an edit on the screen about a second after
saving it. State is in SQLite, so the new node shows what the old one showed.

The supervisor (this process) owns what must outlive a restart: the port (the child always gets
the same ``--port``; without one a free port is picked once), the embedded name server if one
was asked for (the child is pointed at it), and the stop signals (INT, TERM and HUP are passed
on to the child, which stops cleanly, and then the supervisor ends). It never imports a plugin
or the node side, so a plugin that breaks the node breaks only the child: the error is on the
screen and the next change starts a new one.

What is watched: the source of every plugin on the ``pyrostage`` entry-point group — a module's
file, a package's whole folder — built-ins included, and the config file. The files are polled
every 0.3 s (modification time and size): a few dozen ``stat`` calls cost well under a
millisecond, need no dependency (no compiled file-watching library on a Pi) and work where file
events do not, such as network and VM shared folders an author edits a Pi's files through.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import click

from engine.base.config import Config, default_config_path
from engine.base.names import ENTRY_POINTS as GROUP
from engine.cli.app import ERRORS, VERBOSE, fail
from engine.cli.signals import on_stop_signals

log = logging.getLogger("engine.cli.reload")

"""The plugins' entry-point group (``engine.core.plugins.GROUP``; the node side is not loaded)."""
POLL = 0.3
SETTLE = 0.1
"""An editor may save in steps: a change counts once the files stay as they are this long."""
STOP_WAIT = 5.0
"""Seconds a child gets to stop cleanly before it is killed."""

Stamps = dict[Path, tuple[int, int]]


def plugin_sources() -> list[Path]:
    """The file or package folder of each ``pyrostage`` entry point's module, found without
    running the module (only its parent packages are imported, as ``find_spec`` does)."""
    found: dict[Path, None] = {}
    for ep in importlib.metadata.entry_points(group=GROUP):
        for path in _locate(ep.module):
            found.setdefault(path.resolve())
    return list(found)


def _locate(module: str) -> list[Path]:
    try:
        spec = importlib.util.find_spec(module)
    except Exception:  # a parent package that does not import: watch the top-level one
        try:
            spec = importlib.util.find_spec(module.split(".", 1)[0])
        except Exception:
            return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [Path(p) for p in spec.submodule_search_locations]
    return [Path(spec.origin)] if spec.has_location and spec.origin else []


def scan(roots: Iterable[Path]) -> Stamps:
    """Modification time and size of every watched file under ``roots`` (files or folders)."""
    stamps: Stamps = {}
    for root in roots:
        for file in _files(root) if root.is_dir() else [root]:
            try:
                st = file.stat()
            except OSError:  # not there (yet), or gone meanwhile
                continue
            stamps[file] = (st.st_mtime_ns, st.st_size)
    return stamps


def _files(folder: Path) -> Iterator[Path]:
    """A package's files: sources and data, not byte code, hidden files or editor backups."""
    for where, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        for name in files:
            if not name.startswith(".") and not name.endswith("~"):
                yield Path(where) / name


def changed(before: Stamps, after: Stamps) -> list[Path]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def forget_bytecode(paths: Iterable[Path]) -> None:
    """Drop the cached byte code of changed sources: Python trusts a ``.pyc`` whose source has
    the same size and modification second, so an edit within a second of the last one that
    kept the size (``"one"`` -> ``"two"``) would otherwise run the old code."""
    for path in paths:
        if path.suffix == ".py":
            with suppress(OSError, ValueError, NotImplementedError):
                Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)


def free_port(host: str) -> int:
    """A TCP port nobody listens on at ``host`` just now."""
    family, kind, proto, _, address = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as s:
        s.bind(address)
        return int(s.getsockname()[1])


def child_args(command: click.Command, params: dict[str, Any]) -> list[str]:
    """The command line that gives ``command`` these parameter values again."""
    args: list[str] = []
    for param in command.params:
        value = params.get(param.name or "")
        if not isinstance(param, click.Option) or value is None or value == ():
            continue
        option = param.opts[-1]
        if param.is_flag:
            if param.secondary_opts and not value:
                args.append(param.secondary_opts[-1])
            elif value:
                args.append(option)
        else:
            for item in value if param.multiple else [value]:
                args += [option, str(item)]
    return args


class Child:
    """The node process: its own process group (a terminal's Ctrl-C reaches the supervisor
    only, which stops the child once), standard input a pipe that closes when the supervisor
    goes (``serve --supervised`` then stops)."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                     process_group=0 if os.name == "posix" else None)
        log.info("started the node (pid %d)", self.proc.pid)

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def stop(self, signum: int = signal.SIGTERM) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signum)
            try:
                proc.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                log.warning("the node did not stop within %g s: killed", STOP_WAIT)
                proc.kill()
                proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()


def supervise(ctx: click.Context, cfg: Config) -> None:
    """Run ``serve`` (these parameters, without ``--reload``) as a child until a stop signal,
    starting it again whenever a watched file changes."""
    wake = threading.Event()
    signals: list[int] = []

    def on_signal(signum: int) -> None:
        if not signals:
            log.info("%s: stopping the node, then the supervisor", signal.Signals(signum).name)
        signals.append(signum)
        wake.set()

    on_stop_signals(on_signal)
    ns_daemon = None
    try:
        host = cfg.host
        if host == "auto":  # resolved once: every child serves at the same address
            from engine.base.pyroconf import lan_address

            host = lan_address(cfg.ns_host, cfg.ns_port)
        params = {**ctx.params, "reload": False, "supervised": True, "host": host,
                  "port": cfg.port or free_port(host)}
        if cfg.embedded_ns:  # signed and encrypted as the node's own would be
            from engine.base.pyroconf import harden, serve_ns, use_tls

            harden()
            use_tls(cfg.tls)
            uri, ns_daemon, _bc = serve_ns(cfg.ns_host or host, cfg.ns_port or 9090, cfg.key())
            threading.Thread(target=ns_daemon.requestLoop, name="pyrostage-ns",
                             daemon=True).start()
            log.info("name server at %s:%s", uri.host, uri.port)
            params.update(ns_host=uri.host, ns_port=uri.port, embedded_ns=False)
    except ERRORS as exc:
        raise fail(exc) from None
    argv = [sys.executable, "-m", "engine", *(["-v"] if VERBOSE[0] else []), "serve",
            *child_args(ctx.command, params)]
    config_file = Path(ctx.params["config_path"] or default_config_path())
    try:
        run(Child(argv), lambda: [*plugin_sources(), config_file], wake, signals)
    finally:
        if ns_daemon is not None:
            ns_daemon.shutdown()


def run(child: Child, roots_of: Callable[[], list[Path]], wake: threading.Event,
        signals: list[int]) -> None:
    """Start the child; on every change of a watched file stop it and start it again; on a
    stop signal stop it and return. A child that fails waits for the next change."""
    if wake.is_set():  # a stop signal while the supervisor started
        return
    roots = roots_of()
    before = scan(roots)
    child.start()
    log.info("watching %d files of the installed plugins and the config; Ctrl-C stops",
             len(before))
    told = False
    while not wake.wait(POLL):
        code = child.exit_code()
        if code is not None and not told:
            if code == 0:
                log.info("the node stopped by itself (window closed?): stopping too")
                return
            log.error("the node exited with code %d; it starts again when a watched file "
                      "changes", code)
            told = True
        now = scan(roots)
        if now == before:
            continue
        for _ in range(10):  # a file that never stops changing waits a second at most
            if wake.wait(SETTLE) or (later := scan(roots)) == now:
                break
            now = later
        what = changed(before, now)
        log.info("%s changed: restarting the node", _names(what))
        forget_bytecode(what)
        child.stop()
        if wake.is_set():
            break
        roots = roots_of()
        before = scan(roots)
        child.start()
        told = False
    child.stop(signals[0] if signals else signal.SIGTERM)


def _names(paths: list[Path], most: int = 3) -> str:
    shown = []
    for path in paths[:most]:
        try:
            shown.append(str(path.relative_to(Path.cwd())))
        except ValueError:
            shown.append(str(path))
    more = f" and {len(paths) - most} more" if len(paths) > most else ""
    return ", ".join(shown) + more
