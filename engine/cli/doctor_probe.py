"""What pygame can open on this machine, asked in a process of its own.

``pyrostage doctor`` runs this file (``python -P doctor_probe.py video kmsdrm``, or ``video
default audio``) once per video driver: SDL's display can be set up once per process, a
broken driver may crash or hang it, and SDL's C code writes to stderr. It prints one JSON
line per question as soon as it has the answer (``{"video": {...}}``, ``{"audio": {...}}``)
and imports nothing of pyrostage.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from typing import Any


def sdl() -> ctypes.CDLL | None:
    """The SDL library pygame loaded (the wheel's own copy or the system's)."""
    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh if "/libSDL2-2" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def names(lib: ctypes.CDLL, kind: str) -> list[str]:
    count = getattr(lib, f"SDL_GetNum{kind}Drivers")
    get = getattr(lib, f"SDL_Get{kind}Driver")
    get.restype = ctypes.c_char_p
    return [get(i).decode() for i in range(count())]


def info() -> dict[str, Any]:
    import pygame

    out: dict[str, Any] = {
        "pygame": pygame.version.ver, "pygame_file": pygame.__file__,
        "sdl": ".".join(map(str, pygame.get_sdl_version())),
        "sdl_built": ".".join(map(str, pygame.get_sdl_version(linked=False))),
    }
    lib = sdl()
    if lib is not None:
        out["sdl_file"] = lib._name
        out["video_drivers"] = names(lib, "Video")
        out["audio_drivers"] = names(lib, "Audio")
    return out


def video(driver: str) -> dict[str, Any]:
    if driver != "default":
        os.environ["SDL_VIDEODRIVER"] = driver
    import pygame

    out = info()
    try:
        pygame.display.init()
        out["driver"] = pygame.display.get_driver()
        out["sizes"] = [list(s) for s in pygame.display.get_desktop_sizes()]
    except pygame.error as exc:
        out["error"] = str(exc)
    return out


def audio() -> dict[str, Any]:
    import pygame

    out = info()
    try:
        pygame.mixer.init(44100, -16, 1, 512)
        out["mixer"] = list(pygame.mixer.get_init() or ())
        lib = sdl()
        if lib is not None:
            lib.SDL_GetCurrentAudioDriver.restype = ctypes.c_char_p
            current = lib.SDL_GetCurrentAudioDriver()
            out["driver"] = current.decode() if current else None
        pygame.mixer.quit()
    except pygame.error as exc:
        out["error"] = str(exc)
    return out


if __name__ == "__main__":
    os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"
    for question in sys.argv[1:]:
        if question == "video":
            continue
        kind = "audio" if question == "audio" else "video"
        try:
            result = audio() if kind == "audio" else video(question)
        except ImportError as exc:
            result = {"missing": str(exc)}
        print(json.dumps({kind: result}), flush=True)
