"""Unicode normal form C by the newest Unicode data at hand.

Python's own tables are those of its release (3.11 ships Unicode 14), so a
character composed in Unicode 15 or 16 would stay decomposed and count
double on one Python and once on another.  unicodedata2 carries the newest
tables; it is used where it is newer than the running Python's, and loaded
only for a text that is not ASCII."""

from __future__ import annotations

import unicodedata
from typing import Any

_DATA: Any = None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def data() -> Any:
    """The newer of unicodedata2 and the standard unicodedata."""
    global _DATA
    if _DATA is None:
        try:
            import unicodedata2
        except ImportError:  # an install without it: Python's own tables
            _DATA = unicodedata
        else:
            newer = _version(unicodedata2.unidata_version) > _version(unicodedata.unidata_version)
            _DATA = unicodedata2 if newer else unicodedata
    return _DATA


def nfc(text: str) -> str:
    """``text`` in normal form C."""
    if text.isascii():
        return text
    # normalize() checks first (quickly, in C) whether the text is in the
    # form already, and gives it back as it is then.
    return str(data().normalize("NFC", text))


def version() -> str:
    """The Unicode version normalisation follows."""
    return str(data().unidata_version)
