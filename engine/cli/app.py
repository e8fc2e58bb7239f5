"""The ``pyrostage`` command group and what every subcommand shares: options, the shared key,
one-line errors. rich and the node side are imported only by the subcommands that need them,
so ``pyrostage ctl`` starts fast."""

from __future__ import annotations

import importlib
import logging
import os
from typing import TYPE_CHECKING, Any

import click

try:
    import Pyro4.errors
except ValueError as exc:  # Pyro4 reads every PYRO_* variable as it is imported
    _bad = [f"{k}={v!r}" for k, v in sorted(os.environ.items())
            if k.startswith("PYRO_") and (k in str(exc) or repr(v) in str(exc))]
    raise SystemExit(f"Error: ValueError: the environment variable {' or '.join(_bad) or 'PYRO_*'}"
                     f" is not a value Pyro4 accepts ({exc})") from None

from engine import __version__
from engine.base.config import TLS, load

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger("engine.cli")
PORT = click.IntRange(0, 65535)
"""A port to serve on (0: any free one)."""
NS_PORT = click.IntRange(1, 65535)
NS_OPTIONS = [
    click.option("--ns-host", envvar="PYRO_NS_HOST", show_envvar=True,
                 help="Name server host (default localhost)."),
    click.option("--ns-port", envvar="PYRO_NS_PORT", show_envvar=True, type=NS_PORT,
                 help="Name server port (default 9090)."),
]
ERRORS = (TypeError, ValueError, LookupError, TimeoutError, ConnectionError, RuntimeError,
          Pyro4.errors.PyroError, OSError)
_console: list[Console] = []


def console() -> Console:
    """The terminal, through rich (imported on first use: ``ctl`` prints plain text)."""
    if not _console:
        from rich.console import Console

        _console.append(Console())
    return _console[0]


def ns_options(func: Any) -> Any:
    for option in reversed(NS_OPTIONS):
        func = option(func)
    return func


def setup_logging(verbose: bool) -> None:
    VERBOSE[0] = VERBOSE[0] or verbose
    verbose = VERBOSE[0]
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def security() -> tuple[bytes | None, TLS]:
    """The shared key (PYROSTAGE_HMAC_KEY, else the config file) and TLS settings."""
    try:
        cfg = load(None)
    except ERRORS as exc:
        raise fail(exc) from None
    return cfg.key(), cfg.tls


def serving_security() -> tuple[bytes | None, TLS]:
    """For a process that serves (``ns``, ``demo``): Pyro hardened, the key and TLS in use."""
    from engine.base.pyroconf import harden, use_tls

    harden()
    key, tls = security()
    use_tls(tls)
    return key, tls


def ctrl_c_stops() -> None:
    """Make Ctrl-C (SIGINT) raise KeyboardInterrupt even where it was ignored when we
    started: a shell script starts background jobs with SIGINT ignored, and Python then leaves
    it so; ``watch``, ``race`` and the shell are stopped by it all the same."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def fail(exc: BaseException) -> click.ClickException:
    """One clear line for the user, no traceback."""
    name = type(exc).__name__
    return click.ClickException(f"{name}: {exc}" if name not in ("ClickException",) else str(exc))


SUBCOMMANDS = {
    "serve": "engine.cli.nodes", "ns": "engine.cli.nodes", "demo": "engine.cli.nodes",
    "plugins": "engine.cli.plugins",
    "list": "engine.cli.control", "ctl": "engine.cli.control", "snapshot": "engine.cli.control",
    "shell": "engine.cli.shell", "watch": "engine.cli.watch", "race": "engine.cli.race",
    "preset": "engine.cli.presets",
    "install-service": "engine.cli.service", "config": "engine.cli.config",
    "doctor": "engine.cli.doctor", "web": "engine.cli.web",
}
"""Where each subcommand lives: its module is imported only when it is used (or for help)."""


class Commands(click.Group):
    """The subcommands, loaded lazily (click's documented pattern); whatever one of them did
    not expect is one line on stderr, never a traceback (that only with ``-v``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in SUBCOMMANDS and name not in self.commands:
            importlib.import_module(SUBCOMMANDS[name])  # its @main.command() registers it
        return super().get_command(ctx, name)

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
        setup_logging(True)


def fleet(ns_host: str | None, ns_port: int | None, timeout: float | None = None,
          source: str = "controller") -> Any:
    """A ``Fleet`` (parallel calls by selector) on ``controller(ns_host, ns_port, source)``;
    close it with ``with``, which also closes its controller."""
    from engine.control.fleet import DEFAULT_TIMEOUT, Fleet

    return Fleet(controller(ns_host, ns_port, source), timeout or DEFAULT_TIMEOUT, own=True)


def controller(ns_host: str | None, ns_port: int | None, source: str = "controller") -> Any:
    """A controller for the name server at ns_host:ns_port, with the shared key and TLS;
    the nodes journal its changes as made by ``source`` (``shell``, ``race``...)."""
    from engine.control.controller import Controller

    key, tls = security()
    return Controller(ns_host, ns_port, hmac_key=key, tls=tls, source=source)
