"""``pyrostage watch``: the selected nodes' events as they happen, pushed (no polling), one
line each in local time, or the records themselves as JSON lines."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from engine.cli.app import ERRORS, controller, ctrl_c_stops, fail, main, ns_options
from engine.cli.show import local_time

if TYPE_CHECKING:
    from engine.control.clock import Offset
    from engine.control.fleet import Fleet

WAIT = 5.0
"""Seconds watch waits for every node's subscription before it says which are not there."""


QUIET = ("screen_changed", "state_changed")
"""The engine's "something changed" records, shown only with --screens (the change itself has
its own record, or the state it changed is not on screen)."""


@main.command()
@ns_options
@click.argument("selector", default="all")
@click.option("--json", "as_json", is_flag=True, help="One JSON record per line (every event).")
@click.option("--screens", is_flag=True,
              help="Also the screen_changed/state_changed events that follow changes.")
def watch(ns_host: str | None, ns_port: int | None, selector: str, as_json: bool,
          screens: bool) -> None:
    """Print the events of the nodes SELECTOR names (red, red,blue, @group or all, the
    default) as they happen, until Ctrl-C. Nodes that join or come back are followed.
    screen_changed events (a screen redrawn after a change) are left out unless --screens
    or --json."""
    from engine.control.events import Listener
    from engine.control.fleet import Fleet, select

    ctrl_c_stops()

    try:
        ctl = controller(ns_host, ns_port)
        fleet = Fleet(ctl)
        nodes = fleet.select(selector)
    except ERRORS as exc:
        raise fail(exc) from None
    clocks = Clocks(fleet, [n.name for n in nodes], measure=not as_json)
    width = max(6, *(len(n.name) for n in nodes))
    try:
        with Listener(ctl, lambda: select(fleet.nodes(refresh=True), selector)) as listener:
            away = listener.wait(WAIT)
            if not as_json:
                names = ", ".join(n.name for n in nodes)
                later = f"; not reachable yet: {', '.join(away)}" if away else ""
                click.echo(f"watching {names} (Ctrl-C stops){later}", err=True)
            for record in listener:
                if as_json:
                    click.echo(json.dumps(record))
                elif record.get("name") in QUIET and not screens:
                    continue
                else:
                    click.echo(line(record, clocks.offset(str(record["node"])), width))
    except KeyboardInterrupt:
        pass
    except ERRORS as exc:
        raise fail(exc) from None
    finally:
        fleet.close()
        ctl.close()


class Clocks:
    """Each node's clock offset, measured once (at the start, or when a node first speaks)."""

    def __init__(self, fleet: Fleet, names: list[str], measure: bool = True):
        self.fleet = fleet
        self.measure = measure
        self.offsets: dict[str, Offset | None] = {}
        if measure and names:
            self._measure(names)

    def offset(self, node: str) -> Offset | None:
        if self.measure and node not in self.offsets:
            self._measure([node])
        return self.offsets.get(node)

    def _measure(self, names: list[str]) -> None:
        for name, outcome in self.fleet.offsets(names).items():
            self.offsets[name] = outcome.result if outcome.ok else None  # shown unconverted


def line(record: dict[str, Any], offset: Offset | None = None, width: int = 6) -> str:
    """``12:03:04.512  red     score_changed  +10 → 25 (button)``"""
    name = str(record.get("name"))
    text = describe(record)
    when = local_time(record.get("at"), offset, millis=True)
    return f"{when}  {record.get('node')!s:<{width}}  {name:<14}  {text}".rstrip()


def describe(record: dict[str, Any]) -> str:
    """A short human account of an event's data (the well-known ones read as sentences)."""
    name, data = record.get("name"), record.get("data")
    if not isinstance(data, dict):
        return ""
    d = dict(data)
    show = _DESCRIBE.get(str(name)) if record.get("source") != "pyrostage" else _NOTICES.get(
        str(name))
    if show is not None:
        try:
            return show(d)
        except (KeyError, TypeError, ValueError):
            pass  # another shape than expected: shown as its fields
    return " ".join(f"{k}={_value(v)}" for k, v in d.items())


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, str) and v and " " not in v:
        return v
    text = json.dumps(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _seconds(v: Any) -> str:
    return f"{float(v):.3f} s"


def _source(d: dict[str, Any]) -> str:
    return f" ({d['source']})" if d.get("source") else ""


_DESCRIBE: dict[str, Any] = {
    "score_changed": lambda d: f"{d['delta']:+d} → {d['score']}{_source(d)}",
    "button_pressed": lambda d: f"{d['button']} ({d['mode']})",
    "mode_switched": lambda d: f"{d['old']} → {d['new']}",
    "screen_changed": lambda d: str(d["mode"]),
    "timer_started": lambda d: str(d.get("title") or ""),
    "timer_stopped": lambda d: f"{_seconds(d['elapsed'])}{_source(d)}",
    "timer_placed": lambda d: f"place {d['place']}, {_seconds(d['elapsed'])}",
    "countdown_finished": lambda d: "",
    "toggled": lambda d: "on" if d["enabled"] else "off",
}
_NOTICES: dict[str, Any] = {
    "missed": lambda d: f"{d['count']} events lost: {d['reason']}",
    "restarted": lambda d: "the node restarted",
    "unreachable": lambda d: f"cannot reach the node ({d['error']}); still trying",
    "resumed": lambda d: "reached again",
}
