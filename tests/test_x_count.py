"""X's count, case by case where it is subtle (emoji of every kind, Unicode
newer than Python's), and by invariants that hold for every text."""

from __future__ import annotations

import unicodedata

import pytest
import unicodedata2
from hypothesis import given, settings
from hypothesis import strategies as st

from megaphone.text import (
    X_CONFIG,
    count,
    extract_cashtags,
    extract_emoji,
    extract_hashtags,
    extract_urls,
)

ZWJ, VS16 = "\u200d", "\ufe0f"

#: (text, X's weight, why) — each checked by hand against Unicode's emoji data
#: (emoji-test.txt) and X's rule: a supported sequence weighs 2, anything else
#: is weighed by its parts (a pictograph 2, a joiner 1, a selector 2, a skin
#: tone 2, a regional indicator 2, a tag 2, a keycap mark 2, ASCII 1).
EMOJI_CASES = [
    ("👨\u200d👩\u200d👧\u200d👦", 2, "family: man, woman, girl, boy (a listed ZWJ sequence)"),
    ("👦\u200d👩", 5, "boy, joiner, woman: no sequence names it"),
    ("👩🏽\u200d💻", 2, "woman technologist, medium skin tone"),
    ("👋🏿", 2, "waving hand, dark skin tone"),
    ("🦓🏻", 4, "a zebra takes no skin tone: zebra 2, tone 2"),
    ("🏃\u200d➡\ufe0f", 2, "person running facing right (Emoji 15.1)"),
    ("🏃\u200d➡", 5, "the same without its selector: not fully qualified"),
    ("❤\ufe0f", 2, "red heart with its emoji selector"),
    ("❤", 2, "the heart alone: one character outside the light ranges"),
    ("😀\ufe0f", 4, "grinning face takes no selector: 2, and the selector 2"),
    ("🇺🇸", 2, "a flag"),
    ("🇽🇺", 4, "two regional indicators that are no flag"),
    ("🇺🇸🇫🇷", 4, "two flags"),
    ("🇺", 2, "a regional indicator alone"),
    ("🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", 2, "England"),
    ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", 2, "Scotland"),
    ("🏴\U000e0075\U000e0073\U000e0074\U000e0078\U000e007f", 12, "Texas: no sequence; 2 + 5 tags"),
    ("#\ufe0f\u20e3", 2, "keycap #"),
    ("1\u20e3", 2, "keycap 1 without its selector (twitter-text's conformance data)"),
    ("#", 1, "a number sign"),
    ("©\ufe0f", 2, "copyright sign as emoji"),
    ("©", 1, "copyright sign as text: in the light range"),
    ("🐦\u200d🔥", 2, "phoenix (Emoji 15.1)"),
    ("🫨", 2, "shaking face (Emoji 15)"),
    ("🇨🇶", 2, "flag of Sark (Emoji 16)"),
    ("🧑\u200d🩰", 2, "ballet dancer (Emoji 17)"),
    ("🇽🇺🇸", 4, "three regional indicators: a letter alone, then the US flag (twitter-text)"),
    ("👨\u200d🇺🇸", 5, "man, a joiner, then a flag: a flag is never joined (2 + 1 + 2)"),
    ("1#\u20e3", 3, "a digit, then keycap #"),
    ("日本👍🏽語", 8, "CJK around an emoji: 2 + 2 + 2 + 2"),
    ("Hi 👋🏽 all", 9, "3 + 2 + 4"),
    ("👍🏽👍🏽👍🏽", 6, "three thumbs up with a tone"),
]


@pytest.mark.parametrize(("text", "weight", "why"), EMOJI_CASES, ids=[c[2] for c in EMOJI_CASES])
def test_emoji_weigh_what_x_gives_them(text: str, weight: int, why: str) -> None:
    assert count(text).weighted_length == weight, why


def test_an_emoji_sequence_is_one_entity_and_a_chain_of_parts_is_not() -> None:
    assert [e.text for e in extract_emoji("a 👨\u200d👩\u200d👧 b")] == ["👨\u200d👩\u200d👧"]
    assert extract_emoji("👦\u200d👩") == []  # counted by its parts
    assert extract_emoji("日本語のテキスト、です。") == []


def test_compositions_newer_than_python_are_made() -> None:
    # Tulu-Tigalari (Unicode 16): a vowel sign that composes with the letter
    # before it; Python 3.11's own tables (Unicode 14) do not know them.
    pair = "\U00011382\U000113c9"
    assert count(pair).weighted_length == 2
    assert count(pair).normalized == "\U00011383"


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        # A hashtag that starts before a link it overlaps is kept, and the
        # link is dropped, so a tag further inside it stands too.
        ("#日本a.com/#abc", ["日本a", "abc"]),
        ("http://a.com/#abc", []),  # the link starts first: its '#' is no tag
        ("#abc http://a.com/#def #ghi", ["abc", "ghi"]),
    ],
)
def test_of_a_hashtag_and_a_link_that_overlap_the_first_is_kept(text: str, tags: list[str]) -> None:
    assert [t.text for t in extract_hashtags(text)] == tags


def test_a_backslash_ends_a_domain() -> None:
    assert extract_urls("\\-x.kr") == []
    assert [u.text for u in extract_urls("see\\utla.net")] == ["utla.net"]


def test_cashtags_are_found() -> None:
    found = extract_cashtags("Rally at $UTLA HQ; $ab.cd up, a$NO and $TOOLONG not")
    assert [(c.text, c.start, c.end) for c in found] == [("UTLA", 9, 14), ("ab.cd", 19, 25)]


