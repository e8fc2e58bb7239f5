"""The checks of ``pyrostage doctor`` that look at this machine's hardware: the screen drivers
SDL can open, the devices and groups behind them, the GPIO backend and pins, the sound device.

pygame is asked in subprocesses (``doctor_probe.py``), all started at once and each with a
deadline: a driver that hangs or crashes costs one line, not the report.
"""

from __future__ import annotations

import contextlib
import glob
import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.cli.doctor_checks import GUIDE, INFO, OK, PROBLEM, WARNING, Check, Context

PROBE = Path(__file__).with_name("doctor_probe.py")
DRIVERS = ("kmsdrm", "x11", "wayland")
PROBE_TIMEOUT = 8.0
HEADLESS = ("dummy", "offscreen")
GROUPS = {"video": "/dev/dri/card*", "render": "/dev/dri/renderD*", "input": "/dev/input/event*",
          "gpio": "/dev/gpiochip*", "audio": "/dev/snd/*"}
"""The groups a node's user needs, and the devices each opens."""
REBUILD = ("build pygame against the system's SDL: pip install --no-binary pygame "
           f"--force-reinstall --no-cache-dir pygame ({GUIDE}, step 3)")
JOIN = 'sudo usermod -aG video,render,input,gpio,audio "$USER", then log in again'


