"""Draw the small placeholder images used by the example queues in posts/.

Plain PNG written with zlib: no imaging library needed.  Run from the project
root: ``python scripts/make_example_media.py``.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "posts" / "media"

# name -> (width, height, top colour, bottom colour)
IMAGES = {
    "caravan.png": (600, 315, (200, 30, 45), (250, 200, 60)),
    "community-schools.png": (600, 315, (20, 90, 160), (120, 200, 120)),
    "town-hall.png": (600, 315, (60, 40, 120), (230, 120, 60)),
    "funding-chart.png": (480, 480, (240, 240, 240), (30, 120, 90)),
}


def png(width: int, height: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> bytes:
    rows = []
    for y in range(height):
        t = y / max(height - 1, 1)
        colour = bytes(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        rows.append(b"\x00" + colour * width)
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, spec in IMAGES.items():
        (OUT / name).write_bytes(png(*spec))
        print(f"wrote posts/media/{name}")


if __name__ == "__main__":
    main()
