"""The web page in a real headless Chromium at phone size, against the real app and real nodes.

Debian's ``/usr/bin/chromium`` driven by Playwright (nothing is ever downloaded: no
``playwright install``). Every page is watched: no request may leave the app's origin and
the console must stay free of errors.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)",
                allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="the web extra is not installed")
pytest.importorskip("fastapi", reason="the web extra is not installed")

from conftest import pixel, spawn_node  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright  # noqa: E402
from webtools import web_for  # noqa: E402

from engine.control.controller import Controller  # noqa: E402
from engine.testing import NameServer, wait_for  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--no-first-run"]
PHONE: ViewportSize = {"width": 390, "height": 844}
WAIT = 15_000
"""Milliseconds any one expectation may take: a hang guard, not a timing claim."""
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "images" / "web-phone.png"


class Watched:
    """A page, and what it did that it should not: requests off its origin, console errors."""

    def __init__(self, page: Page, origin: str):
        self.page = page
        self.origin = origin
        self.foreign: list[str] = []
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.set_default_timeout(WAIT)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign.append(request.url)

    def card(self, node: str) -> Any:
        return self.page.locator(f"#node-{node}")

    def clean(self) -> None:
        assert self.foreign == [], "requests left the app's origin"
        assert self.errors == [], "the console had errors"


@pytest.fixture(scope="module")
def web(camp: tuple[NameServer, dict], tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[str]:
    ns, _ = camp
    presets = tmp_path_factory.mktemp("web") / "presets.toml"
    with web_for(ns, timeout=5.0, presets=presets) as running:
        yield running.url.rstrip("/")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser: Browser, web: str) -> Iterator[Any]:
    """``open_page()`` -> a Watched phone-size page showing every node's card."""
    contexts: list[Any] = []

    def open_() -> Watched:
        context = browser.new_context(viewport=PHONE, device_scale_factor=1)
        contexts.append(context)
        watched = Watched(context.new_page(), web)
        watched.page.goto(web + "/")
        for node in ("red", "blue", "green", "gold"):
            expect(watched.card(node)).to_be_visible()
        expect(watched.page.locator("#conn")).to_have_text("live")
        return watched

    yield open_
    for context in contexts:
        with suppress(Exception):
            context.close()


def score(ctl: Controller, node: str) -> int:
    return int(ctl.call(node, "scoreboard.get_score"))


def in_mode(ctl: Controller, page: Watched, node: str, mode: str) -> Any:
    """Put ``node`` in ``mode`` over Pyro; the card follows by itself."""
    ctl.member(node, "switch", mode)
    card = page.card(node)
    expect(card.locator("select.mode")).to_have_value(mode)
    return card


def test_plus_ten_shows_on_the_page_the_node_and_another_phone_then_undo(open_page, ctl
                                                                        ) -> None:
    page, other = open_page(), open_page()
    card = in_mode(ctl, page, "red", "scoreboard")
    seen = other.card("red").locator(".score")
    expect(other.card("red").locator("select.mode")).to_have_value("scoreboard")
    before = score(ctl, "red")
    expect(card.locator(".score")).to_have_text(str(before))
    expect(seen).to_have_text(str(before))

    card.locator("button[data-delta='10']").click()
    expect(card.locator(".score")).to_have_text(str(before + 10))
    assert wait_for(lambda: score(ctl, "red") == before + 10 or None, timeout=10)
    expect(seen).to_have_text(str(before + 10))
    undo = card.locator("button.undo")
    expect(undo).to_have_text(re.compile(r"^Undo \+10 \(web, \d\d:\d\d\)$"))
    expect(card.locator(".history li").first).to_contain_text(f"+10 → {before + 10} · web")

    undo.click()
    expect(card.locator(".score")).to_have_text(str(before))
    assert score(ctl, "red") == before
    expect(card.locator(".history li").first).to_contain_text("undo by web")
    expect(seen).to_have_text(str(before))
    expect(other.card("red").locator("button.undo")).to_have_text("Undo")
    page.clean()
    other.clean()