class Probes:
    """The subprocesses asking pygame, started together; ``result("video x11")`` or
    ``result("audio")`` waits for the one that answers it."""

    def __init__(self, commands: list[list[str]], timeout: float = PROBE_TIMEOUT):
        env = {**os.environ, "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
        if env.get("SDL_VIDEODRIVER") == "":  # pygame reads an empty one as "windows"
            del env["SDL_VIDEODRIVER"]
        self._runtime: str | None = None
        runtime = env.get("XDG_RUNTIME_DIR")
        if not runtime or not os.path.isdir(runtime):  # as the node does (display.py)
            self._runtime = tempfile.mkdtemp(prefix="pyrostage-doctor-")
            env["XDG_RUNTIME_DIR"] = self._runtime
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self._answers: dict[str, subprocess.Popen[bytes] | OSError] = {}
        self._results: dict[str, dict[str, Any]] = {}
        for command in commands:
            kind = command[0]
            try:
                proc: subprocess.Popen[bytes] | OSError = subprocess.Popen(
                    [sys.executable, "-P", str(PROBE), *command], env=env,
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL)
            except OSError as exc:
                proc = exc
            for word in command[1:]:
                self._answers["audio" if word == "audio" else f"{kind} {word}"] = proc

    def result(self, question: str) -> dict[str, Any]:
        """The probe's answer; ``{"failed": why}`` when it hung or crashed, ``{}`` when it
        was not asked (a driver that cannot work here)."""
        proc = self._answers.get(question)
        if proc is None:
            return {}
        if question not in self._results:
            self._collect(proc, question)
        return self._results.get(question) or {"failed": "gave no answer"}

    def _collect(self, proc: subprocess.Popen[bytes] | OSError, question: str) -> None:
        mine = [q for q, p in self._answers.items() if p is proc]
        if isinstance(proc, OSError):
            self._results.update({q: {"failed": f"cannot start {sys.executable}: {proc}"}
                                  for q in mine})
            return
        hung = ""
        try:
            out, _ = proc.communicate(timeout=max(0.1, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            hung = f"no answer within {self.timeout:g} s (hangs)"
        video = next(q for q in mine if q != "audio")
        for line in out.decode(errors="replace").splitlines():
            with contextlib.suppress(ValueError, AttributeError, StopIteration):
                kind, answer = next(iter(json.loads(line).items()))
                self._results["audio" if kind == "audio" else video] = answer
        for q in mine:
            self._results.setdefault(q, {"failed": hung or
                                         f"crashed (exit status {proc.returncode})"})

    def close(self) -> None:
        for proc in set(self._answers.values()):
            if isinstance(proc, subprocess.Popen) and proc.poll() is None:
                proc.kill()
                proc.communicate()
        if self._runtime:
            shutil.rmtree(self._runtime, ignore_errors=True)


def probes(sound: bool) -> list[list[str]]:
    """The probe processes to start: the driver SDL picks by itself (and the sound) in one,
    each driver that could open here in one of its own."""
    return [["video", "default", *(["audio"] if sound else [])],
            *(["video", d] for d in DRIVERS if _could_open(d))]


def _could_open(driver: str) -> bool:
    if driver == "x11":
        return bool(os.environ.get("DISPLAY"))
    if driver == "wayland":
        runtime = os.environ.get("XDG_RUNTIME_DIR", "")
        return bool(os.environ.get("WAYLAND_DISPLAY")) or (
            bool(runtime) and os.path.exists(os.path.join(runtime, "wayland-0")))
    return bool(glob.glob("/dev/dri/card*"))


def pi_model() -> str | None:
    from engine.hardware.gpio import on_a_pi

    if not on_a_pi():
        return None
    try:
        return Path("/proc/device-tree/model").read_text().strip("\0 \n")
    except OSError:
        return "Raspberry Pi"


def _desktop() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _devices(pattern: str) -> tuple[list[str], list[str]]:
    """The devices matching ``pattern`` and those of them this user cannot read and write."""
    found = sorted(glob.glob(pattern))
    return found, [p for p in found if not os.access(p, os.R_OK | os.W_OK)]


def _group_of(path: str) -> str:
    try:
        return grp.getgrgid(os.stat(path).st_gid).gr_name
    except (OSError, KeyError):
        return "?"


def pygame_check(ctx: Context) -> Check:
    info = ctx.probes.result("video default")
    if "missing" in info:
        return Check("pygame", PROBLEM, f"not importable ({info['missing']})",
                     f"pip install \"PATH-TO-PYROSTAGE-SOURCE[pi]\" in the venv ({GUIDE}, step 3)")
    if "failed" in info:
        return Check("pygame", PROBLEM, f"importing it {info['failed']}",
                     "reinstall pygame in the venv (pip install --force-reinstall pygame)")
    sdl_file = str(info.get("sdl_file", ""))
    own = "the wheel's own copy" if ".libs" in sdl_file or ".dylibs" in sdl_file else \
        "the system's" if sdl_file else "?"
    drivers = info.get("video_drivers")
    ctx.facts["video_drivers"] = drivers
    listed = f"; video drivers: {', '.join(drivers)}" if drivers is not None else ""
    detail = f"pygame {info.get('pygame')}, SDL {info.get('sdl')} ({own}){listed}"
    no_kms = drivers is not None and "kmsdrm" not in {d.lower() for d in drivers}
    if no_kms and ctx.pi and not _desktop() and not ctx.cfg.headless:
        return Check("pygame", PROBLEM, f"{detail}: no KMSDRM, so no screen without a desktop",
                     REBUILD)
    return Check("pygame", OK, detail)


def display(ctx: Context) -> Check:
    cfg = ctx.cfg
    if cfg.headless:
        return Check("display", OK, "headless by config (headless = true): no screen is opened")
    default = ctx.probes.result("video default")
    if "missing" in default or "failed" in default:
        return Check("display", PROBLEM, "pygame cannot be asked (see the pygame line)",
                     "fix pygame first")
    opened = {d: ctx.probes.result(f"video {d}") for d in DRIVERS}  # {}: not worth asking
    can = [r["driver"] for r in opened.values() if r.get("driver")]
    cannot = [f"{_name(d)} {_why_not(d, r, ctx)}" for d, r in opened.items()
              if not r.get("driver")]
    used = default.get("driver")
    env = os.environ.get("SDL_VIDEODRIVER")
    chosen = f" (SDL_VIDEODRIVER={env})" if env else ""
    tried = "; ".join(filter(None, [f"can open {', '.join(can)}" if can else "",
                                    f"not {', '.join(cannot)}" if cannot else ""]))
    if used and used.lower() not in HEADLESS:
        size = "x".join(map(str, (default.get("sizes") or [[]])[0]))
        screen = f" at {size}" if size else ""
        return Check("display", OK, f"would use {used}{screen}{chosen}; {tried}")
    what = used or default.get("error", "none")
    detail = f"no screen: the node would run headless (SDL: {what}{chosen}); {tried}"
    status = PROBLEM if ctx.pi else WARNING
    return Check("display", status, detail, _display_fix(ctx, env))


def _name(driver: str) -> str:
    return "KMSDRM" if driver == "kmsdrm" else driver


def _why_not(driver: str, result: dict[str, Any], ctx: Context) -> str:
    drivers = ctx.facts.get("video_drivers")
    if "failed" in result:
        return f"({result['failed']})"
    if drivers is not None and driver not in {d.lower() for d in drivers}:
        return "(not in this SDL)"
    if driver == "x11" and not os.environ.get("DISPLAY"):
        return "(no X server: DISPLAY is not set)"
    if driver == "wayland" and not os.environ.get("WAYLAND_DISPLAY"):
        return "(no Wayland session)"
    if driver == "kmsdrm":
        cards, denied = _devices("/dev/dri/card*")
        if not cards:
            return "(no /dev/dri/card*)"
        if denied:
            return f"(no access to {', '.join(denied)})"
        return "(no screen connected, or a desktop holds it)"
    return f"({result.get('error', 'not available')})"


def _display_fix(ctx: Context, env: str | None) -> str:
    drivers = ctx.facts.get("video_drivers") or []
    cards, denied = _devices("/dev/dri/card*")
    if env and env.lower() in HEADLESS:
        return "unset SDL_VIDEODRIVER to use a screen (or keep it: a headless node still answers)"
    if not ctx.pi:
        return ("fine for a name server or a controller; a node here shows nothing but "
                "answers and counts presses (for a screen: a desktop session, or KMS)")
    if "kmsdrm" not in {d.lower() for d in drivers} and not _desktop():
        return REBUILD
    if not cards:
        return ("switch on the KMS graphics driver: dtoverlay=vc4-kms-v3d in "
                "/boot/firmware/config.txt, then reboot")
    if denied:
        return JOIN
    return ("boot to the console (sudo raspi-config: System Options, Boot / Auto Login, "
            "Console) or run the node in the desktop session; check the TV is on and plugged in")


def screen_devices(ctx: Context) -> Check:
    cards, denied = _devices("/dev/dri/card*")
    renders, denied_r = _devices("/dev/dri/renderD*")
    if not cards:
        if ctx.pi:
            return Check("screen devices", WARNING, "no /dev/dri/card*: the KMS graphics "
                         "driver is off", "dtoverlay=vc4-kms-v3d in /boot/firmware/config.txt, "
                         "then reboot")
        return Check("screen devices", INFO, "no /dev/dri/card* (no graphics device here)")
    names = ", ".join(p.removeprefix("/dev/dri/") for p in cards + renders)
    if denied or denied_r:
        groups = sorted({_group_of(p) for p in denied + denied_r})
        status = PROBLEM if denied else WARNING
        return Check("screen devices", status, f"cannot open {', '.join(denied + denied_r)} "
                     f"(group {', '.join(groups)})", JOIN)
    return Check("screen devices", OK, f"{names}: read and write")


def groups(ctx: Context) -> Check:
    if os.geteuid() == 0:
        return Check("groups", INFO, "running as root: every device opens; run doctor as the "
                     "node's user to check that user's groups")
    user = pwd.getpwuid(os.geteuid()).pw_name
    active = set()
    for gid in {os.getegid(), *os.getgroups()}:
        with contextlib.suppress(KeyError):
            active.add(grp.getgrgid(gid).gr_name)
    listed = {g.gr_name for g in grp.getgrall() if user in g.gr_mem}
    wanted = []
    for name in GROUPS:
        with contextlib.suppress(KeyError):
            grp.getgrnam(name)
            wanted.append(name)
    if not wanted:
        return Check("groups", INFO, f"{user}: none of {', '.join(GROUPS)} exist here")
    missing = [g for g in wanted if g not in active]
    if not missing:
        return Check("groups", OK, f"{user} is in {', '.join(wanted)}")
    needed = [g for g in missing if glob.glob(GROUPS[g])]
    pending = [g for g in missing if g in listed]
    status = WARNING if needed and ctx.pi else INFO
    detail = f"{user} is not in {', '.join(missing)}"
    if pending:
        return Check("groups", status, f"{detail} yet: added, but this login is older",
                     "log out and in again (or reboot)")
    if not needed:
        return Check("groups", INFO, f"{detail} (no such devices here)")
    return Check("groups", status, f"{detail}: the node cannot open "
                 f"{', '.join(GROUPS[g] for g in needed)}", JOIN)


def gpio(ctx: Context) -> list[Check]:
    from engine.hardware.gpio import make_backend

    cfg = ctx.cfg
    choice = cfg.gpio
    if choice == "auto":
        choice = "rpi" if ctx.pi else "sim"
    lib = _gpio_library()
    try:
        backend = make_backend(choice)
        backend.cleanup()
    except (ImportError, RuntimeError, ValueError, OSError) as exc:
        status = PROBLEM if cfg.gpio == "rpi" else WARNING
        then = "the node will not start" if cfg.gpio == "rpi" else "buttons are simulated"
        return [Check("gpio", status, f"backend {choice}: {exc} ({then})",
                      "pip install \"PATH-TO-PYROSTAGE-SOURCE[pi]\" in the venv (it brings "
                      "rpi-lgpio)")]
    picked = backend.name + (f", picked by auto on a {ctx.pi}" if cfg.gpio == "auto" and ctx.pi
                             else ", picked by auto" if cfg.gpio == "auto" else "")
    if not ctx.pi and backend.name != "rpi":
        how = "keys (sim)" if backend.name == "sim" else "none: presses"
        return [Check("gpio", INFO, f"no GPIO here: buttons by {how} or over the network "
                      f"(backend {picked})")]
    checks = [_gpio_line(picked, lib, ctx)]
    if backend.name == "rpi" or ctx.pi:
        checks.append(_pin_access(ctx))
    return checks


def _gpio_library() -> str | None:
    import importlib.metadata

    found = []
    for dist in ("rpi-lgpio", "RPi.GPIO"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{dist} {importlib.metadata.version(dist)}")
    return ", ".join(found) or None


def _gpio_line(picked: str, lib: str | None, ctx: Context) -> Check:
    pins = ", ".join(f"{name} GPIO{spec['pin']}" for name, spec in ctx.cfg.buttons.items())
    outs = ", ".join(f"{name} GPIO{pin}" for name, pin in ctx.cfg.outputs.items())
    detail = f"backend {picked}, {lib or 'no GPIO library'}; {pins}; {outs}"
    if lib and "RPi.GPIO" in lib and "rpi-lgpio" not in lib:
        return Check("gpio", WARNING, f"{detail}: the old RPi.GPIO fails edge detection on "
                     "kernel 6.6+ and on a Pi 5", "pip uninstall RPi.GPIO, then pip install "
                     "--force-reinstall rpi-lgpio")
    if lib and "rpi-lgpio" in lib and "RPi.GPIO " in lib:
        return Check("gpio", WARNING, f"{detail}: both provide RPi.GPIO", "pip uninstall "
                     "RPi.GPIO, then pip install --force-reinstall rpi-lgpio")
    if picked.startswith("rpi") and not os.access(os.getcwd(), os.W_OK):
        return Check("gpio", WARNING, f"{detail}; lgpio needs a writable current directory "
                     f"and {os.getcwd()} is not", "run from your home directory (cd ~)")
    return Check("gpio", OK, detail)


def _pin_access(ctx: Context) -> Check:
    chips, denied = _devices("/dev/gpiochip*")
    mems, denied_m = _devices("/dev/gpiomem*")
    if not chips:
        return Check("gpio pins", PROBLEM, "no /dev/gpiochip*", "update Raspberry Pi OS "
                     "(sudo apt full-upgrade) and reboot")
    if denied or denied_m:
        groups = sorted({_group_of(p) for p in denied + denied_m})
        return Check("gpio pins", PROBLEM if denied else WARNING,
                     f"cannot open {', '.join(denied + denied_m)} (group {', '.join(groups)})",
                     JOIN)
    names = ", ".join(p.removeprefix("/dev/") for p in chips + mems)
    return Check("gpio pins", OK, f"{names}: read and write")


def audio(ctx: Context) -> Check:
    if not ctx.cfg.sound:
        return Check("audio", INFO, "off (sound = false under [display])")
    result = ctx.probes.result("audio")
    fix = ("pick the HDMI output: sudo raspi-config, System Options, Audio; `aplay -l` lists "
           "the sound cards" if ctx.pi else "sound is optional: races run quietly without it")
    if "missing" in result:
        return Check("audio", WARNING, "no pygame (see the pygame line)", fix)
    if "failed" in result or "error" in result:
        why = result.get("failed") or result.get("error")
        return Check("audio", WARNING, f"no sound device: {why}; races run quietly", fix)
    driver = result.get("driver") or "?"
    rate = (result.get("mixer") or [0])[0]
    if driver in ("dummy", "disk"):
        env = os.environ.get("SDL_AUDIODRIVER")
        chosen = f" (SDL_AUDIODRIVER={env})" if env else ""
        return Check("audio", WARNING, f"only SDL's {driver} driver{chosen}: nothing is heard",
                     "unset SDL_AUDIODRIVER" if env else fix)
    return Check("audio", OK, f"{driver}, {rate} Hz")
