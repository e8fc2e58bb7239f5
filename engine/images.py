"""Images in and out of a node: frames grabbed for snapshots, PNG bytes checked and loaded.

Encoding and checking use Pillow, so they run on any thread (a snapshot is encoded on the
caller's thread, a background upload is checked before it reaches the main loop); grabbing a
frame and loading a PNG into a surface call pygame, so they are for the main thread only.
"""

from __future__ import annotations

import io
from typing import Any

import pygame
from PIL import Image


def grab(surface: pygame.Surface) -> tuple[tuple[int, int], bytes]:
    """Copy the frame's pixels (main thread, fast) so the PNG is encoded elsewhere."""
    return surface.get_size(), pygame.image.tobytes(surface, "RGB")


def encode_png(size: tuple[int, int], rgb: bytes) -> bytes:
    """PNG bytes of a grabbed frame; Pillow, so no SDL call leaves the main thread."""
    out = io.BytesIO()
    Image.frombytes("RGB", size, rgb).save(out, "PNG", compress_level=3)
    return out.getvalue()


def check_png(data: bytes, limit: int) -> tuple[int, int]:
    """Validate PNG bytes off the main thread; return its size or raise ValueError."""
    if len(data) > limit:
        raise ValueError(f"the image is {len(data)} bytes; at most {limit} bytes are accepted")
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("the image must be a PNG file (it does not start with the PNG signature)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            size: tuple[int, int] = image.size
    except Exception as exc:
        raise ValueError(f"the PNG is damaged or unreadable: {exc}") from None
    if size[0] * size[1] > 40_000_000:
        raise ValueError(f"the PNG is {size[0]}x{size[1]} pixels; at most 40 megapixels")
    return size


def load_png(data: bytes, size: tuple[int, int]) -> Any:
    """A pygame surface of PNG bytes scaled to ``size`` (main thread)."""
    image = pygame.image.load(io.BytesIO(data), "background.png")
    canvas = pygame.Surface(image.get_size(), 0, 32)
    canvas.blit(image, (0, 0))
    return pygame.transform.smoothscale(canvas, size)