def test_the_other_controls_reach_the_node(open_page, ctl, tmp_path: Path) -> None:
    page = open_page()
    card = in_mode(ctl, page, "gold", "scoreboard")
    before = score(ctl, "gold")
    card.locator(".set-box").fill("99999999")
    card.locator("button.set").click()
    expect(card.locator(".msg")).to_contain_text("999999")  # the accepted range, one line
    expect(card.locator(".msg")).to_have_class(re.compile(r"\bbad\b"))
    assert "Traceback" not in card.locator(".msg").inner_text()
    assert score(ctl, "gold") == before
    # the 400 answer is logged by Chromium itself as a failed resource: that one is expected
    page.errors = [e for e in page.errors if "status of 400" not in e]

    card.locator(".team-box").fill("Gold Stars")
    card.locator("button.rename").click()
    assert wait_for(lambda: ctl.call("gold", "scoreboard.get_team") == "Gold Stars" or None)
    expect(card.locator(".team")).to_have_text("Gold Stars")

    card.locator(".title-color").fill("#ff0000")
    assert wait_for(lambda: board(ctl, "gold")["title_color"] == [255, 0, 0] or None)

    picture = tmp_path / "green.png"
    Image.new("RGB", (64, 36), (10, 200, 30)).save(picture)
    card.locator(".bg-file").set_input_files(str(picture))
    expect(card.locator(".msg")).to_contain_text("background:")
    assert board(ctl, "gold")["background"].startswith("PNG")
    assert close_to(pixel(ctl.member("gold", "snapshot"), (3, 3)), (10, 200, 30))
    card.locator("button.bg-reset").click()
    assert wait_for(lambda: board(ctl, "gold")["background"] == "built-in" or None)

    card.locator(".egg-box").check()
    assert wait_for(lambda: ctl.call("gold", "easter_egg.enabled") or None)
    card.locator(".egg-box").uncheck()
    assert wait_for(lambda: not ctl.call("gold", "easter_egg.enabled") or None)

    p = page.page
    p.locator("#sel").fill("gold")
    p.locator("#preset-box summary").click()
    p.locator("#preset-name").fill("golden")
    p.locator("#preset-save").click()
    expect(p.locator("#group-msg")).to_contain_text("saved preset golden: gold")
    ctl.call("gold", "scoreboard.set_team", "Changed")
    expect(p.locator("#preset")).to_have_value("golden")
    p.locator("#preset-apply").click()
    expect(p.locator("#group-msg")).to_contain_text("preset golden: gold:")
    assert ctl.call("gold", "scoreboard.get_team") == "Gold Stars"

    p.locator("#sel").fill("gold,green")
    p.locator("#bc-box summary").click()
    p.locator("#bc-cmd").fill("timer.countdown")
    p.locator("#bc-words").fill("30")
    p.locator("#bc-send").click()
    expect(p.locator("#group-msg")).to_contain_text("gold: ok")
    expect(p.locator("#group-msg")).to_contain_text("green: ok")
    for node in ("gold", "green"):
        assert ctl.member(node, "status")["state"]["timer"]["countdown"] == 30
    timer = in_mode(ctl, page, "green", "timer")
    timer.locator("button.reset").click()
    assert wait_for(lambda: ctl.member("green", "status")["state"]["timer"]["countdown"]
                    is None or None)
    expect(timer.locator(".time")).to_have_text("00.000")
    page.clean()


def board(ctl: Controller, node: str) -> dict[str, Any]:
    state: dict[str, Any] = ctl.member(node, "status")["state"]["scoreboard"]
    return state


def close_to(rgb: tuple[int, int, int], want: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(rgb, want, strict=True))


def test_switching_the_mode_from_the_page(open_page, ctl) -> None:
    page = open_page()
    card = in_mode(ctl, page, "blue", "scoreboard")
    card.locator("select.mode").select_option("colorsquare")
    assert wait_for(lambda: ctl.member("blue", "mode") == "colorsquare" or None, timeout=10)
    card.locator("button[data-color='green']").click()
    assert wait_for(lambda: ctl.call("blue", "colorsquare.get_color") == [0, 255, 0] or None,
                    timeout=10)
    expect(card.locator(".cname")).to_have_text("green")
    page.clean()


