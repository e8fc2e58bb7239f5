"""``pyrostage shell [SELECTOR]``: type commands to the selected nodes, one line at a time, as
the camp's first controller did (its ``RED``, ``TIME`` and ``r,g,b`` still work).

On a terminal it is a prompt_toolkit prompt with completion and history; with standard input
(or output) not a terminal it reads plain lines, prints only results, and exits non-zero if any
line failed. What a line means is ``engine.control.shellwords``; this module runs it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import click

from engine.cli import show
from engine.cli.app import ERRORS, ctrl_c_stops, fail, fleet, main, ns_options
from engine.control.shellwords import (
    PARSE_ERROR,
    Builtin,
    Catalog,
    Command,
    Original,
    Unparsed,
    help_text,
    hint,
    original_output,
    overview,
    parse_line,
    suggest,
)

if TYPE_CHECKING:
    from engine.control.controller import Controller
    from engine.control.fleet import Fleet, Results

SOURCE = "shell"
"""Who made a change, in the nodes' journals (``history``)."""
HISTORY = "shell_history"
"""File name of the history kept across sessions, in the user state dir."""


class Quit(Exception):
    """``quit`` or ``exit`` was typed."""


def say(text: str) -> None:
    click.echo(text)


def warn(text: str) -> None:
    click.echo(text, err=True)


class Shell:
    """The selected nodes and what is known of them; ``execute`` runs one line."""

    def __init__(self, fleet: Fleet, selector: str):
        self.fleet = fleet
        self.catalog = Catalog()
        self._stale = False
        self.select(selector)

    def select(self, selector: str) -> None:
        """Talk to the nodes ``selector`` names (``LookupError``/``ValueError`` if none)."""
        names = [info.name for info in self.fleet.select(selector)]
        self.catalog = self._load(names)

    def _load(self, names: list[str]) -> Catalog:
        def job(ctl: Controller, node: str) -> tuple[Any, Any, Any]:
            return ctl.commands(node), ctl.member(node, "commands"), ctl.member(node, "modes")

        catalog = Catalog(nodes=[n.name for n in self.fleet.nodes()],
                          groups=list(self.fleet.groups()), selected=names)
        for node, outcome in self.fleet.run(names, job).items():
            if outcome.error is None:
                catalog.commands[node], catalog.active[node], catalog.modes[node] = outcome.result
            else:
                warn(f"{node}: {show.error_text(outcome.error)} (its commands are not known here)")
        return catalog

    def current(self) -> Catalog:
        """The catalog, with the modes shown and the nodes there are asked again after a line
        ran (a command, a button or another controller may have switched a mode)."""
        if self._stale:
            self._stale = False
            catalog = self.catalog
            try:
                catalog.nodes = [n.name for n in self.fleet.nodes(refresh=True)]
                catalog.groups = list(self.fleet.groups())
            except ERRORS:
                pass
            for node, outcome in self.fleet.member(catalog.selected, "commands").items():
                if outcome.ok:
                    catalog.active[node] = outcome.result
        return self.catalog

    def prompt(self) -> str:
        names = self.catalog.selected
        shown = ",".join(names[:4]) + (f" +{len(names) - 4}" if len(names) > 4 else "")
        return f"{shown}> "

    def execute(self, line: str) -> bool:
        """Run one line; False if it failed (for any node). ``Quit`` to leave."""
        action = parse_line(line, self.catalog)
        if action is None:
            return True
        if isinstance(action, Unparsed):
            say(PARSE_ERROR)
            if action.hint:
                warn(f"({action.hint})")
            return False
        if isinstance(action, Builtin):
            return self._builtin(action)
        self._stale = True
        if isinstance(action, Original):
            word = action.word
            results = self.fleet.call(self.catalog.selected, action.command, *action.args)
            return self._report(results, lambda node, result: original_output(word, result),
                                original=True)
        assert isinstance(action, Command)
        from engine.cli.control import ctl_job

        shown = "switch" if action.name == "mode" and action.words else action.name
        results = self.fleet.run(self.catalog.selected, ctl_job(action.name, action.words))
        return self._report(results, lambda node, done: show.human(
            node, shown, done["result"], done["offset"], spec=done["spec"], args=done["args"]))

    def _report(self, results: Results, render: Callable[[str, Any], str],
                original: bool = False) -> bool:
        """What each node answered: with one node just that (the original inputs' exact
        text), with several one line per node as ``ctl`` prints them (the original inputs'
        text with the node's name in front). Errors: one line each on stderr."""
        width = max(len(node) for node in results)
        several = len(results) > 1
        for node, outcome in results.items():
            if outcome.error is not None:
                warn(show.line(node, width, show.error_text(outcome.error), "error"))
                continue
            text = render(node, outcome.result)
            if several:
                text = f"{node}: {text}" if original else show.line(node, width, text)
            say(text)
        return bool(results.ok)

    def _builtin(self, action: Builtin) -> bool:
        if action.name in ("quit", "exit"):
            raise Quit
        if action.name == "use":
            return self._use(action.args)
        catalog = self.current()
        if not action.args:
            say(overview(catalog))
            return True
        name = action.args[0]
        text = help_text(name, catalog)
        if text is None:
            guess = suggest(name, catalog.vocabulary())
            hint = f"; did you mean {guess}?" if guess else "; help lists the commands"
            warn(f"help: no command {name!r} on {', '.join(catalog.selected)}{hint}")
            return False
        say(text)
        return True

    def _use(self, args: list[str]) -> bool:
        catalog = self.current()
        if not args:
            groups = ", ".join(f"@{g}" for g in catalog.groups) or "none"
            say(f"selected: {', '.join(catalog.selected)} (nodes: {', '.join(catalog.nodes)};"
                f" groups: {groups}; all)")
            return True
        try:
            self.select(" ".join(args))
        except ERRORS as exc:
            warn(f"use: {show.error_text(exc)}")
            return False
        return True

    def lines(self, stream: Iterable[str]) -> bool:
        """Plain lines (a pipe, a file): results only; False if any line failed."""
        ok = True
        for line in stream:
            try:
                ok = self.execute(line) and ok
            except Quit:
                break
        return ok

    def interactive(self) -> None:
        """The prompt: completion, history across sessions, Ctrl-C clears, Ctrl-D leaves."""
        from prompt_toolkit import PromptSession
        from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
        from prompt_toolkit.completion import ThreadedCompleter

        from engine.cli.shell_complete import ShellCompleter

        session: PromptSession[str] = PromptSession(
            history=_history(), auto_suggest=AutoSuggestFromHistory(),
            completer=ThreadedCompleter(ShellCompleter(self.current)),
            complete_while_typing=True,
            bottom_toolbar=lambda: hint(session.default_buffer.text, self.catalog))
        say(f"pyrostage shell on {self.fleet.where}: help lists the commands, Tab completes, "
            "Ctrl-D leaves.")
        while True:
            try:
                line = session.prompt(self.prompt())
            except KeyboardInterrupt:
                continue
            except EOFError:
                return
            try:
                self.execute(line)
            except Quit:
                return
            except KeyboardInterrupt:
                warn("interrupted (a node may still finish the command)")


