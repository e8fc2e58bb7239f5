"""``pyrostage preset``: apply, list, show and save named looks for many screens (the camp
page's "Reset Titles" and title-pair buttons), kept in a hand-editable TOML file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from engine.cli import show
from engine.cli.app import ERRORS, console, fail, fleet, main, ns_options

if TYPE_CHECKING:
    from engine.control.presets import Look, PresetFile

file_option = click.option(
    "--file", "path", type=click.Path(dir_okay=False), envvar="PYROSTAGE_PRESETS",
    show_envvar=True, help="Presets file (default: presets.toml in the user config dir).")
json_option = click.option("--json", "as_json", is_flag=True, help="One JSON document.")
timeout_option = click.option(
    "--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True,
    help="Seconds each node gets.")


@main.group()
def preset() -> None:
    """Named looks for many screens at once: team names, title colours, colours, backgrounds
    and modes per node, in a TOML file (see the README's "Presets")."""


def _load(path: str | None) -> PresetFile:
    from engine.control.presets import PresetFile

    try:
        return PresetFile.load(path)
    except ERRORS as exc:
        raise fail(exc) from None


@preset.command(name="apply")
@ns_options
@file_option
@timeout_option
@json_option
@click.argument("name")
@click.argument("selector", required=False)
def apply_(ns_host: str | None, ns_port: int | None, path: str | None, timeout: float,
           as_json: bool, name: str, selector: str | None) -> None:
    """Apply preset NAME to SELECTOR (red, red,blue, @group, all; default: the nodes the
    preset names), to every node at once. Exits non-zero if any node failed."""
    from engine.control.presets import apply

    presets = _load(path)
    try:
        chosen = presets.get(name)
        with fleet(ns_host, ns_port, timeout) as f:
            results = apply(f, chosen, selector, timeout)
    except ERRORS as exc:
        raise fail(exc) from None
    if as_json:
        click.echo(show.to_json({
            node: {"result": o.result} if o.error is None else {"error": show.error_json(o.error)}
            for node, o in results.items()}))
    else:
        width = max(len(n) for n in results)
        for node, outcome in results.items():
            if outcome.error is None:
                look = chosen.look_for(node)
                assert look is not None
                click.echo(show.line(node, width, _applied(look, outcome.result)))
            else:
                click.echo(show.line(node, width, show.error_text(outcome.error), "error"),
                           err=True)
    if not results.ok:
        raise click.exceptions.Exit(1)


def _applied(look: Look, answers: dict[str, Any]) -> str:
    """What a node was given, as written in the file, with the node's own word where it adds
    something (the background's size, the mode)."""
    from engine.control.presets import BUILT_IN, SETTINGS

    written = look.settings()
    parts = []
    for key, answer in answers.items():
        value = written[key]
        shown = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        if key == "background" and value != BUILT_IN:
            shown = f"{value} ({answer})"
        parts.append(f"{SETTINGS[key]} {shown}")
    return ", ".join(parts)


@preset.command(name="list")
@file_option
@json_option
def list_(path: str | None, as_json: bool) -> None:
    """The presets in the file: the nodes each is for and what it sets."""
    from engine.control.presets import SETTINGS, to_toml

    presets = _load(path)
    if as_json:
        click.echo(show.to_json({"file": str(presets.path), "presets": {
            name: to_toml(p) for name, p in presets.presets.items()}}))
        return
    if not presets.presets:
        why = "is empty" if presets.exists else "does not exist yet"
        click.echo(f"no presets: {presets.path} {why}; write one by hand (see the README) or "
                   "save what the screens show with `pyrostage preset save NAME SELECTOR`")
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table("preset", "nodes", "sets", title=escape(str(presets.path)), title_justify="left")
    for name, p in presets.presets.items():
        used = {k for look in p.looks.values() for k in look.settings()}
        table.add_row(escape(name), escape(", ".join(p.nodes) or "all"),
                      ", ".join(SETTINGS[k] for k in SETTINGS if k in used))
    console().print(table)


@preset.command(name="show")
@file_option
@json_option
@click.argument("name")
def show_(path: str | None, as_json: bool, name: str) -> None:
    """What preset NAME gives each node ("*": every node it is applied to)."""
    from engine.control.presets import EVERY, SETTINGS, to_toml

    presets = _load(path)
    try:
        chosen = presets.get(name)
    except ERRORS as exc:
        raise fail(exc) from None
    if as_json:
        click.echo(show.to_json({"preset": name, "file": str(presets.path),
                               "selector": chosen.selector, "nodes": to_toml(chosen)}))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table("node", *SETTINGS.values(), title=f"preset {escape(name)} "
                  f"(applied to {escape(chosen.selector)} unless told otherwise)",
                  title_justify="left")
    for node, look in chosen.looks.items():
        values = look.settings()
        cells = [_cell(values.get(k)) for k in SETTINGS]
        table.add_row("* (every node)" if node == EVERY else escape(node), *cells)
    console().print(table)


def _cell(value: Any) -> str:
    from rich.markup import escape

    if value is None:
        return ""
    return escape(",".join(map(str, value)) if isinstance(value, list) else str(value))


@preset.command()
@ns_options
@file_option
@timeout_option
@json_option
@click.option("--force", is_flag=True, help="Replace a preset of that name.")
@click.argument("name")
@click.argument("selector")
def save(ns_host: str | None, ns_port: int | None, path: str | None, timeout: float,
         as_json: bool, force: bool, name: str, selector: str) -> None:
    """Save what SELECTOR's nodes show now (team, title colour, colour, built-in background,
    mode) as preset NAME. A custom background cannot be read back from a node: add its file
    to the preset by hand."""
    from engine.control.presets import capture, to_toml

    presets = _load(path)
    try:
        if name in presets.presets and not force:  # before asking any node
            raise ValueError(f"preset {name!r} already exists in {presets.path}; "
                             "--force replaces it")
        with fleet(ns_host, ns_port, timeout) as f:
            made, notes = capture(f, name, selector, timeout)
        rewritten = presets.save(made, force=force)
    except ERRORS as exc:
        raise fail(exc) from None
    if as_json:
        click.echo(show.to_json({"preset": name, "file": str(presets.path),
                               "nodes": to_toml(made), "notes": notes}))
        return
    click.echo(f"saved preset {name!r} ({', '.join(made.nodes)}) to {presets.path}"
               + (" (rewritten: comments in it are not kept)" if rewritten else ""))
    width = max(len(n) for n in made.nodes)
    for node, look in made.looks.items():
        click.echo(f"  {node:<{width}}  {look.describe()}")
    for note in notes:
        click.echo(f"note: {note}")
