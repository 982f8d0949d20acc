"""X's weighted length of a post (twitter-text version 3).

X does not count characters: it weighs them.  Text is first put in Unicode
normal form C.  Every link counts as 23 whatever its length; an emoji sequence
(a family, a flag, a skin tone...) counts 2; other characters count 1 inside
a few "light" ranges (Latin, Greek, Cyrillic, Hebrew, Arabic, Indic scripts,
common punctuation) and 2 everywhere else (CJK, most symbols, "…" and "€").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

from megaphone.text.extract import INVALID_CHARS, Entity, extract_emoji, extract_urls
from megaphone.text.unicode import nfc


@dataclass(frozen=True, slots=True)
class CountConfig:
    """How a network weighs text.  The defaults are X's (twitter-text v3)."""

    max_weighted_length: int = 280
    scale: int = 100
    default_weight: int = 200
    light_weight: int = 100
    light_ranges: tuple[tuple[int, int], ...] = (
        (0x0000, 0x10FF),
        (0x2000, 0x200D),
        (0x2010, 0x201F),
        (0x2032, 0x2037),
    )
    transformed_url_length: int = 23
    emoji_parsing: bool = True


X_CONFIG = CountConfig()


class TextCount(NamedTuple):
    """The outcome of weighing one text.  (A named tuple: it is made once per
    text in the hot loop of validation.)"""

    weighted_length: int
    max_length: int
    valid: bool
    #: The text as X sees it (NFC); offsets below index into it.
    normalized: str
    #: How many characters of ``normalized`` fit within the limit.
    valid_end: int
    urls: list[Entity]
    has_invalid_characters: bool

    @property
    def over_by(self) -> int:
        return max(self.weighted_length - self.max_length, 0)

    @property
    def permillage(self) -> int:
        return self.weighted_length * 1000 // self.max_length


@cache
def _heavy_pattern(config: CountConfig) -> re.Pattern[str]:
    """Runs of characters outside the light ranges (a run, not each one: a
    text in CJK is one run or a few)."""
    light = "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in config.light_ranges)
    return re.compile(f"[^{light}]+")


@cache
def _beyond_light(config: CountConfig) -> re.Pattern[str]:
    """A character past the first light range (every one below it is light)."""
    lo, hi = config.light_ranges[0] if config.light_ranges else (1, -1)
    start = hi + 1 if lo == 0 else 0
    return re.compile(f"[\\U{start:08x}-\\U0010ffff]")


@cache
def _plain_weights(config: CountConfig) -> dict[str, int]:
    """What each emoji sequence seen so far changes of the plain weight of
    its characters (its weight, less theirs)."""
    return {}


def _first_invalid(text: str, start: int = 0) -> int:
    """Where the first character X refuses stands (U+FEFF, U+FFFE, U+FFFF), or -1."""
    first = -1
    for c in INVALID_CHARS:
        i = text.find(c, start)
        if i >= 0 and (first < 0 or i < first):
            first = i
    return first


def _weight(text: str, heavy: re.Pattern[str], config: CountConfig, start: int = 0) -> int:
    """Scaled weight of plain characters (no links or emoji); those before
    ``start`` are known to be light."""
    if text.isascii():
        return len(text) * config.light_weight
    n_heavy = sum(map(len, heavy.findall(text, start)))
    return (len(text) - n_heavy) * config.light_weight + n_heavy * config.default_weight


#: Each configuration's patterns and the plain weights of its emoji, by the
#: configuration's identity: hashing a configuration (its ranges) on every
#: text would cost more than the lookups it saves.
_Tables = tuple[re.Pattern[str], re.Pattern[str], dict[str, int], bool]
_TABLES: dict[int, tuple[CountConfig, _Tables]] = {}


def _tables(config: CountConfig) -> _Tables:
    """The heavy runs' pattern, the pattern of a character past the first
    light range, the emoji's plain weights, and whether emoji marks and
    invalid characters all lie past that range (as on X)."""
    found = _TABLES.get(id(config))
    if found is None or found[0] is not config:
        lo, hi = config.light_ranges[0] if config.light_ranges else (1, -1)
        made = (
            _heavy_pattern(config),
            _beyond_light(config),
            _plain_weights(config),
            lo == 0 and hi < 0x200D,
        )
        found = _TABLES[id(config)] = (config, made)
    return found[1]


