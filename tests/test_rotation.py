"""A portrait TV: ``[display] rotate`` turns the picture clockwise onto the screen.

A throwaway mode marks its own top-left corner red and its top-right corner blue; the snapshot
(the screen as it stands, turned) must show them where a clockwise turn puts them. Two corners
tell a turn from a mirror image.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pygame
import pytest
from conftest import RunningNode, image, pixel

from engine import Mode, command, hookimpl
from engine.core.plugins import get_plugin_manager
from engine.hardware.display import Display

W, H = 320, 180
RED, BLUE, GREY = (255, 0, 0), (0, 0, 255), (60, 60, 60)
STRIP = (0, 0, 0)  # the "press Escape again" strip
M = 20  # marker size
IN = 5  # a pixel this far inside a corner

CORNERS = {"top-left": (IN, IN), "top-right": (W - 1 - IN, IN),
           "bottom-right": (W - 1 - IN, H - 1 - IN), "bottom-left": (IN, H - 1 - IN)}
# where the mode's own top-left (red) and top-right (blue) corners appear on the screen
SEEN = {0: ("top-left", "top-right"), 90: ("top-right", "bottom-right"),
        180: ("bottom-right", "bottom-left"), 270: ("bottom-left", "top-left")}


class Corners(Mode):
    name = "corners"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drawn_at: tuple[int, int] | None = None

    @command
    def canvas(self) -> list[int]:
        """The size of the surface this mode last drew on."""
        return list(self.drawn_at or (0, 0))

    def draw(self, surface: Any) -> None:
        w, h = surface.get_size()
        self.drawn_at = (w, h)
        surface.fill(GREY)
        surface.fill(RED, (0, 0, M, M))
        surface.fill(BLUE, (w - M, 0, M, M))


class CornersPlugin:
    @hookimpl
    def register_modes(self, register: Callable[[type[Mode]], None]) -> None:
        register(Corners)


def corners_node(start_node: Callable[..., RunningNode], **config: Any) -> RunningNode:
    pm, _ = get_plugin_manager()
    pm.register(CornersPlugin(), name="corners")
    return start_node(pm=pm, mode="corners", size=(W, H), **config)


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_the_modes_top_left_corner_ends_where_a_clockwise_turn_puts_it(start_node, rotate):
    node = corners_node(start_node, rotate=rotate)
    with node.proxy() as p:
        shot = image(p.snapshot())
        assert shot.size == (W, H)  # the screen as it stands
        red, blue = SEEN[rotate]
        assert shot.getpixel(CORNERS[red]) == RED
        assert shot.getpixel(CORNERS[blue]) == BLUE
        for corner in CORNERS.keys() - {red, blue}:
            assert shot.getpixel(CORNERS[corner]) == GREY
        turned = rotate in (90, 270)
        assert p.call("canvas") == ([H, W] if turned else [W, H])
        assert p.status()["display"]["size"] == [W, H]
        assert p.status()["display"]["rotate"] == rotate


def test_a_node_that_is_not_turned_draws_on_the_screen_itself(start_node):
    display = corners_node(start_node).node.display
    assert display.surface is display.screen  # no canvas, nothing turned per frame


# where the top strip of what the modes draw (the "press Escape again" notice) appears
TOP_STRIP = {90: "right", 180: "bottom", 270: "left"}


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_the_escape_notice_is_turned_with_the_picture(start_node, rotate):
    """Notices are drawn on the canvas, so they read upright on the TV stood on its side."""
    node = corners_node(start_node, rotate=rotate, fullscreen=True, headless=False)
    event = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, mod=0, unicode="",
                               scancode=0)
    node.node.stage.on_main(lambda _surface: pygame.event.post(event))
    with node.proxy() as p:
        shot = image(p.snapshot())  # its wake-up pumps the key
    w, h = shot.size
    edges = {"top": (w // 2, 2), "bottom": (w // 2, h - 3),
             "left": (2, h // 2), "right": (w - 3, h // 2)}
    for edge, xy in edges.items():
        if edge == TOP_STRIP[rotate]:
            assert shot.getpixel(xy) == STRIP, edge
        else:
            assert shot.getpixel(xy) == GREY, edge
    assert node.thread.is_alive()


@pytest.mark.parametrize("bad", [45, -90, 360, "90", 90.0, True, None])
def test_a_rotation_other_than_a_quarter_turn_is_refused_clearly(bad):
    with pytest.raises(ValueError) as info:
        Display((W, H), headless=True, rotate=bad)
    message = str(info.value)
    assert "0, 90, 180 or 270" in message and repr(bad) in message


def test_a_fullscreen_node_turns_whatever_size_the_screen_has(start_node):
    node = corners_node(start_node, rotate=90, fullscreen=True, headless=False)
    with node.proxy() as p:
        png = p.snapshot()
        screen = tuple(p.status()["display"]["size"])
        assert image(png).size == screen
        assert p.call("canvas") == [screen[1], screen[0]]
        assert pixel(png, (screen[0] - 1 - IN, IN)) == RED
        assert pixel(png, (screen[0] - 1 - IN, screen[1] - 1 - IN)) == BLUE
