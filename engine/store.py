"""Durable node state in SQLite: nothing acknowledged is lost when the power goes.

A command's writes are queued whole when it succeeds (dropped when it raises); ``flush``
commits everything queued so far in one transaction for all the callers waiting on it (group
commit), before any of them is acknowledged.
"""

from __future__ import annotations

import copy
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MIGRATIONS: list[str] = [
    # 1: key/value state per behaviour, and a journal of changes (score, timer results ...)
    """
    CREATE TABLE state (
        owner TEXT NOT NULL, key TEXT NOT NULL, value, is_json INTEGER NOT NULL,
        PRIMARY KEY (owner, key)
    );
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, kind TEXT NOT NULL,
        data TEXT NOT NULL, source TEXT NOT NULL, at REAL NOT NULL,
        undone INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX journal_owner_kind ON journal (owner, kind, id);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def _check_rows(conn: sqlite3.Connection) -> None:
    """Decode every row once: damage SQLite's own check misses (bad UTF-8, broken JSON)."""
    for _owner, _key, value, is_json in conn.execute("SELECT * FROM state"):
        if is_json:
            json.loads(value)
    for row in conn.execute("SELECT owner, kind, data, source FROM journal"):
        json.loads(row[2])


class Store:
    """One node's SQLite file (WAL, synchronous=FULL), shared safely by all threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._commit_lock = threading.Lock()
        self._plock = threading.Lock()
        self._local = threading.local()
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._seq = 0
        self._durable = 0
        self.commits = 0
        self.writes = 0
        try:
            self._conn = self._open()
        except (sqlite3.Error, ValueError) as exc:  # ValueError: text or JSON that won't decode
            self._move_aside(exc)
            self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"schema version {version} is newer than this pyrostage ({SCHEMA_VERSION})"
                )
            for number in range(version, SCHEMA_VERSION):
                conn.execute("BEGIN")
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number + 1}")
                conn.execute("COMMIT")
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError(f"integrity check: {problems[0][:200]!r}")
            _check_rows(conn)
        except (sqlite3.Error, ValueError):
            conn.close()
            raise
        return conn

    def _move_aside(self, exc: Exception) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{self.path}{suffix}")
            if src.exists():
                src.rename(f"{self.path}.corrupt-{stamp}{suffix}")
        log.error(
            "state file %s is unreadable (%s); moved aside as %s.corrupt-%s, starting fresh",
            self.path, exc, self.path.name, stamp,
        )

    # -- writing (inside the engine's serialized path) -----------------------------------

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        stack = self._local.__dict__.setdefault("stack", [])
        if stack:
            stack[-1].append((sql, params))
        else:
            self._seal([(sql, params)])

    def _seal(self, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Queue one command's writes, whole, for the next group commit."""
        with self._plock:
            self._pending.extend(batch)
            self._seq += 1
            self.writes += len(batch)
            self._local.ticket = self._seq

    def last_ticket(self) -> int:
        """The ticket of the last batch this thread queued (0: its last change wrote nothing),
        so a caller waits for its own writes, not for everyone else's."""
        return int(self._local.__dict__.get("ticket", 0))

    def put(self, owner: str, key: str, value: Any) -> None:
        stored: bytes | str
        if isinstance(value, bytes | bytearray):
            stored, is_json = bytes(value), 0
        else:
            stored, is_json = json.dumps(value), 1
        self._write(
            "INSERT INTO state (owner, key, value, is_json) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (owner, key) DO UPDATE SET value = excluded.value, "
            "is_json = excluded.is_json",
            (owner, key, stored, is_json),
        )

    def journal(self, owner: str, kind: str, data: dict[str, Any], source: str) -> None:
        self._write(
            "INSERT INTO journal (owner, kind, data, source, at) VALUES (?, ?, ?, ?, ?)",
            (owner, kind, json.dumps(data), source, time.time()),
        )

    def mark_undone(self, entry_id: int) -> None:
        self._write("UPDATE journal SET undone = 1 WHERE id = ?", (entry_id,))

    def mark(self) -> int:
        """A ticket for everything queued so far; ``flush(ticket)`` makes it durable."""
        with self._plock:
            return self._seq

    def flush(self, ticket: int | None = None) -> None:
        """Commit (fsync) everything queued up to ``ticket``: one commit serves every waiter.

        While one commit is on disk, other commands keep running and queue their writes;
        the next caller to flush commits all of them together.
        """
        target = self.mark() if ticket is None else ticket
        if self._durable >= target:
            return
        with self._commit_lock:
            if self._durable >= target:
                return
            with self._plock:
                batch, self._pending = self._pending, []
                upto = self._seq
            if batch:
                with self._lock:
                    try:
                        self._conn.execute("BEGIN")
                        for sql, params in batch:
                            self._conn.execute(sql, params)
                        self._conn.execute("COMMIT")
                    except BaseException:
                        if self._conn.in_transaction:
                            self._conn.execute("ROLLBACK")
                        with self._plock:
                            self._pending[:0] = batch
                        raise
                self.commits += 1
            self._durable = upto

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """All of one command's writes, or none of them when it raises.

        The writes are held back until the command succeeds, so no group commit ever lands
        half a command; nested commands (a hook calling a command) join the outer one.
        """
        stack = self._local.__dict__.setdefault("stack", [])
        if not stack:
            self._local.ticket = 0
        stack.append([])
        try:
            yield
        except BaseException:
            stack.pop()
            raise
        batch = stack.pop()
        if stack:
            stack[-1].extend(batch)
        elif batch:
            self._seal(batch)

    # -- reading ------------------------------------------------------------------------

    def load(self, owner: str) -> dict[str, Any]:
        self.flush()
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, value, is_json FROM state WHERE owner = ?", (owner,)
            ).fetchall()
        return {k: (json.loads(v) if is_json else bytes(v)) for k, v, is_json in rows}

    def entries(
        self, owner: str, kind: str, n: int, include_undone: bool = True
    ) -> list[dict[str, Any]]:
        """The last ``n`` journal entries of one kind, newest first."""
        self.flush()
        sql = "SELECT id, data, source, at, undone FROM journal WHERE owner = ? AND kind = ?"
        if not include_undone:
            sql += " AND undone = 0"
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY id DESC LIMIT ?", (owner, kind, n))
            rows_list = rows.fetchall()
        return [
            {"id": i, **json.loads(d), "source": s, "at": at, "undone": bool(u)}
            for i, d, s, at, u in rows_list
        ]

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with self._lock:
                self._conn.close()


