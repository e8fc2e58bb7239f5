"""Frames: the opt-in trace the benchmark reads ("which frame showed my change, and when"),
and the looks that redraw only what changed: a frame drawn after many others must be exactly
the frame a fresh look draws, whatever else was drawn on the screen in between."""

from __future__ import annotations

import pygame
import pytest
from conftest import RunningNode, wait_for

from engine.api.drawing import set_font_path
from engine.hardware.display import TRACE_ENV
from plugins.scoreboard.look import Look as ScoreLook
from plugins.timer.look import Look as TimerLook
from plugins.timer.look import format_time

GUARD = 15.0
SIZE = (320, 180)


def frames_showing(node: RunningNode, change: int) -> list[list[float]]:
    with node.proxy() as p:
        return [f for f in p.status()["trace"]["frames"] if f[2] >= change]


def test_the_trace_names_the_frame_that_showed_a_change(start_node, monkeypatch):
    monkeypatch.setenv(TRACE_ENV, "1")
    node = start_node()
    with node.proxy() as p:
        before = p.status()["trace"]["change"]
        p.call("colorsquare.set_color", "red")
        after = p.status()["trace"]["change"]
        assert after == before + 1
        wait_for(lambda: frames_showing(node, after), timeout=GUARD)
        drawn, shown, change = frames_showing(node, after)[0]
        assert change >= after
        assert drawn <= shown <= p.clock()["monotonic"]
        p.call("colorsquare.get_color")  # a read is no change
        assert p.status()["trace"]["change"] == after


def test_without_the_switch_status_has_no_trace(node: RunningNode, monkeypatch):
    monkeypatch.delenv(TRACE_ENV, raising=False)
    with node.proxy() as p:
        assert "trace" not in p.status()


@pytest.fixture
def fonts():
    """pygame's fonts, as a node's display has them (cached fonts from before are dropped)."""
    pygame.font.init()
    set_font_path(None)
    yield
    set_font_path(None)


def same(a: pygame.Surface, b: pygame.Surface) -> bool:
    return bytes(pygame.image.tobytes(a, "RGB")) == bytes(pygame.image.tobytes(b, "RGB"))


def scribble(surface: pygame.Surface) -> None:
    """What else may land on the screen between two frames: a banner, another mode."""
    surface.fill((200, 0, 0), (0, surface.get_height() - 20, surface.get_width(), 20))
    surface.fill((0, 90, 0), (40, 40, 120, 90))


@pytest.mark.parametrize("caption", ["running", "countdown"])
def test_a_running_timer_ends_on_the_frame_a_fresh_look_draws(fonts, caption: str):
    look, screen = TimerLook(), pygame.Surface(SIZE)
    progress = 0.25 if caption == "countdown" else None
    for i, seconds in enumerate([0.0, 0.033, 0.5, 1.111, 9.87, 10.0, 59.999, 61.2, 61.25]):
        if i % 3 == 2:
            scribble(screen)
        look.draw(screen, format_time(seconds), caption, progress, title="Red")
    fresh = pygame.Surface(SIZE)
    TimerLook().draw(fresh, format_time(61.25), caption, progress, title="Red")
    assert same(screen, fresh)


def test_a_timer_that_changes_its_caption_or_place_is_drawn_anew(fonts):
    look, screen = TimerLook(), pygame.Surface(SIZE)
    look.draw(screen, "12.345", "running", None)
    look.draw(screen, "12.400", "stopped", None, title="Blue", place=2)
    fresh = pygame.Surface(SIZE)
    TimerLook().draw(fresh, "12.400", "stopped", None, title="Blue", place=2)
    assert same(screen, fresh)


def test_a_counting_score_ends_on_the_frame_a_fresh_look_draws(fonts):
    look, screen = ScoreLook(), pygame.Surface(SIZE)
    background = look.built_in(SIZE)
    for i, shown in enumerate([0, 3, 9, 10, 57, 99, 100, 120, -5, 130]):
        if i % 4 == 3:
            scribble(screen)
        look.draw(screen, "Red", str(shown), (255, 204, 0), background)
    fresh_look = ScoreLook()
    fresh = pygame.Surface(SIZE)
    fresh_look.draw(fresh, "Red", "130", (255, 204, 0), fresh_look.built_in(SIZE))
    assert same(screen, fresh)
    look.draw(screen, "Blue team", "130", (0, 200, 255), background)  # a new title: anew
    fresh_look.draw(fresh, "Blue team", "130", (0, 200, 255), fresh_look.built_in(SIZE))
    assert same(screen, fresh)


def test_kept_frames_copy_in_only_what_changed_and_still_end_exact(fonts):
    """While the screen keeps the last frame (``stage.screen_kept``), a look copies in only
    the changed cells; a scribble makes the engine say it is not kept, and the next frame is
    whole again. Either way the last frame is the fresh look's, pixel for pixel."""
    timer, screen = TimerLook(), pygame.Surface(SIZE)
    kept = False
    for i, seconds in enumerate([0.0, 0.033, 0.5, 1.111, 9.87, 10.0, 59.999, 61.2, 61.25]):
        timer.draw(screen, format_time(seconds), "running", None, title="Red", kept=kept)
        kept = i % 4 != 3
        if not kept:
            scribble(screen)
    fresh = pygame.Surface(SIZE)
    TimerLook().draw(fresh, format_time(61.25), "running", None, title="Red")
    assert same(screen, fresh)
    score, screen = ScoreLook(), pygame.Surface(SIZE)
    background = score.built_in(SIZE)
    for shown in [0, 3, 9, 10, 57, 99, 100, 120, -5, 130]:
        score.draw(screen, "Red", str(shown), (255, 204, 0), background, kept=shown != 0)
    fresh_look = ScoreLook()
    fresh = pygame.Surface(SIZE)
    fresh_look.draw(fresh, "Red", "130", (255, 204, 0), fresh_look.built_in(SIZE))
    assert same(screen, fresh)


def test_a_running_timer_under_a_qr_code_leaves_no_trace_of_it(start_node):
    """On a node: the join QR code over a running timer, then hidden; a banner-free screen
    after many frames that copied in only the digits is the screen a whole redraw gives."""
    node = start_node()
    with node.proxy() as p:
        p.switch("timer")
        p.call("timer.start")
        p.call("join.show", "http://10.0.0.5:8080/", "scan me", 60)
        wait_for(lambda: p.call("join.shown"), timeout=GUARD)
        p.snapshot()
        p.call("join.hide")
        # frames go by: the QR's place copied back whole, then the digits only
        shown = p.status()["display"]["frames"]
        wait_for(lambda: p.status()["display"]["frames"] >= shown + 5, timeout=GUARD)
        p.call("timer.stop")
        kept = p.snapshot()
        p.switch("colorsquare")
        p.switch("timer")  # drawn whole
        assert p.snapshot() == kept