def _history() -> Any:
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    from engine.base.config import default_state_dir

    try:
        folder = default_state_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / HISTORY
        path.touch()
        return FileHistory(str(path))
    except OSError:  # a read-only home: history for this session only
        return InMemoryHistory()


@main.command()
@ns_options
@click.option("--timeout", type=click.FloatRange(min=0.1), default=None,
              help="Seconds each node gets to answer a line (default 5).")
@click.argument("selector", default="all")
def shell(ns_host: str | None, ns_port: int | None, timeout: float | None,
          selector: str) -> None:
    """Type commands to the nodes SELECTOR names (red, red,blue, @group; default all).

    A line is a command with its arguments (set_color orange, add_points -5, status,
    switch timer, colorsquare.get_color), a shell word (help [COMMAND], use SELECTOR, quit),
    or one of the original camp controller's inputs: RED, GREEN, BLUE, TIME, r,g,b. Anything
    else prints "Couldn't parse an R,G,B argument".

    Reading from a pipe or a file (printf 'RED\\nTIME\\n' | pyrostage shell red), it prints
    results only and exits with status 1 if any line failed.
    """
    ctrl_c_stops()
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    try:  # the nodes' journals record changes made here as the shell's
        with fleet(ns_host, ns_port, timeout, source=SOURCE) as fleet_:
            session = Shell(fleet_, selector)
            if interactive:
                session.interactive()
                return
            ok = session.lines(sys.stdin)
    except ERRORS as exc:
        raise fail(exc) from None
    if not ok:
        sys.exit(1)
