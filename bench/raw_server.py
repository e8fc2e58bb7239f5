"""A bare Pyro4 server, served the way a node serves: the baseline every figure is compared to.

``noop`` is the cheapest call; ``get`` returns what ``get_color`` returns; ``call`` takes the
facade's arguments (a command name and varargs) and returns the same; ``commit`` does the
same durable work as a node's ``set_color`` (an SQLite upsert committed with WAL and
synchronous=FULL) and nothing else; ``score`` the same as the scoreboard's ``add_points`` (an
upsert of the value and one journal row, one commit). The pragmas are the node store's.
``subscribe``/``press`` send event batches to subscribers as a node does (P12).
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import Pyro4
import Pyro4.errors

from engine.base.pyroconf import harden, serve_daemon


@Pyro4.expose
@Pyro4.behavior(instance_mode="single")
class Raw:
    def __init__(self, path: str):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA wal_autocheckpoint=100")
        self.conn.execute(f"PRAGMA journal_size_limit={512 * 1024}")
        self.conn.execute("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value)")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "owner TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL, source TEXT NOT NULL, "
            "at REAL NOT NULL, undone INTEGER NOT NULL DEFAULT 0)")
        self.lock = threading.Lock()
        self.color = [0, 0, 0]
        self.points = 0

    def noop(self) -> None:
        return None

    def get(self) -> list[int]:
        return self.color

    def call(self, command: str, *args: Any, **kwargs: Any) -> list[int]:
        """The facade's wire shape (a name and varargs) with no engine behind it."""
        return self.color

    def commit(self, color: list[int]) -> list[int]:
        with self.lock:
            self.conn.execute("BEGIN")
            self.conn.execute(
                "INSERT INTO state VALUES ('color', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (json.dumps(color),),
            )
            self.conn.execute("COMMIT")
            self.color = color
        return color

    def score(self, delta: int) -> int:
        """``add_points``' durable work: the new value and a journal row, one commit."""
        with self.lock:
            new = self.points + delta
            self.conn.execute("BEGIN")
            self.conn.execute(
                "INSERT INTO state VALUES ('score', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (json.dumps(new),))
            self.conn.execute(
                "INSERT INTO journal (owner, kind, data, source, at) VALUES (?, ?, ?, ?, ?)",
                ("scoreboard", "score", json.dumps({"delta": delta, "score": new, "team": "Team"}),
                 "controller", time.time()))
            self.conn.execute("COMMIT")
            self.points = new
        return new

    def total(self) -> int:
        return self.points

    def subscribe(self, uris: list[str], work: bool = False) -> None:
        """P12's references: push a press's two event records to every subscriber at
        ``uris`` (one sender thread each, as a node has) on every ``press()``; with ``work``,
        a press first does the rest of what it costs a node: the same durable commit as
        ``commit`` and, after the pushes are handed over, a 1280x720 frame filled and its
        colour's name drawn (pygame, as the colour square does) on the main thread, where a
        node draws."""
        self.unsubscribe()
        self.tick = threading.Condition()
        self.seq = 0
        self.senders = uris
        self.work = work
        for uri in uris:
            threading.Thread(target=self._sender, args=(uri, self.tick), daemon=True).start()

    def unsubscribe(self) -> None:
        tick = getattr(self, "tick", None)
        if tick is not None:
            with tick:
                self.senders = []
                tick.notify_all()

    def press(self) -> None:
        if self.work:
            self.commit([self.seq % 256, 0, 99])
        with self.tick:
            self.seq += 1
            self.tick.notify_all()
        if self.work:  # a node hands a change's events over, then its main loop draws
            FRAMES.put(self.seq)

    def _sender(self, uri: str, tick: threading.Condition) -> None:
        with Pyro4.Proxy(uri) as p:
            p._pyroTimeout = 2.5
            seen = self.seq
            while True:
                with tick:
                    tick.wait_for(lambda last=seen: self.seq != last or tick is not self.tick
                                  or uri not in self.senders)
                    if uri not in self.senders or tick is not self.tick:
                        return
                    seen = self.seq
                batch = [dict(RECORD, seq=2 * seen), dict(RECORD, seq=2 * seen + 1)]
                try:
                    p.events(batch)
                except Pyro4.errors.PyroError:
                    p._pyroRelease()


def _frame() -> Callable[[int], None]:
    """A colour square's frame at 1280x720 on a headless surface: fill, then its name."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    pygame.font.init()
    surface = pygame.Surface((1280, 720))
    face = pygame.font.Font(None, 40)

    def draw(i: int) -> None:
        surface.fill((i % 256, 0, 99))
        text = face.render(f"rgb {i % 256}, 0, 99", True, (255, 255, 255))
        surface.blit(text, text.get_rect(center=(640, 680)))
    return draw


FRAMES: queue.SimpleQueue[int] = queue.SimpleQueue()
"""Frames for the main thread to draw (pygame only ever runs there)."""
RECORD = {"node": "raw", "boot": "0123abcd", "seq": 0, "source": "engine",
          "name": "button_pressed", "data": {"button": "main", "at": 1.0, "mode": "colorsquare"},
          "at": 1764620000.0}


def main() -> None:
    harden()
    port, path = int(sys.argv[1]), sys.argv[2]
    daemon = serve_daemon("127.0.0.1", port, None)  # served exactly as a node is
    uri = daemon.register(Raw(path), objectId="raw")
    print(uri, flush=True)
    threading.Thread(target=daemon.requestLoop, daemon=True).start()
    draw = None
    while True:
        frame = FRAMES.get()
        if draw is None:
            draw = _frame()
        draw(frame)


if __name__ == "__main__":
    main()
