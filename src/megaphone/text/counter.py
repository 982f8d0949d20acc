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
from typing import TYPE_CHECKING, NamedTuple

from megaphone.text.extract import (
    BMP_MARKS,
    INVALID_CHARS,
    SEQUENCE_MARK,
    Entity,
    extract_emoji,
    extract_urls,
)
from megaphone.text.unicode import nfc

if TYPE_CHECKING:
    from collections.abc import Iterable


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
    return re.compile(f"[^{_char_class(config.light_ranges)}]+")


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


_REFUSED_1, _REFUSED_2, _REFUSED_3 = tuple(INVALID_CHARS)
_FE0F, _ZWJ, _KEYCAP = tuple(BMP_MARKS)


def _first_invalid(text: str, start: int = 0) -> int:
    """Where the first character X refuses stands (U+FEFF, U+FFFE, U+FFFF), or
    -1.  (Asked only of a text that holds one: three searches in C tell.)"""
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


def _char_class(ranges: Iterable[tuple[int, int]]) -> str:
    """The inside of a character class holding ``ranges``."""
    return "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


def _without(ranges: tuple[tuple[int, int], ...], points: set[int]) -> list[tuple[int, int]]:
    """``ranges`` less the code points ``points``."""
    out = []
    for lo, hi in ranges:
        for p in sorted(q for q in points if lo <= q <= hi):
            if lo < p:
                out.append((lo, p - 1))
            lo = p + 1
        if lo <= hi:
            out.append((lo, hi))
    return out


class _Runs:
    """Weighing a text that may hold emoji by its *heavy runs*: stretches of
    characters outside the light ranges, with the joiners that hold a
    sequence together and, in front, the light character a sequence may
    start with (a keycap's digit, ©).  No emoji sequence crosses the edge of
    a run, and what is found in a run does not depend on what stands around
    it, so a text weighs its light characters outside runs plus each run's
    own weight.  A run is short and the same few come back (one emoji, a
    row of them): its weight, less that of as many light characters, is
    kept, and a text is weighed by one pattern's pass and one lookup a run,
    in C, with no entity made.

    (Plain classes with slots, here and below: a named tuple's class costs
    a millisecond to make, at start-up.)"""

    __slots__ = ("after_first", "excess", "pattern")

    def __init__(self, pattern: re.Pattern[str], after_first: bool) -> None:
        self.pattern = pattern
        #: Whether every run lies past the first light range (but for the
        #: light character in front of it).
        self.after_first = after_first
        #: Each run seen: what it weighs more than as many light characters.
        self.excess: dict[str, int] = {}


#: Runs kept at most, and the longest kept: a longer run (a paragraph of CJK
#: with an emoji in it) is weighed anew each time.
_RUNS_KEPT = 4096
_RUN_KEPT_LENGTH = 24


def _runs_tables(config: CountConfig) -> _Runs:
    from megaphone.text._emoji import SEQUENCES

    ranges = config.light_ranges
    light = re.compile(f"[{_char_class(ranges)}]")
    # Light characters inside sequences (X: the joiner), and those that
    # start one (X: keycaps' digits, # and *, © and ®); looked for in C (the
    # table has thousands of sequences, and this is paid at start-up).
    inside = set(map(ord, light.findall("".join(seq[1:] for seq in SEQUENCES))))
    starts = set(map(ord, light.findall("".join(seq[0] for seq in SEQUENCES)))) - inside
    run = f"[^{_char_class(_without(ranges, inside))}]"
    start = _char_class(sorted((p, p) for p in starts))
    # One character class first, so the engine passes over the light text
    # between runs in one loop of C; a starting character counts only
    # before a run's own.
    pattern = re.compile(
        f"[^{_char_class(_without(ranges, inside | starts))}](?<![{start}](?!{run})){run}*+"
        if starts
        else f"{run}++"
    )
    lo, hi = ranges[0] if ranges else (1, -1)
    return _Runs(pattern, not any(lo <= c <= hi for c in inside))


class _Tables:
    """A configuration's patterns and the plain weights of its emoji."""

    __slots__ = ("astral", "beyond", "heavy", "marks_beyond", "plain")

    def __init__(self, config: CountConfig) -> None:
        lo, hi = config.light_ranges[0] if config.light_ranges else (1, -1)
        self.heavy = _heavy_pattern(config)
        #: A character past the first light range.
        self.beyond = _beyond_light(config)
        #: A character past U+FFFF (skin tones, flags' letters and tags are
        #: among them).
        self.astral = re.compile("[\\U00010000-\\U0010ffff]")
        #: Each emoji sequence seen so far: what it changes of its plain weight.
        self.plain = _plain_weights(config)
        #: Whether emoji marks and refused characters all lie past the first
        #: light range (as on X).
        self.marks_beyond = lo == 0 and hi < 0x200D


#: Each configuration's tables, by the configuration's identity: hashing a
#: configuration (its ranges) on every text would cost more than the lookups
#: it saves.
_TABLES: dict[int, tuple[CountConfig, _Tables]] = {}
_RUNS: dict[int, tuple[CountConfig, _Runs]] = {}


