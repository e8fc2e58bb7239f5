"""The shell's Tab completion for prompt_toolkit: node names, selectors, modes, commands and
their parameters, from what ``engine.control.shellwords.complete`` finds in the catalog."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from engine.control.shellwords import Catalog, complete


class ShellCompleter(Completer):
    """Completes from a catalog, or from a function giving the current one (asked each time,
    so a mode switched since is seen)."""

    def __init__(self, catalog: Catalog | Callable[[], Catalog]):
        self._catalog = catalog

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterator[Completion]:
        catalog = self._catalog if isinstance(self._catalog, Catalog) else self._catalog()
        for c in complete(document.text_before_cursor, catalog):
            yield Completion(c.text, start_position=c.start, display=c.display or c.text,
                             display_meta=c.meta)
