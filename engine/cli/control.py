"""Subcommands that drive nodes from a controller: ``list``, ``ctl`` and ``snapshot``.
They import only the controller side (``engine.control``), never the node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from engine.cli.app import ERRORS, console, controller, fail, main, ns_options


@main.command(name="list")
@ns_options
@click.option("--group", help="Only nodes in this group.")
def list_(ns_host: str | None, ns_port: int | None, group: str | None) -> None:
    """Nodes in the name server, with their mode and address."""
    try:
        with controller(ns_host, ns_port) as ctl:
            probes = ctl.probe(ctl.nodes(group))
    except ERRORS as exc:
        raise fail(exc) from None
    if not probes:
        where = f"in group {group!r} " if group else ""
        console().print(f"no nodes {where}in the name server at {ctl.where}", markup=False)
        return
    from rich.markup import escape
    from rich.table import Table

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
    console().print(table)


def _uptime(value: Any) -> str:
    return f"{value:.0f} s" if isinstance(value, int | float) else str(value)


def _show(result: Any) -> None:
    """A command's result for people: plain text, one JSON line for a flat list, indented JSON
    for anything nested (click only: no rich import on this path)."""
    if isinstance(result, list) and all(isinstance(v, int | float | str) for v in result):
        click.echo(json.dumps(result))
    elif isinstance(result, dict | list):
        click.echo(json.dumps(result, indent=2, default=str))
    elif isinstance(result, bytes):
        click.echo(f"<{len(result)} bytes>")
    elif result is not None:
        click.echo(str(result))


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
        with controller(ns_host, ns_port) as ctl_:
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
    folder = Path(file).parent
    if not folder.is_dir():  # found out before the node is asked
        raise click.ClickException(f"cannot save to {file}: the folder {folder} does not exist")
    try:
        with controller(ns_host, ns_port) as ctl_:
            data = ctl_.member(node, "snapshot")
    except ERRORS as exc:
        raise fail(exc) from None
    try:
        Path(file).write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"cannot save to {file}: {exc.strerror or exc}") from None
    console().print(f"saved {len(data)} bytes to {file}", markup=False)
