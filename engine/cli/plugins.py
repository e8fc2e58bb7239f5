"""``pyrostage plugins [NODE]``: each plugin, where it came from, its modes, behaviours and
commands, and the ones that failed or were left out, with the reason.

Without NODE the plugins installed here are loaded as a node would load them (node side,
imported when used); with NODE that running node is asked over Pyro (``status()`` and
``commands("*")``), importing the controller side only. Both give the same plain data to one
table for people and ``--json`` for scripts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import click

from engine.base.names import BUILTIN
from engine.cli.app import ERRORS, console, controller, fail, main, ns_options

"""The distribution whose plugins are the built-ins (``engine.core.plugins.BUILTIN``)."""


def describe(
    report: dict[str, dict[str, Any]], modes: Iterable[str], commands: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Plugin name -> status, origin, modes, behaviours and commands (qualified, as
    ``commands("*")`` gives them), or the reason it is not loaded; from a plugin report
    (``status()["plugins"]``), the node's modes and its commands."""
    mode_names = set(modes)
    out: dict[str, dict[str, Any]] = {}
    for name, entry in report.items():
        dist, version = entry.get("distribution", ""), entry.get("version", "")
        origin = ("built-in" if dist.lower() == BUILTIN else "distribution" if dist
                  else "" if "skipped" in entry else "code")  # code: registered, not installed
        row: dict[str, Any] = {"status": "loaded", "origin": origin, "distribution": dist,
                               "version": version}
        if "error" in entry:
            row.update(status="failed", reason=entry["error"])
        elif "skipped" in entry:
            row.update(status="skipped", reason=entry["skipped"])
        else:
            provides = entry.get("provides", [])
            row["modes"] = [p for p in provides if p in mode_names]
            row["behaviours"] = [p for p in provides if p not in mode_names]
            row["commands"] = {c: spec for c, spec in commands.items()
                               if c.split(".", 1)[0] in provides}
            if entry.get("warning"):
                row["warning"] = entry["warning"]
        out[name] = row
    return out


def installed(config_path: str | None) -> dict[str, dict[str, Any]]:
    """The plugins installed here, loaded as ``pyrostage serve`` with this config would."""
    from engine.base.config import load
    from engine.core.plugins import collect, get_plugin_manager, report

    cfg = load(config_path)
    pm, _ = get_plugin_manager(cfg.allow, cfg.block)
    registry = collect(pm)
    owners = {**registry.modes, **registry.behaviours}
    commands = {f"{owner}.{name}": spec.describe()
                for owner, cls in sorted(owners.items())
                for name, spec in sorted(cls.command_specs().items())}
    return describe(report(registry), registry.modes, commands)


def running(node: str, ns_host: str | None, ns_port: int | None) -> dict[str, dict[str, Any]]:
    """What the running ``node`` loaded, asked over Pyro."""
    with controller(ns_host, ns_port) as ctl:
        status = ctl.member(node, "status")
        commands = ctl.commands(node)
    return describe(status.get("plugins", {}), status.get("modes", []), commands)


def origin(row: dict[str, Any]) -> str:
    if row["origin"] == "distribution":
        return f"{row['distribution']} {row['version']}".strip()
    return {"code": "registered in code"}.get(row["origin"], row["origin"])


def show(plugins: dict[str, dict[str, Any]], title: str) -> None:
    """Two tables: what is loaded (one line per command), then what is not and why."""
    from rich.markup import escape
    from rich.table import Table

    loaded = Table(title=title, title_justify="left")
    for column in ("plugin", "from", "provides"):
        loaded.add_column(column, overflow="fold")
    loaded.add_column("commands", no_wrap=True)  # a narrow terminal wraps the others first
    missing = Table("plugin", "from", "status", "reason", title="not loaded",
                    title_justify="left")
    for name, row in plugins.items():
        if row["status"] != "loaded":
            colour = "red" if row["status"] == "failed" else "yellow"
            missing.add_row(escape(name), escape(origin(row)),
                            f"[{colour}]{row['status']}[/{colour}]", escape(row["reason"]))
            continue
        warning = row.get("warning")
        if warning:  # on the plugin's first line, where a reader looks for it
            loaded.add_row(escape(name), escape(origin(row)),
                           f"[yellow]warning:[/yellow] {escape(warning)}", "")
        things = [("mode", m) for m in row["modes"]] + [("behaviour", b)
                                                         for b in row["behaviours"]]
        for i, (kind, thing) in enumerate(things):
            first = i == 0 and not warning
            calls = [escape(_call(command, spec, kind)) for command, spec
                     in row["commands"].items() if command.split(".", 1)[0] == thing]
            loaded.add_row(escape(name) if first else "", escape(origin(row)) if first else "",
                           f"{kind} {escape(thing)}", "\n".join(calls) or "-")
        if not things and not warning:
            loaded.add_row(escape(name), escape(origin(row)), "hooks only", "")
    out = console()
    out.print(loaded)
    if missing.row_count:
        out.print(missing)


def _call(qualified: str, spec: dict[str, Any], kind: str) -> str:
    """How a command is called: a mode's by its own name (on the active mode), a behaviour's
    qualified; with its parameters."""
    called = qualified.split(".", 1)[1] if kind == "mode" else qualified
    return f"{called}{spec.get('signature', '()')}"


@main.command()
@ns_options
@click.argument("node", required=False)
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="TOML config file whose allow/deny lists apply (without NODE).")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts instead of tables.")
def plugins(ns_host: str | None, ns_port: int | None, node: str | None,
            config_path: str | None, as_json: bool) -> None:
    """Plugins installed here, or those NODE runs. Each with where it came from (built-in or
    distribution and version), its modes, behaviours and commands; failed or left-out
    plugins with the reason. Without NODE the plugins are loaded here as a node would load
    them; NODE is asked over the network."""
    if node is not None and config_path is not None:
        raise click.UsageError("--config applies to the plugins installed here, not to NODE's")
    try:
        found = running(node, ns_host, ns_port) if node else installed(config_path)
    except ERRORS as exc:
        raise fail(exc) from None
    if as_json:
        click.echo(json.dumps(found, indent=2, default=str))
    else:
        show(found, f"plugins of node {node!r}" if node else "plugins installed here")
