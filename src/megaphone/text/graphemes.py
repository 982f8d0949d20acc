"""User-perceived characters: extended grapheme clusters, as Mastodon's and
Bluesky's counters (and ``Intl.Segmenter``) count them."""

from __future__ import annotations

import re
from functools import cache


@cache
def _graphemes() -> re.Pattern[str]:
    import regex

    pattern: re.Pattern[str] = regex.compile(r"\X")
    return pattern


#: Characters that may join a neighbour in one grapheme cluster (combining
#: marks, joiners, emoji and their modifiers, Hangul jamo...) are all outside
#: these ranges: text made only of them has one cluster per character (CR LF
#: aside), and is counted without the regex module.
_MAYBE_JOINED = re.compile(r"[^\x00-\u02ff\u2000-\u200b\u200e-\u206f\u20a0-\u20cf]")


def graphemes(text: str) -> int:
    """User-perceived characters (extended grapheme clusters)."""
    if text.isascii() or _MAYBE_JOINED.search(text) is None:
        return len(text) - text.count("\r\n")
    return len(_graphemes().findall(text))


def grapheme_list(text: str) -> list[str]:
    """The clusters of ``text``, in order."""
    if text.isascii() and "\r\n" not in text:
        return list(text)
    found: list[str] = _graphemes().findall(text)
    return found
