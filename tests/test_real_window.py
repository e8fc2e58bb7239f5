"""A node in a real X window (Xvfb), with SDL's normal x11 driver, as on a Pi's desktop.

The X screen is read with the standard tools (``xwd``, netpbm's ``xwdtopnm``) and must show
what ``snapshot()`` returns; keys are typed with ``xdotool`` into the window; the close button
is a window manager's ``WM_DELETE_WINDOW`` message (Xvfb runs no window manager).
Debian: ``apt-get install xvfb xdotool x11-apps netpbm``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from conftest import ROOT, NameServer, image, lookup_proxy, wait_for
from nodeproc import registered_uri
from PIL import Image, ImageChops

TOOLS = ("Xvfb", "xdotool", "xwd", "xwdtopnm", "pamdepth")
missing = [tool for tool in TOOLS if shutil.which(tool) is None]
if missing or not ctypes.util.find_library("X11"):
    pytest.skip(f"needs {', '.join(missing) or 'libX11'} "
                "(apt-get install xvfb xdotool x11-apps netpbm)", allow_module_level=True)

GUARD = 15.0
SCREEN = (1280, 720)
WINDOW = (640, 360)
PLUM = (120, 40, 90)


@pytest.fixture(scope="module")
def xdisplay() -> Iterator[str]:
    """A private X server; it picks a free display number itself (``-displayfd``)."""
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", "1", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
         "-nolisten", "tcp"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        assert xvfb.stdout is not None
        number = xvfb.stdout.readline().decode().strip()
        assert number.isdigit(), f"Xvfb did not start (exit code {xvfb.poll()})"
        yield f":{number}"
    finally:
        xvfb.terminate()
        xvfb.wait(GUARD)


@contextmanager
def window_node(
    tmp_path: Path, ns: NameServer, display: str, *extra: str, name: str = "win"
) -> Iterator[subprocess.Popen[bytes]]:
    """``pyrostage serve`` in a real window on ``display``; yielded once it answers."""
    env = {k: v for k, v in os.environ.items() if k != "SDL_VIDEODRIVER"}
    env["DISPLAY"] = display
    cmd = [sys.executable, "-m", "engine", "serve", "--name", name, "--host", "127.0.0.1",
           "--ns-host", ns.host, "--ns-port", str(ns.port),
           "--state-dir", str(tmp_path / "state"), "--gpio", "sim", *extra]
    with open(tmp_path / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:

        def answers() -> bool:
            assert proc.poll() is None, f"node exited with {proc.returncode}"
            return registered_uri(ns, name) is not None

        wait_for(answers, timeout=GUARD)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(GUARD)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def xdotool(display: str, *args: str) -> str:
    done = subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display},
                          capture_output=True, text=True, timeout=GUARD, check=True)
    return done.stdout


def find_window(
    display: str, proc: subprocess.Popen[bytes]
) -> tuple[str, tuple[int, int, int, int]]:
    """The node's window id (by its ``_NET_WM_PID``; this xdotool's ``--name`` finds nothing
    without a window manager) and its place on the screen (x, y, width, height)."""
    wid = xdotool(display, "search", "--sync", "--pid", str(proc.pid)).split()[-1]
    assert xdotool(display, "getwindowname", wid).strip().startswith("pyrostage: ")
    geometry = dict(
        line.split("=", 1) for line in xdotool(display, "getwindowgeometry", "--shell", wid)
        .splitlines() if "=" in line
    )
    x, y, w, h = (int(geometry[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
    return wid, (x, y, w, h)


def screenshot(display: str) -> Image.Image:
    """The whole X screen: ``xwd -root | xwdtopnm | pamdepth 255`` (xwdtopnm writes 16 bits
    a channel for Xvfb's visual, which Pillow decodes some hundred times slower)."""
    data = subprocess.run(["xwd", "-root", "-silent", "-display", display],
                          capture_output=True, timeout=GUARD, check=True).stdout
    for tool in (["xwdtopnm"], ["pamdepth", "255"]):
        data = subprocess.run(tool, input=data, capture_output=True, timeout=GUARD,
                              check=True).stdout
    return Image.open(io.BytesIO(data)).convert("RGB")


def differing(a: Image.Image, b: Image.Image) -> float:
    """The share of pixels that differ by more than a little in any channel."""
    assert a.size == b.size, (a.size, b.size)
    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 8 else 0)
    return sum(diff.histogram()[255:]) / (a.width * a.height)


def colours(picture: Image.Image) -> set[object]:
    return {colour for _count, colour in picture.getcolors(1 << 24) or []}


def shows(display: str, png: bytes, box: tuple[int, int, int, int]) -> bool:
    """The X screen shows ``png`` at ``box`` (within a sliver for a late frame's pixels)."""
    x, y, w, h = box
    return differing(screenshot(display).crop((x, y, x + w, y + h)), image(png)) < 0.001


