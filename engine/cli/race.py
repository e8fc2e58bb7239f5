"""``pyrostage race SELECTOR``: one fair start on every selected screen, the ranking as the
teams stop their timers, the winner on its screen (see ``engine.control.race``)."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import click

from engine.cli.app import ERRORS, ctrl_c_stops, fail, fleet, main, ns_options


@main.command()
@ns_options
@click.argument("selector")
@click.option("--in", "start_in", type=click.FloatRange(0.5, 60), default=3.0,
              show_default=True, help="Seconds until the start (a countdown on every screen).")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=60.0, show_default=True,
              help="Seconds after the start at which the race ends, stopped or not.")
@click.option("--award", type=click.IntRange(0, 1_000_000), default=0,
              help="Points added to the winner's scoreboard (journaled as source race).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines as things happen.")
def race(ns_host: str | None, ns_port: int | None, selector: str, start_in: float,
         timeout: float, award: int, as_json: bool) -> None:
    """Race the timers of SELECTOR (red,blue / @teams / all): each team stops its own with
    its button; prints places, times and gaps as they come."""
    from engine.control.events import Listener
    from engine.control.race import Race

    ctrl_c_stops()

    out = _json if as_json else _Human().step
    try:
        with fleet(ns_host, ns_port, source="race") as f:
            run = Race(f, selector, listen=lambda nodes, consumer: Listener(
                f.controller, nodes, consumer), start_in=start_in, timeout=timeout,
                award=award, report=out)
            try:
                final = run.run()
            except KeyboardInterrupt:
                run.cancel()
                click.echo("race cancelled: the timers that had not stopped were stopped",
                           err=True)
                sys.exit(130)
    except ERRORS as exc:
        raise fail(exc) from None
    out(final)
    if final["failed"]:
        sys.exit(1)


def _json(step: dict[str, Any]) -> None:
    click.echo(json.dumps(step), nl=True)


class _Human:
    """The race told as it happens, for the people around the screens."""

    def __init__(self) -> None:
        self.width = 6

    def step(self, step: dict[str, Any]) -> None:
        kind = step["event"]
        if kind == "armed":
            nodes = step["nodes"]
            self.width = max([6, *(len(n) for n in nodes)])
            click.echo(f"race: {', '.join(nodes)}: GO in {step['start_in']:.1f} s")
        elif kind == "clocks":
            nodes = step["nodes"]
            worst = max((c["error_bound"] for c in nodes.values()), default=0.0)
            click.echo(f"clocks measured: every start within {worst * 1000:.1f} ms")
            for node, clock in nodes.items():
                if clock["warn"]:
                    click.echo(f"warning: {node}'s clock is known only to within "
                               f"{clock['error_bound'] * 1000:.1f} ms (round trip "
                               f"{clock['round_trip'] * 1000:.1f} ms): its time may be off by "
                               "that much", err=True)
        elif kind == "left":
            click.echo(f"{step['node']:<{self.width}}  left the race: {step['reason']}", err=True)
        elif kind == "stopped":
            gap = "WINNER" if step["place"] == 1 else f"+{_ms(step['gap'])} s"
            click.echo(f"{_place(step['place']):>4}  {step['node']:<{self.width}}  "
                       f"{_ms(step['elapsed']):>8} s  {gap}")
        elif kind == "finished":
            self.finished(step)

    def finished(self, final: dict[str, Any]) -> None:
        ranking = final["ranking"]
        if not ranking:
            click.echo("nobody stopped a timer before the timeout (no press reached the race: "
                       "`pyrostage watch` shows each button press as it happens)")
        else:
            first = ranking[0]
            title = f" ({first['title']})" if first["title"] != first["node"] else ""
            award = final.get("award")
            points = ""
            if award:
                points = (f", +{award['points']} points" if award["error"] is None
                          else f"; the points could not be added: {award['error']}")
            click.echo(f"winner: {first['node']}{title} in {_ms(first['elapsed'])} s{points}")
        if final["unfinished"]:
            click.echo(f"did not stop in time: {', '.join(final['unfinished'])}")
        skew = final["visual_skew"]
        if skew:
            click.echo("GO was on screen after the start instant by: " + ", ".join(
                f"{node} {late * 1000:.1f} ms" for node, late in skew.items()))


def _ms(seconds: float) -> str:
    """Seconds to the millisecond, cut as the timer's screen cuts them (not rounded)."""
    return f"{math.floor(seconds * 1000 + 1e-6) / 1000:.3f}"


def _place(n: int) -> str:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n if n < 20 else n % 10, "th")
    return f"{n}{suffix}"
