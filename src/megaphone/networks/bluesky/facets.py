"""Bluesky rich text: the text a post is stored with (links shortened the way
the Bluesky app shows them) and its facets — links, @handle mentions and
#tags, as UTF-8 byte ranges, end exclusive.  Pure: mentions carry the handle;
the client turns it into a DID when it sends."""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple
from urllib.parse import urlsplit

from megaphone.text import extract_urls
from megaphone.text.unicode import nfc

#: ``@handle``: a domain name (with a dot) after a space, a bracket or the start.
_MENTION = re.compile(r"(?:^|(?<=[\s(]))@([a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?)")
_HANDLE = re.compile(r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z][a-zA-Z0-9-]*")
#: ``#tag`` after a space or the start (``＃`` too).
_TAG = re.compile(r"(?:^|(?<=\s))[#\uff03]([^\s#\uff03\u00ad\u2060\u200a-\u200d\u20e2]+)")
MAX_TAG_LENGTH = 64


class Facet(NamedTuple):
    """One facet: its byte range in the stored text, and what it is."""

    start: int  # UTF-8 bytes
    end: int
    kind: str  # "link", "mention", "tag"
    #: The link's full URL, the mention's handle, the tag without '#'.
    value: str
    #: Where it is in the stored text (code points), for previews.
    char_start: int
    char_end: int


class Rich(NamedTuple):
    text: str
    facets: tuple[Facet, ...]


def short_link(url: str) -> str:
    """A link as the Bluesky app shows it: the host, and the start of the
    path (13 characters and "..." when it is longer than 15)."""
    try:
        split = urlsplit(url)
    except ValueError:
        return url
    if split.scheme.lower() not in ("http", "https") or not split.netloc:
        return url
    path = (
        (split.path if split.path != "/" else "")
        + (f"?{split.query}" if split.query else "")
        + (f"#{split.fragment}" if split.fragment else "")
    )
    if len(path) > 15:
        return f"{split.netloc}{path[:13]}..."
    return f"{split.netloc}{path}"


def rich_text(text: str, *, shorten: bool = True) -> Rich:
    """The text a post is stored with, and its facets.  Links with a scheme
    are shown shortened (``shorten``) and point to the full URL; a bare
    domain stays as written and points to ``https://`` it."""
    text = nfc(text)
    pieces: list[str] = []
    found: list[tuple[int, int, str, str]] = []  # char start, end (in the new text), kind, value
    pos = 0
    out_len = 0
    for u in extract_urls(text) if "." in text else []:
        pieces.append(text[pos : u.start])
        out_len += u.start - pos
        full = u.text if "://" in u.text else "https://" + u.text
        shown = short_link(full) if shorten and "://" in u.text else u.text
        pieces.append(shown)
        found.append((out_len, out_len + len(shown), "link", full))
        out_len += len(shown)
        pos = u.end
    pieces.append(text[pos:])
    stored = "".join(pieces)
    taken = [(s, e) for s, e, _, _ in found]

    def free(s: int, e: int) -> bool:
        return not any(a < e and s < b for a, b in taken)

    if "@" in stored:
        for m in _MENTION.finditer(stored):
            handle = m.group(1).rstrip(".")
            if not _HANDLE.fullmatch(handle):
                continue
            s, e = m.start(), m.start(1) + len(handle)
            if free(s, e):
                found.append((s, e, "mention", handle.lower()))
    if "#" in stored or "\uff03" in stored:
        for m in _TAG.finditer(stored):
            tag = m.group(1)
            while tag and unicodedata.category(tag[-1]).startswith("P"):
                tag = tag[:-1]
            if not tag or all(c.isdigit() or unicodedata.category(c).startswith("P") for c in tag):
                continue
            if len(tag) > MAX_TAG_LENGTH:
                continue
            s, e = m.start(), m.start(1) + len(tag)
            if free(s, e):
                found.append((s, e, "tag", tag))
    found.sort()
    facets = tuple(
        Facet(_bytes(stored, s), _bytes(stored, e), kind, value, s, e)
        for s, e, kind, value in found
    )
    return Rich(stored, facets)


def _bytes(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def plain_mentions(text: str) -> list[str]:
    """``@name``s that are no Bluesky handle (no dot): they stay plain text."""
    if "@" not in text:
        return []
    return sorted(
        {
            m.group(1)
            for m in _MENTION.finditer(text)
            if not _HANDLE.fullmatch(m.group(1).rstrip("."))
        }
    )