# ------------------------------------------------------------------ invariants


def _light(c: str) -> bool:
    return any(lo <= ord(c) <= hi for lo, hi in X_CONFIG.light_ranges)


def reference_weight(text: str) -> int:
    """X's weight of a text without links, the plain way: at each place the
    longest emoji sequence of Unicode's data that starts there weighs 2 (as
    twitter-text scans for emoji), and any other character 1 if light, else
    2."""
    from megaphone.text._emoji import SEQUENCES

    text = unicodedata2.normalize("NFC", text)
    longest = max(map(len, SEQUENCES))
    i = scaled = 0
    while i < len(text):
        for size in range(min(longest, len(text) - i), 1, -1):
            if text[i : i + size] in SEQUENCES:
                scaled += 200
                i += size
                break
        else:
            scaled += 100 if _light(text[i]) else 200
            i += 1
    return scaled // 100


#: The parts emoji sequences are made of, alone and whole, and what stands
#: around them.
EMOJI_PARTS = st.sampled_from(
    [
        *"ab #*1 ©®日",
        *["😀", "👨", "👩", "👦", "👧", "❤", "🔥", "🏳", "🌈", "🏴", "🦓", "🏃", "➡", "‼", "™"],
        *["\U0001f1fa", "\U0001f1f8", "\U0001f1fd", "\U0001f1eb", "\U0001f1f7"],
        *["\U0001f3fb", "\U0001f3fd", "\U000e0067", "\U000e0062", "\U000e0065", "\U000e007f"],
        *[ZWJ, VS16, "\u20e3", "\ufeff"],
        *[
            "👨\u200d👩\u200d👧",
            "👩🏽\u200d💻",
            "🏳\ufe0f\u200d🌈",
            "#\ufe0f\u20e3",
            "❤\ufe0f\u200d🔥",
        ],
    ]
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(EMOJI_PARTS, max_size=40).map("".join))
def test_emoji_weigh_as_the_longest_sequence_at_each_place(text: str) -> None:
    assert count(text).weighted_length == reference_weight(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(EMOJI_PARTS, min_size=1, max_size=40).map("".join))
def test_the_emoji_entities_weigh_what_the_count_says(text: str) -> None:
    # The count by heavy runs and the one by entities (used where a text
    # holds a link, and for where an over-long text stops fitting) agree.
    result = count(text)
    by_entities = count(text + " x.com")
    assert by_entities.weighted_length == result.weighted_length + 24
    long = count(text * 12)
    assert count(long.normalized[: long.valid_end]).weighted_length <= 280


def test_heavy_runs_kept_are_bounded() -> None:
    from megaphone.text import counter

    runs = counter._runs(X_CONFIG)
    for i in range(counter._RUNS_KEPT + 50):
        count(f"a {chr(0x4E00 + i)}😀 b")
    assert len(runs.excess) <= counter._RUNS_KEPT
    long = "日" * (counter._RUN_KEPT_LENGTH + 1) + "😀"
    assert count(long).weighted_length == 2 * len(long)
    assert long not in runs.excess


#: Text with every kind of character that matters to the count.
LETTERS = st.sampled_from(
    [
        *"abcXYZ019 ,.!?#@$_-/:é",
        *["e\u0301", "\u0301", "日", "本", "한", "ا", "ש", "€", "…", "—"],
        *["😀", "👍🏽", "❤\ufe0f", "🇺🇸", ZWJ, VS16, "👩\u200d💻", "\u20e3", "🏴"],
    ]
)
TEXTS = st.lists(LETTERS, max_size=60).map("".join)


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_nfc_and_nfd_count_the_same(text: str) -> None:
    nfd = unicodedata.normalize("NFD", text)
    assert count(nfd).weighted_length == count(text).weighted_length


WORDS = st.lists(
    st.sampled_from(["union", "Café", "日本語", "😀", "👍🏽", "🇺🇸", "#tag", "@utla", "—", "a1"]),
    min_size=1,
    max_size=12,
).map(" ".join)


@settings(max_examples=400, deadline=None)
@given(WORDS, WORDS)
def test_two_texts_joined_at_a_space_add_their_counts(first: str, second: str) -> None:
    # Words with no link in them and emoji that cannot join across a space.
    joined = count(f"{first} {second}").weighted_length
    assert joined == count(first).weighted_length + 1 + count(second).weighted_length


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_the_part_that_fits_is_a_prefix_within_the_limit(text: str) -> None:
    long = (text + " ") * 12
    result = count(long)
    kept = result.normalized[: result.valid_end]
    assert count(kept).weighted_length <= 280
    assert result.valid_end <= len(result.normalized)


def test_the_emoji_table_fits_the_search_around_marks() -> None:
    from megaphone.text._emoji import SEQUENCES
    from megaphone.text.extract import LONGEST

    assert max(map(len, SEQUENCES)) <= LONGEST


def test_a_configuration_whose_light_range_holds_the_marks_still_finds_emoji() -> None:
    from megaphone.text.counter import CountConfig

    # Everything in the Basic Multilingual Plane light: U+FE0F and U+200D
    # fall in the first light range, so emoji are looked for from the start.
    wide = CountConfig(light_ranges=((0x0000, 0xFFFF),))
    text = "Teachers \u2764\ufe0f and families \U0001f468\u200d\U0001f469\u200d\U0001f467"
    got = count(text, wide)
    assert got.weighted_length == len("Teachers ") + 2 + len(" and families ") + 2
    assert count("a\ufeffb", wide).has_invalid_characters
