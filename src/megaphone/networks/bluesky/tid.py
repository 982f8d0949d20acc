"""Record keys: TIDs (timestamp identifiers) as AT Protocol defines them — 13
characters of base32-sortable, a 64-bit number of microseconds since 1970
(53 bits) and a random clock id (10 bits).  A post's ``createdAt`` is its
key's time, so the record made for a key is the same on every retry."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime

_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_lock = threading.Lock()
_last = 0


def new_tid(now_us: int | None = None) -> str:
    """A new TID, later than every one this process made."""
    global _last
    with _lock:
        us = now_us if now_us is not None else time.time_ns() // 1000
        us = max(us, _last + 1)
        _last = us
    value = (us << 10) | secrets.randbelow(1024)
    chars = []
    for _ in range(13):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def tid_time(tid: str) -> datetime:
    """When a TID was made."""
    value = 0
    for c in tid:
        value = value * 32 + _ALPHABET.index(c)
    return datetime.fromtimestamp((value >> 10) / 1_000_000, UTC)


def is_tid(value: str) -> bool:
    return len(value) == 13 and value[0] in _ALPHABET[:16] and all(c in _ALPHABET for c in value)
