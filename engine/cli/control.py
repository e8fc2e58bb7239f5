"""Subcommands that drive nodes from a controller: ``list``, ``ctl`` and ``snapshot``.
They import only the controller side (``engine.control``), never the node; ``ctl`` fans out
through the fleet (``engine.control.fleet``) and prints through ``engine.cli.show``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine.cli import show
from engine.cli.app import ERRORS, VERBOSE, console, controller, fail, fleet, main, ns_options

if TYPE_CHECKING:
    from engine.control.controller import Controller
    from engine.control.fleet import Fleet, Outcome

log = logging.getLogger("engine.cli")
GRACE = 0.5
"""Seconds the fleet's deadline leaves after a call's own timeout."""
SELECTOR_HELP = "SELECTOR names nodes: red, red,blue, @group (from serve --group) or all."
json_option = click.option("--json", "as_json", is_flag=True,
                           help="One JSON document for scripts instead of text.")
timeout_option = click.option(
    "--timeout", type=click.FloatRange(0.1, 3600), default=None, metavar="SECONDS",
    help="Seconds each node gets to answer (default 5); a slower one is reported as failed.")


# -- list ---------------------------------------------------------------------------------

@main.command(name="list")
@ns_options
@click.option("--group", help="Only nodes in this group.")
@json_option
def list_(ns_host: str | None, ns_port: int | None, group: str | None, as_json: bool) -> None:
    """Nodes in the name server: groups, mode, what each shows, address and uptime."""
    try:
        with controller(ns_host, ns_port) as ctl_:
            probes = ctl_.probe(ctl_.nodes(group))
    except ERRORS as exc:
        raise fail(exc) from None
    if as_json:
        click.echo(show.to_json({p.info.name: _listed(p) for p in probes}))
        return
    if not probes:
        where = f"in group {group!r} " if group else ""
        click.echo(f"no nodes {where}in the name server at {ctl_.where}")
        return
    from rich.markup import escape
    from rich.table import Column, Table

    table = Table(Column("node", no_wrap=True), "groups", "mode", "shows",
                  Column("address", no_wrap=True, min_width=15), Column("uptime", no_wrap=True))
    for probe in probes:
        row = _listed(probe)
        if probe.status is not None:
            mode, shows = escape(row["mode"]), escape(row["shows"])
        else:
            mode, shows = f"[red]{escape(probe.problem or '')}[/red]", ""
        table.add_row(escape(row["node"]), escape(", ".join(row["groups"])), mode, shows,
                      escape(row["address"]), escape(show.duration(row["uptime"]))
                      if row["uptime"] is not None else "")
    console().print(table)


def _listed(probe: Any) -> dict[str, Any]:
    """One name-server entry for ``list``: what people see, and the status for scripts."""
    st = probe.status
    return {"node": probe.info.name, "groups": probe.info.groups,
            "address": probe.info.uri.split("@", 1)[-1], "uri": probe.info.uri,
            "mode": st["mode"] if st else None, "shows": show.shows(st) if st else None,
            "uptime": st["uptime"] if st else None, "problem": probe.problem, "status": st}


# -- ctl ----------------------------------------------------------------------------------

@main.command(context_settings={"ignore_unknown_options": True},
              epilog=SELECTOR_HELP)
@ns_options
@json_option
@timeout_option
@click.argument("selector")
@click.argument("command")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def ctl(ns_host: str | None, ns_port: int | None, as_json: bool, timeout: float | None,
        selector: str, command: str, args: tuple[str, ...]) -> None:
    """Run COMMAND on the nodes SELECTOR names, all at once, one line per node: a mode
    command (set_color 255,0,0), a member (status, switch, modes, commands, press, ring,
    snapshot) or a property (mode, uptime, node; mode NAME switches). Exits 1 if any failed."""
    words = list(args)
    shown = "switch" if command == "mode" and words else command
    with _fleet(ns_host, ns_port, timeout) as fleet_:
        names = _select(fleet_, selector)
        outcomes = _fan_out(fleet_, names, ctl_job(command, words))
        failed = _report(names, outcomes, as_json,
                         lambda node, done: show.human(node, shown, done["result"],
                                                       done["offset"], spec=done["spec"],
                                                       args=done["args"]),
                         lambda done: done["result"])
    if failed:
        raise click.exceptions.Exit(1)


def ctl_job(command: str, words: list[str]) -> Callable[[Controller, str], dict[str, Any]]:
    """What each node's worker does for ``ctl`` (and the shell): convert the words by that
    node's declaration, call, and measure the node's clock when the result carries node
    times (journal entries). Its result: ``{"result", "spec", "args", "offset"}``, what
    ``show.human`` takes."""
    def job(ctl_: Controller, node: str) -> dict[str, Any]:
        spec, sent, result = ctl_.call_words(node, command, words)
        return {"spec": spec, "args": sent, "result": result,
                "offset": _offset(ctl_, node) if command == "clock" or show.needs_clock(result)
                else None}

    return job




def _offset(ctl_: Controller, node: str) -> Any:
    """The node's clock offset (its journal times are in its own wall clock, which on a Pi
    without a real-time clock may be far off); None if it cannot be measured."""
    from engine.control.clock import measure

    try:
        return measure(node, lambda: ctl_.member(node, "clock"), 4)
    except ERRORS:
        return None


# -- snapshot -----------------------------------------------------------------------------

@main.command(epilog=SELECTOR_HELP)
@ns_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Save one PNG per node in this folder (made if missing): DIR/NODE.png.")
@json_option
@timeout_option
@click.argument("selector")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
def snapshot(ns_host: str | None, ns_port: int | None, out_dir: str | None, as_json: bool,
             timeout: float | None, selector: str, file: str | None) -> None:
    """Save what the nodes show now as PNG files: FILE.png for one node, or --out DIR for
    one DIR/NODE.png per node. Exits 1 if any failed."""
    if (file is None) == (out_dir is None):
        raise click.UsageError("give either FILE.png (one node) or --out DIR (one PNG per node)")
    target = Path(file) if file is not None else None
    if target is not None and not target.parent.is_dir():  # found out before a node is asked
        raise click.ClickException(
            f"cannot save to {file}: the folder {target.parent} does not exist")
    if out_dir is not None:
        try:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.ClickException(
                f"cannot save to {out_dir}: {exc.strerror or exc}") from None
    with _fleet(ns_host, ns_port, timeout) as fleet_:
        names = _select(fleet_, selector)
        if target is not None and len(names) > 1:
            raise click.UsageError(f"{selector!r} names {len(names)} nodes "
                                   f"({', '.join(names)}); save them with --out DIR")

        def job(ctl_: Controller, node: str) -> dict[str, Any]:
            path = target if target is not None else Path(str(out_dir)) / f"{node}.png"
            data = ctl_.member(node, "snapshot")
            try:
                path.write_bytes(data)
            except OSError as exc:
                raise OSError(f"cannot save to {path}: {exc.strerror or exc}") from None
            return {"file": str(path), "bytes": len(data)}

        failed = _report(names, _fan_out(fleet_, names, job), as_json,
                         lambda node, saved: f"saved {saved['bytes']} bytes to {saved['file']}",
                         lambda saved: saved)
    if failed:
        raise click.exceptions.Exit(1)


# -- shared: select, fan out, report ------------------------------------------------------

def _fleet(ns_host: str | None, ns_port: int | None, timeout: float | None) -> Fleet:
    try:
        return fleet(ns_host, ns_port, timeout)
    except ERRORS as exc:
        raise fail(exc) from None


def _select(fleet_: Fleet, selector: str) -> list[str]:
    try:
        return [info.name for info in fleet_.select(selector)]
    except ERRORS as exc:
        raise fail(exc) from None


def _fan_out(fleet_: Fleet, names: list[str], job: Callable[[Controller, str], Any],
             ) -> Iterator[Outcome]:
    """Each node's outcome as soon as it is in (a frozen node holds up only its own line).

    Each call has the fleet's timeout, and the fleet's deadline for the whole job is a little
    later: a node that is silent or busy is then named by the controller's own error (which
    says which), the deadline catching only an answer that drips."""
    yield from fleet_.each(names, job, fleet_.timeout + GRACE)


def _report(names: list[str], outcomes: Iterator[Outcome], as_json: bool,
            text: Callable[[str, Any], str], data: Callable[[Any], Any]) -> bool:
    """Print each outcome as it arrives (ok lines on stdout, failures on stderr), or one
    JSON document at the end in the selector's order; True if any node failed."""
    width = max(len(n) for n in names)
    collected: dict[str, Outcome] = {}
    for outcome in outcomes:
        collected[outcome.node] = outcome
        if as_json:
            continue
        if outcome.error is None:
            try:
                said = text(outcome.node, outcome.result)
            except Exception:  # a result of a shape nobody foresaw: shown as it is
                log.debug("cannot word %r", outcome.result, exc_info=True)
                said = show.value(data(outcome.result))
            click.echo(show.line(outcome.node, width, said))
        else:
            click.echo(show.line(outcome.node, width, _why(outcome), "error"), err=True)
    if as_json:
        document = {}
        for name in names:
            o = collected[name]
            document[name] = ({"result": data(o.result)} if o.error is None
                              else {"error": show.error_json(o.error)})
        click.echo(show.to_json(document))
    return any(o.error is not None for o in collected.values())


def _why(outcome: Outcome) -> str:
    """A node's error in one line; an unexpected one logged in full with ``-v``."""
    assert outcome.error is not None
    text = show.error_text(outcome.error)
    if isinstance(outcome.error, ERRORS):
        return text
    if VERBOSE[0]:
        log.error("node %s: unexpected error", outcome.node, exc_info=outcome.error)
        return text
    return f"{text} (-v shows the details)"
