"""Scoreboard backgrounds: big ones cost writers nothing, broken ones are refused, not stored.

The PNGs are written here chunk by chunk (with valid checksums), so each kind of damage is
exactly the one named: Pillow's ``verify()`` passes all of them.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import time
import zlib

import pytest
from conftest import lookup_proxy, pixel, wait_for
from nodeproc import node_process
from PIL import Image

from engine.core.state import StateView
from engine.core.store import Store

CORNER = (2, 2)  # away from the team name and the score
BUILT_IN_CORNER = (17, 22, 48)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, idat: bytes, *, depth: int = 8, colour: int = 2,
        interlace: int = 0) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def rows(width: int, height: int, px: bytes, filter_type: int = 0) -> bytes:
    return (bytes([filter_type]) + px * width) * height


def adam7(width: int, height: int, px: bytes) -> bytes:
    """The pixel data of an interlaced image of one colour: each pass's rows in turn."""
    out = b""
    for x, y, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                         (1, 0, 2, 2), (0, 1, 1, 2)):
        w, h = max(0, (width - x + dx - 1) // dx), max(0, (height - y + dy - 1) // dy)
        if w and h:
            out += rows(w, h, px)
    return out


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (64, 36)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def big16(colour: tuple[int, int, int], side: int = 4096) -> bytes:
    """A side x side 16-bit RGBA PNG of one colour, every row Paeth-filtered: ~0.6 MB that
    take ~130 MB and ~0.5 s to decode."""
    px = struct.pack(">HHHH", *(c * 257 for c in colour), 65535)
    blank = bytes(len(px) * (side - 1))
    deflate = zlib.compressobj(1)
    idat = deflate.compress(b"\x04" + px + blank)  # the first pixel, then zero residuals
    idat += b"".join(deflate.compress(b"\x04" + bytes(len(px)) + blank) for _ in range(side - 1))
    return png(side, side, idat + deflate.flush(), depth=16, colour=6)


GOOD_RAW = rows(100, 100, b"\x10\x20\x30")


def corrupt_idat() -> bytes:
    stream = bytearray(zlib.compress(GOOD_RAW))
    stream[len(stream) // 3 : len(stream) // 3 + 8] = b"\xff" * 8
    return png(100, 100, bytes(stream))


BAD = {
    "corrupt-idat": (corrupt_idat(), "damaged"),
    "bad-filter": (png(100, 100, zlib.compress(rows(100, 100, b"\x10\x20\x30", 7))), "damaged"),
    "cut-stream": (png(100, 100, zlib.compress(GOOD_RAW)[:-40]), "damaged"),
    "too-few-rows": (png(100, 100, zlib.compress(GOOD_RAW[: len(GOOD_RAW) // 2])),
                     "rows are missing"),
    "interlaced-too-few": (png(99, 61, zlib.compress(adam7(99, 61, b"\x01\x02\x03")[:-500]),
                               interlace=1), "damaged"),
    "16777216x1": (png(16777216, 1, zlib.compress(b"\x00" * 64)), "8192 pixels a side"),
    "1x16777216": (png(1, 16777216, zlib.compress(b"\x00" * 64)), "8192 pixels a side"),
    "huge": (png(100_000, 100_000, zlib.compress(b"\x00" * 64)), "8192 pixels a side"),
    "too-many-pixels": (png(8000, 8000, zlib.compress(b"\x00" * 64)), "megapixels"),
}


@pytest.fixture
def board(proxy):
    proxy.switch("scoreboard")
    return proxy


def background_of(p) -> str:
    return str(p.status()["state"]["scoreboard"]["background"])


@pytest.mark.parametrize("kind", list(BAD))
def test_a_png_that_cannot_be_drawn_is_refused_and_the_old_one_stays(board, kind):
    previous = solid((12, 200, 40))
    board.call("set_background", previous)
    data, message = BAD[kind]
    if kind != "huge":  # Pillow refuses to open that one at all
        with Image.open(io.BytesIO(data)) as opened:
            opened.verify()  # the damage is one Pillow's verify() does not see
    with pytest.raises(ValueError, match=message) as refused:
        board.call("set_background", data)
    assert "accepted" in str(refused.value)
    assert len(str(refused.value)) < 400
    assert pixel(board.snapshot(), CORNER) == (12, 200, 40)
    assert background_of(board) == f"PNG, {len(previous)} bytes"
    assert board.status()["draw_error"] is None


def test_refused_pngs_are_never_stored(start_node):
    previous = solid((200, 30, 90))
    first = start_node()
    with first.proxy() as p:
        p.switch("scoreboard")
        p.call("set_background", previous)
        for data, _message in BAD.values():
            with pytest.raises(ValueError):
                p.call("scoreboard.set_background", data)
    first.stop()
    with start_node().proxy() as p:
        assert background_of(p) == f"PNG, {len(previous)} bytes"
        wait_for(lambda: pixel(p.snapshot(), CORNER) == (200, 30, 90))


def grey16(value: int) -> bytes:
    out = io.BytesIO()
    Image.new("I;16", (32, 18), value).save(out, "PNG")
    return out.getvalue()


def palette(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    image = Image.new("P", (32, 18), 1)
    image.putpalette([0, 0, 0, *colour])
    image.save(out, "PNG")
    return out.getvalue()


def half_transparent() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (32, 18), (200, 100, 50, 128)).save(out, "PNG")
    return out.getvalue()


GOOD = {
    "rgb": (solid((40, 50, 60)), (40, 50, 60)),
    "rgb-16-bit": (png(40, 30, zlib.compress(rows(40, 30, struct.pack(">HHH", 51400, 7710, 23130))),
                       depth=16), (200, 30, 90)),
    "grey-16-bit": (grey16(40000), (156, 156, 156)),
    "palette": (palette((250, 0, 0)), (250, 0, 0)),
    "transparent-over-black": (half_transparent(), (100, 50, 25)),
    "interlaced": (png(99, 61, zlib.compress(adam7(99, 61, b"\x05\x06\x07")), interlace=1),
                   (5, 6, 7)),
}


@pytest.mark.parametrize("kind", list(GOOD))
def test_every_kind_of_png_shows_as_it_looks(board, kind):
    data, colour = GOOD[kind]
    assert board.call("set_background", data).endswith("PNG")
    assert pixel(board.snapshot(), CORNER) == colour


def test_a_2_mb_png_still_works(board):
    side = 830
    noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    noise.save(out, "PNG", compress_level=1)
    data = out.getvalue()
    assert 1.9 * 2**20 < len(data) <= 2 * 2**20
    assert board.call("set_background", data) == f"{side}x{side} PNG"
    assert background_of(board) == f"PNG, {len(data)} bytes"
    assert pixel(board.snapshot(), CORNER) != BUILT_IN_CORNER


A, B = (200, 30, 90), (20, 180, 60)


@pytest.fixture(scope="module")
def big() -> tuple[bytes, bytes]:
    return big16(A), big16(B)


def test_writers_never_wait_for_big_backgrounds(tmp_path, name_server, big):
    """Decoding and scaling happen off the engine lock: with a stage timeout of 0.5 s (a Pi's
    2 s on a faster machine) no score change times out while 4096x4096 16-bit PNGs alternate
    on a 1280x720 screen. The node runs as its own process, as on a Pi, so a client's clock
    does not stop along with the node's."""
    config = tmp_path / "node.toml"
    config.write_text("[node]\ntimeout = 0.5\n")
    done = threading.Event()
    latencies: list[float] = []
    errors: list[BaseException] = []

    def writer() -> None:
        with lookup_proxy(name_server, "red") as p:
            delta = 1
            while not done.is_set():
                started = time.monotonic()
                try:
                    p.call("scoreboard.add_points", delta)
                except Exception as exc:
                    errors.append(exc)
                latencies.append(time.monotonic() - started)
                delta = -delta

    with node_process(tmp_path, name_server, "--config", str(config), "--size", "1280x720"):
        with lookup_proxy(name_server, "red") as p:
            p.switch("scoreboard")
        writers = [threading.Thread(target=writer) for _ in range(3)]
        for thread in writers:
            thread.start()
        try:
            with lookup_proxy(name_server, "red") as p:
                for data, colour in ((big[0], A), (big[1], B)):
                    assert p.call("set_background", data) == "4096x4096 PNG"
                    wait_for(lambda c=colour: near(p.snapshot(), c))
        finally:
            done.set()
            for thread in writers:
                thread.join(timeout=15)
        assert not errors, errors[:3]
        assert len(latencies) > 20
        assert max(latencies) < 1.5  # hang guard: well below the 2 s a caller gives up after
        with lookup_proxy(name_server, "red") as p:
            assert near(p.snapshot(), B)
            assert background_of(p) == f"PNG, {len(big[1])} bytes"


def near(png_bytes: bytes, colour: tuple[int, int, int]) -> bool:
    """The corner shows ``colour``, give or take what a scaler's rounding may cost."""
    return all(abs(a - b) <= 4 for a, b in zip(pixel(png_bytes, CORNER), colour, strict=True))


def worker_idle() -> bool:
    return not any(t.name == "scoreboard-background" for t in threading.enumerate())


def test_a_stored_big_background_is_decoded_after_a_restart_and_never_wins_late(
    start_node, big
):
    first = start_node()
    with first.proxy() as p:
        p.switch("scoreboard")
        p.call("set_background", big[1])
    first.stop()

    second = start_node()  # decodes the stored PNG on its worker; the built-in shows till then
    with second.proxy() as p:
        wait_for(lambda: near(p.snapshot(), B))
    second.stop()

    third = start_node()
    with third.proxy() as p:
        assert p.call("set_background", None) == "built-in"  # while the stored one decodes
        wait_for(worker_idle)
        assert pixel(p.snapshot(), CORNER) == BUILT_IN_CORNER
        p.call("set_background", solid((1, 2, 250)))
        assert pixel(p.snapshot(), CORNER) == (1, 2, 250)
    third.stop()

    with start_node().proxy() as p:
        wait_for(lambda: pixel(p.snapshot(), CORNER) == (1, 2, 250))


def test_a_stored_png_that_cannot_be_drawn_is_reported(start_node, tmp_path):
    """A state file from before uploads were decoded may hold one: the node says so."""
    store = Store(tmp_path / "state" / "red.sqlite3")
    StateView(store, "scoreboard").set("background", BAD["too-few-rows"][0])
    StateView(store, "stage").set("mode", "scoreboard")
    store.flush()
    store.close()
    with start_node().proxy() as p:
        assert p.mode == "scoreboard"
        wait_for(lambda: p.status()["state"]["scoreboard"]["background_error"])
        assert "rows are missing" in p.status()["state"]["scoreboard"]["background_error"]
        assert pixel(p.snapshot(), CORNER) == BUILT_IN_CORNER
        assert p.call("add_points", 5) == 5
        p.call("set_background", solid((9, 9, 9)))
        assert p.status()["state"]["scoreboard"]["background_error"] is None
        assert pixel(p.snapshot(), CORNER) == (9, 9, 9)
