"""Only the main thread touches pygame: a guard watches every call in a real node process.

The guard is a profiler hook installed before the node starts (``sys.setprofile`` for the
main thread, ``threading.setprofile`` for every thread started after it). It records each call
into pygame — a C function of a ``pygame`` module or a Python frame of one — and writes any
made from a thread other than the main one to a file. A session over Pyro exercises every
path (commands, snapshots, presses over Pyro and from GPIO edges, modes), then SIGTERM stops
the node. The guard proves itself live: it must have seen pygame on the main thread and must
have run on the Pyro and GPIO threads; a negative control shows it catches a worker's call.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import Pyro4.errors
import pytest
from conftest import ROOT, lookup_proxy, pixel, spawn_node, wait_for
from PIL import Image

GUARD = r"""
import atexit, json, os, sys, threading

_MAIN = threading.get_ident()
_OUT = os.environ["PYROSTAGE_GUARD"]
_lock = threading.Lock()
_main_calls = {}
_bad = set()
_threads = {}


def _pygame_call(frame, event, arg):
    if event == "c_call":
        module = getattr(arg, "__module__", None)
        if module is None:
            module = type(getattr(arg, "__self__", None)).__module__
        name = getattr(arg, "__qualname__", repr(arg))
    elif event == "call":
        module = frame.f_globals.get("__name__")
        name = frame.f_code.co_qualname
    else:
        return None
    if module == "pygame" or (isinstance(module, str) and module.startswith("pygame.")):
        return module + ":" + name
    return None


def _guard(frame, event, arg):
    ident = threading.get_ident()
    if ident not in _threads:
        _threads[ident] = threading.current_thread().name
    where = _pygame_call(frame, event, arg)
    if where is None:
        return
    if ident == _MAIN:
        _main_calls[where] = _main_calls.get(where, 0) + 1
        return
    key = (threading.current_thread().name, where)
    with _lock:
        if key in _bad:
            return
        _bad.add(key)
        with open(_OUT + ".violations", "a") as fh:
            fh.write("\t".join(key) + "\n")


@atexit.register
def _report():
    sys.setprofile(None)
    with open(_OUT + ".stats", "w") as fh:
        json.dump({"main": _main_calls, "threads": sorted(set(_threads.values()))}, fh)


sys.setprofile(_guard)
threading.setprofile(_guard)
"""

# The wiring of the node's pins: the fake RPi.GPIO; SIGUSR1 is a press of the GPIO14 button.
FAKE_PINS = f"""
import signal
sys.path.insert(0, {str(ROOT / "tests")!r})
import fake_gpio
_pins = fake_gpio.install()  # kept referenced: the fake stays in sys.modules until exit
_fake = _pins.__enter__()

def _press(signum, frame):
    _fake.drive(14, _fake.LOW)
    _fake.release(14)

signal.signal(signal.SIGUSR1, _press)
"""

NEGATIVE = """
import pygame
pygame.Surface((2, 2)).fill((0, 0, 0))  # main thread: allowed
worker = threading.Thread(target=lambda: pygame.Surface((4, 4)).fill((1, 2, 3)),
                          name="naive-worker")
