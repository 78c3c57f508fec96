"""Draws the storefront's app icons (PNG 192, 512 and a maskable 512) with the standard
library only, so that no image tool is needed to rebuild them:

    python tools/make_icons.py

A shopping bag, white on the shop's green; the maskable icon is full-bleed with the bag
inside the safe zone (the central 80%).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

OUT = (
    Path(__file__).resolve().parent.parent
    / "src/minicommerce_server/static/storefront/assets/icons"
)
GREEN = (20, 83, 45)
WHITE = (255, 255, 255)
SAMPLES = 4  # per axis, for smooth edges


def _in_rounded_square(x: float, y: float, radius: float) -> bool:
    cx = min(max(x, radius), 1 - radius)
    cy = min(max(y, radius), 1 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def _in_bag(x: float, y: float) -> bool:
    body = 0.27 <= x <= 0.73 and 0.40 <= y <= 0.78
    if body and y > 0.70:  # rounded bottom corners
        for corner in (0.35, 0.65):
            if (x < 0.35 and corner == 0.35) or (x > 0.65 and corner == 0.65):
                body = (x - corner) ** 2 + (y - 0.70) ** 2 <= 0.08**2
    distance = ((x - 0.5) ** 2 + (y - 0.40) ** 2) ** 0.5
    handle = y <= 0.40 and 0.09 <= distance <= 0.14
    return body or handle


def draw(size: int, *, maskable: bool) -> bytes:
    rows = []
    for py in range(size):
        row = bytearray([0])  # filter: none
        for px in range(size):
            bg = glyph = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = (px + (sx + 0.5) / SAMPLES) / size
                    y = (py + (sy + 0.5) / SAMPLES) / size
                    if maskable or _in_rounded_square(x, y, 0.2):
                        bg += 1
                        gx, gy = (
                            ((x - 0.5) / 0.8 + 0.5, (y - 0.5) / 0.8 + 0.5) if maskable else (x, y)
                        )
                        glyph += _in_bag(gx, gy)
            n = SAMPLES * SAMPLES
            pixel = [
                round((GREEN[c] * (bg - glyph) + WHITE[c] * glyph) / max(bg, 1)) for c in range(3)
            ]
            row += bytes([*pixel, round(255 * bg / n)])
        rows.append(bytes(row))
    return _png(size, b"".join(rows))


def _png(size: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "icon-192.png").write_bytes(draw(192, maskable=False))
    (OUT / "icon-512.png").write_bytes(draw(512, maskable=False))
    (OUT / "maskable-512.png").write_bytes(draw(512, maskable=True))


if __name__ == "__main__":
    main()
