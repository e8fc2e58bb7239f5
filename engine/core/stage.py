"""The node's state machine: its modes, their commands, and the one path every change takes.

Every change — a remote command, a mode switch, a button edge, a timer tick — goes through
``apply``: one at a time, in one order, all or nothing (its writes are queued whole, memory
is reverted if it raises), committed (group commit) before the caller hears back. Plugins
therefore need no locks. Reads skip the queue.

Two ways to serialize, picked per node (the benchmark compares them):
``lock`` runs the change on the caller's thread under the engine lock and wakes the main
loop to redraw; ``inbox`` hands it to the main loop and waits for the result.

Events a change publishes are held with it and go out (the ``pyrostage_event`` hook) only
once it is committed, in the order the changes ran, outside the engine lock; see ``publish``.
"""

from __future__ import annotations

import copy
import logging
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from contextlib import suppress
from datetime import date
from typing import Any, Protocol

import pluggy

from engine.api.modes import Behaviour, CommandSpec, Mode
from engine.base.text import short as short_repr
from engine.core.plugins import Registry, plugin_tables, why
from engine.core.state import StateView, plain
from engine.core.store import ENGINE, StateNotSaved, Store

log = logging.getLogger(__name__)


RING_MAX = 30.0
"""The longest a bell rings for one call: a stuck bell in a quiet hall is a bug, not a feature."""


def _differs(now: dict[str, Any], before: dict[str, Any]) -> bool:
    """Whether a behaviour's values changed (a set replaces the dict, so the same one is
    unchanged)."""
    return now is not before and now != before


def ring_seconds(seconds: Any) -> float:
    """``seconds`` checked for ``ring``: a number, more than 0, at most ``RING_MAX``."""
    wanted = f"more than 0 and at most {RING_MAX:g}"
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError(f"seconds must be a number of seconds, {wanted}, got {short_repr(seconds)}")
    if not 0 < seconds <= RING_MAX:  # also refuses nan
        raise ValueError(f"seconds must be {wanted}, got {short_repr(seconds)}")
    return float(seconds)


class Outputs(Protocol):
    """The node's output pins (the bell), as the stage drives them."""

    def pulse(self, name: str, seconds: float) -> bool: ...


class Speaker(Protocol):
    """The node's sounds (``engine.hardware.sound.Sound``), as the stage drives them."""

    on_main: Callable[[Callable[[], Any]], None] | None

    def check(self, name: Any) -> str: ...
    @property
    def usable(self) -> bool: ...
    def play(self, name: str) -> bool: ...

DRAW_LOCK_WAIT = 0.1
"""Seconds a frame waits for the engine lock before it is skipped (a plugin is stuck)."""
DELIVERY_RETRY = 0.05
"""Seconds after which the main loop tries again to deliver events another thread held up."""
NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")
EVENT = re.compile(r"^[a-z][a-z0-9_]*$")
DISPATCH = ("lock", "inbox")
ENGINE_SOURCE = "engine"
"""The ``source`` of the events the engine publishes itself."""
Event = tuple[str, str, dict[str, Any]]  # source, name, data


