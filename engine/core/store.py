"""Durable node state in SQLite: nothing acknowledged is lost when the power goes.

A command's writes are queued whole when it succeeds (dropped when it raises); ``flush``
commits everything queued so far in one transaction for all the callers waiting on it (group
commit), before any of them is acknowledged.

A commit that fails (disk full, read-only) is never retried later (on a full disk it gets one
more try at once, after the write-ahead log gave its space back): its changes, and every
change queued after them (they may build on them), are dropped and each of their callers gets a
``StateNotSaved``. The store is then *stale* until the stage has reloaded memory from the
durable state, and *not ok* until a write works again: it tries again before each change
(refused while the try fails) and every ``PROBE_EVERY`` seconds from the main loop. A file
that cannot be written at start is read read-only meanwhile; only real damage is moved aside.

The write-ahead log is copied into the database every ``WAL_PAGES`` pages, and after every
commit while the disk is nearly full, so that it never fills a small SD card by itself.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
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
PROBE_EVERY = 2.0
"""Seconds between the main loop's tries to write again while the state cannot be saved."""
WAL_PAGES = 100
"""Pages the write-ahead log grows to before SQLite copies it into the database: its default
(1000, about 4 MB) is enough to fill a nearly full SD card with the log alone."""
WAL_LIMIT = 512 * 1024
"""Bytes the log file is cut back to once copied (after a big change, such as a background)."""
LOW_ROOM = 2 * WAL_LIMIT
"""Free bytes on the disk below which the log is copied out and emptied after every commit, so
it never takes the last room the database needs to take its pages in."""
ROOM_AGAIN = (1.0, 64 * LOW_ROOM, 64 * 1024)
"""While the disk had more than the middle figure (bytes) free, its room is looked at again only
after the first (seconds), or after a commit of a value bigger than the last (bytes): the log
cannot grow by that much in between, and a look costs a hundredth of a commit."""
ENGINE = "stage"
"""The owner of the engine's own state (the active mode)."""
RESERVED = frozenset({ENGINE, "engine", ""})
"""Names the engine keeps (its state, the write probe, the source of its own events): no
plugin's mode or behaviour may take one."""
DAMAGE = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
REASONS = {  # SQLite error (prefix) -> errno, what it means for a person
    "SQLITE_FULL": (errno.ENOSPC, "disk full"),
    "SQLITE_READONLY": (errno.EROFS, "read-only"),
    "SQLITE_CANTOPEN": (errno.EACCES, "cannot open the file"),
    "SQLITE_PERM": (errno.EACCES, "permission denied"),
    "SQLITE_IOERR": (errno.EIO, "disk I/O error"),
    "SQLITE_BUSY": (errno.EBUSY, "locked by another process"),
}


class StateNotSaved(OSError):
    """The state could not be written (disk full, read-only ...), so the change was not made."""


def _check_rows(conn: sqlite3.Connection) -> None:
    """Decode every row once: damage SQLite's own check misses (bad UTF-8, broken JSON)."""
    for _owner, _key, value, is_json in conn.execute("SELECT * FROM state"):
        if is_json:
            json.loads(value)
    for row in conn.execute("SELECT owner, kind, data, source FROM journal"):
        json.loads(row[2])


def _damaged(exc: BaseException) -> bool:
    """True for a file that is not a usable database; False for one that cannot be written."""
    if isinstance(exc, ValueError):
        return True
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = getattr(exc, "sqlite_errorname", None)
    if name is None:  # raised here: integrity check or a newer schema
        return not isinstance(exc, sqlite3.OperationalError)
    return str(name).startswith(DAMAGE)


def _full(exc: BaseException) -> bool:
    return str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_FULL")


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    for number in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN")
        for statement in MIGRATIONS[number].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={number + 1}")
        conn.execute("COMMIT")


