"""Find links, hashtags, mentions and emoji in post text the way X does.

The rules follow the public twitter-text specification (version 3) and are
checked against its conformance data.  Offsets are code-point indices into the
string given (Python string indices), end-exclusive.

Patterns are compiled on first use, so importing this module costs nothing.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterator

# Character groups of the specification.
SPACES = "\t-\r \x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
INVALID_CHARS = "\ufffe\ufeff\uffff"
DIRECTIONAL_MARKS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
ASCII_PUNCTUATION = r"\-_!\"#$%&'/()*+,.:;<=>?@\[\]^`{|}~"
LATIN_ACCENTS = (
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257"
    "\u0259\u025b\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
CYRILLIC = "\u0400-\u04ff"

MAX_URL_LENGTH = 4096
MAX_TCO_SLUG_LENGTH = 40
MAX_DOMAIN_LABEL_LENGTH = 63


class Entity(NamedTuple):
    """A span of text that X treats specially.  (A named tuple rather than a
    dataclass: entities are made in the hot loop of validation.)"""

    kind: str  # "url", "hashtag", "mention" or "emoji"
    text: str  # the URL, the tag without '#', the name without '@', the emoji
    start: int
    end: int


# --------------------------------------------------------------------------- URLs


@cache
def _url_patterns() -> tuple[re.Pattern[str], ...]:
    from megaphone.text._tlds import TLD_PATTERN

    dc = f"[^{ASCII_PUNCTUATION}{SPACES}{INVALID_CHARS}{DIRECTIONAL_MARKS}]"
    # A label runs up to the dot that ends it, so it is matched atomically:
    # backtracking inside a label can never help and would only cost time.
    subdomain = rf"(?>{dc}+(?:[_-]+{dc}+)*)\."
    domain_name = rf"(?>{dc}+(?:-+{dc}+)*)\."
    tld = rf"(?:{TLD_PATTERN})(?=[^0-9a-z@+-]|$)"
    punycode = r"xn--[-0-9a-z]+"
    domain = rf"(?:{subdomain})*{domain_name}(?:{tld}|{punycode})"

    path_char = rf"[a-z{CYRILLIC}0-9!*';:=+,.$/%#\[\]\-\u2013_~&|@{LATIN_ACCENTS}]"
    parens = rf"\((?:{path_char}+|{path_char}*\({path_char}+\){path_char}*)\)"
    path_end = rf"(?:[+\-a-z{CYRILLIC}0-9=_#/{LATIN_ACCENTS}]|{parens})"
    path = rf"(?:{path_char}*(?:{parens}{path_char}*)*{path_end}|{path_char}+/)"
    query_char = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
    query_end = r"[a-z0-9\-_&=#/]"

    preceding = f"(?:[^A-Za-z0-9@\uff20$#\uff03{INVALID_CHARS}]|^)"
    url = re.compile(
        rf"(?P<before>{preceding})"
        rf"(?P<url>(?P<protocol>https?://)?(?P<domain>{domain})(?::[0-9]+)?"
        rf"(?P<path>/{path}*)?(?:\?{query_char}*{query_end})?)",
        re.IGNORECASE,
    )
    ascii_domain = re.compile(
        rf"(?:[\-a-z0-9{LATIN_ACCENTS}]+\.)+(?:{tld}|{punycode})", re.IGNORECASE
    )
    tco = re.compile(rf"https?://t\.co/([a-z0-9]+)(?:\?{query_char}*{query_end})?", re.IGNORECASE)
    # Spaces other than ' ' and '\n', folded to ' ' to find where words end.
    other_spaces = re.compile(f"[{SPACES.replace(' ', '').replace(chr(10), '')}]")
    return url, ascii_domain, tco, other_spaces


def _host_is_valid(url: str, protocol: str, domain: str) -> bool:
    """The domain converts to ASCII (IDNA) with labels of at most 63 characters,
    and the whole link stays under X's maximum length."""
    if domain.isascii():
        ascii_domain = domain
        if len(domain) > MAX_DOMAIN_LABEL_LENGTH and any(
            len(label) > MAX_DOMAIN_LABEL_LENGTH for label in domain.split(".")
        ):
            return False
    else:
        try:
            ascii_domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return False
    return len(protocol) + len(url) + len(ascii_domain) - len(domain) <= MAX_URL_LENGTH


