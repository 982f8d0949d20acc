"""Media files: what they really are (by content, not by name) and how big."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from megaphone.model import MediaInfo

__all__ = ["MediaInfo", "find", "sniff"]

if TYPE_CHECKING:
    from pathlib import Path


def find(queue_path: Path, written: str, root: Path) -> tuple[Path, str | None]:
    """The file that a queue file names as ``written``, and what keeps it from
    being used: ``"outside"`` the project folder ``root`` (resolved; through
    ``..`` or a symbolic link), ``"missing"``, or None.  Nothing outside the
    project is ever opened."""
    target = (queue_path.parent / written).resolve()
    if not target.is_relative_to(root):
        return target, "outside"
    if not target.is_file():
        return target, "missing"
    return target, None


def sniff(path: Path) -> MediaInfo | None:
    """What ``path`` holds, judged by its first bytes; None when it is not a
    JPEG, PNG, GIF, WEBP or MP4 file."""
    with path.open("rb") as f:
        head = f.read(64 * 1024)
        size = f.seek(0, 2)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        w, h = struct.unpack(">II", head[16:24]) if len(head) >= 24 else (None, None)
        return MediaInfo("image", "image/png", size, w, h)
    if head.startswith(b"\xff\xd8\xff"):
        w, h = _jpeg_size(head)
        return MediaInfo("image", "image/jpeg", size, w, h)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        w, h = struct.unpack("<HH", head[6:10]) if len(head) >= 10 else (None, None)
        return MediaInfo("gif", "image/gif", size, w, h)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        w, h = _webp_size(head)
        return MediaInfo("image", "image/webp", size, w, h)
    if head[4:8] == b"ftyp" and head[8:12] in _MP4_BRANDS:
        return MediaInfo("video", "video/mp4", size)
    return None


_MP4_BRANDS = {
    b"isom",
    b"iso2",
    b"iso4",
    b"iso5",
    b"iso6",
    b"mp41",
    b"mp42",
    b"avc1",
    b"M4V ",
    b"M4VH",
    b"M4VP",
    b"MSNV",
    b"dash",
    b"qt  ",
}


def _jpeg_size(data: bytes) -> tuple[int | None, int | None]:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None, None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + length
    return None, None


def _webp_size(data: bytes) -> tuple[int | None, int | None]:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    return None, None
