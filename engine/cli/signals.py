"""Stop signals for the processes the CLI runs (a node, a name server, the demo)."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""Ctrl-C, ``kill`` or systemd, and the terminal closing (an ssh session that ends)."""


def on_stop_signals(stop: Callable[[int], None]) -> None:
    """Call ``stop(signum)`` for every stop signal, on a thread of its own. A SIGHUP that was
    ignored when the process started (``nohup``) stays ignored: the process outlives its
    terminal as asked.

    Python runs a signal handler on the main thread, once that thread runs Python code again,
    while the kernel may hand the signal to any thread (it does when a second signal comes
    before a busy CPU let the main thread take the first): a main thread asleep in
    ``Event.wait()`` then never runs the handler, and a handler that sets an Event can
    deadlock on the lock the interrupted main thread holds. So the handlers do nothing: the
    byte the C-level handler writes to the wakeup socket, on whichever thread got the signal,
    wakes a watcher thread that calls ``stop``. Main thread only.
    """
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    for signum in STOP_SIGNALS:
        if signum == getattr(signal, "SIGHUP", None) and signal.getsignal(signum) is signal.SIG_IGN:
            continue
        signal.signal(signum, _noted)

    def watch() -> None:
        with reader, writer:
            while data := reader.recv(64):
                for signum in data:
                    if signum in STOP_SIGNALS:
                        stop(signum)

    threading.Thread(target=watch, name="pyrostage-signals", daemon=True).start()


def _noted(signum: int, frame: Any) -> None:
    """The wakeup socket carries the signal (see ``on_stop_signals``); nothing may happen here."""
