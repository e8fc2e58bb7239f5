"""Many nodes at once: selectors (``red``, ``red,blue``, ``@teams``, ``all``) and one call to
each selected node in parallel, with a deadline per call.

Each node has a worker thread of its own with its own ``Controller`` (so its own proxy: Pyro
proxies are not for sharing between threads). A frozen node holds up only its own worker: the
others' results come back as soon as they answer, and the frozen one's is a ``TimeoutError``
at the deadline; its worker is then left to finish on its own and a new one takes its place
(once: while that one is still stuck, later calls wait behind the new one, so a frozen node
called again and again costs two threads, not one per call).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any

from engine.control.controller import Controller, NodeInfo

ALL = "all"
DEFAULT_TIMEOUT = 5.0
"""Seconds each node gets to answer one fleet call."""

Job = Callable[[Controller, str], Any]
"""What a worker runs for its node: ``job(controller, node_name)``."""


@dataclass(frozen=True)
class Outcome:
    """One node's answer to a fleet call: its result, or the error it raised."""

    node: str
    result: Any = None
    error: BaseException | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


class Results(dict[str, Outcome]):
    """Node name -> ``Outcome``, in the order the nodes were selected."""

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.values() if not o.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    def values_or_raise(self) -> dict[str, Any]:
        """Node -> result; the first node's error raised if any failed."""
        for outcome in self.values():
            if outcome.error is not None:
                raise outcome.error
        return {name: o.result for name, o in self.items()}


def parse_selector(selector: str) -> list[str]:
    """``"red, @teams"`` -> ``["red", "@teams"]``; ``ValueError`` for an empty part."""
    if not isinstance(selector, str) or not selector.strip():
        raise ValueError("a selector names nodes: red, red,blue, @group or all")
    parts = [p.strip() for p in selector.split(",")]
    if not all(parts) or any(p == "@" for p in parts):
        raise ValueError(f"selector {selector!r} has an empty part; use red,blue, @group or all")
    return parts


def select(nodes: list[NodeInfo], selector: str, where: str = "the name server") -> list[NodeInfo]:
    """The nodes ``selector`` names, in its order, each once. ``LookupError`` names what is
    unknown and what there is."""
    by_name = {n.name: n for n in nodes}
    chosen: dict[str, NodeInfo] = {}
    for part in parse_selector(selector):
        if part.lower() == ALL:
            if not nodes:
                raise LookupError(f"no nodes in {where}")
            found = nodes
        elif part.startswith("@"):
            group = part[1:]
            found = [n for n in nodes if group in n.groups]
            if not found:
                groups = sorted({g for n in nodes for g in n.groups})
                known = f"groups: {', '.join(groups)}" if groups else "no node has a group"
                raise LookupError(f"no node in group {group!r} in {where} ({known}; "
                                  "`pyrostage serve --group NAME` puts a node in one)")
        elif part in by_name:
            found = [by_name[part]]
        else:
            known = ", ".join(by_name) or "none"
            raise LookupError(f"no node named {part!r} in {where} (nodes: {known})")
        for info in found:
            chosen.setdefault(info.name, info)
    return list(chosen.values())


class _Worker:
    """One node's thread and controller; jobs run one at a time, in order."""

    def __init__(self, node: str, controller: Controller):
        self.node = node
        self.controller = controller
        self.jobs: queue.SimpleQueue[tuple[Job, Future[Any]] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name=f"fleet {node}", daemon=True)
        self.thread.start()

    def submit(self, job: Job) -> Future[Any]:
        future: Future[Any] = Future()
        self.jobs.put((job, future))
        return future

    def _run(self) -> None:
        while (item := self.jobs.get()) is not None:
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job(self.controller, self.node))
            except BaseException as exc:  # the caller gets it as this node's outcome
                future.set_exception(exc)
        self.controller.close()

    def abandon(self) -> None:
        """Stop after the job it is stuck in; the controller's timeout ends that one."""
        self.jobs.put(None)


def _tell(arrived: queue.SimpleQueue[tuple[str, Future[Any]]], name: str,
          future: Future[Any]) -> None:
    arrived.put((name, future))


