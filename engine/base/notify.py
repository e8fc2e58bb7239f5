"""Telling systemd how a service is doing (``sd_notify``), with the standard library only.

systemd hands a ``Type=notify`` service a datagram socket in ``NOTIFY_SOCKET`` (a path, or
``@name`` in the abstract namespace) and, with ``WatchdogSec=``, the interval in
``WATCHDOG_USEC``. Without ``NOTIFY_SOCKET`` (a node started by hand) nothing is sent at all.

``Heartbeat`` sends ``WATCHDOG=1`` only while a probe succeeds (the node's probe is a tiny job
its main loop must run), so a stuck main loop stops the pings and systemd restarts the node;
it also keeps the ``STATUS=`` line up to date.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

STATUS_EVERY = 1.0
"""Seconds between two looks at whether the status line changed (two attribute reads)."""
PING_BOUNDS = (0.05, 60.0)
"""The watchdog is pinged every third of its interval, within these seconds: a garbage
``WATCHDOG_USEC=1`` must not spin the thread, a huge one must not overflow a wait."""


def enabled() -> bool:
    """Whether systemd (or anything posing as it) listens for notifications."""
    return bool(os.environ.get("NOTIFY_SOCKET"))


def notify(*lines: str) -> bool:
    """Send ``lines`` (``READY=1``, ``STATUS=...``) in one datagram; True if it went out."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        log.debug("NOTIFY_SOCKET %r is neither a path nor @abstract; not notifying", address)
        return False
    message = "\n".join(line.replace("\n", " ") for line in lines).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message)
    except OSError as exc:
        log.debug("could not notify systemd at %r: %s", address, exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds within which systemd wants ``WATCHDOG=1`` (None: no watchdog for this process,
    also when ``WATCHDOG_PID`` names another one, e.g. a parent that got the variables)."""
    pid = os.environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 1e6 if usec > 0 else None


class Heartbeat:
    """A thread that sends ``READY=1`` once ``ready`` is set, then pings the watchdog every
    third of its interval while ``alive(timeout)`` answers True, and sends ``status()``
    whenever it changes."""

    def __init__(self, ready: threading.Event, alive: Callable[[float], bool],
                 status: Callable[[], str], interval: float | None = None):
        self.ready = ready
        self.alive = alive
        self.status = status
        self.interval = watchdog_interval() if interval is None else interval
        self._stop = threading.Event()
        self._last_status = ""
        self._thread = threading.Thread(target=self._run, name="pyrostage-heartbeat",
                                        daemon=True)

    def start(self) -> None:
        """Start (does nothing when no one listens)."""
        if enabled():
            self._thread.start()

    def stop(self) -> None:
        """Stop pinging and tell systemd the service is stopping (once)."""
        if not self._stop.is_set():
            self._stop.set()
            notify("STOPPING=1")

    def update_status(self) -> None:
        """Send the status line if it changed since it was last sent."""
        text = self._status()
        if text and text != self._last_status and notify(f"STATUS={text}"):
            self._last_status = text

    def _status(self) -> str:
        try:
            return self.status()
        except Exception:
            log.debug("the status line failed", exc_info=True)
            return ""

    def _run(self) -> None:
        lo, hi = PING_BOUNDS
        period = min(max(self.interval / 3, lo), hi) if self.interval else None
        tick = STATUS_EVERY if period is None else min(STATUS_EVERY, period)
        while not self.ready.wait(0.1):
            if self._stop.is_set():
                return
        self._last_status = self._status()
        notify("READY=1", f"STATUS={self._last_status}")
        next_ping = time.monotonic()
        while not self._stop.is_set():
            self.update_status()
            if period is not None and time.monotonic() >= next_ping:
                next_ping = time.monotonic() + period
                if self._probe(period):
                    notify("WATCHDOG=1")
            if self._stop.wait(tick):
                return

    def _probe(self, timeout: float) -> bool:
        try:
            return bool(self.alive(timeout))
        except Exception as exc:  # e.g. TimeoutError: the main loop did not answer
            log.warning("main loop did not answer within %.3g s (%s); "
                        "not telling the watchdog it is alive", timeout, exc)
            return False
