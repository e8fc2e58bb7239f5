"""Images in and out of a node: frames grabbed for snapshots, PNG uploads decoded and scaled.

Encoding, decoding and scaling use Pillow, so they run on any thread (a snapshot is encoded on
the caller's thread, an upload is decoded before it reaches the engine lock); grabbing a frame
and making a surface call pygame, so they are for the main thread only.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pygame
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 8192
MAX_PIXELS = 40_000_000
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by PNG colour type
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))  # interlace passes: first column, first row, steps


def grab(surface: pygame.Surface) -> tuple[tuple[int, int], bytes]:
    """Copy the frame's pixels (main thread, fast) so the PNG is encoded elsewhere."""
    return surface.get_size(), pygame.image.tobytes(surface, "RGB")


def encode_png(size: tuple[int, int], rgb: bytes) -> bytes:
    """PNG bytes of a grabbed frame; Pillow, so no SDL call leaves the main thread."""
    out = io.BytesIO()
    Image.frombytes("RGB", size, rgb).save(out, "PNG", compress_level=3)
    return out.getvalue()


def decode_png(
    data: bytes, limit: int, *, max_side: int = MAX_SIDE, max_pixels: int = MAX_PIXELS
) -> Image.Image:
    """PNG bytes decoded in full (any thread), or ``ValueError`` saying what is wrong.

    The size the header declares is checked before a pixel is decoded (a 2 MB file may declare
    billions), every row is decoded (Pillow's ``verify`` reads none), and the pixel data must
    fill every row the header declares: what passes here can be drawn.
    """
    if len(data) > limit:
        raise ValueError(f"the image is {len(data)} bytes; at most {limit} bytes are accepted")
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("the image must be a PNG file (it does not start with the PNG signature)")
    header = _header(data)
    width, height = header[0], header[1]
    if width > max_side or height > max_side or width * height > max_pixels:
        raise ValueError(
            f"the PNG is {width}x{height} pixels; at most {max_side} pixels a side and "
            f"{max_pixels / 1e6:.1f} megapixels are accepted"
        )
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            image.verify()  # chunk checksums, which decoding does not look at
        image = Image.open(io.BytesIO(data), formats=["PNG"])
        image.load()
    except Image.DecompressionBombError as exc:  # a lower MAX_IMAGE_PIXELS set by the host
        raise ValueError(f"the PNG has too many pixels to decode here: {exc}") from None
    except Exception as exc:
        raise ValueError(
            f"the PNG is damaged: its pixels cannot be decoded ({exc}); only complete, "
            "undamaged PNG files are accepted"
        ) from None
    found, needed = _pixel_bytes(data, header)
    if found < needed:
        raise ValueError(
            f"the PNG is damaged: its pixel data ends after {found} of the {needed} bytes its "
            f"{width}x{height} header declares (rows are missing); only complete PNG files are "
            "accepted"
        )
    return image


def scaled_rgb(image: Image.Image, size: tuple[int, int]) -> bytes:
    """A decoded image stretched to ``size`` as RGB bytes, transparent parts over black (as a
    blit onto a black screen shows them). Pillow only: it runs off the main thread."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grey: its top 8 bits, as libpng
        image = image.point(lambda v: v / 256).convert("L")
    if image.has_transparency_data:  # premultiplied, colours blend as they show over black
        image = (image if image.mode == "RGBA" else image.convert("RGBA")).convert("RGBa")
    elif image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    scaled = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    if scaled.mode == "RGBa":
        scaled = Image.merge("RGB", scaled.split()[:3])
    return scaled.convert("RGB").tobytes()


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height a PNG's header declares, without decoding (``ValueError`` if none)."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("the image must be a PNG file (it does not start with the PNG signature)")
    width, height, *_ = _header(data)
    return width, height


def check_png(data: bytes, limit: int) -> tuple[int, int]:
    """Validate PNG bytes by decoding them (any thread); return the size or raise ValueError."""
    size: tuple[int, int] = decode_png(data, limit).size
    return size


def load_png(data: bytes, size: tuple[int, int]) -> Any:
    """A surface of PNG bytes stretched to ``size`` (main thread; decoding a big PNG here costs
    frames, so prefer ``decode_png`` and ``scaled_rgb`` elsewhere and ``surface_of`` here)."""
    return surface_of(scaled_rgb(decode_png(data, len(data)), size), size)


def surface_of(rgb: bytes, size: tuple[int, int]) -> pygame.Surface:
    """A screen-ready surface of ``scaled_rgb`` bytes (main thread; a copy, no scaling)."""
    surface = pygame.Surface(size)
    surface.blit(pygame.image.frombuffer(rgb, size, "RGB"), (0, 0))
    return surface


def _chunks(data: bytes) -> Iterator[tuple[bytes, memoryview]]:
    """(type, body) of each chunk after the signature, up to IEND or the end of the bytes."""
    view = memoryview(data)
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        yield kind, view[pos + 8 : pos + 8 + length]
        if kind == b"IEND":
            return
        pos += 12 + length


def _header(data: bytes) -> tuple[int, int, int, int, int]:
    """Width, height, bit depth, colour type and interlace method from the IHDR chunk."""
    kind, body = next(_chunks(data), (b"", memoryview(b"")))
    if kind != b"IHDR" or len(body) != 13:
        raise ValueError(
            "the PNG is damaged or unreadable: it does not begin with its header (IHDR) chunk"
        )
    width, height, depth, colour, _compression, _filter, interlace = struct.unpack(
        ">IIBBBBB", body
    )
    if colour not in _CHANNELS or width == 0 or height == 0:
        raise ValueError(f"the PNG is damaged or unreadable: its header declares {width}x"
                         f"{height} pixels of colour type {colour}")
    return width, height, depth, colour, interlace


def _pixel_bytes(data: bytes, header: tuple[int, int, int, int, int]) -> tuple[int, int]:
    """(bytes the pixel data inflates to, bytes the header needs), counting at most the latter.

    Pillow fills the rows missing from a pixel stream that ends early with black and raises
    nothing, so this is checked on its own, 4 MB at a time.
    """
    width, height, depth, colour, interlace = header
    bits = _CHANNELS[colour] * depth

    def rows(w: int, h: int) -> int:
        return h * (1 + (w * bits + 7) // 8) if w > 0 and h > 0 else 0

    if interlace:
        needed = sum(rows((width - x + dx - 1) // dx, (height - y + dy - 1) // dy)
                     for x, y, dx, dy in _ADAM7)
    else:
        needed = rows(width, height)
    inflate = zlib.decompressobj()
    found = 0
    try:
        for kind, body in _chunks(data):
            if kind != b"IDAT":
                continue
            pending: bytes | memoryview = body
            while pending and found < needed:
                found += len(inflate.decompress(pending, 1 << 22))
                pending = inflate.unconsumed_tail
            if found >= needed:
                return found, needed
        found += len(inflate.flush())
    except zlib.error as exc:
        raise ValueError(f"the PNG is damaged: its pixel data cannot be inflated ({exc})") from None
    return found, needed
