"""A faithful fake of the ``RPi.GPIO`` module: the only hardware the tests fake.

It keeps RPi.GPIO's contract (as rpi-lgpio reproduces it, "bug compatible"): the same
constants, the same exceptions with the same messages, callbacks run one after another on
the module's own edge thread, never on the caller's; ``bouncetime`` is honoured the way
RPi.GPIO does it (an edge within ``bouncetime`` ms of the last *reported* edge is dropped) so
a test can see whether a caller passed it; ``cleanup()`` puts pins back to unused inputs.

The other side is the wiring a test plays with, in BCM numbers: ``drive(14, LOW)`` is a
button pulling GPIO14 to ground, ``release(14)`` lets the pull resistor take over again,
``bounce(14)`` is a bouncing contact. ``install()`` puts it in ``sys.modules`` as
``RPi.GPIO`` and takes it out again.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
import types
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

Callback = Callable[[int], Any]

# Header pin -> BCM GPIO on every 40-pin Pi (B+ onwards).
BOARD_TO_BCM = {
    3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24, 19: 10,
    21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 29: 5, 31: 6, 32: 12, 33: 13, 35: 19, 36: 16,
    37: 26, 38: 20, 40: 21,
}
BCM_TO_BOARD = {bcm: board for board, bcm in BOARD_TO_BCM.items()}


@dataclass
class Pin:
    """One pin as this program set it up (RPi.GPIO's ``gpio_direction`` != -1)."""

    direction: int
    pull: int
    level: int


@dataclass
class Detection:
    """Edge detection on one pin: what add_event_detect/add_event_callback set up."""

    edge: int
    bouncetime: int | None
    callbacks: list[Callback] = field(default_factory=list)
    detected: bool = False
    last_reported: float | None = None


@dataclass
class Edge:
    """An edge the wiring made on a watched pin, and what the module did with it."""

    gpio: int
    edge: int  # RISING or FALLING
    driven_at: float  # time.monotonic() when the wiring changed the level
    seen_at: float | None = None  # time.monotonic() when the edge thread took it
    reported: bool = False  # False: dropped by bouncetime (or detection was removed)
    fired_at: float | None = None  # time.monotonic() just before the first callback ran
    returned_at: float | None = None  # ... and just after the last one returned
    callback_threads: list[str] = field(default_factory=list)


class FakeGPIO(types.ModuleType):
    """The module object itself: ``import RPi.GPIO as GPIO`` gets an instance of this."""

    VERSION = "0.7.1"
    RPI_INFO = {"P1_REVISION": 3, "REVISION": "d04170", "TYPE": "Pi 5 Model B",
                "MANUFACTURER": "Sony UK", "PROCESSOR": "BCM2712", "RAM": "8GB"}
    RPI_REVISION = 3

    UNKNOWN = -1
    BOARD = 10
    BCM = 11
    OUT = 0
    IN = 1
    LOW = 0
    HIGH = 1
    PUD_OFF = 20
    PUD_DOWN = 21
    PUD_UP = 22
    RISING = 31
    FALLING = 32
    BOTH = 33
    SERIAL = 40
    SPI = 41
    I2C = 42
    HARD_PWM = 43

    def __init__(self) -> None:
        super().__init__("RPi.GPIO", __doc__)
        self._lock = threading.RLock()
        self._mode = self.UNKNOWN
        self._warnings = True
        self._pins: dict[int, Pin] = {}
        self._detections: dict[int, Detection] = {}
        self._outside: dict[int, int] = {}  # levels the wiring forces on pins
        self._edges: queue.SimpleQueue[Edge | None] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        # what a test inspects
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.edges: list[Edge] = []
        self.writes: dict[int, list[tuple[float, int]]] = {}
        self.cleanups: list[tuple[int, ...] | None] = []
        self.callback_errors: list[BaseException] = []
        self.edge_thread_name = f"fake-gpio-edges-{id(self):x}"

    # -- numbering --------------------------------------------------------------------------

    def _gpio(self, channel: Any) -> int:
        if self._mode == self.UNKNOWN:
            raise RuntimeError("Please set pin numbering mode using GPIO.setmode(GPIO.BOARD) "
                               "or GPIO.setmode(GPIO.BCM)")
        if isinstance(channel, bool) or not isinstance(channel, int):
            raise ValueError("Channel must be an integer or list/tuple of integers")
        if self._mode == self.BCM:
            if not 0 <= channel < 54:
                raise ValueError("The channel sent is invalid on a Raspberry Pi")
            return channel
        if channel not in BOARD_TO_BCM:
            raise ValueError("The channel sent is invalid on a Raspberry Pi")
        return BOARD_TO_BCM[channel]

    def _channel(self, gpio: int) -> int:
        return BCM_TO_BOARD[gpio] if self._mode == self.BOARD else gpio

    def _gpios(self, chanlist: Any) -> list[int]:
        if isinstance(chanlist, list | tuple):
            return [self._gpio(c) for c in chanlist]
        return [self._gpio(chanlist)]

    def _input(self, channel: Any, callback: Any) -> int:
        """The GPIO of ``channel`` if it is set up as an input (checks in RPi.GPIO's order)."""
        if callback is not None and not callable(callback):
            raise TypeError("Parameter must be callable")
        gpio = self._gpio(channel)
        pin = self._pins.get(gpio)
        if pin is None or pin.direction != self.IN:
            raise RuntimeError("You must setup() the GPIO channel as an input first")
        return gpio

    def _log(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))

    # -- the RPi.GPIO API ---------------------------------------------------------------

    def setmode(self, mode: int) -> None:
        self._log("setmode", mode)
        with self._lock:
            if self._mode != self.UNKNOWN and mode != self._mode:
                raise ValueError("A different mode has already been set!")
            if mode not in (self.BOARD, self.BCM):
                raise ValueError("An invalid mode was passed to setmode()")
            self._mode = mode

    def getmode(self) -> int | None:
        return None if self._mode == self.UNKNOWN else self._mode

    def setwarnings(self, flag: Any) -> None:
        self._log("setwarnings", flag)
        self._warnings = bool(flag)

    def setup(self, channel: Any, direction: int, pull_up_down: int | None = None,
              initial: int | None = None) -> None:
        self._log("setup", channel, direction, pull_up_down=pull_up_down, initial=initial)
        pull = self.PUD_OFF if pull_up_down is None else pull_up_down
        if direction == self.OUT:
            if pull_up_down is not None:
                raise ValueError("pull_up_down parameter is not valid for outputs")
        elif direction == self.IN:
            if initial is not None:
                raise ValueError("initial parameter is not valid for inputs")
            if pull not in (self.PUD_OFF, self.PUD_DOWN, self.PUD_UP):
                raise ValueError("Invalid value for pull_up_down - should be either PUD_OFF, "
                                 "PUD_UP or PUD_DOWN")
        else:
            raise ValueError("An invalid direction was passed to setup()")
        with self._lock:
            for gpio in self._gpios(channel):
                if self._warnings and gpio in self._pins:
                    warnings.warn("This channel is already in use, continuing anyway.  Use "
                                  "GPIO.setwarnings(False) to disable warnings.", stacklevel=2)
                if direction == self.OUT:
                    self._detections.pop(gpio, None)
                    old = self._level(gpio)
                    level = old if initial is None else int(bool(initial))
                    self._pins[gpio] = Pin(self.OUT, self.PUD_OFF, level)
                    self.writes.setdefault(gpio, []).append((time.monotonic(), level))
                else:
                    old = self._level(gpio)
                    self._pins[gpio] = Pin(self.IN, pull, 0)
                    self._changed(gpio, old)

    def input(self, channel: int) -> int:
        gpio = self._gpio(channel)
        with self._lock:
            if gpio not in self._pins:
                raise RuntimeError("You must setup() the GPIO channel first")
            return self._level(gpio)

    def output(self, channel: Any, value: Any) -> None:
        self._log("output", channel, value)
        gpios = self._gpios(channel)
        values = [int(bool(v)) for v in value] if isinstance(value, list | tuple) else [
            int(bool(value))]
        if len(values) == 1 and len(gpios) > 1:
            values *= len(gpios)
        if len(values) != len(gpios):
            raise RuntimeError("Number of channels != number of values")
        with self._lock:
            for gpio, level in zip(gpios, values, strict=True):
                pin = self._pins.get(gpio)
                if pin is None or pin.direction != self.OUT:
                    raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
                pin.level = level
                self.writes.setdefault(gpio, []).append((time.monotonic(), level))

    def gpio_function(self, channel: int) -> int:
        gpio = self._gpio(channel)
        with self._lock:
            pin = self._pins.get(gpio)
            return self.OUT if pin is not None and pin.direction == self.OUT else self.IN

    def add_event_detect(self, channel: int, edge: int, callback: Callback | None = None,
                         bouncetime: int | None = None) -> None:
        self._log("add_event_detect", channel, edge, callback=callback, bouncetime=bouncetime)
        with self._lock:
            gpio = self._input(channel, callback)
            if edge not in (self.RISING, self.FALLING, self.BOTH):
                raise ValueError("The edge must be set to RISING, FALLING or BOTH")
            if bouncetime is not None and bouncetime <= 0:
                raise ValueError("Bouncetime must be greater than 0")
            if gpio in self._detections:
                raise RuntimeError(
                    "Conflicting edge detection already enabled for this GPIO channel")
            detection = Detection(edge, bouncetime)
            if callback is not None:
                detection.callbacks.append(callback)
            self._detections[gpio] = detection
            if self._thread is None:  # like RPi.GPIO: one edge thread, started on first use
                self._thread = threading.Thread(target=self._run, name=self.edge_thread_name,
                                                daemon=True)
                self._thread.start()

    def add_event_callback(self, channel: int, callback: Callback) -> None:
        self._log("add_event_callback", channel, callback)
        with self._lock:
            gpio = self._input(channel, callback)
            detection = self._detections.get(gpio)
            if detection is None:
                raise RuntimeError("Add event detection using add_event_detect first before "
                                   "adding a callback")
            detection.callbacks.append(callback)

    def remove_event_detect(self, channel: int) -> None:
        self._log("remove_event_detect", channel)
        gpio = self._gpio(channel)
        with self._lock:
            self._detections.pop(gpio, None)

    def event_detected(self, channel: int) -> bool:
        gpio = self._gpio(channel)
        with self._lock:
            detection = self._detections.get(gpio)
            if detection is None or not detection.detected:
                return False
            detection.detected = False
            return True

    def wait_for_edge(self, channel: int, edge: int, bouncetime: int | None = None,
                      timeout: int | None = None) -> int | None:
        self._log("wait_for_edge", channel, edge, bouncetime=bouncetime, timeout=timeout)
        seen = threading.Event()
        self.add_event_detect(channel, edge, bouncetime=bouncetime)
        try:
            self.add_event_callback(channel, lambda _c: seen.set())
            return channel if seen.wait(None if timeout is None else timeout / 1000) else None
        finally:
            self.remove_event_detect(channel)

    def cleanup(self, chanlist: Any = None) -> None:
        self._log("cleanup", chanlist)
        with self._lock:
            everything = chanlist is None
            gpios = list(self._pins) if everything else self._gpios(chanlist)
            if not gpios and self._warnings:
                warnings.warn("No channels have been set up yet - nothing to clean up!  Try "
                              "cleaning up at the end of your program instead!", stacklevel=2)
            for gpio in gpios:
                self._detections.pop(gpio, None)
                old = self._level(gpio)
                self._pins.pop(gpio, None)  # back to an input, no pull, not ours any more
                self._changed(gpio, old)
            self.cleanups.append(None if everything else tuple(gpios))
            if everything:
                self._mode = self.UNKNOWN

    # -- levels and edges -------------------------------------------------------------------

    def _level(self, gpio: int) -> int:
        pin = self._pins.get(gpio)
        if pin is not None and pin.direction == self.OUT:
            return pin.level
        if gpio in self._outside:
            return self._outside[gpio]
        pull = pin.pull if pin is not None else self.PUD_OFF
        return self.HIGH if pull == self.PUD_UP else self.LOW

    def _changed(self, gpio: int, old: int) -> None:
        """The level of ``gpio`` may have changed from ``old``: queue the edge if watched."""
        new = self._level(gpio)
        detection = self._detections.get(gpio)
        if new == old or detection is None:
            return
        kind = self.RISING if new == self.HIGH else self.FALLING
        if detection.edge not in (kind, self.BOTH):
            return
        edge = Edge(gpio, kind, time.monotonic())
        self.edges.append(edge)
        self._pending += 1
        self._edges.put(edge)

    def _run(self) -> None:
        """The edge thread: one edge at a time, its callbacks in the order they were added."""
        while True:
            edge = self._edges.get()
            if edge is None:
                return
            try:
                self._report(edge)
            finally:
                with self._lock:
                    self._pending -= 1
                    self._idle.notify_all()

    def _report(self, edge: Edge) -> None:
        with self._lock:
            now = time.monotonic()
            edge.seen_at = now
            detection = self._detections.get(edge.gpio)
            if detection is None:
                return
            last, bounce = detection.last_reported, detection.bouncetime
            if bounce is not None and last is not None and (now - last) * 1000 <= bounce:
                return
            detection.last_reported = now
            detection.detected = True
            edge.reported = True
            callbacks = list(detection.callbacks)
            channel = self._channel(edge.gpio)
        edge.fired_at = time.monotonic()
        for callback in callbacks:
            edge.callback_threads.append(threading.current_thread().name)
            try:
                callback(channel)
            except Exception as exc:  # RPi.GPIO prints it and carries on
                self.callback_errors.append(exc)
                print(exc, file=sys.stderr)
        edge.returned_at = time.monotonic()

    # -- the wiring (tests) -----------------------------------------------------------------

    def drive(self, gpio: int, level: int) -> None:
        """Something outside pulls BCM ``gpio`` to ``level`` (a pressed button: LOW)."""
        with self._lock:
            old = self._level(gpio)
            self._outside[gpio] = int(bool(level))
            self._changed(gpio, old)

    def release(self, gpio: int) -> None:
        """Nothing outside drives ``gpio`` any more: its pull resistor sets the level."""
        with self._lock:
            old = self._level(gpio)
            self._outside.pop(gpio, None)
            self._changed(gpio, old)

    def bounce(self, gpio: int, edges: int = 5, within: float = 0.05,
               level: int | None = None) -> None:
        """A bouncing contact: ``edges`` edges towards ``level`` (default: away from the
        pin's current level) spread over ``within`` seconds, ending at ``level``."""
        with self._lock:
            start = self._level(gpio)
        target = (1 - start) if level is None else int(bool(level))
        steps = [target if i % 2 == 0 else 1 - target for i in range(2 * edges - 1)]
        gap = within / max(1, len(steps) - 1)
        for i, step in enumerate(steps):
            if i:
                time.sleep(gap)
            self.drive(gpio, step)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until every edge made so far has been reported (its callbacks have returned)."""
        with self._lock:
            if not self._idle.wait_for(lambda: self._pending == 0, timeout):
                raise AssertionError(f"the GPIO edge thread is stuck ({self._pending} edges)")

    # -- what a test inspects -----------------------------------------------------------------

    def level(self, gpio: int) -> int:
        """The level on BCM ``gpio`` as a voltmeter would read it."""
        with self._lock:
            return self._level(gpio)

    def claimed(self) -> dict[int, str]:
        """BCM pins this program has set up and not cleaned up: gpio -> "in"/"out"."""
        with self._lock:
            return {g: "out" if p.direction == self.OUT else "in" for g, p in self._pins.items()}

    def pull(self, gpio: int) -> int | None:
        with self._lock:
            pin = self._pins.get(gpio)
            return None if pin is None else pin.pull

    def watched(self) -> dict[int, int]:
        """BCM pins with edge detection on: gpio -> RISING/FALLING/BOTH."""
        with self._lock:
            return {g: d.edge for g, d in self._detections.items()}

    def calls_to(self, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(args, kwargs) for n, args, kwargs in self.calls if n == name]

    def reported(self, gpio: int) -> list[Edge]:
        """Edges on ``gpio`` whose callbacks ran."""
        return [e for e in self.edges if e.gpio == gpio and e.reported]

    def close(self) -> None:
        """Stop the edge thread (after the edges already made have been reported)."""
        if self._thread is not None:
            self._edges.put(None)
            self._thread.join(timeout=5)


@contextmanager
def install() -> Iterator[FakeGPIO]:
    """``RPi`` and ``RPi.GPIO`` in ``sys.modules`` are a new fake for the duration."""
    saved = {name: sys.modules.get(name) for name in ("RPi", "RPi.GPIO")}
    fake = FakeGPIO()
    package = types.ModuleType("RPi")
    package.__path__ = []
    package.GPIO = fake  # type: ignore[attr-defined]
    sys.modules["RPi"] = package
    sys.modules["RPi.GPIO"] = fake
    try:
        yield fake
    finally:
        fake.close()
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
