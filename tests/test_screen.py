"""What the screen itself says: the way out of fullscreen, and the banner for a node that
cannot save its state.

Keys are real pygame events: SDL's dummy driver stands in for the window, the events are
posted on the main loop's own thread (``stage.on_main``) and the loop pumps them as it pumps a
real window's.
"""

from __future__ import annotations

import errno

import pygame
import pytest
from conftest import RunningNode, image, pixel, wait_for

from engine.core.store import Store
from engine.hardware.display import NOTICE_COLOUR

GUARD = 15.0
GREEN = (0, 255, 0)
STRIP = (0, 0, 0)


def press_key(node: RunningNode, key: int) -> None:
    """A key pressed at the node's keyboard (the loop pumps it when it next wakes)."""
    event = pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0)
    node.node.stage.on_main(lambda surface: pygame.event.post(event))


@pytest.fixture
def fullscreen(start_node) -> RunningNode:
    node = start_node(fullscreen=True, headless=False)
    assert node.node.display.events and not node.node.display.window  # the dummy driver
    with node.proxy() as p:
        p.call("colorsquare.set_color", "lime")
    return node


def test_one_escape_asks_on_screen_and_a_second_quits(fullscreen: RunningNode):
    with fullscreen.proxy() as p:
        assert pixel(p.snapshot(), (1, 1)) == GREEN
        press_key(fullscreen, pygame.K_ESCAPE)
        shot = image(p.snapshot())  # its wake-up pumps the key
        assert shot.getpixel((1, 1)) == STRIP  # "Press Escape again within 3 s to quit"
        assert shot.getpixel((shot.width // 2, shot.height // 2)) == GREEN
        assert fullscreen.thread.is_alive()
        press_key(fullscreen, pygame.K_ESCAPE)
        fullscreen.node.stage.request_redraw()  # wakes the loop, which pumps the key
    fullscreen.thread.join(GUARD)
    assert not fullscreen.thread.is_alive()


def test_an_escape_after_the_window_asks_again(fullscreen: RunningNode):
    fullscreen.node.display.quit_confirm = 0.5
    with fullscreen.proxy() as p:
        for _ in range(2):
            press_key(fullscreen, pygame.K_ESCAPE)
            assert pixel(p.snapshot(), (1, 1)) == STRIP
            # the strip goes by itself when the time is up (the loop wakes for it)
            wait_for(lambda: pixel(p.snapshot(), (1, 1)) == GREEN, timeout=GUARD)
            assert fullscreen.thread.is_alive()
        assert p.call("colorsquare.get_color") == list(GREEN)


def test_other_keys_do_not_quit(fullscreen: RunningNode):
    with fullscreen.proxy() as p:
        for key in (pygame.K_q, pygame.K_SPACE, pygame.K_RETURN):
            press_key(fullscreen, key)
        assert pixel(p.snapshot(), (1, 1)) == GREEN
    assert fullscreen.thread.is_alive()


def cap_pages(store: Store) -> None:
    """Make the node's database full at the pages it has now (SQLite's own limit, on the
    store's real connection): its next new page fails as on a full disk."""
    with store._lock:
        (pages,) = store._conn.execute("PRAGMA page_count").fetchone()
        store._conn.execute(f"PRAGMA max_page_count = {pages}")


def test_a_node_that_cannot_save_says_so_on_screen(start_node):
    node = start_node()
    with node.proxy() as p:
        p.call("colorsquare.set_color", "lime")
        shot = image(p.snapshot())
        w, h = shot.size
        assert shot.getpixel((1, h - 2)) == GREEN
        cap_pages(node.node.store)
        with pytest.raises(OSError) as failure:
            for i in range(500):
                p.call("scoreboard.add_points", i % 2 or 1)
        assert failure.value.errno == errno.ENOSPC
        shot = image(p.snapshot())
        assert shot.getpixel((1, h - 2)) == NOTICE_COLOUR
        assert shot.getpixel((w // 2, h // 3)) == GREEN  # a strip, not the whole screen
