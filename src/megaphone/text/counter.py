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
    light = "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in config.light_ranges)
    return re.compile(f"[^{light}]")


_INVALID = re.compile(f"[{INVALID_CHARS}]")


def _weight(text: str, heavy: re.Pattern[str], config: CountConfig) -> int:
    """Scaled weight of plain characters (no links or emoji)."""
    if text.isascii():
        return len(text) * config.light_weight
    n_heavy = len(heavy.findall(text))
    return (len(text) - n_heavy) * config.light_weight + n_heavy * config.default_weight


def count(text: str, config: CountConfig = X_CONFIG) -> TextCount:
    """Weigh ``text`` as the network will."""
    url_weight = config.transformed_url_length * config.scale
    invalid = False
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
        heavy = _heavy_pattern(config)
        scaled = _weight(text, heavy, config)
        invalid = _INVALID.search(text) is not None
        entities = [(u, url_weight) for u in urls]
        if config.emoji_parsing:
            emoji = extract_emoji(text)
            if emoji:
                entities.extend((e, config.default_weight) for e in emoji)
                # At one position a link wins over an emoji.
                entities.sort(key=lambda pair: (pair[0].start, pair[0].kind != "url"))
        taken = []
        pos = 0
        for entity, weight in entities:
            if entity.start < pos:
                continue  # inside an entity already counted
            scaled += weight - _weight(text[entity.start : entity.end], heavy, config)
            taken.append((entity, weight))
            pos = entity.end

    limit = config.max_weighted_length * config.scale
    if scaled <= limit and not invalid:
        valid_end = len(text)
    else:
        valid_end = _valid_end(text, taken, heavy or _heavy_pattern(config), config, limit)
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
) -> int:
    """Walk the text unit by unit (a character, a link, an emoji) and return
    where the part that fits ends: before the first unit that goes over the
    limit or the first invalid character."""
    starts = {e.start: (e.end, w) for e, w in taken}
    scaled = 0
    end = 0
    i = 0
    n = len(text)
    while i < n:
        if i in starts:
            nxt, weight = starts[i]
        else:
            nxt = i + 1
            weight = _weight(text[i], heavy, config)
        scaled += weight
        if text[nxt - 1] in INVALID_CHARS:
            break
        if scaled <= limit:
            end = nxt
        i = nxt
    return end
