"""``python -m bench``: every scenario of issue 11 against real nodes on 127.0.0.1, one table.

    python -m bench                  # the full run (about half an hour, P10 soaks 10 minutes)
    python -m bench --quick          # CI's smoke run: seconds per scenario
    python -m bench --only P1,P4     # some scenarios
    python -m bench --json out.json  # where the table and the machine go (default below)

Each figure is printed next to its reference measured in the same run; figures that vary
are median ratios over paired repetitions, with their min-max.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .harness import ROOT, Row, Run, machine

DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"
Scenario = Callable[[Run, set[str]], list[Row]]


SCENARIOS: list[tuple[tuple[str, ...], str]] = [
    (("P1", "P2"), "calls:rtt_rows"),
    (("P3", "P8"), "frames:latency_rows"),
    (("P4",), "calls:writers_rows"),
    (("P5",), "fleetwide:broadcast_rows"),
    (("P6",), "frames:idle_rows"),
    (("P7",), "startup:start_rows"),
    (("P9",), "fleetwide:race_rows"),
    (("P10",), "soak:soak_rows"),
    (("P11",), "startup:cli_rows"),
    (("P12",), "delivery:delivery_rows"),
]
"""Scenario ids -> ``module:function(run, ids)`` returning its rows."""


def load(spec: str) -> Scenario:
    module, function = spec.split(":")
    found: Scenario = getattr(importlib.import_module(f"bench.{module}"), function)
    return found


def table(rows: list[Row], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for name in ("#", "scenario", "figure", "reference", "ratio", "target", ""):
        t.add_column(name, justify="right" if name in ("figure", "reference", "ratio") else "left")
    for r in rows:
        verdict = {True: "[green]pass[/]", False: "[red]miss[/]", None: "-"}[r.passed]
        t.add_row(r.id, r.scenario, r.figure, r.reference, r.ratio, r.target, verdict)
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run for CI (seconds each)")
    parser.add_argument("--only", default="", help="scenarios to run, e.g. P1,P4 (default: all)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where the results go "
                        f"(default {DEFAULT_JSON.relative_to(ROOT)})")
    parser.add_argument("--reps", type=int, default=5, help="paired repetitions (default 5)")
    parser.add_argument("--soak", type=float, default=600.0,
                        help="seconds of P10's mixed load (default 600; --quick: 10)")
    args = parser.parse_args(argv)
    known = [i for ids, _ in SCENARIOS for i in ids]
    only = {s.strip().upper() for s in args.only.split(",") if s.strip()} or set(known)
    if only - set(known):
        parser.error(f"unknown scenario {', '.join(sorted(only - set(known)))}; "
                     f"known: {', '.join(known)}")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    console = Console(width=None if sys.stdout.isatty() else 160)
    tmp = Path(tempfile.mkdtemp(prefix="pyrostage-bench-"))
    run = Run(quick=args.quick, tmp=tmp, soak=10.0 if args.quick else args.soak, reps=args.reps)
    rows: list[Row] = []
    errors: dict[str, str] = {}
    started = time.time()
    try:
        for ids, spec in SCENARIOS:
            wanted = only & set(ids)
            if not wanted:
                continue
            label = ",".join(sorted(wanted, key=known.index))
            console.print(f"[dim]running {label} ...[/]")
            t0 = time.monotonic()
            try:
                got = load(spec)(run, wanted)
            except (Exception, SystemExit) as exc:
                errors[label] = "".join(traceback.format_exception_only(exc)).strip()
                console.print(f"[red]{label} failed:[/] {errors[label]}")
                continue
            rows += [r for r in got if r.id in wanted]
            console.print(f"[dim]{label} took {time.monotonic() - t0:.0f} s[/]")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows.sort(key=lambda r: known.index(r.id))
    desc = machine()
    title = (f"pyrostage benchmark{' (quick)' if args.quick else ''}: {desc['cpus']} x "
             f"{desc['cpu_model']}, Python {desc['python']}, load {desc['load_average']}")
    console.print(table(rows, title))
    for r in rows:
        if r.note:
            console.print(f"[dim]{r.id}[/] {r.note}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "machine": desc, "quick": args.quick, "started": started, "took": time.time() - started,
        "rows": [r.as_json() for r in rows], "errors": errors}, indent=1) + "\n")
    console.print(f"[dim]results in {args.json}[/]")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
