"""``pyrostage doctor``: on the machine it runs on, check what a node needs and say in plain
words what is wrong and what to do about it.

One line per check, ok / info / warning / problem; the exit status is 1 when a problem would
keep a node from working here, 0 with warnings only. A check that crashes becomes a problem
line naming it, never a traceback. The checks live in ``doctor_checks`` and
``doctor_hardware``; pygame is asked in subprocesses (``doctor_probe``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import click

from engine.cli.app import VERBOSE, console, main, ns_options
from engine.cli.doctor_checks import (
    INFO,
    OK,
    PROBLEM,
    WARNING,
    Check,
    Context,
    clock,
    config_file,
    install,
    name_server,
    node_name,
    python,
    shared_key,
    state_dir,
    state_files,
    tls,
)
from engine.cli.doctor_hardware import (
    Probes,
    audio,
    display,
    gpio,
    groups,
    pi_model,
    probes,
    pygame_check,
    screen_devices,
)

log = logging.getLogger("engine.cli")
CHECKS: list[tuple[str, Callable[[Context], Check | list[Check]]]] = [
    ("python", python), ("pyrostage", install), ("config", config_file),
    ("node name", node_name), ("pygame", pygame_check), ("display", display),
    ("screen devices", screen_devices), ("groups", groups), ("gpio", gpio), ("audio", audio),
    ("state dir", state_dir), ("state files", state_files), ("name server", name_server),
    ("shared key", shared_key), ("tls", tls), ("clock", clock),
]
STYLES = {OK: "green", INFO: "blue", WARNING: "yellow", PROBLEM: "bold red"}


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="TOML config file (default: pyrostage.toml in the user config dir).")
@ns_options
@click.option("--json", "as_json", is_flag=True,
              help='A list of {"check", "status", "detail", "fix"} for scripts.')
def doctor(config_path: str | None, ns_host: str | None, ns_port: int | None,
           as_json: bool) -> None:
    """Check what a node needs on this machine: Python, config, screen, GPIO, sound, state
    directory, name server, shared key, clock. Exit status 1 when something would stop a
    node, 0 with warnings only."""
    checks = diagnose(config_path, ns_host, ns_port)
    if as_json:
        click.echo(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        show(checks)
    if any(c.status == PROBLEM for c in checks):
        click.get_current_context().exit(1)


def diagnose(config_path: str | None = None, ns_host: str | None = None,
             ns_port: int | None = None) -> list[Check]:
    """Every check, in order, on this machine."""
    from engine.base.config import Config, default_config_path, load

    file = Path(config_path) if config_path else default_config_path()
    error = None
    try:
        cfg = load(config_path, ns_host=ns_host, ns_port=ns_port)
    except Exception as exc:  # whatever the config file does wrong is the config line
        error = str(exc) or type(exc).__name__
        cfg = Config(ns_host=ns_host, ns_port=ns_port)
    running = Probes(probes(bool(cfg.sound)))
    try:
        ctx = Context(cfg, file if file.exists() else None, error, running, _safe(pi_model))
        out: list[Check] = []
        for name, check in CHECKS:
            out.extend(_run(name, check, ctx))
        return out
    finally:
        running.close()


def _safe(func: Callable[[], str | None]) -> str | None:
    try:
        return func()
    except Exception:
        return None


def _run(name: str, check: Callable[[Context], Check | list[Check]], ctx: Context) -> list[Check]:
    try:
        found = check(ctx)
    except Exception as exc:
        log.debug("doctor: the %s check failed", name, exc_info=VERBOSE[0])
        return [Check(name, PROBLEM, f"this check itself failed: {type(exc).__name__}: {exc}",
                      "please report it; `pyrostage -v doctor` shows the details")]
    return found if isinstance(found, list) else [found]


def show(checks: list[Check]) -> None:
    """The checks as an aligned list, the fix under anything that is not ok."""
    from rich.table import Table
    from rich.text import Text

    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column()
    for c in checks:
        detail = Text(c.detail)
        if c.fix and c.status != OK:
            detail.append(f"\nfix: {c.fix}", style="dim")
        table.add_row(Text(c.status, style=STYLES.get(c.status, "")), c.check, detail)
    out = console()
    out.print(table)
    problems = sum(c.status == PROBLEM for c in checks)
    warnings = sum(c.status == WARNING for c in checks)
    counted = ", ".join(f"{n} {word}{'s' if n != 1 else ''}" for n, word in
                        ((problems, "problem"), (warnings, "warning")) if n)
    if problems:
        out.print(f"{counted}: a node cannot work here until the problems are fixed.",
                  style="bold red", highlight=False)
    else:
        out.print(f"{counted or 'all ok'}: a node can run here.", highlight=False)