def close_button(display: str, wid: str) -> None:
    """What a window manager sends when the window's close button is clicked."""
    x11 = ctypes.CDLL(ctypes.util.find_library("X11"))
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                               ctypes.c_void_p]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong),
                    ("send_event", ctypes.c_int), ("display", ctypes.c_void_p),
                    ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    dpy = x11.XOpenDisplay(display.encode())
    assert dpy, f"cannot open X display {display}"
    try:
        event = XEvent()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = int(wid)
        event.xclient.message_type = x11.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        x11.XSendEvent(dpy, int(wid), 0, 0, ctypes.byref(event))
        x11.XFlush(dpy)
    finally:
        x11.XCloseDisplay(dpy)


def test_a_window_shows_the_snapshot_its_keys_press_buttons_and_its_close_button_quits(
    tmp_path: Path, name_server: NameServer, xdisplay: str
):
    size = f"{WINDOW[0]}x{WINDOW[1]}"
    with window_node(tmp_path, name_server, xdisplay, "--size", size) as proc, \
            lookup_proxy(name_server, "win") as p:
        display = p.status()["display"]
        assert display["window"] and not display["headless"]
        wid, box = find_window(xdisplay, proc)
        assert box[2:] == WINDOW

        p.call("colorsquare.set_color", list(PLUM))
        png = p.snapshot()
        wait_for(lambda: shows(xdisplay, png, box), timeout=GUARD)
        assert screenshot(xdisplay).getpixel((box[0] + 5, box[1] + 5)) == PLUM

        p.switch("timer")
        p.call("start")
        assert p.call("running") is True
        xdotool(xdisplay, "key", "--window", wid, "space")  # space = main
        wait_for(lambda: p.call("running") is False, timeout=GUARD)
        assert p.call("results", 1)[0]["source"] == "button"
        assert p.status()["gpio"]["presses"] == 1
        p.call("reset")
        p.call("start")
        time.sleep(0.3)  # past the debounce window (gpio.debounce_ms, 200 ms by default)
        xdotool(xdisplay, "key", "--window", wid, "1")  # 1 = the first button, main
        wait_for(lambda: p.call("running") is False, timeout=GUARD)
        assert p.status()["gpio"]["presses"] == 2
        wait_for(lambda: shows(xdisplay, p.snapshot(), box), timeout=GUARD)

        close_button(xdisplay, wid)
        assert proc.wait(GUARD) == 0
    assert registered_uri(name_server, "win") is None  # it closed cleanly: unregistered


def test_fullscreen_covers_the_screen_and_escape_twice_quits(
    tmp_path: Path, name_server: NameServer, xdisplay: str
):
    with window_node(tmp_path, name_server, xdisplay, "--fullscreen") as proc, \
            lookup_proxy(name_server, "win") as p:
        assert p.status()["display"]["size"] == list(SCREEN)
        wid, box = find_window(xdisplay, proc)
        assert box == (0, 0, *SCREEN)
        p.call("colorsquare.set_color", list(PLUM))
        png = p.snapshot()
        wait_for(lambda: shows(xdisplay, png, box), timeout=GUARD)

        xdotool(xdisplay, "key", "--window", wid, "Escape")
        # "Press Escape again within 3 s to quit", a strip across the top of the screen
        wait_for(lambda: screenshot(xdisplay).getpixel((SCREEN[0] - 3, 3)) != PLUM,
                 timeout=GUARD)
        png = p.snapshot()
        assert image(png).getpixel((SCREEN[0] - 3, 3)) != PLUM
        assert image(png).getpixel((SCREEN[0] // 2, SCREEN[1] // 2)) == PLUM
        wait_for(lambda: shows(xdisplay, png, box), timeout=GUARD)
        assert proc.poll() is None  # one Escape does not quit

        for _ in range(5):  # a machine so loaded that 3 s passed gets asked again: retry
            xdotool(xdisplay, "key", "--window", wid, "Escape")
            with suppress(subprocess.TimeoutExpired):
                proc.wait(1.5)
                break
        assert proc.wait(GUARD) == 0
    assert registered_uri(name_server, "win") is None


def test_a_turned_window_shows_the_turned_snapshot(
    tmp_path: Path, name_server: NameServer, xdisplay: str
):
    """``[display] rotate = 90``: the X screen shows what ``snapshot()`` shows, turned."""
    config = tmp_path / "pyrostage.toml"
    config.write_text("[display]\nrotate = 90\n")
    size = f"{WINDOW[0]}x{WINDOW[1]}"
    with window_node(tmp_path, name_server, xdisplay, "--size", size,
                     "--config", str(config)) as proc, lookup_proxy(name_server, "win") as p:
        _wid, box = find_window(xdisplay, proc)
        assert box[2:] == WINDOW
        p.call("colorsquare.set_color", list(PLUM))
        png = p.snapshot()
        assert image(png).size == WINDOW
        wait_for(lambda: shows(xdisplay, png, box), timeout=GUARD)
        # the colour's name, written along the bottom of the canvas, runs down the left edge
        x, y, w, h = box
        screen = screenshot(xdisplay)
        left = screen.crop((x, y, x + w // 8, y + h))
        bottom = screen.crop((x + w // 8, y + h - h // 8, x + w, y + h))
        assert colours(left) - {PLUM}, "no text down the left edge"
        assert colours(bottom) == {PLUM}, "text along the bottom: not turned"