def test_the_web_restarting_shows_offline_then_catches_up(browser, camp, ctl) -> None:
    """The stream drops (the web restarts on its port): the page says it is offline, and
    once back it reloads what changed meanwhile (the new web cannot replay the old one's)."""
    from engine.web.app import Web
    from engine.web.server import serve_in_thread

    ns, _ = camp
    ctl.member("red", "switch", "scoreboard")
    with web_for(ns, timeout=5.0) as running:
        url = running.url.rstrip("/")
        port = int(url.rsplit(":", 1)[1])
        context = browser.new_context(viewport=PHONE)
        page = Watched(context.new_page(), url)
        page.page.goto(url + "/")
        shown = page.card("red").locator(".score")
        expect(shown).to_have_text(str(score(ctl, "red")))
    banner = page.page.locator("#banner")
    expect(banner).to_have_text(re.compile("offline"))
    expect(page.page.locator("#conn")).to_have_text("offline")
    before = score(ctl, "red")
    ctl.call("red", "scoreboard.add_points", 1)
    again = serve_in_thread(Web(Controller(ns.host, ns.port, ns.hmac_key, source="web")),
                            "127.0.0.1", port)
    try:
        # the browser's own reconnection (the stream's 2 s retry, backing off after refused
        # attempts while the port was closed) or, 6 s after it went offline, the page's own
        # fresh start paces this: a hang guard, not a timing
        expect(banner).to_have_text("back online", timeout=20_000)
        expect(shown).to_have_text(str(before + 1))
        # Chromium logs the cut stream and each refused reconnection itself (network lines,
        # not the page's): expected here
        page.errors = [e for e in page.errors if not e.startswith("Failed to load resource: net::")]
        page.clean()
    finally:
        context.close()
        again.stop()


@pytest.mark.long  # the token and its cookie over HTTP: test_web_api, test_web_attacks
def test_a_token_is_asked_once_and_kept(browser: Browser, camp, ctl) -> None:
    """The phone enters the token once; the cookie then carries it (and the page's own
    header satisfies the CSRF check on changes)."""
    ns, _ = camp
    with web_for(ns, token="camp-fire-2027", timeout=5.0) as running:
        url = running.url.rstrip("/")
        context = browser.new_context(viewport=PHONE)
        page = Watched(context.new_page(), url)
        try:
            page.page.goto(url + "/")
            expect(page.page.locator("#login")).to_be_visible()
            page.page.locator("#token").fill("not-the-token")
            page.page.locator("#login-btn").click()
            expect(page.page.locator("#login-msg")).to_have_text("that token is not right")
            page.page.locator("#token").fill("camp-fire-2027")
            page.page.locator("#login-btn").click()
            expect(page.card("red")).to_be_visible()
            expect(page.page.locator("#conn")).to_have_text("live")
            page.page.reload()  # the cookie keeps the phone in
            expect(page.page.locator("#login")).to_be_hidden()
            card = in_mode(ctl, page, "gold", "scoreboard")
            before = score(ctl, "gold")
            card.locator("button[data-delta='1']").click()
            expect(card.locator(".score")).to_have_text(str(before + 1))
            assert score(ctl, "gold") == before + 1
            # the refused token is Chromium's own "status of 401" line
            page.errors = [e for e in page.errors if "status of 401" not in e]
            page.clean()
        finally:
            context.close()


