"""Thumbnails (``GET /api/nodes/NAME/snapshot.png?w=``) are scaled once per screen and width
and cached in the web, yet never older than the screen: what a page of phones sees after
colour changes over Pyro, one at a time and all at once."""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from conftest import wait_for
from PIL import Image
from webtools import web_for

from engine.web.api import Thumbnails

GUARD = 30
RED, GREEN, BLUE = (255, 0, 0), (0, 160, 0), (0, 0, 255)


@pytest.fixture
def page(start_node: Any, name_server: Any) -> Iterator[tuple[Any, httpx.Client]]:
    """A 320x180 node showing colours, its proxy, and a client of the web for it."""
    node = start_node()
    with node.proxy() as p, web_for(name_server) as running, \
            httpx.Client(base_url=running.url, timeout=GUARD) as client:
        p.switch("colorsquare")
        wait_for(lambda: client.get("/api/nodes/red").status_code == 200)
        yield p, client


def thumb(client: httpx.Client, w: int) -> tuple[bytes, Image.Image]:
    answer = client.get("/api/nodes/red/snapshot.png", params={"w": w})
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    return answer.content, Image.open(io.BytesIO(answer.content)).convert("RGB")


def centre(picture: Image.Image) -> tuple[int, int, int]:
    r, g, b = picture.getpixel((picture.width // 2, picture.height // 2))  # type: ignore[misc]
    return (r, g, b)


def test_a_thumbnail_shows_every_colour_change_and_is_served_again_unchanged(page):
    p, client = page
    p.call("set_color", list(RED))
    first, picture = thumb(client, 64)
    assert picture.size == (64, 36) and centre(picture) == RED
    assert thumb(client, 64)[0] == first  # the same screen: the same thumbnail
    p.call("set_color", list(BLUE))
    assert centre(thumb(client, 64)[1]) == BLUE
    p.call("set_color", list(RED))
    assert thumb(client, 64)[0] == first  # red again: the red one is right again
    _, smaller = thumb(client, 32)
    assert smaller.size == (32, 18) and centre(smaller) == RED
    _, whole = thumb(client, 640)  # never blown up past the screen
    assert whole.size == (320, 180) and centre(whole) == RED


def test_phones_loading_at_once_all_see_the_colour_just_set(page):
    p, client = page
    with ThreadPoolExecutor(8) as phones:
        for colour in (GREEN, BLUE, RED, GREEN):
            p.call("set_color", list(colour))
            seen = list(phones.map(lambda _: centre(thumb(client, 160)[1]), range(16)))
            assert seen == [colour] * 16


def test_the_cache_keeps_few_thumbnails_each_the_right_size(page):
    _, client = page
    png = client.get("/api/nodes/red/snapshot.png").content
    kept = Thumbnails(entries=4)
    for w in [*range(16, 40), 16, 17]:
        with Image.open(io.BytesIO(kept.get(png, w))) as picture:
            assert picture.width == w
        assert len(kept) <= 4
    assert kept.get(png, 400) == png and len(kept) <= 4  # as wide as the screen: as sent
