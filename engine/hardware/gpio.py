"""Buttons and outputs on BCM pins, with the backends ``rpi``, ``sim`` and ``none``.

Every edge is debounced here in software on its leading edge: the first edge counts at once,
with the monotonic time taken first thing in the callback, and edges within the window after
it are ignored. ``bouncetime`` is never passed to RPi.GPIO: rpi-lgpio implements it by waiting
for a stable signal, which would delay every press by the whole window. Accepted edges are
posted to the stage's queue, so plugins never run on a GPIO thread.

A window alone cannot cover a button held down for longer than it: the contact chatters as it
opens and its edges would count as a new press. So on a backend that can read its pins, a
pressed button is *held* and ignores its pin's edges until the pin has read released for a
settle time (``gpio.release_ms``) in a row; a small watcher thread, one per node and asleep
while no button is held, reads the held pins and re-arms them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

BACKENDS = ("auto", "rpi", "sim", "none")
RELEASE = 0.05  # s a pin must read released, in a row, before its button is armed again
HELD_POLL = 0.02  # s between reads of a pin that still reads pressed
Sink = Callable[[str, float, "Future[Any] | None"], None]


@dataclass(frozen=True)
class ButtonPin:
    name: str
    pin: int
    pull_up: bool = True
    falling: bool = True


class Debouncer:
    """Leading-edge debounce: accept an edge unless one was accepted within ``window`` s."""

    def __init__(self, window: float):
        self.window = window
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def accept(self, button: str, at: float) -> bool:
        with self._lock:
            last = self._last.get(button)
            # abs(): a press() over Pyro and a pin edge race from different threads, so
            # timestamps can arrive slightly out of order; both are still one press
            if last is not None and abs(at - last) < self.window:
                return False
            self._last[button] = at if last is None else max(at, last)
            return True


class Buttons:
    """Named buttons: debounced edges from any backend (or ``press()``) go to one sink."""

    def __init__(
        self,
        names: list[str],
        debounce: float,
        sink: Sink,
        timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.names = list(dict.fromkeys(["main", *names]))
        self.clock = clock
        self.debouncer = Debouncer(debounce)
        self.sink = sink
        self.timeout = timeout
        self.presses = 0
        self._count = threading.Lock()

    def edge(self, button: str, at: float | None = None, wait: bool = False) -> bool:
        """One edge seen at ``at`` (monotonic); True if it counted as a press."""
        if at is None:
            at = self.clock()
        if button not in self.names:
            raise LookupError(f"unknown button {button!r}; this node has: {', '.join(self.names)}")
        if not self.debouncer.accept(button, at):
            return False
        with self._count:  # edges come from GPIO, Pyro and window threads at once
            self.presses += 1
        if not wait:
            self.sink(button, at, None)
            return True
        done: Future[Any] = Future()
        self.sink(button, at, done)
        try:
            done.result(timeout=self.timeout)
        except TimeoutError:
            if done.cancel():  # still queued: the main loop will skip it
                with self._count:
                    self.presses -= 1
                raise TimeoutError(
                    f"button {button!r}: the node did not get to the press within "
                    f"{self.timeout:g} s (its main loop is busy); the press was dropped"
                ) from None
            if not done.done():  # the main loop took it, a plugin is still at it
                raise TimeoutError(
                    f"button {button!r}: the press was not finished within {self.timeout:g} s "
                    "(a plugin is taking too long); it is still being applied and may yet "
                    "take effect"
                ) from None
            done.result()  # finished just now: its outcome after all
        return True

    def key(self, index: int) -> str | None:
        """The button at ``index`` in ``names`` (``main`` first), as a simulator key means it
        (space and 1 = index 0, 2 = index 1 ...); None past the end."""
        return self.names[index] if 0 <= index < len(self.names) else None


class Backend(Protocol):
    name: str
    keys: bool  # window keys act as buttons (only the simulator)

    def watch(self, button: ButtonPin, on_edge: Callable[[float], None]) -> None: ...
    def output(self, pin: int) -> None: ...
    def write(self, pin: int, high: bool) -> None: ...
    def read(self, pin: int) -> bool: ...
    def released(self, button: ButtonPin) -> bool | None:
        """Whether the button's pin is at its idle level now; None: this backend has no
        levels (its buttons are armed again by the debounce window alone)."""
    def cleanup(self) -> None: ...


class NoBackend:
    """No pins and no keys: ``press()`` over Pyro is the only button input. Outputs are
    remembered, not driven."""

    name = "none"
    keys = False

    def __init__(self) -> None:
        self.levels: dict[int, bool] = {}

    def watch(self, button: ButtonPin, on_edge: Callable[[float], None]) -> None:
        pass

    def output(self, pin: int) -> None:
        self.levels[pin] = False

    def write(self, pin: int, high: bool) -> None:
        self.levels[pin] = high

    def read(self, pin: int) -> bool:
        return self.levels.get(pin, False)

    def released(self, button: ButtonPin) -> bool | None:
        return None

    def cleanup(self) -> None:
        self.levels.clear()


class SimBackend(NoBackend):
    """Simulated buttons: keys in the window (see ``Buttons.key``) and ``press()``."""

    name = "sim"
    keys = True


class RpiBackend:
    """Real pins through ``RPi.GPIO`` (on a Pi 5 / Bookworm that module is rpi-lgpio)."""

    name = "rpi"
    keys = False

    def __init__(self) -> None:
        import RPi.GPIO as GPIO

        self.GPIO = GPIO
        GPIO.setwarnings(False)
        GPIO.setmode(GPIO.BCM)
        self.pins: list[int] = []

    def watch(self, button: ButtonPin, on_edge: Callable[[float], None]) -> None:
        GPIO = self.GPIO
        pull = GPIO.PUD_UP if button.pull_up else GPIO.PUD_DOWN

        def callback(channel: int) -> None:
            at = time.monotonic()  # first thing: the press happened now, not when handled
            on_edge(at)

        edge = GPIO.FALLING if button.falling else GPIO.RISING
        try:
            GPIO.setup(button.pin, GPIO.IN, pull_up_down=pull)
            self.pins.append(button.pin)
            GPIO.add_event_detect(button.pin, edge, callback=callback)
        except (RuntimeError, ValueError) as exc:
            raise type(exc)(f"button {button.name!r} on GPIO{button.pin}: {exc}") from None

    def output(self, pin: int) -> None:
        self.GPIO.setup(pin, self.GPIO.OUT, initial=self.GPIO.LOW)
        self.pins.append(pin)

    def write(self, pin: int, high: bool) -> None:
        self.GPIO.output(pin, self.GPIO.HIGH if high else self.GPIO.LOW)

    def read(self, pin: int) -> bool:
        return bool(self.GPIO.input(pin))

    def released(self, button: ButtonPin) -> bool:
        # a falling-edge button is pressed when low, so it rests high (and the other way round)
        return bool(self.GPIO.input(button.pin)) == button.falling

    def cleanup(self) -> None:
        for pin in self.pins:
            with contextlib.suppress(Exception):
                self.GPIO.remove_event_detect(pin)
        if self.pins:
            self.GPIO.cleanup(self.pins)
        self.pins.clear()


def on_a_pi() -> bool:
    try:
        return "raspberry pi" in Path("/proc/device-tree/model").read_text().lower()
    except OSError:
        return False


def make_backend(choice: str) -> Backend:
    """The backend asked for; ``auto`` = ``rpi`` on a Raspberry Pi, else ``sim``."""
    if choice not in BACKENDS:
        raise ValueError(f"gpio backend must be one of {', '.join(BACKENDS)}, got {choice!r}")
    if choice == "auto":
        choice = "rpi" if on_a_pi() else "sim"
        if choice == "rpi":
            try:
                return RpiBackend()
            except (ImportError, RuntimeError) as exc:
                log.warning("RPi.GPIO is not usable (%s); buttons are simulated", exc)
                return SimBackend()
    if choice == "rpi":
        try:
            return RpiBackend()
        except ImportError as exc:
            raise ModuleNotFoundError(
                f"gpio backend 'rpi' needs RPi.GPIO, which is not installed ({exc}): install "
                "the pi extra (pip install 'PATH-TO-PYROSTAGE[pi]', which brings rpi-lgpio), "
                "or use backend 'auto', 'sim' or 'none'") from None
    return SimBackend() if choice == "sim" else NoBackend()


class Outputs:
    """Named output pins (the bell): ``pulse`` drives one for a while without blocking."""

    def __init__(self, backend: Backend, pins: dict[str, int]):
        self.backend = backend
        self.pins = dict(pins)
        self._timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()
        for name, pin in self.pins.items():
            try:
                backend.output(pin)
            except (RuntimeError, ValueError) as exc:
                raise type(exc)(f"output {name!r} on GPIO{pin}: {exc}") from None

    def pulse(self, name: str, seconds: float) -> bool:
        pin = self.pins.get(name)
        if pin is None:
            return False
        with self._lock:
            old = self._timers.pop(name, None)
            if old is not None:
                old.cancel()
            self.backend.write(pin, True)
            timer = threading.Timer(seconds, self._off, args=(name, pin))
            timer.daemon = True
            self._timers[name] = timer
            timer.start()
        return True

    def _off(self, name: str, pin: int) -> None:
        with self._lock:
            self.backend.write(pin, False)
            self._timers.pop(name, None)

    def level(self, name: str) -> bool:
        return self.backend.read(self.pins[name])

    def close(self) -> None:
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
            for pin in self.pins.values():
                with contextlib.suppress(Exception):
                    self.backend.write(pin, False)


@dataclass
class Hold:
    """A button that was pressed and is not armed again yet."""

    pin: ButtonPin
    edge: float  # monotonic time of the last press edge seen on its pin
    since: float | None = None  # the first read since then that found the pin released


class ReleaseWatch:
    """Arms a button again only once its pin has read released for ``settle`` s in a row.

    ``press`` (on the backend's edge thread) holds a button; one watcher thread reads the held
    pins, every ``HELD_POLL`` s while they read pressed and a few times per settle time once
    they read released, and re-arms a pin when it has stayed released that long with no press
    edge in between. No button held: the thread sleeps on a condition and reads nothing.
    The callbacks of a pin's edges must reach ``press`` within the settle time (RPi.GPIO's
    take well under a millisecond). Buttons whose backend has no levels are never held.
    """

    def __init__(self, backend: Backend, settle: float = RELEASE):
        if not 0 <= settle <= 5:
            raise ValueError(f"gpio release_ms must be between 0 and 5000, got {settle * 1000:g}")
        self.backend = backend
        self.settle = settle
        self.fine = max(0.002, min(HELD_POLL, settle / 5))
        self._pins: dict[str, ButtonPin] = {}
        self._held: dict[str, Hold] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def add(self, pin: ButtonPin) -> None:
        """Watch the levels of ``pin`` (a button stuck down already is held from the start)."""
        released = self.backend.released(pin)
        if released is None:
            return
        self._pins[pin.name] = pin
        if not released:
            self._held[pin.name] = Hold(pin, time.monotonic())

    def start(self) -> None:
        if self._pins and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pyrostage-gpio-release",
                                            daemon=True)
            self._thread.start()

    def press(self, name: str, at: float) -> bool:
        """A press edge on the pin of ``name`` at ``at``: True if the button was armed (the
        edge may count, the debounce window permitting); either way the button is held."""
        pin = self._pins.get(name)
        if pin is None:
            return True
        with self._cond:
            hold = self._held.get(name)
            if hold is None:
                self._held[name] = Hold(pin, at)
                self._cond.notify()
                return True
            hold.edge = max(hold.edge, at)
            hold.since = None  # the pin was pressed again: the settle time starts over
            return False

    def held(self) -> list[str]:
        with self._cond:
            return sorted(self._held)

    def _released(self, pin: ButtonPin) -> bool:
        try:
            return self.backend.released(pin) is not False
        except Exception:  # the pin is gone (cleaned up under us): do not keep it held
            log.exception("button %r: cannot read GPIO%d", pin.name, pin.pin)
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._held or self._stopping)
                if self._stopping:
                    return
                pins = [hold.pin for hold in self._held.values()]
            now = time.monotonic()
            levels = {pin.name: self._released(pin) for pin in pins}  # no lock: edges go on
            with self._cond:
                settling = False
                for name, released in levels.items():
                    hold = self._held.get(name)
                    if hold is None or hold.edge > now:  # an edge since the read: read again
                        continue
                    if not released:
                        hold.since = None
                        continue
                    if hold.since is None:
                        hold.since = now
                    if now - hold.since >= self.settle:
                        del self._held[name]  # released long enough: armed again
                    else:
                        settling = True
                if self._held and not self._stopping:
                    self._cond.wait(self.fine if settling else HELD_POLL)

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            if self._thread.is_alive():
                log.warning("the GPIO release watcher did not stop")
            self._thread = None


class Pins:
    """All GPIO of a node: the backend, the watched buttons and the outputs."""

    def __init__(
        self,
        backend: Backend,
        buttons: Buttons,
        button_pins: list[ButtonPin],
        output_pins: dict[str, int],
        release: float = RELEASE,
    ):
        self.backend = backend
        self.buttons = buttons
        self.release = ReleaseWatch(backend, release)
        try:
            for pin in button_pins:
                backend.watch(pin, functools.partial(self._edge, pin.name))
                self.release.add(pin)
            self.outputs = Outputs(backend, output_pins)
        except BaseException:
            backend.cleanup()  # a bad pin in the config must not leave the others claimed
            raise
        self.release.start()

    def _edge(self, name: str, at: float) -> None:
        """An edge from the backend's thread: hold, debounce and post, never block or raise."""
        try:
            if self.release.press(name, at):
                self.buttons.edge(name, at)
        except Exception:
            log.exception("button %r edge failed", name)

    def held(self) -> list[str]:
        """Buttons pressed and not yet seen released for the settle time."""
        return self.release.held()

    def close(self) -> None:
        self.release.close()
        self.outputs.close()
        self.backend.cleanup()
