"""X's count, case by case where it is subtle (emoji of every kind, Unicode
newer than Python's), and by invariants that hold for every text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from megaphone.text import count, extract_cashtags, extract_emoji, extract_hashtags, extract_urls

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