@pytest.mark.long  # join.show over HTTP: test_web_api
def test_share_shows_the_qr_and_puts_it_on_the_screens(open_page, ctl) -> None:
    page = open_page()
    p = page.page
    p.locator("#share-btn").click()
    expect(p.locator("#share")).to_be_visible()
    expect(p.locator("#share-url")).to_have_text(page.origin + "/")
    assert wait_for(lambda: p.locator("#qr").evaluate("q => q.naturalWidth") > 0 or None)
    p.locator("#qr-sel").fill("gold")
    p.locator("#qr-show").click()
    expect(p.locator("#share-msg")).to_contain_text("gold")
    assert wait_for(lambda: ctl.member("gold", "status")["state"]["join"]["shown"] or None,
                    timeout=10)
    assert ctl.member("gold", "status")["state"]["join"]["url"] == page.origin + "/"
    expect(page.card("gold").locator(".shows")).to_contain_text("join QR")
    p.locator("#qr-hide").click()
    assert wait_for(lambda: not ctl.member("gold", "status")["state"]["join"]["shown"] or None,
                    timeout=10)
    p.locator("#share-close").click()
    expect(p.locator("#share")).to_be_hidden()
    page.clean()


def race_to_the_finish(page: Watched, ctl: Controller, selector: str, first: str,
                       then: list[str], pause: float = 0.0) -> None:
    """Start a race from the page and press ``first``'s button, then the others' (``pause``
    seconds before each press)."""
    p = page.page
    p.locator("#sel").fill(selector)
    p.locator("#race-in").fill("1")
    p.locator("#race-start").click()
    expect(p.locator("#race-state")).to_contain_text("running")
    wait_for(lambda: ctl.call(first, "timer.running") or None, timeout=10)
    for node in (first, *then):
        time.sleep(pause)
        ctl.member(node, "press")
    expect(p.locator("#race-state")).to_contain_text(f"finished: {first} won")


def test_a_race_ranks_live_and_marks_the_winner(open_page, ctl) -> None:
    page, other = open_page(), open_page()
    race_to_the_finish(page, ctl, "red,blue", "blue", ["red"])
    for seen in (page, other):
        ranking = seen.page.locator("#race-ranking li")
        expect(ranking).to_have_count(2)
        expect(ranking.first).to_have_attribute("data-node", "blue")
        expect(ranking.first).to_have_class(re.compile(r"\bwinner\b"))
        expect(ranking.first).to_contain_text("WINNER")
        expect(seen.card("blue")).to_have_class(re.compile(r"\bwinner\b"))
        expect(seen.card("red")).not_to_have_class(re.compile(r"\bwinner\b"))
    assert ctl.call("blue", "timer.race_info")["place"] == 1
    page.clean()
    other.clean()


@pytest.mark.skipif(not os.environ.get("PYROSTAGE_SCREENSHOT"),
                    reason="set PYROSTAGE_SCREENSHOT=1 to remake docs/images/web-phone.png")
def test_phone_screenshot(browser: Browser, tmp_path: Path) -> None:
    """The README's picture: two teams at phone size after a race (not run by default)."""
    ns = NameServer()
    try:
        with spawn_node(tmp_path, ns, "red", "--group", "teams", "--size", "960x540"), \
                spawn_node(tmp_path, ns, "blue", "--group", "teams", "--size", "960x540"), \
                Controller(ns.host, ns.port) as ctl:
            wait_for(lambda: len(ctl.nodes()) == 2 or None, timeout=60)
            for node, team, points in (("red", "Red Foxes", 40), ("blue", "Blue Owls", 35)):
                ctl.call(node, "scoreboard.set_team", team)
                ctl.call(node, "scoreboard.set_score", points)
            with web_for(ns, timeout=5.0) as running:
                url = running.url
                context = browser.new_context(viewport=PHONE, device_scale_factor=2)
                page = Watched(context.new_page(), url.rstrip("/"))
                page.page.goto(url)
                expect(page.card("blue")).to_be_visible()
                race_to_the_finish(page, ctl, "@teams", "blue", ["red"], pause=1.3)
                page.page.mouse.move(0, 0)
                page.page.wait_for_timeout(1800)  # the thumbnails' second look
                out = tmp_path / "web-phone.png"
                page.page.screenshot(path=str(out))
                page.clean()
                context.close()
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, SCREENSHOT)
    finally:
        ns.stop()
