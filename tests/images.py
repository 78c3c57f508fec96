"""Images made with Pillow for the tests: every format, EXIF with GPS, bombs, truncations."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def photo(width: int = 1600, height: int = 1200, fmt: str = "JPEG", **params: object) -> bytes:
    """Left half red, right half blue: which way up it is shows in the pixels."""
    image = Image.new("RGB", (width, height), (220, 20, 20))
    image.paste((20, 20, 220), (width // 2, 0, width, height))
    return encode(image, fmt, **params)


def with_exif(width: int = 1600, height: int = 1200, orientation: int = 1) -> bytes:
    """A JPEG carrying a camera's EXIF: GPS position, make, and an orientation."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "Spy Camera Co"  # Make
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.0)
    gps[3] = "E"
    gps[4] = (13.0, 24.0, 36.0)
    return photo(width, height, exif=exif.tobytes())


def transparent_png(width: int = 400, height: int = 300) -> bytes:
    return encode(Image.new("RGBA", (width, height), (0, 128, 0, 90)), "PNG")


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid PNG of a few hundred bytes that declares ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    data = compressor.compress(row * 2) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
