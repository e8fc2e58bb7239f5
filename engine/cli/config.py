"""``pyrostage config example`` and ``pyrostage config check [FILE]``: the config file, written
out from the declarations ``load()`` checks against, and checked the way a node starting
with it would check it (its plugins' tables too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from engine.base.config import default_config_path, example, read
from engine.cli.app import ERRORS, fail, main


@main.group()
def config() -> None:
    """The node's config file: a commented example, or check one."""


def _registry(allow: list[str] | None = None, block: list[str] | None = None) -> Any:
    """The installed plugins' modes and behaviours, loaded as a node would load them."""
    from engine.core.plugins import collect, get_plugin_manager

    pm, _ = get_plugin_manager(allow, block)
    return collect(pm)


@config.command("example")
def example_command() -> None:
    """Print a pyrostage.toml with every setting, its default and what it accepts, the
    installed plugins' [plugins.<name>] tables included."""
    from engine.api.settings import declared, example_table

    registry = _registry()
    tables: list[str] = []
    for name, cls in sorted({**registry.modes, **registry.behaviours}.items()):
        settings = declared(cls)
        if settings is None:
            tables += [f"# [plugins.{name}]: declares no settings; its table reaches it "
                       "unchecked.", ""]
        elif settings:
            tables += example_table(name, settings, getattr(cls, "description", ""))
    click.echo(example(tables), nl=False)


@config.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
def check(file: str | None) -> None:
    """Check FILE (default: the user config file) as a node starting with it would: print
    ok, or every problem, one a line (exit 1)."""
    from engine.core.plugins import check_tables, table_warnings

    path = Path(file) if file else default_config_path()
    try:
        if not path.is_file():
            read(path)  # the one-line reason
        cfg, problems = read(path)
        registry = _registry(cfg.allow, cfg.block)
    except ERRORS as exc:
        raise fail(exc) from None
    _, wrong = check_tables(registry, cfg.plugins)
    problems += [f"config file {path}: {line}" for line in wrong]
    for warning in table_warnings(registry, cfg.plugins):
        click.echo(f"warning: config file {path}: {warning}", err=True)
    if problems:
        for line in problems:
            click.echo(line)
        raise SystemExit(1)
    click.echo("ok")
