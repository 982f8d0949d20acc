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
    from collections.abc import Iterator, Sequence

# Character groups of the specification.
SPACES = "\t-\r \x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
INVALID_CHARS = "\ufffe\ufeff\uffff"
DIRECTIONAL_MARKS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
#: As in a character class: the backslash is one of them too (twitter-text's
#: ``\\``), so ``\-x.kr`` holds no link.
ASCII_PUNCTUATION = r"\-_!\"#$%&'/()*+,.:;<=>?@\[\\\]^`{|}~"
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

    kind: str  # "url", "hashtag", "mention", "cashtag" or "emoji"
    text: str  # the URL, the tag without '#', the name without '@' or '$', the emoji
    start: int
    end: int


# --------------------------------------------------------------------------- URLs


@cache
def _url_parts() -> dict[str, str]:
    """The pieces of the link grammar, as pattern text.

    Letters are spelt in both cases rather than matched with re.IGNORECASE,
    which is slower and would also let a few non-ASCII letters (the Kelvin
    sign, the long s) pass for ASCII ones, as twitter-text does not."""
    dc = f"[^{ASCII_PUNCTUATION}{SPACES}{INVALID_CHARS}{DIRECTIONAL_MARKS}]"
    path_char = rf"[a-zA-Z{CYRILLIC}0-9!*';:=+,.$/%#\[\]\-\u2013_~&|@{LATIN_ACCENTS}]"
    parens = rf"\((?:{path_char}+|{path_char}*\({path_char}+\){path_char}*)\)"
    path_end = rf"(?:[+\-a-zA-Z{CYRILLIC}0-9=_#/{LATIN_ACCENTS}]|{parens})"
    path = rf"(?:{path_char}*(?:{parens}{path_char}*)*{path_end}|{path_char}+/)"
    query_char = r"[a-zA-Z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
    query_end = r"[a-zA-Z0-9\-_&=#/]"
    protocol = "[hH][tT][tT][pP][sS]?://"
    return {
        # A label runs up to the dot that ends it, so it is matched atomically:
        # backtracking inside a label can never help and would only cost time.
        "subdomain": rf"(?>{dc}+(?:[_-]+{dc}+)*)\.",
        "domain_name": rf"(?>{dc}+(?:-+{dc}+)*)\.",
        "punycode": r"[xX][nN]--[-0-9a-zA-Z]+",
        "preceding": f"(?:[^A-Za-z0-9@\uff20$#\uff03{INVALID_CHARS}]|^)",
        "protocol": protocol,
        "tail": rf"(?::[0-9]+)?(?P<path>/{path}*)?(?:\?{query_char}*{query_end})?",
        "ascii_label": rf"[\-a-zA-Z0-9{LATIN_ACCENTS}]+\.",
        "tco": rf"{protocol}[tT]\.[cC][oO]/([a-zA-Z0-9]+)(?:\?{query_char}*{query_end})?",
    }