worker.start()
worker.join()
"""


def read_guard(base: Path) -> tuple[list[str], dict[str, Any]]:
    violations = base.with_name(base.name + ".violations")
    lines = violations.read_text().splitlines() if violations.exists() else []
    stats = json.loads(base.with_name(base.name + ".stats").read_text())
    return lines, stats


def test_guard_catches_pygame_on_a_worker_thread(tmp_path):
    base = tmp_path / "guard"
    env = {**os.environ, "PYROSTAGE_GUARD": str(base), "SDL_VIDEODRIVER": "dummy"}
    subprocess.run([sys.executable, "-c", GUARD + NEGATIVE], env=env, check=True, timeout=60)
    violations, stats = read_guard(base)
    assert violations == ["naive-worker\tpygame.surface:Surface.fill"]
    assert stats["main"]["pygame.surface:Surface.fill"] == 1


def background_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 36), (0, 90, 0)).save(out, "PNG")
    return out.getvalue()


def gpio_press(proxy: Any, pid: int) -> None:
    """The big button on GPIO14 (past the debounce window of the press before); returns
    once it counted as a press, maybe before the main loop applied it."""
    presses = proxy.status()["gpio"]["presses"]
    time.sleep(0.25)
    os.kill(pid, signal.SIGUSR1)
    wait_for(lambda: proxy.status()["gpio"]["presses"] == presses + 1)


def session(proxy: Any, pid: int) -> None:
    """The camp's evening over Pyro: every path that could draw, each button path too."""
    for colour, rgb in (("red", (255, 0, 0)), ("0,0,255", (0, 0, 255)), ("#00ff00", (0, 255, 0))):
        proxy.call("set_color", colour)
        assert pixel(proxy.snapshot()) == rgb
    proxy.send("set_color", "yellow")
    assert proxy.press() is True  # yellow -> white
    assert pixel(proxy.snapshot()) == (255, 255, 255)
    gpio_press(proxy, pid)  # white -> red
    wait_for(lambda: pixel(proxy.snapshot()) == (255, 0, 0))
    proxy.ring(0.05)

    proxy.switch("scoreboard")
    proxy.call("set_team", "Red Foxes")
    proxy.call("set_title_color", "orange")
    proxy.call("set_background", background_png())
    assert proxy.call("add_points", 25) == 25
    proxy.snapshot()

    proxy.switch("timer")
    proxy.call("start")
    frames = proxy.status()["display"]["frames"]
    wait_for(lambda: proxy.status()["display"]["frames"] > frames + 3)  # it counts on screen
    proxy.snapshot()
    gpio_press(proxy, pid)  # the button stops the race
    wait_for(lambda: proxy.call("running") is False)
    assert proxy.call("elapsed") > 0
    proxy.snapshot()

    proxy.switch("scoreboard")
    proxy.call("easter_egg.enable")
    gpio_press(proxy, pid)
    wait_for(lambda: proxy.call("get_score") == 35)
    proxy.snapshot()
    proxy.call("set_background", None)
    proxy.snapshot()

    proxy.switch("colorsquare")
    assert pixel(proxy.snapshot()) == (255, 0, 0)


def registered(proc: subprocess.Popen[bytes], ns: Any, log: Path) -> Any:
    if proc.poll() is not None:
        pytest.fail(f"the node exited with {proc.returncode}:\n{log.read_text()}")
    return lookup_proxy(ns, "guarded")


def test_only_the_main_thread_calls_pygame_in_a_full_session(tmp_path, name_server):
    base = tmp_path / "guard"
    env = {"PYROSTAGE_GUARD": str(base)}
    with spawn_node(tmp_path, name_server, "guarded", "--gpio", "rpi", env=env,
                    python_prelude=GUARD + FAKE_PINS) as proc:
        proxy = wait_for(lambda: registered(proc, name_server, tmp_path / "guarded.log"), 30)
        with proxy:
            wait_for(lambda: proxy.status()["gpio"]["backend"] == "rpi")
            session(proxy, proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0  # a hang guard: SIGTERM ends it cleanly

    log = (tmp_path / "guarded.log").read_text()
    assert "Traceback" not in log, log
    with pytest.raises(Pyro4.errors.NamingError), name_server.proxy() as ns:
        ns.lookup("pyrostage.guarded")  # it took its entry out of the name server

    violations, stats = read_guard(base)
    assert violations == [], "pygame called off the main thread:\n" + "\n".join(violations)
    # the guard was live: it saw the main loop draw and grab frames ...
    main = stats["main"]
    assert main.get("pygame.surface:Surface.fill", 0) >= 5
    assert main.get("pygame.image:tobytes", 0) >= 5
    assert any(name.endswith("Font.render") for name in main)
    # ... and it ran on the threads that must not draw: Pyro workers and the GPIO callbacks
    threads = stats["threads"]
    assert any(name.startswith("Pyro-Worker") for name in threads), threads
    assert any(name.startswith("fake-gpio-edges") for name in threads), threads