class Fleet:
    """The nodes of one name server, called in parallel."""

    def __init__(self, controller: Controller, timeout: float = DEFAULT_TIMEOUT,
                 own: bool = False):
        self.controller = controller
        self._own = own
        self.timeout = timeout
        self._nodes: list[NodeInfo] | None = None
        self._workers: dict[str, _Worker] = {}
        self._stuck: dict[str, _Worker] = {}
        """Per node, the worker last left stuck in a call that timed out."""
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return f"the name server at {self.controller.where}"

    def nodes(self, refresh: bool = False) -> list[NodeInfo]:
        """Every node in the name server (asked once, then remembered until ``refresh``)."""
        if self._nodes is None or refresh:
            self._nodes = self.controller.nodes()
        return self._nodes

    def groups(self) -> dict[str, list[str]]:
        """Group -> its nodes' names."""
        out: dict[str, list[str]] = {}
        for info in self.nodes():
            for group in info.groups:
                out.setdefault(group, []).append(info.name)
        return dict(sorted(out.items()))

    def select(self, selector: str) -> list[NodeInfo]:
        """The nodes a selector names (``red``, ``red,blue``, ``@teams``, ``all``)."""
        try:
            return select(self.nodes(), selector, self.where)
        except LookupError:
            if self._nodes is None:
                raise
            return select(self.nodes(refresh=True), selector, self.where)  # one came since

    def run(self, targets: str | Iterable[NodeInfo | str], job: Job,
            timeout: float | None = None) -> Results:
        """Run ``job(controller, node)`` for every target at once; wait at most ``timeout``
        (default: the fleet's) in all. A node that has not answered by then gets a
        ``TimeoutError``; the others' outcomes are not held up by it."""
        names = self._names(targets)
        arrived = {o.node: o for o in self.each(names, job, timeout)}
        return Results((name, arrived[name]) for name in names)

    def each(self, targets: str | Iterable[NodeInfo | str], job: Job,
             timeout: float | None = None) -> Iterator[Outcome]:
        """``run``, each node's outcome yielded as soon as it is in (the frozen ones last,
        at the deadline)."""
        names = self._names(targets)
        limit = self.timeout if timeout is None else timeout
        started = time.monotonic()
        deadline = started + limit
        arrived: queue.SimpleQueue[tuple[str, Future[Any]]] = queue.SimpleQueue()
        pending: dict[str, Future[Any]] = {}
        for name in names:
            future = pending[name] = self._worker(name).submit(job)
            future.add_done_callback(partial(_tell, arrived, name))
        while pending:
            try:
                name, future = arrived.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if pending.pop(name, None) is None or future.cancelled():
                continue
            took = time.monotonic() - started
            error = future.exception()
            yield Outcome(name, error=error, seconds=took) if error is not None else \
                Outcome(name, future.result(), seconds=took)
        for name, future in pending.items():
            future.cancel()
            self._abandon(name)
            yield Outcome(name, error=TimeoutError(
                f"node {name!r} did not answer within {limit:g} s"), seconds=limit)

    def call(self, targets: str | Iterable[NodeInfo | str], command: str, *args: Any,
             timeout: float | None = None, **kwargs: Any) -> Results:
        """``Controller.call`` on every target at once."""
        return self.run(targets, lambda ctl, node: ctl.call(node, command, *args, **kwargs),
                        timeout)

    def call_words(self, targets: str | Iterable[NodeInfo | str], command: str,
                   words: list[str], timeout: float | None = None) -> Results:
        """A command (or a facade member) with typed words, converted by each node's own
        declaration (nodes may run different plugin versions)."""
        return self.run(targets, lambda ctl, node: ctl.call_words(node, command, words)[2],
                        timeout)

    def member(self, targets: str | Iterable[NodeInfo | str], name: str, *args: Any,
               timeout: float | None = None) -> Results:
        """A facade member (``status``, ``switch``, ``snapshot`` ...) on every target."""
        return self.run(targets, lambda ctl, node: ctl.member(node, name, *args), timeout)

    def offsets(self, targets: str | Iterable[NodeInfo | str], exchanges: int = 8,
                timeout: float | None = None) -> Results:
        """Each target's clock ``Offset`` (``engine.control.clock``), measured in parallel."""
        from engine.control.clock import measure

        def job(ctl: Controller, node: str) -> Any:
            return measure(node, lambda: ctl.member(node, "clock"), exchanges)

        return self.run(targets, job, timeout)

    def _names(self, targets: str | Iterable[NodeInfo | str]) -> list[str]:
        if isinstance(targets, str):
            return [info.name for info in self.select(targets)]
        return list(dict.fromkeys(t.name if isinstance(t, NodeInfo) else t for t in targets))

    def _worker(self, node: str) -> _Worker:
        with self._lock:
            worker = self._workers.get(node)
            if worker is None:
                worker = self._workers[node] = _Worker(node, self._controller_for(node))
            return worker

    def _controller_for(self, node: str) -> Controller:
        """A controller of its own for ``node``'s worker, told the node's address if known."""
        ctl = self.controller.clone(timeout=self.timeout)
        uri = next((n.uri for n in self._nodes or () if n.name == node), None)
        if uri is not None:
            ctl.remember(node, uri)
        return ctl

    def _abandon(self, node: str) -> None:
        """Give up on ``node``'s worker (wake it if it is reading): a fresh one takes the next
        call, unless the one given up on before is still stuck, then the next call waits
        behind this one."""
        with self._lock:
            stuck = self._stuck.get(node)
            if stuck is not None and stuck.thread.is_alive():
                worker, replaced = self._workers.get(node), False
            else:
                worker, replaced = self._workers.pop(node, None), True
                if worker is not None:
                    self._stuck[node] = worker
        if worker is not None:
            if replaced:
                worker.abandon()
            worker.controller.hang_up()

    def close(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
            self._stuck.clear()
        for worker in workers:
            worker.abandon()
        if self._own:
            self.controller.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

