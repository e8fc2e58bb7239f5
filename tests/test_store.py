"""The SQLite store: what a command changed is on disk when the caller hears back."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from conftest import pixel

from engine.core.store import SCHEMA_VERSION, Store


def test_state_survives_a_restart(start_node):
    node = start_node()
    with node.proxy() as p:
        p.call("set_color", "orange")
        before = p.snapshot()
    node.stop()
    again = start_node()
    with again.proxy() as p:
        assert p.call("get_color") == [255, 165, 0]
        assert pixel(p.snapshot()) == pixel(before) == (255, 165, 0)


def test_writes_are_committed_before_acknowledgement(tmp_path):
    store = Store(tmp_path / "s.sqlite3")
    with store.atomic():
        store.put("m", "k", [1, 2, 3])
    store.flush()
    # a second connection (another process after a power cut) sees it
    other = sqlite3.connect(tmp_path / "s.sqlite3")
    assert other.execute("SELECT value FROM state WHERE owner='m'").fetchone() == ("[1, 2, 3]",)
    other.close()
    store.close()


def test_a_failed_command_writes_nothing(tmp_path):
    store = Store(tmp_path / "s.sqlite3")
    with store.atomic():
        store.put("m", "k", 1)
    with pytest.raises(RuntimeError), store.atomic():
        store.put("m", "k", 2)
        store.journal("m", "score", {"delta": 1}, "controller")
        raise RuntimeError("plugin bug")
    store.flush()
    assert store.load("m") == {"k": 1}
    assert store.entries("m", "score", 10) == []
    store.close()


def test_group_commit_serves_many_writers_with_fewer_commits(tmp_path):
    store = Store(tmp_path / "s.sqlite3")
    lock = threading.Lock()  # the engine's serialization, as the stage does it
    n_threads, per = 8, 40

    def writer(t: int) -> None:
        for i in range(per):
            with lock, store.atomic():
                store.put("m", f"k{t}", i)
                ticket = store.mark()
            store.flush(ticket)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert store.writes == n_threads * per
    assert store.commits < store.writes
    assert store.load("m") == {f"k{t}": per - 1 for t in range(n_threads)}
    store.close()


def test_bytes_and_journal_round_trip(tmp_path):
    store = Store(tmp_path / "s.sqlite3")
    with store.atomic():
        store.put("m", "png", b"\x89PNG...")
        store.journal("m", "score", {"delta": 5, "score": 5}, "button")
    store.close()
    store = Store(tmp_path / "s.sqlite3")
    assert store.load("m") == {"png": b"\x89PNG..."}
    [entry] = store.entries("m", "score", 5)
    assert entry["delta"] == 5 and entry["source"] == "button" and not entry["undone"]
    store.close()


def test_an_old_schema_is_migrated_forward(tmp_path):
    path = tmp_path / "s.sqlite3"
    sqlite3.connect(path).close()  # a file at schema version 0
    store = Store(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()
    store.close()


@pytest.mark.parametrize("damage", ["garbage", "newer"])
def test_an_unreadable_file_is_moved_aside(tmp_path, caplog, damage):
    path = tmp_path / "s.sqlite3"
    if damage == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    else:
        conn = sqlite3.connect(path)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
        conn.close()
    store = Store(path)
    with store.atomic():
        store.put("m", "k", 1)
    store.flush()
    assert store.load("m") == {"k": 1}
    assert "moved aside" in caplog.text
    assert list(tmp_path.glob("s.sqlite3.corrupt-*"))
    store.close()


def test_values_changed_in_place_do_not_leak_past_a_failed_change(tmp_path):
    """A plugin that appends to a stored list and then fails leaves the list as it was."""
    from engine.core.state import StateView

    store = Store(tmp_path / "s.sqlite3")
    view = StateView(store, "m")
    with store.atomic():
        view.set("laps", [1.0])
    before = view.snapshot()
    laps = view.get("laps")
    laps.append(2.0)  # in place, on the copy the plugin got
    assert view.get("laps") == [1.0]
    with pytest.raises(RuntimeError), store.atomic():
        view.set("laps", laps)
        raise RuntimeError("plugin bug")
    assert view.revert(before) is True
    assert view.get("laps") == [1.0]
    assert store.load("m") == {"laps": [1.0]}
    store.close()


def test_a_value_nested_past_the_limit_is_refused_and_nothing_is_stored(tmp_path):
    """A reply or push carrying it would fail (serpent stops at 200 levels, a controller's
    listener parses 32): refused when stored, with what is accepted."""
    from engine.core.state import DEPTH, StateView

    def nested(levels: int) -> list[object]:
        value: list[object] = ["leaf"]
        for _ in range(levels - 1):
            value = [value]
        return value

    store = Store(tmp_path / "s.sqlite3")
    view = StateView(store, "m")
    with store.atomic():
        view.set("tree", nested(DEPTH))
    with pytest.raises(ValueError, match=f"nests lists and dicts more than {DEPTH} deep"), \
            store.atomic():
        view.set("tree", nested(DEPTH + 1))
    assert store.load("m") == {"tree": nested(DEPTH)}
    store.close()
