"""A change whose commit fails never takes effect: full and read-only disks, for real.

The disks are real: a tiny tmpfs the test fills up, remounted read-only when needed (mount
needs root, which CI has). The core test needs no mount: SQLite's own ``max_page_count`` limit
makes the node's database full the same way a full disk does.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from conftest import ROOT, NameServer, lookup_proxy, wait_for
from nodeproc import GUARD, kill9, node_process

from engine.core.state import StateView
from engine.core.store import StateNotSaved, Store


class TinyDisk:
    """A small tmpfs at ``path``: ``fill()`` it up, ``free()`` it, make it read-only."""

    def __init__(self, path: Path, size: str = "2m"):
        self.path = path
        self.filler = path / "filler"
        path.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                           check=True, capture_output=True, timeout=GUARD)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", b"") or str(exc)
            pytest.skip(f"cannot mount a tmpfs here (needs root): {detail!r}")

    def fill(self) -> None:
        """Write until the file system has no space left."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (1 << 16, 4096, 1):
                with suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * size)
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def leave(self, room: int) -> None:
        """Fill it up, then give back ``room`` bytes: a nearly full disk."""
        self.fill()
        os.truncate(self.filler, max(0, self.filler.stat().st_size - room))

    def remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], check=True,
                       capture_output=True, timeout=GUARD)

    def unmount(self) -> None:
        if subprocess.run(["umount", str(self.path)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[TinyDisk]:
    """A tiny disk mounted where nodes keep their state (``tmp_path/state``)."""
    tiny = TinyDisk(tmp_path / "state")
    try:
        yield tiny
    finally:
        tiny.unmount()


def refused(error: BaseException, code: int) -> bool:
    """The error a caller gets for a change the node could not save."""
    text = str(error)
    return (isinstance(error, OSError) and error.errno == code and "could not be saved" in text
            and "red.sqlite3" in text and "not made" in text)


def cap_pages(store: Store, cap: bool = True) -> None:
    """Cap the store's database at the pages it has now, so the next page it needs is 'disk
    full' (SQLite's own limit, on the store's real connection); ``cap=False`` lifts it."""
    with store._lock:
        (pages,) = store._conn.execute("PRAGMA page_count").fetchone()
        store._conn.execute(f"PRAGMA max_page_count = {pages if cap else 1 << 30}")


def scores_journaled(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT data FROM journal WHERE kind = 'score' ORDER BY id")
        return [json.loads(data)["score"] for (data,) in rows]
    finally:
        conn.close()


# -- the core: no mount needed -------------------------------------------------------------


def test_a_change_that_cannot_be_saved_never_takes_effect(start_node):
    node = start_node()
    with node.proxy() as p:
        p.call("scoreboard.set_team", "Owls")
        score = p.call("scoreboard.add_points", 5)
        cap_pages(node.node.store)
        with pytest.raises(OSError) as info:
            for _ in range(500):  # journal rows fill the last page, then one more is needed
                score = p.call("scoreboard.add_points", 1)
        assert refused(info.value, errno.ENOSPC), str(info.value)
        assert "disk full" in str(info.value)
        assert p.call("scoreboard.get_score") == score  # the old score, not the failed one
        assert p.status()["state"]["scoreboard"]["score"] == score
        store = p.status()["store"]
        assert store["ok"] is False and "disk full" in store["error"] and store["since"]
        [notice] = node.node.stage.notices()
        assert "disk full" in notice and "red.sqlite3" in notice
        cap_pages(node.node.store, cap=False)  # space is back
        assert p.call("scoreboard.add_points", 100) == score + 100
        assert p.status()["store"]["ok"] is True
        assert node.node.stage.notices() == []
        history = [entry["score"] for entry in p.call("scoreboard.history", 3)]
        assert history[:2] == [score + 100, score]
    node.stop()
    with start_node().proxy() as p:
        assert p.call("scoreboard.get_score") == score + 100
        assert p.call("scoreboard.get_team") == "Owls"
    assert scores_journaled(node.node.config.state_file)[-2:] == [score, score + 100]


def test_a_failed_commit_fails_every_change_in_it_and_memory_goes_back(tmp_path):
    """Store level: the batch that failed and everything queued after it are dropped, each
    waiter's ticket fails, and ``reload`` shows the durable values."""
    store = Store(tmp_path / "s.sqlite3")
    view = StateView(store, "m")
    with store.atomic():
        view.set("k", 1)
    store.flush()
    cap_pages(store)
    tickets = []
    for i in range(3):
        with store.atomic():
            view.set("k", 2 + i)
            view.set(f"big{i}", "x" * 20_000)  # needs pages the cap does not allow
        tickets.append(store.last_ticket())
    with pytest.raises(StateNotSaved) as info:
        store.flush(tickets[0])
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
    for ticket in tickets:
        with pytest.raises(OSError, match="could not be saved"):
            store.flush(ticket)
    assert store.stale and not store.ok
    generation = store.generation
    assert view.reload() is True and view.get("k") == 1 and view.get("big0") is None
    store.reloaded(generation)
    assert not store.stale
    cap_pages(store, cap=False)
    assert store.probe(force=True) and store.ok
    with store.atomic():
        view.set("k", 9)
    store.flush(store.last_ticket())
    store.close()
    assert Store(tmp_path / "s.sqlite3").load("m") == {"k": 9}


# -- a real full disk ------------------------------------------------------------------------


def test_full_disk_refuses_changes_and_a_kill_keeps_only_what_was_saved(
    disk: TinyDisk, tmp_path: Path, name_server: NameServer
):
    with node_process(tmp_path, name_server) as proc:
        with lookup_proxy(name_server, "red") as p:
            assert p.call("scoreboard.add_points", 7) == 7
            disk.fill()
            with pytest.raises(OSError) as info:
                p.call("scoreboard.add_points", 1)
            assert refused(info.value, errno.ENOSPC), str(info.value)
            assert p.call("scoreboard.get_score") == 7
            status = p.status()["store"]
            assert status["ok"] is False and "disk full" in status["error"]
            disk.free()  # a retry works at once, and does not commit the failed +1
            assert p.call("scoreboard.add_points", 10) == 17
            assert p.status()["store"]["ok"] is True
        kill9(proc)
    with node_process(tmp_path, name_server), lookup_proxy(name_server, "red") as p:
        assert p.call("scoreboard.get_score") == 17
        assert [e["score"] for e in p.call("scoreboard.history", 5)] == [17, 7]


@pytest.mark.parametrize("dispatch", ["lock", "inbox"])
def test_concurrent_writers_see_exactly_what_is_durable(disk: TinyDisk, start_node, dispatch):
    """Writers keep adding 1 while the disk fills and frees: each acknowledged +1 is on
    disk after a restart, each refused one is not."""
    node = start_node(dispatch=dispatch)
    acked: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer() -> None:
        with node.proxy() as p:
            while not stop.is_set():
                try:
                    acked.append(p.call("scoreboard.add_points", 1))
                except Exception as exc:
                    errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(acked) >= 20, timeout=GUARD)
        disk.fill()
        wait_for(lambda: len(errors) >= 12, timeout=GUARD)
        disk.free()
        before = len(acked)
        wait_for(lambda: len(acked) >= before + 20, timeout=GUARD)
    finally:
        stop.set()
        for t in threads:
            t.join(GUARD)
    assert all(refused(e, errno.ENOSPC) for e in errors), {str(e)[:200] for e in errors}
    assert sorted(acked) == list(range(1, len(acked) + 1))  # every ack a new, gapless score
    with node.proxy() as p:
        assert p.call("scoreboard.get_score") == len(acked)
    node.stop()
    with start_node().proxy() as p:
        assert p.call("scoreboard.get_score") == len(acked)
    assert scores_journaled(node.node.config.state_file) == list(range(1, len(acked) + 1))


def log_size(path: Path) -> int:
    wal = path / "red.sqlite3-wal"
    return wal.stat().st_size if wal.exists() else 0


def test_a_small_disk_takes_change_after_change_the_log_stays_small(disk: TinyDisk, start_node):
    """The write-ahead log is copied into the database often enough that it never fills a
    small disk by itself (SQLite's default lets it grow to about 4 MB)."""
    node = start_node()
    changes = 400  # each writes a few pages to the log: far more than 2 MB without copying
    largest = 0
    with node.proxy() as p:
        for score in range(1, changes + 1):
            assert p.call("scoreboard.add_points", 1) == score
            largest = max(largest, log_size(disk.path))
        assert p.status()["store"]["ok"] is True
    assert 0 < largest < 1_000_000  # at most half of the disk, whatever the number of changes
    node.stop()
    with start_node().proxy() as p:
        assert p.call("scoreboard.get_score") == changes


def test_a_nearly_full_disk_keeps_taking_changes_and_recovers_when_full(
    disk: TinyDisk, start_node
):
    """With little room left the log is emptied into the database whenever it needs the
    room; a disk filled to the last byte refuses changes until space is freed."""
    node = start_node()
    with node.proxy() as p:
        p.call("scoreboard.set_team", "Owls")
        disk.leave(64 * 1024)
        for score in range(1, 301):
            assert p.call("scoreboard.add_points", 1) == score
        with pytest.raises(OSError) as info:  # each change that got through takes more room
            for _ in range(300):
                disk.fill()
                score = p.call("scoreboard.add_points", 1)
        assert refused(info.value, errno.ENOSPC), str(info.value)
        assert p.call("scoreboard.get_score") == score
        disk.free()
        assert p.call("scoreboard.add_points", 10) == score + 10
        assert p.status()["store"]["ok"] is True
        assert log_size(disk.path) < 1_000_000
    node.stop()
    with start_node().proxy() as p:
        assert p.call("scoreboard.get_score") == score + 10
        assert p.call("scoreboard.get_team") == "Owls"


# -- a read-only state directory -------------------------------------------------------------


@pytest.mark.parametrize("existing", ["stopped", "killed", ""],
                         ids=["with state", "after kill -9", "empty"])
def test_a_read_only_state_dir_serves_reads_and_recovers(
    disk: TinyDisk, start_node, tmp_path: Path, name_server: NameServer, existing: str
):
    """After a kill -9 the -wal and -shm files stay: the read-only start maps the -shm
    read-only, and the node must still write again once the disk is writable."""
    if existing == "stopped":
        node = start_node()
        with node.proxy() as p:
            p.call("set_color", "orange")
            p.call("scoreboard.set_score", 41)
        node.stop()
    elif existing == "killed":
        with node_process(tmp_path, name_server) as proc:
            with lookup_proxy(name_server, "red") as p:
                p.call("set_color", "orange")
                p.call("scoreboard.set_score", 41)
            kill9(proc)
        assert (disk.path / "red.sqlite3-wal").exists()
        assert (disk.path / "red.sqlite3-shm").exists()
    colour = [255, 165, 0] if existing else [0, 0, 0]
    disk.remount("ro")
    node = start_node()  # neither a crash nor a "corrupt" file moved aside
    with node.proxy() as p:
        assert p.call("get_color") == colour
        status = p.status()["store"]
        assert status["ok"] is False and "read-only" in status["error"]
        [notice] = node.node.stage.notices()
        assert "read-only" in notice and "red.sqlite3" in notice
        with pytest.raises(OSError) as info:
            p.call("scoreboard.add_points", 1)
        assert refused(info.value, errno.EROFS), str(info.value)
        with pytest.raises(OSError):
            p.switch("scoreboard")
        assert p.mode == "colorsquare"
        assert p.call("scoreboard.get_score") == (41 if existing else 0)
        disk.remount("rw")  # the node notices by itself, without a change to try
        wait_for(lambda: p.status()["store"]["ok"], timeout=GUARD)
        assert node.node.stage.notices() == []
        assert p.call("scoreboard.add_points", 1) == (42 if existing else 1)
    node.stop()
    assert not list(disk.path.glob("*.corrupt-*"))
    with start_node().proxy() as p:
        assert p.call("scoreboard.get_score") == (42 if existing else 1)
        assert p.call("get_color") == colour


def test_a_store_left_by_a_crash_reads_while_read_only_and_writes_once_it_can(disk: TinyDisk):
    """Store level: a try to write that fails (still read-only) leaves reads working."""
    path = disk.path / "red.sqlite3"
    crash = (f"import os; from engine.core.store import Store; s = Store({str(path)!r}); "
             "s.put('scoreboard', 'score', 7); s.journal('scoreboard', 'score', {'score': 7}, "
             "'controller'); s.flush(); os._exit(0)")
    subprocess.run([sys.executable, "-c", crash], check=True, cwd=ROOT, timeout=GUARD)
    assert Path(f"{path}-shm").exists()
    disk.remount("ro")
    store = Store(path)
    assert store.problem == "read-only"
    assert store.probe(force=True) is False
    assert store.load("scoreboard") == {"score": 7}
    assert [e["score"] for e in store.entries("scoreboard", "score", 5)] == [7]
    disk.remount("rw")
    assert store.probe(force=True) is True
    assert store.stale  # memory must be read again through the new connection
    store.reloaded(store.generation)
    with store.atomic():
        store.put("scoreboard", "score", 8)
    store.flush(store.last_ticket())
    store.close()
    again = Store(path)
    assert again.load("scoreboard") == {"score": 8}
    again.close()