@cache
def _reference_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The link grammar as single regular expressions, top-level domains
    spelt out.  The plain statement of the rule, used by tests; compiling the
    1,400-way alternation of domains costs tens of milliseconds."""
    from megaphone.text._tlds import TLD_PATTERN

    p = _url_parts()
    tld = rf"(?i:{TLD_PATTERN})(?=[^0-9a-zA-Z@+-]|$)"
    domain = rf"(?:{p['subdomain']})*{p['domain_name']}(?:{tld}|{p['punycode']})"
    url = re.compile(
        rf"(?P<before>{p['preceding']})"
        rf"(?P<url>(?P<protocol>{p['protocol']})?(?P<domain>{domain}){p['tail']})"
    )
    ascii_domain = re.compile(rf"(?:{p['ascii_label']})+(?:{tld}|{p['punycode']})")
    return url, ascii_domain


class _Fast(NamedTuple):
    head: re.Pattern[str]  # preceding character, protocol, one label or more
    head_at_start: re.Pattern[str]  # the same without a preceding character
    tail: re.Pattern[str]  # port, path, query
    ascii_labels: re.Pattern[str]
    ascii_run: re.Pattern[str]
    punycode: re.Pattern[str]
    tco: re.Pattern[str]
    other_spaces: re.Pattern[str]
    plain_link: re.Pattern[str]  # the common case, see _plain_link
    plain_domain: re.Pattern[str]  # and without protocol, see _plain_domain


_FAST: _Fast | None = None


def _fast() -> _Fast:
    global _FAST
    if _FAST is None:
        _FAST = _compile_fast()
    return _FAST


def _compile_fast() -> _Fast:
    """The link grammar with the top-level domain step done by a set lookup
    (see :func:`_tld_end`); the same matches as :func:`_reference_patterns`."""
    p = _url_parts()
    labels = rf"(?P<labels>(?:{p['subdomain']})+)"
    protocol = rf"(?P<protocol>{p['protocol']})?"
    return _Fast(
        head=re.compile(rf"(?P<before>{p['preceding']}){protocol}{labels}"),
        head_at_start=re.compile(rf"(?P<before>){protocol}{labels}"),
        tail=re.compile(p["tail"]),
        ascii_labels=re.compile(rf"(?:{p['ascii_label']})+"),
        ascii_run=re.compile("[0-9A-Za-z]*"),
        punycode=re.compile(p["punycode"]),
        tco=re.compile(p["tco"]),
        # Spaces other than ' ' and '\n', folded to ' ' to find where words end.
        other_spaces=re.compile(f"[{SPACES.replace(' ', '').replace(chr(10), '')}]"),
        plain_link=re.compile(r"https?://((?:[a-z0-9]+(?:-+[a-z0-9]+)*\.)+)([a-z]+)(?=[/?#]|$)"),
        plain_domain=re.compile(r"((?:[a-z0-9]+(?:-+[a-z0-9]+)*\.)+)([a-z]+)(?=[/?#,;!)\"']|$)"),
    )


_TLD_TABLES: tuple[frozenset[str], frozenset[str], tuple[int, ...], frozenset[str]] | None = None


def _tld_tables() -> tuple[frozenset[str], frozenset[str], tuple[int, ...], frozenset[str]]:
    global _TLD_TABLES
    if _TLD_TABLES is None:
        _TLD_TABLES = _make_tld_tables()
    return _TLD_TABLES


def _make_tld_tables() -> tuple[frozenset[str], frozenset[str], tuple[int, ...], frozenset[str]]:
    from megaphone.text._tlds import TLDS

    unicode_tlds = frozenset(t for t in TLDS if not t.isascii())
    lengths = tuple(sorted({len(t) for t in unicode_tlds}, reverse=True))
    # What may not follow a top-level domain.
    not_after = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ@+-")
    return TLDS, unicode_tlds, lengths, not_after


def _tld_end(text: str, q: int, endpos: int) -> int:
    """Where a top-level domain (or a punycode label) starting at ``q`` ends,
    or -1.  Like the alternation it replaces, the longest domain that is not
    followed by a letter, digit, '@', '+' or '-' wins."""
    tlds, unicode_tlds, lengths, not_after = _TLD_TABLES or _tld_tables()
    fast = _FAST or _fast()
    run_end = fast.ascii_run.match(text, q, endpos).end()  # type: ignore[union-attr]
    # A domain with a non-ASCII character is longer than the ASCII run before
    # it, so those are tried first.
    if run_end < endpos and not text[run_end].isascii():
        for length in lengths:
            end = q + length
            if (
                run_end < end <= endpos
                and text[q:end].lower() in unicode_tlds
                and (end == endpos or text[end] not in not_after)
            ):
                return end
    # An ASCII domain is followed by no ASCII letter or digit: it is the run.
    if (
        run_end > q
        and (run_end == endpos or text[run_end] not in not_after)
        and text[q:run_end].lower() in tlds
    ):
        return run_end
    puny = fast.punycode.match(text, q, endpos)
    return puny.end() if puny else -1


# A match of the link grammar: the character before it, the protocol, where
# the link starts (its protocol, or its domain), where its domain ends, its
# path, where it ends.
_RawUrl = tuple[str, str | None, int, int, str | None, int]


def _raw_urls_fast(text: str, pos: int, endpos: int) -> list[_RawUrl]:
    """The matches of the link grammar in ``text[pos:endpos]``, as a
    regular-expression scan would find them."""
    fast = _FAST or _fast()
    head = fast.head
    found: list[_RawUrl] = []
    while pos < endpos:
        m = head.search(text, pos, endpos)
        if m is None:
            break
        raw = _complete(text, m, endpos, fast)
        if raw is None and m.start() == 0 and m["before"]:
            # At the very start the pattern may also take no preceding character.
            m0 = fast.head_at_start.match(text, 0, endpos)
            raw = _complete(text, m0, endpos, fast) if m0 else None
        if raw is None:
            pos = m.start() + 1
            continue
        found.append(raw)
        pos = raw[5]
    return found


def _complete(text: str, m: re.Match[str], endpos: int, fast: _Fast) -> _RawUrl | None:
    """Finish a match whose labels are known: the last label that can carry a
    top-level domain after it wins (the greediest split, as backtracking would
    find), then port, path and query."""
    before, protocol, labels = m.group("before", "protocol", "labels")
    end = m.end("labels")
    # Each label ends with its dot and holds no other.
    for label in reversed(labels.split(".")[:-1]):
        after, end = end, end - len(label) - 1
        if "_" in label:
            continue  # the label before the top-level domain may hold no '_'
        domain_end = _tld_end(text, after, endpos)
        if domain_end >= 0:
            tail = fast.tail.match(text, domain_end, endpos)
            assert tail is not None  # every part of the tail is optional
            start = m.start("protocol") if protocol else m.start("labels")
            return (before, protocol, start, domain_end, tail["path"], tail.end())
    return None


def _raw_urls_reference(text: str, pos: int, endpos: int) -> list[_RawUrl]:
    url_re = _reference_patterns()[0]
    return [
        (m["before"], m["protocol"], m.start("url"), m.end("domain"), m["path"], m.end())
        for m in url_re.finditer(text, pos, endpos)
    ]


def _ascii_domains_fast(domain: str) -> Iterator[tuple[int, int]]:
    fast = _FAST or _fast()
    pos, n = 0, len(domain)
    while pos < n and (m := fast.ascii_labels.search(domain, pos)) is not None:
        dots = [i + 1 for i in range(m.start(), m.end()) if domain[i] == "."]
        end = next((e for q in reversed(dots) if (e := _tld_end(domain, q, n)) >= 0), -1)
        if end < 0:
            pos = m.start() + 1
            continue
        yield m.start(), end
        pos = end


def _ascii_domains_reference(domain: str) -> Iterator[tuple[int, int]]:
    for m in _reference_patterns()[1].finditer(domain):
        yield m.start(), m.end()


def _host_is_valid(url: str, protocol: str, domain: str) -> bool:
    """twitter-text's check: each label, in its Punycode form, of 1 to 63
    characters (a domain given as ``xn--`` must hold an ASCII domain), and the link
    under X's maximum length.  No Nameprep or bidirectional rule: a label
    that mixes Arabic and Latin letters is a label to X."""
    if domain.isascii():
        if len(domain) > MAX_DOMAIN_LABEL_LENGTH and any(
            len(label) > MAX_DOMAIN_LABEL_LENGTH for label in domain.split(".")
        ):
            return False
    else:
        if domain[:4] == "xn--" and next(_ascii_domains_fast(domain), None) is None:
            return False
        for label in domain.split("."):
            if label.isascii():
                size = len(label)
            else:
                try:
                    size = 4 + len(label.encode("punycode"))
                except UnicodeError:
                    return False
            if not 0 < size <= MAX_DOMAIN_LABEL_LENGTH:
                return False
    return len(protocol) + len(url) <= MAX_URL_LENGTH


def _urls_in(text: str, pos: int, endpos: int, *, reference: bool = False) -> list[Entity]:
    raws = (_raw_urls_reference if reference else _raw_urls_fast)(text, pos, endpos)
    found: list[Entity] = []
    for before, protocol, start, domain_end, path, end in raws:
        # A match that is then rejected still consumes its text, as in
        # twitter-text; the search goes on after it either way.
        url = text[start:end]
        domain = text[start + len(protocol or "") : domain_end]
        if not _host_is_valid(url, protocol or "https://", domain):
            continue
        if protocol:
            p = len(protocol)
            if url[p : p + 5].lower() == "t.co/":
                tco = _fast().tco.match(url)
                if tco:
                    if len(tco[1]) > MAX_TCO_SLUG_LENGTH:
                        continue
                    url, end = tco[0], start + tco.end()
            found.append(Entity("url", url, start, end))
            continue
        # A link without protocol: only ASCII domains count, and never one that
        # follows '-', '_', '.' or '/'.
        if before and before in "-_./":
            continue
        spans = list((_ascii_domains_reference if reference else _ascii_domains_fast)(domain))
        if not spans:
            continue
        for a_start, a_end in spans[:-1]:
            found.append(Entity("url", domain[a_start:a_end], start + a_start, start + a_end))
        a_start, a_end = spans[-1]
        if path:  # the rest of the link goes with the last domain
            text_ = domain[a_start:a_end] + url[len(domain) :]
            found.append(Entity("url", text_, start + a_start, end))
        else:
            found.append(Entity("url", domain[a_start:a_end], start + a_start, start + a_end))
    return found


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
        flat = _fast().other_spaces.sub(" ", text)
    n = len(text)
    lines = "\n" in flat
    found: list[Entity] = []
    while dot >= 0:
        if dot + 1 >= n or text[dot + 1] in _NOT_DOMAIN_CHARS:
            dot = text.find(".", dot + 1)
            continue
        # The word around the dot: from after a space or a line break to
        # the next one.
        start = flat.rfind(" ", 0, dot) + 1
        end = flat.find(" ", dot)
        if end < 0:
            end = n
        if lines:
            start = max(start, flat.rfind("\n", 0, dot) + 1)
            line_end = flat.find("\n", dot, end)
            if line_end >= 0:
                end = line_end
        link = _plain_link(text, start, end) if text.startswith("http", start) else None
        after = link.end if link is not None else 0
        if link is None and (bare := _plain_domain(text, start, end)) is not None:
            link, after = bare
        if link is not None:
            found.append(link)
            if after < end:
                found.extend(_urls_in(text, after, end))
        else:
            # Start one character early: the space before the word is the
            # "preceding character" that the pattern looks at.
            found.extend(_urls_in(text, max(start - 1, 0), end))
        dot = text.find(".", end)
    return found


def _plain_match(
    pattern: re.Pattern[str], text: str, start: int, end: int
) -> tuple[re.Match[str], int, bool] | None:
    """A word's link of the plainest form by ``pattern`` (its labels, then
    its top-level domain), where the port, path and query after it end, and
    whether there is a path; None when the top-level domain is not known, it
    is t.co (its own rule) or the labels are long: the general matcher takes
    those."""
    m = pattern.match(text, start, end)
    if m is None:
        return None
    labels, tld = m.group(1, 2)
    tlds = (_TLD_TABLES or _tld_tables())[0]
    if tld not in tlds or (labels == "t." and tld == "co") or len(labels) + len(tld) > 63:
        return None
    after = m.end()
    if after == end:
        return m, end, False
    if _SIMPLE_PATH.fullmatch(text, after, end):
        # A path of only characters that may also end one: all of it, as
        # the general tail pattern would find after its backtracking.
        return m, end, True
    tail = (_FAST or _fast()).tail.match(text, after, end)
    assert tail is not None  # every part of the tail is optional
    return m, tail.end(), tail["path"] is not None


#: A path whose every character may stand anywhere in a path, last included.
_SIMPLE_PATH = re.compile(r"/[A-Za-z0-9/_=+\-]*")


def _plain_link(text: str, start: int, end: int) -> Entity | None:
    """The link a word that starts with "http" starts with, when it has the
    plainest form: a lower-case ``http(s)://``, ASCII labels and a known
    top-level domain, then a path or nothing.  For those the general matcher
    finds exactly this; anything else (None) goes to it."""
    found = _plain_match((_FAST or _fast()).plain_link, text, start, end)
    if found is None:
        return None
    m, stop, _ = found
    protocol_length = m.start(1) - start
    if protocol_length + stop - start > MAX_URL_LENGTH:
        return None  # over X's limit on the length of a link: the general way
    return tuple.__new__(Entity, ("url", text[start:stop], start, stop))  # hot: see Loc


def _plain_domain(text: str, start: int, end: int) -> tuple[Entity, int] | None:
    """The link a word starts with when it is a bare domain of the plainest
    form (lower-case ASCII labels and a known top-level domain, then the end
    of the word, a path, a query or fragment, or a punctuation mark), and
    where the matcher goes on after it.  For those the general matcher finds
    exactly this (it is tested against it); anything else (None) goes to it."""
    first = text[start] if start < end else ""
    if not ("a" <= first <= "z" or "0" <= first <= "9"):
        return None
    found = _plain_match((_FAST or _fast()).plain_domain, text, start, end)
    if found is None:
        return None
    m, tail_end, has_path = found
    if len("https://") + tail_end - start > MAX_URL_LENGTH:
        return None
    # Without a protocol the rest of the link goes with it only after a
    # path; a query alone is passed over all the same.
    stop = tail_end if has_path else m.end()
    return tuple.__new__(Entity, ("url", text[start:stop], start, stop)), tail_end


def extract_urls_reference(text: str) -> list[Entity]:
    """The same as :func:`extract_urls`, scanning the whole text at once.

    Slower; kept as the plain statement of the rule that the fast version is
    tested against."""
    return _urls_in(text, 0, len(text), reference=True)


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


@cache
def _ascii_hashtag_pattern() -> re.Pattern[str]:
    """The hashtag rule restricted to ASCII text, where letters, marks and
    digits are just [A-Za-z0-9]: the same matches without the regex module."""
    return re.compile(r"(?<![A-Za-z0-9_&])#(?P<tag>[A-Za-z0-9_]*[A-Za-z][A-Za-z0-9_]*+)(?![#]|://)")


def extract_hashtags(text: str, *, urls: Sequence[Entity] | None = None) -> list[Entity]:
    """Hashtags in ``text`` (without the ``#``), leaving out any inside a link."""
    ascii_only = text.isascii()
    if ascii_only:
        sign = text.find("#")
        if sign < 0:
            return []
        signs = [sign] if text.find("#", sign + 1) < 0 else _positions(text, "#")
    elif "#" not in text and "\uff03" not in text:
        return []
    else:
        signs = _positions(text, "#\uff03")
    ascii_pattern = _ascii_hashtag_pattern()
    tags = []
    for i in signs:
        # Matching only where a '#' stands finds the same as scanning the
        # whole text: a hashtag holds no '#', so matches never overlap.
        if ascii_only or _ascii_around(text, i):
            m = ascii_pattern.match(text, i)
        else:
            m = _hashtag_pattern().match(text, i)
        if m is not None:
            tags.append(tuple.__new__(Entity, ("hashtag", m["tag"], i, m.end())))
    if tags:
        links = extract_urls(text) if urls is None else urls
        for u in links:
            if "#" in u.text or "\uff03" in u.text:  # see _outside
                return _outside(tags, links)
    return tags


_TAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _ascii_around(text: str, i: int) -> bool:
    """Whether the ASCII rule decides the hashtag at ``i`` as the Unicode one
    would: what precedes the '#', what follows it, and what ends its run of
    ASCII tag characters are all ASCII.  (Then the regex module, and its
    Unicode tables, are not needed for this '#'.)"""
    if text[i] != "#" or (i and not text[i - 1].isascii()):
        return False
    end = i + 1
    n = len(text)
    while end < n and text[end] in _TAG_CHARS:
        end += 1
    return (i + 1 == n or text[i + 1].isascii()) and (end == n or text[end].isascii())


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


def _outside(entities: list[Entity], urls: Sequence[Entity]) -> list[Entity]:
    """The hashtags not overlapped by a link that starts before them: of two
    entities that overlap, the one that starts first is kept (and a link
    that a hashtag overlaps is dropped, so a tag further inside it stands).
    Only a link with a '#' in it can start before a hashtag it overlaps."""
    urls = [u for u in urls if "#" in u.text or "\uff03" in u.text]
    if not urls:
        return entities
    kept: list[Entity] = []
    end = -1
    for e in sorted([*entities, *urls], key=lambda e: e.start):
        if e.start >= end:
            kept.append(e)
            end = e.end
    return [e for e in kept if e.kind != "url"]


# ---------------------------------------------------------------------- cashtags

#: The punctuation that may follow a cashtag (twitter-text's ``punct``).
_CASHTAG_PUNCT = r"!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$"


@cache
def _cashtag_pattern() -> re.Pattern[str]:
    return re.compile(
        rf"(?:^|(?<=[{SPACES}]))\$(?P<tag>[a-zA-Z]{{1,6}}(?:[._][a-zA-Z]{{1,2}})?)"
        rf"(?=$|[\s\ufeff]|[{_CASHTAG_PUNCT}])"
    )


def extract_cashtags(text: str) -> list[Entity]:
    """Cashtags in ``text`` (``$UTLA``; the symbol without the ``$``): up to six
    letters, and a class of up to two after a dot or an underscore, after a
    space or at the start, X links them to a search."""
    if "$" not in text:
        return []
    return [
        Entity("cashtag", m["tag"], m.start(), m.end()) for m in _cashtag_pattern().finditer(text)
    ]


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
    if "@" not in text and "\uff20" not in text:
        return []
    # The same text is often asked twice in a row (a network's own check,
    # then the project's limit on mentions): the last answer is kept.
    last = _last_mentions
    if last[0] is text and last[1] == lists:
        return list(last[2])
    mention_re, end_re = _mention_patterns()
    found = []
    last_end = 0
    for at in _positions(text, "@" if text.isascii() else "@\uff20"):
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
    _remember_mentions(text, lists, found)
    return found


_last_mentions: tuple[str | None, bool, tuple[Entity, ...]] = (None, False, ())


def _remember_mentions(text: str, lists: bool, found: list[Entity]) -> None:
    # One tuple, replaced whole: a thread never reads half of another's.
    global _last_mentions
    _last_mentions = (text, lists, tuple(found))


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


class _EmojiTable(NamedTuple):
    sequences: frozenset[str]
    #: For each first code point, the lengths of the sequences it starts,
    #: longest first.
    lengths: dict[str, tuple[int, ...]]
    #: What looks like one emoji: a keycap, two regional indicators, or
    #: pictographs with their marks, joined by zero-width joiners.
    clusters: re.Pattern[str]


_EMOJI: _EmojiTable | None = None


def _emoji_table() -> _EmojiTable:
    """Unicode's emoji sequences (see scripts/gen_emoji.py), loaded the
    first time a text may hold one."""
    global _EMOJI
    if _EMOJI is None:
        from megaphone.text._emoji import SEQUENCES

        lengths: dict[str, set[int]] = {}
        for seq in SEQUENCES:
            lengths.setdefault(seq[0], set()).add(len(seq))
        _EMOJI = _EmojiTable(
            SEQUENCES,
            {first: tuple(sorted(n, reverse=True)) for first, n in lengths.items()},
            re.compile(_CLUSTER),
        )
    return _EMOJI


def _cluster_pattern() -> str:
    """What looks like one emoji sequence, as a pattern.

    Only what is more than one code point: a lone pictograph is weighed as a
    character.  Where every pictograph of a sequence lies is a few ranges,
    quick to test, where the exact set is hundreds: what a cluster holds is
    looked up in the table anyway.  The pattern starts with one character
    class, so the engine passes over the text between clusters in one loop
    of C; a second character that no sequence has ends a try at once; the
    quantifiers give nothing back (what follows a cluster never needs it),
    so a try never backtracks.  A regional indicator is a pictograph but is
    never joined: a flag after a joiner is a flag of its own."""
    ri = "\U0001f1e6-\U0001f1ff"
    first = "\u00a9\u00ae\u203c-\u3299\U0001f000-\U0001faff"
    joined = "\u00a9\u00ae\u203c-\u3299\U0001f000-\U0001f1e5\U0001f200-\U0001faff"
    tags = "\U000e0020-\U000e007e"
    mark = f"(?:[\U0001f3fb-\U0001f3ff\ufe0f]|[{tags}]++\U000e007f)"
    element = f"[{joined}]{mark}*+"
    return (
        f"[0-9#*{first}](?=[{BMP_MARKS}{ri}\U0001f3fb-\U0001f3ff{tags}])"
        f"(?:(?<=[{ri}])[{ri}]"  # two regional indicators
        f"|(?<=[{first}])(?:{mark}++(?:\u200d{element})*+|(?:\u200d{element})++)"
        "|(?<=[0-9#*])\ufe0f?\u20e3)"  # a keycap
    )


#: The most code points an emoji sequence holds (the table says so too).
LONGEST = 10

#: The marks of emoji sequences below U+10000: an emoji selector, a joiner,
#: a keycap mark.  (The others, skin tones, regional indicators and tags,
#: lie past U+FFFF.)
BMP_MARKS = "\ufe0f\u200d\u20e3"

#: No emoji sequence can hide in a text without one of these: an emoji
#: selector, a joiner, a keycap mark, a skin tone, a regional indicator or a
#: tag (each sequence has at least one).
SEQUENCE_MARK = re.compile(
    f"[{BMP_MARKS}\U0001f3fb-\U0001f3ff\U0001f1e6-\U0001f1ff\U000e0020-\U000e007f]"
)
_CLUSTER = _cluster_pattern()


def extract_emoji(text: str, start: int = 0) -> list[Entity]:
    """The emoji *sequences* in ``text`` that X supports: the fully-qualified
    sequences of Unicode's emoji data (ZWJ sequences, skin tones, flags,
    keycaps, tag sequences, presentation sequences), each counted as one
    character of weight 2.  Anything else is counted by its parts: a chain of
    pictographs that no sequence names, a skin tone after a pictograph that
    takes none, an extra emoji selector, two regional indicators that are no
    flag.  At each place the longest sequence that starts there wins, as in
    twitter-text (a flag may start at the second of three regional
    indicators).  A lone pictograph needs no entity: its own weight is
    already 2.

    What looks like one emoji is found by one pattern, from the text's first
    mark; nearly always it is a sequence of the table as a whole, else the
    longest sequences in it are looked for one place after another.
    (``start``: no mark stands before it.)"""
    if text.isascii():
        return []
    first = SEQUENCE_MARK.search(text, start)
    if first is None:
        return []
    table = _EMOJI or _emoji_table()
    sequences = table.sequences
    search = table.clusters.search
    found: list[Entity] = []
    # Every cluster holds a mark, at most two code points after its start
    # (a keycap's): the text before the first mark is never scanned.
    m = search(text, max(0, first.start() - 2))
    while m is not None:
        cluster = m[0]
        at, end = m.span()
        if cluster in sequences:  # nearly always: the cluster is one sequence
            found.append(tuple.__new__(Entity, ("emoji", cluster, at, end)))
        elif end - at == 2 and "\U0001f1e6" <= cluster[1] <= "\U0001f1ff":
            end = at + 1  # two regional indicators and no flag: one may start at the second
        else:
            _sequences_in(text, at, end, table, found)
        m = search(text, end)
    return found


def _sequences_in(text: str, start: int, end: int, table: _EmojiTable, found: list[Entity]) -> None:
    """The longest sequences in a cluster that is none as a whole, one place
    after another."""
    sequences = table.sequences
    lengths = table.lengths
    i = start
    while i < end - 1:
        for size in lengths.get(text[i], ()):
            if i + size <= end and text[i : i + size] in sequences:
                found.append(Entity("emoji", text[i : i + size], i, i + size))
                i += size
                break
        else:
            i += 1


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