def count(text: str, config: CountConfig = X_CONFIG) -> TextCount:
    """Weigh ``text`` as the network will."""
    url_weight = config.transformed_url_length * config.scale
    invalid = False
    bad = -1
    first = len(text)  # where the first character past the first light range is
    heavy: re.Pattern[str] | None = None
    if text.isascii():
        # Every ASCII character is light; no emoji and no invalid character
        # can hide in ASCII, and links never overlap one another.
        urls = extract_urls(text)
        scaled = len(text) * config.light_weight
        for u in urls:
            scaled += url_weight - (u.end - u.start) * config.light_weight
        taken = [(u, url_weight) for u in urls]
    else:
        text = nfc(text)
        urls = extract_urls(text)
        heavy, beyond_light, plain, marks_beyond = _tables(config)
        # A text with no character past the first light range (U+1100 on X)
        # is all light, and holds no emoji sequence and no invalid character:
        # one search rules all of that out.
        found = beyond_light.search(text)
        beyond = found is not None
        # Every character before it is light: no heavy run, no emoji mark and
        # no invalid character is looked for there (each of those is past
        # U+200C, beyond X's first light range).
        first = found.start() if found is not None else len(text)
        marks_from = first if marks_beyond else 0
        scaled = _weight(text, heavy, config, first) if beyond else len(text) * config.light_weight
        # (Where the first light range holds them, they are looked for anyway.)
        looked = beyond or not marks_beyond
        bad = _first_invalid(text, marks_from) if looked else -1
        invalid = bad >= 0
        emoji = extract_emoji(text, marks_from) if config.emoji_parsing and looked else []
        if not emoji:
            taken = [(u, url_weight) for u in urls]
            for u in urls:
                scaled += url_weight - _weight(text[u.start : u.end], heavy, config)
        elif not urls:
            # Emoji only: they never overlap, and the same few come back,
            # each with what it changes of the plain weight kept.
            weight = config.default_weight
            for e in emoji:
                change = plain.get(e.text)
                if change is None:
                    change = plain[e.text] = weight - _weight(e.text, heavy, config)
                scaled += change
            taken = [(e, weight) for e in emoji]
        else:
            entities = [(u, url_weight) for u in urls]
            weight = config.default_weight
            entities.extend([(e, weight) for e in emoji])
            # At one position a link wins over an emoji.
            entities.sort(key=lambda pair: (pair[0].start, pair[0].kind != "url"))
            taken = []
            pos = 0
            for entity, weight in entities:
                if entity.start < pos:
                    continue  # inside an entity already counted
                if entity.kind == "emoji":
                    change = plain.get(entity.text)
                    if change is None:
                        change = plain[entity.text] = weight - _weight(entity.text, heavy, config)
                else:
                    change = weight - _weight(text[entity.start : entity.end], heavy, config)
                scaled += change
                taken.append((entity, weight))
                pos = entity.end

    limit = config.max_weighted_length * config.scale
    if scaled <= limit and not invalid:
        valid_end = len(text)
    else:
        valid_end = _valid_end(
            text, taken, heavy or _heavy_pattern(config), config, limit, bad, first
        )
    weighted = scaled // config.scale
    return tuple.__new__(  # TextCount, once per text: a constructor call fewer
        TextCount,
        (
            weighted,
            config.max_weighted_length,
            not invalid and 0 < weighted <= config.max_weighted_length,
            text,
            valid_end,
            urls,
            invalid,
        ),
    )


def _valid_end(
    text: str,
    taken: list[tuple[Entity, int]],
    heavy: re.Pattern[str],
    config: CountConfig,
    limit: int,
    bad: int,
    first: int = 0,
) -> int:
    """Where the part of the text that fits ends: before the first unit (a
    character, a link, an emoji) that goes over the limit, or before the
    first invalid character.  Weights are positive, so the text is taken a
    stretch at a time: a stretch of plain characters between two entities
    as far as it fits, then the entity.  (``bad``: where the first invalid
    character is, or -1; ``first``: no heavy character stands before it.)"""
    stop = bad if bad >= 0 else len(text)
    budget = limit
    pos = 0
    for entity, weight in [*taken, (None, 0)]:
        plain_end = stop if entity is None else min(entity.start, stop)
        if pos < plain_end:
            pos, budget = _fit(text, pos, plain_end, budget, heavy, config, first)
            if pos < plain_end:
                return pos
        if entity is None or entity.start >= stop:
            return pos
        budget -= weight
        if budget < 0:
            return pos
        pos = entity.end
    return pos


def _fit(
    text: str,
    start: int,
    end: int,
    budget: int,
    heavy: re.Pattern[str],
    config: CountConfig,
    first: int = 0,
) -> tuple[int, int]:
    """How far into ``text[start:end]`` (plain characters) the weight stays
    within ``budget``, and what is left of it: stretches of light characters
    and runs of heavy ones, each taken whole while it fits."""
    light, dense = config.light_weight, config.default_weight
    pos = start
    runs = () if text.isascii() or first >= end else heavy.finditer(text, max(start, first), end)
    for run in runs:
        a, b = run.span()
        if (a - pos) * light > budget:
            return pos + budget // light, 0
        budget -= (a - pos) * light
        if (b - a) * dense > budget:
            return a + budget // dense, 0
        budget -= (b - a) * dense
        pos = b
    if (end - pos) * light > budget:
        return pos + budget // light, 0
    return end, budget - (end - pos) * light