class Stage:
    """Engine API handed to plugins: ``call``, ``switch``, ``publish``, ``ring``, clocks."""

    def __init__(
        self,
        name: str,
        pm: pluggy.PluginManager,
        registry: Registry,
        store: Store,
        *,
        plugin_config: Mapping[str, dict[str, Any]] | None = None,
        default_mode: str | None = None,
        dispatch: str = "lock",
        timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] = date.today,
        outputs: Outputs | None = None,
        sound: Speaker | None = None,
    ):
        if dispatch not in DISPATCH:
            raise ValueError(f"dispatch must be one of {DISPATCH}, got {dispatch!r}")
        self.name = name
        self.pm = pm
        self.hook = pm.hook
        self.registry = registry
        self.store = store
        self.dispatch = dispatch
        self.timeout = timeout
        self.clock = clock
        self.today = today
        self.outputs = outputs
        self.sound = sound
        if sound is not None:
            sound.on_main = self._soon
        self.started = clock()
        self.lock = threading.RLock()
        self.wake = threading.Event()
        self.loop_thread: int | None = None
        self._tasks: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._serial_thread: int | None = None
        self._dirty = True
        self.source = "controller"
        self.draw_error: str | None = None
        self._bad_deadlines: set[str] = set()
        self._bad_animating: set[str] = set()
        self._bad_ticks: set[str] = set()
        self._bad_overlays: set[str] = set()
        self._intact: tuple[Mode, Any] | None = None  # (mode, surface) the last frame left whole
        self.screen_kept = False
        self._changes: list[list[Event]] = []  # events of the change running now, per nesting
        self._redrawn = False  # the change running now asked to redraw the active mode
        self._outbox: deque[tuple[int, list[Event]]] = deque()  # (store mark, events)
        self._delivery = threading.Lock()
        self._caller_cache: dict[str, tuple[tuple[Any, ...], list[tuple[str, Any]]]] = {}
        self._delivering: int | None = None
        self._mine = threading.local()  # .entry: the outbox entry of this thread's last change

        config = plugin_tables(registry, plugin_config or {})  # typed; ValueError if wrong
        self.behaviours: dict[str, Behaviour] = {}
        self.modes: dict[str, Mode] = {}
        self._states: dict[str, StateView] = {}
        self._specs: dict[str, dict[str, CommandSpec]] = {}
        classes: dict[str, type[Behaviour]] = {**registry.modes, **registry.behaviours}
        for key, cls in classes.items():
            if key not in registry.modes and key not in registry.behaviours:
                continue  # dropped with its plugin, another of whose modes failed
            state = StateView(store, key)
            try:
                instance = cls(self, state, dict(config.get(key, {})))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self._drop(key, "could not be made", exc)
                continue
            self._states[key] = state
            self.behaviours[key] = instance
            self._specs[key] = cls.command_specs()
            if isinstance(instance, Mode):
                self.modes[key] = instance
        self._need_modes()
        self._engine_state = StateView(store, ENGINE)
        self._default_mode = default_mode
        self.active: Mode = self._stored_mode()
        self._notices = self.notices()
        store.listen(self._store_changed)

    def _stored_mode(self) -> Mode:
        """The active mode as the store has it (or the default one)."""
        wanted = self._engine_state.get("mode") or self._default_mode
        if wanted not in self.modes:
            wanted = "colorsquare" if "colorsquare" in self.modes else next(iter(self.modes))
        return self.modes[wanted]

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Restore every behaviour's durable state and tell plugins the node is up. A plugin
        whose mode cannot restore or enter is skipped; a start hook that raises is reported."""
        for name, behaviour in list(self.behaviours.items()):
            if name in self.behaviours:  # not dropped with its plugin meanwhile
                self._try(name, "failed to restore its state", behaviour.restore)
        while True:
            self._need_modes()
            self.active = self._stored_mode()
            if self._try(self.active.name, "failed to enter", self.active.on_enter):
                break
        self._notify("pyrostage_mode_changed", stage=self, old=None, new=self.active.name)
        self._notify("pyrostage_startup", stage=self)
        self.request_redraw()

    def shutdown(self) -> None:
        self._deliver(wait=True)  # the last events go out before plugins let go
        self._notify("pyrostage_shutdown", stage=self)
        try:
            self.store.flush()
        except StateNotSaved as exc:
            log.error("stopping: %s", exc)
        self._deliver(wait=True)

    # -- plugins that fail at start or stop -------------------------------------------------

    def _try(self, name: str, what: str, step: Callable[[], Any]) -> bool:
        """Run a start-up step of behaviour ``name``; if it raises, drop its plugin."""
        try:
            step()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            self._drop(name, what, exc)
            return False
        return True

    def _drop(self, name: str, what: str, exc: BaseException) -> None:
        """Skip the plugin behind ``name`` whole (all it provides, all its hooks); say why."""
        log.debug("%r %s", name, what, exc_info=exc)
        kind = "mode" if name in self.registry.modes else "behaviour"
        plugin = self.registry.source.get(name, name)
        reason = f"{kind} {name!r} {what}: {why(exc)}"
        for gone in self.registry.drop(self.pm, plugin, "failed at start", reason):
            self.behaviours.pop(gone, None)
            self.modes.pop(gone, None)
            self._states.pop(gone, None)
            self._specs.pop(gone, None)

    def _need_modes(self) -> None:
        """Raise (one line, naming each broken plugin) when no mode is left to show."""
        if self.modes:
            return
        failed = self.registry.loaded.failed
        if not failed:
            raise LookupError("no modes are installed: is any pyrostage plugin loaded?")
        broken = "; ".join(f"{name!r}: {info.error}" for name, info in sorted(failed.items()))
        raise LookupError(f"no mode could start; the broken plugins: {broken}")

    def _notify(self, hook: str, **kwargs: Any) -> None:
        """Call a hook outside any change (start, stop, events) plugin by plugin: one that
        raises is logged and reported, and the others are still called. Each gets its own
        copy of a ``data`` dict. (Inside a change, a hook that raises fails the change.)"""
        callers = self._callers(hook)
        for i, (name, call) in enumerate(callers):
            try:
                if "data" in kwargs and i < len(callers) - 1:  # the last one gets the original
                    call(**{**kwargs, "data": copy.deepcopy(kwargs["data"])})
                else:
                    call(**kwargs)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                log.debug("plugin %r failed in %s", name, hook, exc_info=True)
                self.registry.loaded.warn(name, f"failed in {hook}: {why(exc)}")

    def _callers(self, hook: str) -> list[tuple[str, Any]]:
        """(plugin name, a caller of ``hook`` for that plugin alone), in pluggy's order; made
        again only when the plugins implementing ``hook`` change (an event goes out per change)."""
        caller = getattr(self.hook, hook)
        impls = caller.get_hookimpls()
        key = tuple((id(impl), impl.plugin_name) for impl in impls)
        cached = self._caller_cache.get(hook)
        if cached is not None and cached[0] == key:
            return cached[1]
        callers = []
        for name in dict.fromkeys(impl.plugin_name for impl in reversed(impls)):
            plugin = self.pm.get_plugin(name)
            if plugin is not None:
                others = [p for p in self.pm.get_plugins() if p is not plugin]
                callers.append((name, self.pm.subset_hook_caller(hook, others)))
        if len(callers) == 1:  # the usual case (the event log): the hook itself is that caller
            callers = [(callers[0][0], caller)]
        self._caller_cache[hook] = (key, callers)
        return callers

    @property
    def uptime(self) -> float:
        return self.clock() - self.started

    # -- looking commands up ------------------------------------------------------------

    def resolve(self, command: Any) -> tuple[Behaviour, CommandSpec]:
        """The behaviour and declaration behind a command name, or a LookupError saying why."""
        if not isinstance(command, str):
            raise TypeError(f"a command name is a string, got {type(command).__name__}")
        if not NAME.match(command):
            raise LookupError(
                f"unknown command {short_repr(command)}: commands are lowercase names, "
                "optionally qualified as mode.command or plugin.command; see commands()"
            )
        owner_name, _, short = command.rpartition(".")
        if owner_name:
            owner = self.behaviours.get(owner_name)
            if owner is None:
                raise LookupError(
                    f"unknown mode or plugin {short_repr(owner_name)} in "
                    f"{short_repr(command)}; known: {', '.join(sorted(self.behaviours))}"
                )
        else:
            owner = self.active
        spec = self._specs[owner.name].get(short)
        if spec is None:
            known = ", ".join(sorted(self._specs[owner.name])) or "none"
            where = f"the active mode {owner.name!r}" if not owner_name else repr(owner.name)
            message = f"{where} has no command {short_repr(short)}; its commands: {known}"
            elsewhere = [f"{name}.{short}" for name, specs in sorted(self._specs.items())
                         if short in specs and name != owner.name]
            if elsewhere:
                message += f"; did you mean {' or '.join(elsewhere)}?"
            raise LookupError(message)
        return owner, spec

    def describe(self, mode: str | None = None) -> dict[str, dict[str, Any]]:
        """Command name -> declaration, for one mode/plugin or (None) the active mode."""
        if mode is not None and not isinstance(mode, str):
            raise TypeError(f"a mode or plugin name is a string, got {type(mode).__name__}")
        if mode is not None and mode not in self.behaviours:
            raise LookupError(
                f"unknown mode or plugin {short_repr(mode)}; "
                f"known: {', '.join(sorted(self.behaviours))}"
            )
        owner = self.behaviours[mode] if mode is not None else self.active
        return {name: spec.describe() for name, spec in sorted(self._specs[owner.name].items())}

    def all_commands(self) -> dict[str, dict[str, Any]]:
        """Every qualified command of every mode and plugin."""
        return {
            f"{owner}.{name}": spec.describe()
            for owner, specs in sorted(self._specs.items())
            for name, spec in sorted(specs.items())
        }

    # -- the serialized path ----------------------------------------------------------

    def call(self, command: str, *args: Any, source: str = "plugin", **kwargs: Any) -> Any:
        """Run a command from a plugin or hook: ``stage.call("scoreboard.add_points", 10)``.

        ``source`` is who the journal should name (the easter egg passes ``"button"``).
        """
        return self.invoke(command, args, kwargs, source)

    def invoke(
        self,
        command: Any,
        args: tuple[Any, ...] | list[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        source: str = "controller",
    ) -> Any:
        """Check the arguments against the declaration, then run the command."""
        owner, spec = self.resolve(command)
        if not isinstance(args, list | tuple) or not isinstance(kwargs or {}, Mapping):
            raise TypeError("arguments must be a list and keyword arguments a dict")
        checked = spec.signature.bind(f"{owner.name}.{spec.name}", tuple(args), dict(kwargs or {}))
        if spec.read:
            return spec.func(owner, **checked)
        return self.apply(lambda: spec.func(owner, **checked), source=source, owner=owner)

    def apply(
        self, change: Callable[[], Any], source: str = "controller", owner: Behaviour | None = None
    ) -> Any:
        """Run one change serialized with all others; return once it is durable.

        ``StateNotSaved`` (an OSError) while the state cannot be saved: the change is not
        run, or, when its commit fails, undone with every change committed along with it.
        """
        me = threading.get_ident()
        if self._serial_thread == me:  # a change made by a change (e.g. a hook): inline
            return self._run(change, source, owner, nested=True)
        self.store.writable()
        if self.dispatch == "inbox" and self.loop_thread not in (None, me):
            done: Future[Any] = Future()
            self._tasks.put(("apply", change, source, owner, done))
            self.wake.set()
            try:
                result, ticket, entry = done.result(timeout=self.timeout)
            except TimeoutError:
                if done.cancel():
                    raise TimeoutError(self._timeout_message()) from None
                if not done.done():  # the main loop took it but a plugin is still at it
                    raise TimeoutError(
                        f"node {self.name!r} did not finish the change within "
                        f"{self.timeout:g} s: a plugin is taking too long; the change is "
                        "still running and may yet take effect"
                    ) from None
                result, ticket, entry = done.result()
        else:
            if not self.lock.acquire(timeout=self.timeout):
                raise TimeoutError(self._timeout_message())
            try:
                self._recover()
                result, ticket, entry = self._serial(change, source, owner)
            finally:
                self.lock.release()
        self._mine.entry = entry  # this caller hears back once its own events went out
        try:
            self.store.flush(ticket)
        except StateNotSaved:
            self._recover_now()  # the caller's next read shows the state as it is on disk
            raise
        finally:  # the caller hears back after its events went out (the loop never waits)
            self._deliver(wait=me != self.loop_thread)
        return result

    def _timeout_message(self) -> str:
        return (
            f"node {self.name!r} could not apply the change within {self.timeout:g} s: "
            "a plugin is holding the main loop or the engine lock; the change was not made"
        )

    def _recover(self) -> None:
        """After a failed commit: memory back to the durable state — every behaviour's values
        reloaded and ``restore()``d, the active mode too. Only under the engine lock and
        between changes, never inside one (its own revert would undo this)."""
        if not self.store.stale or self._serial_thread is not None:
            return
        generation = self.store.generation
        for name, behaviour in self.behaviours.items():
            try:
                self._states[name].reload()
                behaviour.restore()
            except Exception:
                log.exception("%r could not be restored from the saved state", name)
        self._engine_state.reload()
        self.active = self._stored_mode()
        self.store.reloaded(generation)
        log.info("memory reverted to the saved state")
        self.request_redraw()

    def _recover_now(self) -> None:
        """``_recover`` from outside the engine lock, unless a stuck change holds it (then the
        main loop does it later)."""
        if self.store.stale and self.lock.acquire(timeout=self.timeout):
            try:
                self._recover()
            finally:
                self.lock.release()

    def _store_changed(self) -> None:
        """The store's health changed (any thread): redraw the banner, let the loop recover."""
        notices = self.notices()
        if notices != self._notices or self.store.stale:
            self._notices = notices
            self.request_redraw()

    def notices(self) -> list[str]:
        """Short lines for a banner about what the node cannot do now (empty when all is well)."""
        problem = self.store.problem
        if problem is None:
            return []
        return [f"cannot save: {problem} ({self.store.path}); changes are refused"]

    def _serial(self, change: Callable[[], Any], source: str, owner: Behaviour | None) -> Any:
        """Run a change as the one running now; return its result, the ticket of its own
        writes and its events' outbox entry (None: it published nothing)."""
        self._serial_thread = threading.get_ident()
        self._mine.entry = None
        try:
            result = self._run(change, source, owner)
            entry, self._mine.entry = self._mine.entry, None
            return result, self.store.last_ticket(), entry
        finally:
            self._serial_thread = None

    def _run(
        self, change: Callable[[], Any], source: str, owner: Behaviour | None, nested: bool = False
    ) -> Any:
        """Apply a change all or nothing: a change that raises leaves every behaviour (and the
        active mode) exactly as it was before it, in memory as in the store, and publishes
        nothing. A nested change's events join the outer change's."""
        previous, self.source = self.source, source
        before = {name: state.snapshot() for name, state in self._states.items()}
        active, engine = self.active, self._engine_state.snapshot()
        redrawn = self._redrawn
        self._changes.append([])
        try:
            with self.store.atomic():
                result = change()
        except BaseException:
            self._changes.pop()
            self._redrawn = redrawn
            self.active = active
            self._engine_state.revert(engine)
            for name, behaviour in self.behaviours.items():
                if self._states[name].revert(before[name]) or behaviour is owner:
                    behaviour.restore()
            raise
        finally:
            self.source = previous
        events = self._changes.pop()
        if owner is None or owner is self.active:
            self._redraw_soon()
            # a tick that saved and published nothing is one frame of an animation
            if nested or source != "tick" or events or self.store.last_ticket():
                self._redrawn = True
        else:  # a background mode may have a new deadline (a countdown): let the loop see it
            self.wake.set()
            if owner is not None and source != "tick" and not events and \
                    _differs(self._states[owner.name].snapshot(), before[owner.name]):
                # nothing on screen changed, but a page showing this state must hear of it
                events.append((ENGINE_SOURCE, "state_changed", {"behaviour": owner.name}))
        if nested:
            self._changes[-1].extend(events)
            return result
        if self._redrawn:
            events.append((ENGINE_SOURCE, "screen_changed", {"mode": self.active.name}))
            self._redrawn = False
        self._queue(events)
        return result

    # -- engine actions plugins and the facade use --------------------------------------

    def switch(self, mode: Any, source: str = "controller") -> str:
        """Make ``mode`` the active mode (durably); returns its name."""
        if not isinstance(mode, str):
            raise TypeError(f"a mode name is a string, got {type(mode).__name__}")
        if mode not in self.modes:
            raise LookupError(
                f"unknown mode {short_repr(mode)}; this node has: {', '.join(self.modes)}"
            )

        def change() -> str:
            old = self.active
            if old.name != mode:
                new = self.modes[mode]
                self._publish(ENGINE_SOURCE, "mode_switched", {"old": old.name, "new": mode})
                old.on_exit()
                new.on_enter()
                self.active = new  # a hook that raises below puts it back (see _run)
                self._engine_state.set("mode", mode)
                self.hook.pyrostage_mode_changed(stage=self, old=old.name, new=mode)
            return mode

        return str(self.apply(change, source=source))

    def behaviour(self, name: str) -> Behaviour:
        """Another plugin's behaviour or mode by name (KeyError if it is not installed)."""
        return self.behaviours[name]

    # -- events -------------------------------------------------------------------------

    def publish(self, source: str, name: str, data: Mapping[str, Any] | None = None) -> None:
        """Publish event ``name`` from mode or behaviour ``source`` (what
        ``Behaviour.publish`` calls): every ``pyrostage_event`` hook gets it.

        Inside a change it is held with the change and delivered once the change is
        committed, after the events of every change before it; a change that raises, or whose
        commit fails, publishes nothing. Outside a change (a start hook, a background thread)
        it goes out on the main loop, after everything committed so far. ``data`` must be
        plain JSON data (tuples become lists): ``TypeError``/``ValueError`` otherwise, which
        fails the change that published it.
        """
        if not isinstance(source, str) or source not in self.behaviours:
            raise LookupError(f"an event's source is a mode or behaviour of this node, got "
                              f"{short_repr(source)}; known: {', '.join(sorted(self.behaviours))}")
        self._publish(source, name, data)

    def _publish(self, source: str, name: str, data: Mapping[str, Any] | None) -> None:
        if not isinstance(name, str) or not EVENT.match(name):
            raise ValueError(f"an event name is lowercase letters, digits and _, starting with "
                             f"a letter; got {short_repr(name)}")
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise TypeError(f"event {name!r}: data is a dict, got {type(data).__name__}")
        event = (source, name, plain(dict(data), f"event {name!r} data"))
        if self._changes and self._serial_thread == threading.get_ident():
            self._changes[-1].append(event)
        else:
            self._queue([event])
            self.wake.set()  # the main loop delivers it

    def _queue(self, events: list[Event]) -> None:
        """Hold a change's events until everything queued so far in the store is committed
        (nobody listening: nothing to hold)."""
        if events and self.hook.pyrostage_event.get_hookimpls():
            entry = (self.store.mark(), events)
            self._outbox.append(entry)
            self._mine.entry = entry

    def _deliver(self, wait: bool) -> None:
        """Deliver the held events whose changes are committed, oldest first; drop those whose
        commit failed. One thread delivers at a time, outside the engine lock; ``wait``: take
        a turn behind it (callers, so they hear back after their events went out), else leave
        them to it or to the main loop's next pass (the main loop never waits)."""
        me = threading.get_ident()
        own, self._mine.entry = getattr(self._mine, "entry", None), None
        if not self._outbox or self._delivering == me:  # a hook's own change: delivered next
            return
        if not self._delivery.acquire(timeout=self.timeout if wait else 0):
            return
        self._delivering = me
        try:
            while self._outbox:
                entry = self._outbox[0]
                mark, events = entry
                done = self.store.outcome(mark)
                if done is None:
                    if own is None or not wait or not any(e is own for e in self._outbox):
                        break  # its maker commits it, then delivers it: no waiting for it
                    # before this caller's own events (a change that wrote nothing, behind one
                    # still committing): committed now, so they go out before it hears back
                    with suppress(StateNotSaved):  # its callers hear of it; the loop recovers
                        self.store.flush(mark)
                    done = self.store.outcome(mark)
                    if done is None:
                        break
                if done:
                    for source, name, data in events:
                        self._notify("pyrostage_event", stage=self, source=source, name=name,
                                     data=data)
                self._outbox.popleft()  # only now: a caller waits while its events are out
                if entry is own:
                    own = None
        finally:
            self._delivering = None
            self._delivery.release()

    def ring(self, seconds: float = 1.0, output: str = "bell") -> bool:
        """Drive an output (the bell) for ``seconds`` (more than 0, at most 30) without
        blocking; False if none exists."""
        seconds = ring_seconds(seconds)
        if self.outputs is None:
            return False
        return self.outputs.pulse(output, seconds)

    def play(self, name: str) -> bool:
        """Play a short synthesised sound (``tick``, ``go``, ``winner``, ``place``) without
        blocking: it plays on the main loop's next pass (SDL wants its audio there). False if
        the node has no sound, it is switched off, or its device failed lately."""
        if self.sound is None:
            if not isinstance(name, str):
                raise TypeError(f"a sound's name is a string, got {type(name).__name__}")
            return False
        sound = self.sound
        name = sound.check(name)
        if not sound.usable:
            return False
        self._soon(lambda: sound.play(name))
        return True

    def _soon(self, job: Callable[[], Any]) -> None:
        """Run ``job()`` on the main loop's next pass; nobody waits for it."""
        self._tasks.put(("job", lambda _surface: job(), Future()))
        self.wake.set()

    # -- buttons ------------------------------------------------------------------------

    def post_press(self, button: str, at: float, done: Future[Any] | None = None) -> None:
        """Queue a debounced press for the main loop (safe from any thread, never blocks)."""
        self._tasks.put(("press", button, at, done))
        self.wake.set()

    def _press(self, button: str, at: float) -> None:
        mode = self.active

        def change() -> None:
            self._publish(ENGINE_SOURCE, "button_pressed",
                          {"button": button, "at": at, "mode": mode.name})
            mode.on_button(button, at)
            self.hook.pyrostage_button_pressed(stage=self, button=button, at=at, mode=mode.name)

        self.apply(change, source="button", owner=mode)

    # -- main loop side (main thread only) ------------------------------------------------

    def on_main(self, job: Callable[[Any], Any], timeout: float | None = None) -> Any:
        """Run ``job(surface)`` on the main loop and wait for its result."""
        done: Future[Any] = Future()
        self._tasks.put(("job", job, done))
        self.wake.set()
        try:
            return done.result(timeout=self.timeout if timeout is None else timeout)
        except TimeoutError:
            done.cancel()
            raise TimeoutError(
                f"node {self.name!r}: the main loop did not answer within {self.timeout:g} s"
            ) from None

    def run_tasks(self, surface: Any, draw: Callable[[], Any]) -> None:
        """Apply queued presses and changes; serve jobs (snapshots) from an up-to-date frame
        (``draw`` brings the screen up to date first when something changed)."""
        self._upkeep()
        jobs = []
        applied = False
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                break
            kind = task[0]
            if kind == "press":
                _, button, at, done = task
                if done is not None and not done.set_running_or_notify_cancel():
                    continue  # its caller gave up waiting and dropped it
                try:
                    self._press(button, at)
                    if done is not None:
                        done.set_result(True)
                except BaseException as exc:
                    if isinstance(exc, StateNotSaved):
                        log.warning("button %r press refused: %s", button, exc)
                    else:
                        log.exception("button %r press failed", button)
                    if done is not None:
                        done.set_exception(exc)
            elif kind == "apply":
                _, change, source, owner, done = task
                if not done.set_running_or_notify_cancel():
                    continue
                with self.lock:
                    self._recover()
                    try:
                        done.set_result(self._serial(change, source, owner))
                    except BaseException as exc:
                        done.set_exception(exc)
                applied = True
            else:
                jobs.append(task)
        if applied:  # durable even when a caller gave up waiting (its callers' flush is a no-op)
            try:
                self.store.flush()
            except StateNotSaved:  # the store logged it; each caller gets the error
                self._recover_now()
        self._deliver(wait=False)
        if jobs and self._dirty:
            draw()
        if jobs:
            self.screen_covered()  # a job is handed the screen: the next frame is drawn whole
        for _, job, done in jobs:
            if done.set_running_or_notify_cancel():
                try:
                    done.set_result(job(surface))
                except BaseException as exc:
                    done.set_exception(exc)

    def _upkeep(self) -> None:
        """Main loop: reload memory after a failed commit; try to write again when due."""
        if self.store.stale and self.lock.acquire(timeout=DRAW_LOCK_WAIT):
            try:
                self._recover()
            finally:
                self.lock.release()
        if not self.store.ok:
            self.store.probe()

    def request_redraw(self, mode: str | None = None) -> None:
        """Draw ``mode`` (default: the active one) again soon; inside a change, that change
        publishes ``screen_changed`` once it is committed."""
        if mode is None or mode == self.active.name:
            if self._changes and self._serial_thread == threading.get_ident():
                self._redrawn = True
            self._redraw_soon()

    def _redraw_soon(self) -> None:
        """Mark the screen out of date; wake the main loop only if it was up to date. A loop
        that knows of a frame to draw sleeps until that frame is due (it paces frames), so
        waking it for every change of a burst only takes the interpreter from the callers."""
        if not self._dirty:
            self._dirty = True
            self.wake.set()

    @property
    def dirty(self) -> bool:
        return self._dirty

    def animating(self) -> bool:
        try:
            return bool(self.active.animating())
        except Exception:
            if self.active.name not in self._bad_animating:  # once, not once per frame
                self._bad_animating.add(self.active.name)
                log.exception("mode %r failed in animating()", self.active.name)
            return False

    def tick(self, behaviour: Behaviour | None = None) -> None:
        """Let a behaviour (default: the shown mode) advance its state (a countdown reaching
        zero, an overlay whose time is up), on the serialized path."""
        ticked = behaviour or self.active
        if type(ticked).tick is Behaviour.tick or not self.store.ok:  # nothing to do; or after
            return                                                    # the next try to write
        try:
            self.apply(lambda: ticked.tick(self.clock()), source="tick", owner=ticked)
        except TimeoutError:
            log.debug("tick of %r skipped: the engine is busy", ticked.name)
        except StateNotSaved:
            log.debug("tick of %r not saved", ticked.name)
        except Exception:
            if ticked.name not in self._bad_ticks:  # once, not once per frame
                self._bad_ticks.add(ticked.name)
                log.exception("%r failed in tick()", ticked.name)

    def next_deadline(self) -> float | None:
        """The soonest time a behaviour or a mode in the background needs a tick (seconds,
        stage clock); while the state cannot be saved, no sooner than the store's next try to
        write (the loop wakes for it, and ticks that could not be saved do not spin)."""
        soonest = None
        for behaviour in tuple(self.behaviours.values()):
            when = self._deadline_of(behaviour)
            if when is not None and (soonest is None or when < soonest):
                soonest = when
        if self.store.stale:
            return self.clock()
        if self._outbox:  # held up by another thread's delivery, or published off a change
            retry = self.clock() + DELIVERY_RETRY
            soonest = retry if soonest is None else min(soonest, retry)
        if not self.store.ok:
            retry = self.clock() + max(0.0, self.store.next_probe - time.monotonic())
            soonest = retry if soonest is None else max(soonest, retry)
        return soonest

    def _deadline_of(self, behaviour: Behaviour) -> float | None:
        """``behaviour.deadline()``; a plugin bug here is logged once and means "none"."""
        try:
            return behaviour.deadline()
        except Exception:
            if behaviour.name not in self._bad_deadlines:
                self._bad_deadlines.add(behaviour.name)
                log.exception("%r failed in deadline(); it gets no background ticks",
                              behaviour.name)
            return None

    def tick_due(self) -> None:
        """Tick every behaviour and background mode whose deadline has come."""
        now = self.clock()
        for behaviour in tuple(self.behaviours.values()):
            if behaviour is self.active:
                continue
            when = self._deadline_of(behaviour)
            if when is not None and when <= now:
                self.tick(behaviour)

    def draw(self, surface: Any) -> Exception | None:
        """Draw the active mode, then the overlays over it; return the exception if the mode's
        draw failed (for a banner).

        Raises ``TimeoutError`` (the frame is skipped, the screen stays dirty) while a stuck
        command holds the engine lock, so the loop keeps answering stop and snapshot requests.
        """
        if not self.lock.acquire(timeout=DRAW_LOCK_WAIT):
            raise TimeoutError("the engine is busy with a change; frame skipped")
        try:
            self._dirty = False
            mode = self.active
            error = None
            intact, self._intact = self._intact, None
            self.screen_kept = intact is not None and intact[0] is mode and intact[1] is surface
            try:
                mode.draw(surface)
            except Exception as exc:
                message = f"{mode.name}: {type(exc).__name__}: {exc}"
                if message != self.draw_error:
                    log.exception("mode %r failed to draw", mode.name)
                self.draw_error = message
                error = exc
            else:
                self.draw_error = None
            finally:
                self.screen_kept = False
            if not self._overlay(surface) and error is None:
                self._intact = (mode, surface)
            return error
        finally:
            self.lock.release()

    def screen_covered(self) -> None:
        """Something other than the shown mode drew on the screen (a banner, a snapshot's
        job): the mode's next frame is drawn whole (``screen_kept`` is False)."""
        self._intact = None

    def _overlay(self, surface: Any) -> bool:
        """Every behaviour that paints over the shown mode (``Behaviour.overlay``), in load
        order; one that raises is logged once and left out of this frame. True if any may
        have drawn (one that returns False drew nothing)."""
        drawn = False
        for behaviour in tuple(self.behaviours.values()):
            if type(behaviour).overlay is Behaviour.overlay:
                continue
            try:
                drawn = behaviour.overlay(surface) is not False or drawn
            except Exception:
                drawn = True
                if behaviour.name not in self._bad_overlays:  # once, not once per frame
                    self._bad_overlays.add(behaviour.name)
                    log.exception("%r failed in overlay()", behaviour.name)
        return drawn

    # -- reading ------------------------------------------------------------------------

    def summaries(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name, behaviour in self.behaviours.items():
            try:
                out[name] = behaviour.summary()
            except Exception as exc:
                out[name] = {"error": f"{type(exc).__name__}: {exc}"}
        return out