def _probe(conn: sqlite3.Connection) -> None:
    """A tiny real write (a row added and removed in one transaction): raises if none works."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT OR REPLACE INTO state VALUES ('', 'probe', zeroblob(512), 0)")
        conn.execute("DELETE FROM state WHERE owner = '' AND key = 'probe'")
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")


class Store:
    """One node's SQLite file (WAL, synchronous=FULL), shared safely by all threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._commit_lock = threading.Lock()
        self._plock = threading.Lock()
        self._local = threading.local()
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._seq = 0
        self._durable = 0
        self.commits = 0
        self.writes = 0
        self.failed_commits = 0
        self.generation = 0
        self.stale = False
        self.since: float | None = None
        self._problem: tuple[int, str, str] | None = None  # errno, short reason, SQLite's words
        self._failed: deque[list[Any]] = deque(maxlen=64)  # [after, upto, errno, message]
        self._next_probe = 0.0
        self._roomy_until = 0.0  # no need to ask the disk for its free room before this
        self._listeners: list[Callable[[], None]] = []
        self._read_only = False  # the connection is a read-only copy (see _open_readonly)
        try:
            self._conn = self._open_writable(check=True)
        except (sqlite3.Error, OSError) as exc:
            self._conn = self._open_readonly()
            self._set_problem(exc)
            log.error("%s; serving it read-only until it can be written", self._describe())

    # -- opening ------------------------------------------------------------------------

    def _open(self, check: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
            conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"schema version {version} is newer than this pyrostage ({SCHEMA_VERSION})"
                )
            _migrate(conn, version)
            if check:
                problems = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
                if problems != ["ok"]:
                    raise sqlite3.DatabaseError(f"integrity check: {problems[0][:200]!r}")
                _check_rows(conn)
        except (sqlite3.Error, ValueError):
            conn.close()
            raise
        return conn

    def _open_writable(self, check: bool) -> sqlite3.Connection:
        """A connection that has just written (a probe); a damaged file is moved aside first.
        Raises ``sqlite3.Error``/``OSError`` when the file cannot be written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = self._open(check)
        except (sqlite3.Error, ValueError) as exc:
            if not _damaged(exc):
                raise
            self._move_aside(exc)
            conn = self._open(check)
        try:
            _probe(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_readonly(self) -> sqlite3.Connection:
        """The file opened for reading only; an empty state in memory if it cannot be read."""
        self._read_only = True
        uri = self.path.absolute().as_uri()
        for options in ("mode=ro", "mode=ro&immutable=1"):  # immutable: no -shm can be made
            try:
                conn = sqlite3.connect(f"{uri}?{options}", uri=True, isolation_level=None,
                                       check_same_thread=False)
            except sqlite3.Error:
                continue
            try:
                if conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,):
                    _check_rows(conn)
                    return conn
            except (sqlite3.Error, ValueError):
                pass
            conn.close()
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        _migrate(conn, 0)
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

    # -- health -------------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        """True while changes can be saved."""
        return self._problem is None

    @property
    def problem(self) -> str | None:
        """Why changes cannot be saved now ("disk full", "read-only" ...), or None."""
        return self._problem[1] if self._problem else None

    @property
    def next_probe(self) -> float:
        """The ``time.monotonic()`` of the next try to write, while not ok."""
        return self._next_probe

    def listen(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (from any thread, no lock held) when ``ok`` or ``stale`` change."""
        self._listeners.append(callback)

    def _changed(self) -> None:
        for callback in self._listeners:
            try:
                callback()
            except Exception:
                log.exception("a store listener failed")

    def _set_problem(self, exc: BaseException) -> None:
        code, reason = errno.EIO, "error"
        name = str(getattr(exc, "sqlite_errorname", "") or "")
        for prefix, (c, r) in REASONS.items():
            if name.startswith(prefix):
                code, reason = c, r
        if isinstance(exc, OSError) and exc.errno:
            code, reason = exc.errno, os.strerror(exc.errno).lower()
        fs = self._file_system()
        if code in (errno.EACCES, errno.EROFS, errno.EPERM) and fs and fs.f_flag & os.ST_RDONLY:
            code, reason = errno.EROFS, "read-only"
        elif code == errno.EIO and fs and fs.f_bavail == 0:  # e.g. no room for the -shm file
            code, reason = errno.ENOSPC, "disk full"
        words = str(exc.strerror if isinstance(exc, OSError) and exc.strerror else exc)
        self._problem = (code, reason, words[:200])
        if self.since is None:
            self.since = time.time()
        self._next_probe = time.monotonic() + PROBE_EVERY

    def _file_system(self) -> os.statvfs_result | None:
        """The state directory's file system (or its nearest existing parent's)."""
        folder = self.path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        try:
            return os.statvfs(folder)
        except OSError:
            return None

    def _describe(self) -> str:
        _code, reason, words = self._problem or (0, "", "")
        return f"the state could not be saved: {reason} ({words}) in {self.path}"

    def error(self) -> StateNotSaved:
        """The error a refused change raises: what, why and where, and that nothing changed."""
        code = self._problem[0] if self._problem else errno.EIO
        return StateNotSaved(code, f"{self._describe()}; the change was not made")

    def writable(self) -> None:
        """Return if changes can be saved now (while not ok: if a try to write works now, so a
        caller's retry after space is back succeeds at once); else raise the error."""
        if self._problem is not None and not self.probe(force=True):
            raise self.error()

    def probe(self, force: bool = False) -> bool:
        """Try to write again (at most every ``PROBE_EVERY`` s unless ``force``); True once
        the state can be saved."""
        if self._problem is None:
            return True
        if not force and time.monotonic() < self._next_probe:
            return False
        with self._commit_lock:
            if self._problem is None:
                return True
            if not force and time.monotonic() < self._next_probe:
                return False
            before = self._problem[1]
            try:
                reopened = self._try_write()
            except (sqlite3.Error, OSError) as exc:
                self._set_problem(exc)
            else:
                if reopened:
                    self._reopened()
                self._problem = None
                self.since = None
        if self._problem is not None:
            if self._problem[1] != before:
                log.error("%s", self._describe())
                self._changed()
            return False
        log.warning("state file %s can be written again", self.path)
        self._changed()
        return True

    def _try_write(self) -> bool:
        """A tiny real write: on this connection while it is a writable one and the disk was
        full (after a checkpoint, which may give the log's space back); else (read-only at
        start, I/O errors) through a new connection. True if the connection was replaced."""
        if not self._read_only:
            try:
                with self._lock:
                    self._checkpoint()
                    _probe(self._conn)
                return False
            except sqlite3.Error as exc:
                if _full(exc):
                    raise
        with self._lock:
            if self._read_only:
                # SQLite maps a file's -shm once per process: while a read-only connection
                # holds it (read-only when a crash left one), no new one can write through it
                self._conn.close()
            try:
                conn = self._open_writable(check=False)
            except BaseException:
                if self._read_only:
                    self._conn = self._open_readonly()  # reads go on meanwhile
                raise
            old, self._conn, self._read_only = self._conn, conn, False
            old.close()
        return True

    def _reopened(self) -> None:
        """The connection was replaced by one that has just written: the stage reloads memory
        through it (what it read came through the old one, perhaps a read-only copy)."""
        error = self.error()
        with self._plock:
            if not self.stale:
                self._failed.append([self._seq, self._seq, error.errno, error.strerror])
            self.stale = True
            self.generation += 1

    def reloaded(self, generation: int) -> None:
        """The stage has reloaded memory from the store as of ``generation``: changes may
        commit again (unless a later failure made it stale once more)."""
        with self._plock:
            if self.generation == generation:
                self.stale = False

    def report(self) -> dict[str, Any]:
        """For ``status()``: health, why not, since when (epoch seconds), counters."""
        return {
            "ok": self.ok,
            "error": self._describe() if self._problem else None,
            "since": self.since,
            "path": str(self.path),
            "writes": self.writes,
            "commits": self.commits,
            "failed_commits": self.failed_commits,
        }

    # -- writing (inside the engine's serialized path) -----------------------------------

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        stack = self._local.__dict__.setdefault("stack", [])
        if stack:
            stack[-1].append((sql, params))
        else:
            self._seal([(sql, params)])

    def _seal(self, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Queue one command's writes, whole, for the next group commit (or, while the store
        is stale, drop them: the command built on memory that is about to be reloaded)."""
        with self._plock:
            self._seq += 1
            self._local.ticket = self._seq
            if self.stale:
                self._failed[-1][1] = self._seq
            else:
                self._pending.extend(batch)
                self.writes += len(batch)

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
        if len(stored) > ROOM_AGAIN[2]:
            self._roomy_until = 0.0  # a big value: look at the disk after its commit
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

    def outcome(self, ticket: int) -> bool | None:
        """What became of everything queued up to ``ticket``: committed (True), dropped by a
        failed commit (False), or still waiting for one (None)."""
        durable = self._durable  # read before the failures: a failure is recorded first
        with self._plock:
            for after, upto, _code, _message in self._failed:
                if after < ticket <= upto:
                    return False
        return True if durable >= ticket else None

    def flush(self, ticket: int | None = None) -> None:
        """Commit (fsync) everything queued up to ``ticket``: one commit serves every waiter.

        While one commit is on disk, other commands keep running and queue their writes;
        the next caller to flush commits all of them together. ``StateNotSaved`` if the
        commit fails or failed before for ``ticket``; nothing of it is ever committed later.
        """
        if ticket is not None:
            self._raise_if_failed(ticket)
        target = self.mark() if ticket is None else ticket
        if self._durable >= target:
            return
        with self._commit_lock:
            if ticket is not None:
                self._raise_if_failed(ticket)
            if self._durable >= target:
                return
            with self._plock:
                batch, self._pending = self._pending, []
                upto = self._seq
            error = None
            if batch:
                try:
                    self._commit(batch)
                    self.commits += 1
                except sqlite3.Error as exc:
                    error = self._fail(exc)
            self._durable = max(self._durable, upto)
        if error is not None:
            self._changed()  # outside the commit lock: listeners may take the engine lock
            raise error

    def _commit(self, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        with self._lock:
            try:
                self._transaction(batch)
            except sqlite3.Error as exc:
                # the log itself may be what filled the disk: copied out and emptied, it
                # gives its space back and the same batch may fit
                if not (_full(exc) and not self._read_only and self._checkpoint()):
                    raise
                self._transaction(batch)
            if self._low_on_room():
                self._checkpoint()

    def _low_on_room(self) -> bool:
        every, plenty, _big = ROOM_AGAIN
        now = time.monotonic()
        if now < self._roomy_until:
            return False
        room = self._room()
        self._roomy_until = now + every if room > plenty else 0.0
        return room < LOW_ROOM

    def _room(self) -> int:
        fs = self._file_system()
        return fs.f_bavail * fs.f_frsize if fs else LOW_ROOM

    def _transaction(self, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        try:
            self._conn.execute("BEGIN")
            for sql, params in batch:
                self._conn.execute(sql, params)
            self._conn.execute("COMMIT")
        finally:
            if self._conn.in_transaction:
                self._roll_back()

    def _checkpoint(self) -> bool:
        """Copy the write-ahead log into the database and empty the log file; False if that
        could not be done (no room for the database to grow, another process reading)."""
        try:
            busy, _pages, _copied = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error:
            return False
        return busy == 0

    def _roll_back(self) -> None:
        """Undo a failed transaction; if even that fails, read through a fresh connection
        (this one would show the failed writes to the reload that follows)."""
        with suppress(sqlite3.Error):
            self._conn.execute("ROLLBACK")
        if self._conn.in_transaction:
            self._conn.close()
            self._conn = self._open_readonly()

    def _fail(self, exc: sqlite3.Error) -> StateNotSaved:
        """A commit failed: drop it and all queued since; the stage must reload memory."""
        first = self._problem is None
        self._set_problem(exc)
        error = self.error()
        with self._plock:
            self._pending = []
            self._failed.append([self._durable, self._seq, error.errno, error.strerror])
            self.stale = True
            self.generation += 1
        self.failed_commits += 1
        if first:
            log.error("%s; changes are refused until it can", self._describe())
        return error

    def _raise_if_failed(self, ticket: int) -> None:
        with self._plock:
            for after, upto, code, message in self._failed:
                if after < ticket <= upto:
                    raise StateNotSaved(code, message)

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

    def _flush_for_reading(self) -> None:
        """Commit what is queued so a read sees it; a failure is its changes' callers' news."""
        with suppress(StateNotSaved):
            self.flush()

    def load(self, owner: str) -> dict[str, Any]:
        self._flush_for_reading()
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, value, is_json FROM state WHERE owner = ?", (owner,)
            ).fetchall()
        return {k: (json.loads(v) if is_json else bytes(v)) for k, v, is_json in rows}

    def entries(
        self, owner: str, kind: str, n: int, include_undone: bool = True
    ) -> list[dict[str, Any]]:
        """The last ``n`` journal entries of one kind, newest first."""
        self._flush_for_reading()
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
        except StateNotSaved as exc:
            log.error("closing %s: the last changes were not saved: %s", self.path, exc)
        finally:
            with self._lock:
                self._conn.close()