def _urls_in(text: str, pos: int, endpos: int) -> Iterator[Entity]:
    url_re, ascii_domain_re, tco_re = _url_patterns()[:3]
    while pos < endpos and (m := url_re.search(text, pos, endpos)) is not None:
        # A match that is then rejected still consumes its text, as in
        # twitter-text; the search goes on after it either way.
        pos = m.end()
        url, protocol, domain = m.group("url", "protocol", "domain")
        start, end = m.start("url"), pos
        if not _host_is_valid(url, protocol or "https://", domain):
            continue
        if protocol:
            p = len(protocol)
            tco = tco_re.match(url) if url[p : p + 5].lower() == "t.co/" else None
            if tco:
                if len(tco[1]) > MAX_TCO_SLUG_LENGTH:
                    continue
                url, end = tco[0], start + tco.end()
            yield Entity("url", url, start, end)
            continue
        # A link without protocol: only ASCII domains count, and never one that
        # follows '-', '_', '.' or '/'.
        if m["before"] and m["before"] in "-_./":
            continue
        last: Entity | None = None
        for am in ascii_domain_re.finditer(domain):
            if last is not None:
                yield last
            last = Entity("url", am[0], start + am.start(), start + am.end())
        if last is None:
            continue
        if m["path"]:
            last = Entity("url", last.text + url[len(domain) :], last.start, end)
        yield last


def _find(text: str, sub: str, start: int, default: int) -> int:
    i = text.find(sub, start)
    return default if i < 0 else i


_NOT_DOMAIN_CHARS = frozenset(
    "-_!\"#$%&'/()*+,.:;<=>?@[]^`{|}~\t\n\x0b\x0c\r \x85\xa0\u1680\u180e\u2028\u2029"
    "\u202f\u205f\u3000\u061c\u200e\u200f\u2066\u2067\u2068\u2069"
    + INVALID_CHARS
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "".join(map(chr, range(0x202A, 0x202F)))
)


def extract_urls(text: str) -> list[Entity]:
    """Links in ``text``, as X finds them (with or without ``http(s)://``)."""
    dot = text.find(".")
    if dot < 0:
        return []
    # A link never spans a space, and its domain has a dot that a domain
    # character follows: only the words holding such a dot are searched.
    flat = text
    if not text.isascii() or "\t" in text or "\r" in text or "\x0b" in text or "\x0c" in text:
        flat = _url_patterns()[3].sub(" ", text)
    n = len(text)
    found: list[Entity] = []
    while dot >= 0:
        if dot + 1 >= n or text[dot + 1] in _NOT_DOMAIN_CHARS:
            dot = text.find(".", dot + 1)
            continue
        start = max(flat.rfind(" ", 0, dot), flat.rfind("\n", 0, dot)) + 1
        end = min(_find(flat, " ", dot, n), _find(flat, "\n", dot, n))
        # Start one character early: the space before the word is the
        # "preceding character" that the pattern looks at.
        found.extend(_urls_in(text, max(start - 1, 0), end))
        dot = text.find(".", end)
    return found


def extract_urls_reference(text: str) -> list[Entity]:
    """The same as :func:`extract_urls`, scanning the whole text at once.

    Slower; kept as the plain statement of the rule that the fast version is
    tested against."""
    return list(_urls_in(text, 0, len(text)))


# ---------------------------------------------------------------------- hashtags


@cache
def _hashtag_pattern() -> Any:
    import regex

    alpha = r"\p{L}\p{M}"
    alnum = (
        alpha + r"\p{Nd}_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c"
        r"\u30a0\u30fb\u3003\u0f0b\u0f0c\u00b7"
    )
    return regex.compile(
        rf"(?:(?<=[\ufe0e\ufe0f])|(?<![{alnum}&]))"
        rf"[#\uff03](?![\ufe0f\u20e3])(?P<tag>[{alnum}]*[{alpha}][{alnum}]*+)"
        rf"(?![#\uff03]|://)"
    )


def extract_hashtags(text: str, *, urls: list[Entity] | None = None) -> list[Entity]:
    """Hashtags in ``text`` (without the ``#``), leaving out any inside a link."""
    signs = _positions(text, "#\uff03")
    if not signs:
        return []
    pattern = _hashtag_pattern()
    tags = []
    for i in signs:
        # Matching only where a '#' stands finds the same as scanning the
        # whole text: a hashtag holds no '#', so matches never overlap.
        m = pattern.match(text, i)
        if m is not None:
            tags.append(Entity("hashtag", m["tag"], i, m.end()))
    if tags:
        tags = _outside(tags, extract_urls(text) if urls is None else urls)
    return tags


def extract_hashtags_reference(text: str) -> list[Entity]:
    """:func:`extract_hashtags` by a scan of the whole text (for tests)."""
    tags = [
        Entity("hashtag", m["tag"], m.start(), m.end()) for m in _hashtag_pattern().finditer(text)
    ]
    return _outside(tags, extract_urls(text))


def _positions(text: str, chars: str) -> list[int]:
    """Where any of ``chars`` stands in ``text``, in order."""
    found: list[int] = []
    for ch in chars:
        i = text.find(ch)
        while i >= 0:
            found.append(i)
            i = text.find(ch, i + 1)
    if len(chars) > 1:
        found.sort()
    return found