class StateView:
    """The slice of the store one behaviour sees: ``get``/``set`` values, ``journal`` entries."""

    def __init__(self, store: Store, owner: str):
        self._store = store
        self.owner = owner
        self._cache: dict[str, Any] = store.load(owner)

    def snapshot(self) -> dict[str, Any]:
        """The values as they are now (cheap: values are replaced by ``set``, not mutated)."""
        return dict(self._cache)

    def revert(self, snapshot: dict[str, Any]) -> bool:
        """Put the values back as ``snapshot`` had them; True if anything changed."""
        changed = snapshot != self._cache
        self._cache = dict(snapshot)
        return changed

    def get(self, key: str, default: Any = None) -> Any:
        """The stored value; lists and dicts come as copies, so changing one in place changes
        nothing until it is ``set`` (and a failed change can always be reverted)."""
        value = self._cache.get(key, default)
        return copy.deepcopy(value) if isinstance(value, list | dict) else value

    def set(self, key: str, value: Any) -> None:
        if isinstance(value, bytearray):
            value = bytes(value)
        elif isinstance(value, list | dict):
            value = copy.deepcopy(value)
        self._store.put(self.owner, key, value)
        self._cache[key] = value

    def journal(self, kind: str, source: str, **data: Any) -> None:
        self._store.journal(self.owner, kind, data, source)

    def entries(self, kind: str, n: int, include_undone: bool = True) -> list[dict[str, Any]]:
        return self._store.entries(self.owner, kind, n, include_undone)

    def mark_undone(self, entry_id: int) -> None:
        self._store.mark_undone(entry_id)