def _tables(config: CountConfig) -> _Tables:
    found = _TABLES.get(id(config))
    if found is None or found[0] is not config:
        found = _TABLES[id(config)] = (config, _Tables(config))
    return found[1]


def _runs(config: CountConfig) -> _Runs:
    """The heavy runs' tables, made the first time a text may hold emoji."""
    found = _RUNS.get(id(config))
    if found is None or found[0] is not config:
        found = _RUNS[id(config)] = (config, _runs_tables(config))
    return found[1]


def _sequence_change(sequence: str, tables: _Tables, config: CountConfig) -> int:
    """What an emoji sequence changes of its characters' plain weight (kept:
    the same few come back)."""
    change = tables.plain.get(sequence)
    if change is None:
        change = config.default_weight - _weight(sequence, tables.heavy, config)
        tables.plain[sequence] = change
    return change


def _weigh_runs(runs: list[str], table: _Runs, tables: _Tables, config: CountConfig) -> int:
    """What the runs weigh more than as many light characters, each run
    weighed (and kept, if short) the first time it is seen."""
    excess = table.excess
    total = 0
    light = config.light_weight
    for run in runs:
        more = excess.get(run)
        if more is None:
            weight = _weight(run, tables.heavy, config)
            for e in extract_emoji(run):
                weight += _sequence_change(e.text, tables, config)
            more = weight - len(run) * light
            if len(run) <= _RUN_KEPT_LENGTH and len(excess) < _RUNS_KEPT:
                excess[run] = more
        total += more
    return total


def count(text: str, config: CountConfig = X_CONFIG) -> TextCount:
    """Weigh ``text`` as the network will."""
    url_weight = config.transformed_url_length * config.scale
    light = config.light_weight
    invalid = False
    bad = -1
    first = len(text)  # where the first character past the first light range is
    heavy: re.Pattern[str] | None = None
    #: Whether the text was weighed by its runs, and where its emoji may
    #: start: their places are found only if the text is over.
    by_runs = False
    marks_from = 0
    if text.isascii():
        # Every ASCII character is light; no emoji and no invalid character
        # can hide in ASCII, and links never overlap one another.
        urls = extract_urls(text)
        scaled = len(text) * light
        for u in urls:
            scaled += url_weight - (u.end - u.start) * light
        taken = [(u, url_weight) for u in urls]
    else:
        text = nfc(text)
        urls = extract_urls(text)
        tables = _TABLES.get(id(config))
        t = tables[1] if tables is not None and tables[0] is config else _tables(config)
        heavy = t.heavy
        # A text with no character past the first light range (U+1100 on X)
        # is all light, and holds no emoji sequence and no invalid character:
        # one search rules all of that out.
        found = t.beyond.search(text)
        # Every character before it is light: no heavy run, no emoji mark and
        # no invalid character is looked for there (each of those is past
        # U+200C, beyond X's first light range).
        first = found.start() if found is not None else len(text)
        marks_from = first if t.marks_beyond else 0
        emoji: list[Entity] = []
        if found is None and t.marks_beyond:
            scaled = len(text) * light
        else:
            if _REFUSED_1 in text or _REFUSED_2 in text or _REFUSED_3 in text:
                bad = _first_invalid(text, marks_from)
            # Every emoji sequence holds a mark.  Skin tones, flags' letters
            # and tags lie past U+FFFF: they are looked for (and the emoji
            # table loaded) only from a text's first character past U+FFFF,
            # and a text of lone pictographs needs no table.
            emoji_possible = config.emoji_parsing and (
                _FE0F in text
                or _ZWJ in text
                or _KEYCAP in text
                or (
                    (astral := t.astral.search(text, marks_from)) is not None
                    and SEQUENCE_MARK.search(text, astral.start()) is not None
                )
            )
            if emoji_possible and not urls:
                r = _runs(config)
                runs = r.pattern.findall(text, max(0, first - 1) if r.after_first else 0)
                scaled = len(text) * light
                try:  # nearly always: every run seen before
                    scaled += sum(map(r.excess.__getitem__, runs))
                except KeyError:
                    scaled += _weigh_runs(runs, r, t, config)
                by_runs = True
            else:
                if emoji_possible:  # with links, which may overlap them: entities
                    emoji = extract_emoji(text, marks_from)
                scaled = _weight(text, heavy, config, first)
        invalid = bad >= 0
        if not emoji:
            taken = [(u, url_weight) for u in urls]
            for u in urls:
                scaled += url_weight - _weight(text[u.start : u.end], heavy, config)
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
                    change = _sequence_change(entity.text, t, config)
                else:
                    change = weight - _weight(text[entity.start : entity.end], heavy, config)
                scaled += change
                taken.append((entity, weight))
                pos = entity.end

    limit = config.max_weighted_length * config.scale
    if scaled <= limit and not invalid:
        valid_end = len(text)
    else:
        if by_runs:
            weight = config.default_weight
            taken = [(e, weight) for e in extract_emoji(text, marks_from)]
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