def _outside(entities: list[Entity], urls: list[Entity]) -> list[Entity]:
    if not urls:
        return entities
    return [e for e in entities if not any(u.start < e.end and e.start < u.end for u in urls)]


# ---------------------------------------------------------------------- mentions


@cache
def _mention_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    at = "@\uff20"
    mention = re.compile(
        rf"(?:^|[^a-zA-Z0-9_!#$%&*{at}]|(?:^|[^a-zA-Z0-9_+~.-])(?:rt|RT|rT|Rt):?)"
        rf"[{at}](?P<name>[a-zA-Z0-9_]{{1,20}})(?P<list>/[a-zA-Z][a-zA-Z0-9_\-]{{0,24}})?"
    )
    end = re.compile(rf"[{at}{LATIN_ACCENTS}]|://")
    return mention, end


def extract_mentions(text: str, *, lists: bool = False) -> list[Entity]:
    """@mentions in ``text`` (names without the ``@``).

    A ``@user/list`` reference is not a mention; with ``lists`` it is returned
    whole (``user/list``)."""
    mention_re, end_re = _mention_patterns()
    found = []
    last_end = 0
    for at in _positions(text, "@\uff20"):
        if at < last_end:
            continue
        # The same matches as a scan of the whole text, searched only around
        # each '@': what precedes it takes at most 4 characters ("xRT:"), the
        # name and list after it at most 47.
        m = mention_re.search(text, max(last_end, at - 4), at + 48)
        if m is None or m.start("name") - 1 != at:
            continue
        last_end = m.end()
        entity = _mention_entity(text, m, end_re, lists=lists)
        if entity is not None:
            found.append(entity)
    return found


def _mention_entity(
    text: str, m: re.Match[str], end_re: re.Pattern[str], *, lists: bool
) -> Entity | None:
    if end_re.match(text, m.end()):
        return None
    if m["list"]:
        if not lists:
            return None
        return Entity("mention", m["name"] + m["list"], m.start("name") - 1, m.end())
    return Entity("mention", m["name"], m.start("name") - 1, m.end("name"))


def extract_mentions_reference(text: str, *, lists: bool = False) -> list[Entity]:
    """:func:`extract_mentions` by a scan of the whole text (for tests)."""
    mention_re, end_re = _mention_patterns()
    found = (_mention_entity(text, m, end_re, lists=lists) for m in mention_re.finditer(text))
    return [e for e in found if e is not None]


# ------------------------------------------------------------------------- emoji

# Characters below U+00A9 never start an emoji unless a keycap mark follows.
_MAYBE_EMOJI = re.compile("[\u00a9\u00ae\u203c-\U0010ffff]")


@cache
def _emoji_pattern() -> Any:
    import regex

    pictograph = r"[\p{Extended_Pictographic}\p{Emoji_Presentation}]"
    modifier = r"[\U0001F3FB-\U0001F3FF]"
    tags = r"[\U000E0020-\U000E007E]+\U000E007F"
    element = rf"{pictograph}(?:{modifier}|\ufe0f|{tags})*"
    return regex.compile(
        rf"[0-9#*]\ufe0f?\u20e3"
        rf"|[\U0001F1E6-\U0001F1FF]{{2}}"
        rf"|{element}(?:\u200d{element})*"
    )


def extract_emoji(text: str) -> list[Entity]:
    """Emoji *sequences* in ``text``: those of more than one code point, which X
    counts as one character of weight 2 (ZWJ sequences, skin tones, flags,
    keycaps, tag sequences, variation selectors).  A lone pictograph needs no
    entity: its own weight is already 2."""
    if not _MAYBE_EMOJI.search(text):
        return []
    return [
        Entity("emoji", m[0], m.start(), m.end())
        for m in _emoji_pattern().finditer(text)
        if m.end() - m.start() > 1
    ]


# ---------------------------------------------------------------------- validity


def is_valid_hashtag(text: str) -> bool:
    """``#tag`` is, as a whole, one hashtag."""
    tags = extract_hashtags(text)
    return len(tags) == 1 and tags[0].start == 0 and tags[0].end == len(text)


def is_valid_username(text: str) -> bool:
    """``@name`` is, as a whole, one mention."""
    found = extract_mentions(text)
    return len(found) == 1 and found[0].start == 0 and found[0].end == len(text)


def is_valid_list(text: str) -> bool:
    """``@user/list`` is, as a whole, one list reference."""
    found = extract_mentions(text, lists=True)
    return (
        len(found) == 1
        and "/" in found[0].text
        and found[0].start == 0
        and found[0].end == len(text)
    )
