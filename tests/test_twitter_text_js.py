"""megaphone's count and entities against the official twitter-text library
(3.1.0, JavaScript), text by text, where that library is current; and the
places where it is out of date, each listed with what X does instead.

Runs where node and twitter-text are installed (``.ci/run`` installs them);
skipped otherwise, saying what is missing."""

from __future__ import annotations

import pytest

from megaphone.text import count, extract_cashtags, extract_hashtags, extract_mentions, extract_urls
from tests import twitter_text_js
from tests.text_corpora import differential

pytestmark = pytest.mark.skipif(
    twitter_text_js.missing() is not None, reason=str(twitter_text_js.missing())
)


def _u16(text: str, index: int) -> int:
    """A code-point index as twitter-text counts it (UTF-16 code units)."""
    return len(text[:index].encode("utf-16-le")) // 2


def ours(text: str) -> dict[str, object]:
    """megaphone's answers, in twitter-text's terms."""
    result = count(text)
    shift = _u16(text, len(text)) - _u16(result.normalized, len(result.normalized))

    def spans(found: list) -> list[list[object]]:  # type: ignore[type-arg]
        return [[e.text, [_u16(text, e.start), _u16(text, e.end)]] for e in found]

    return {
        "weighted": result.weighted_length,
        "validEnd": max(_u16(result.normalized, result.valid_end) - 1 + shift, 0),
        "urls": spans(extract_urls(text)),
        "hashtags": spans(extract_hashtags(text)),
        "mentions": spans(extract_mentions(text)),
        "cashtags": spans(extract_cashtags(text)),
    }


def test_every_generated_text_counts_and_parses_as_the_official_library_says() -> None:
    texts = differential(6000)
    theirs = twitter_text_js.run(texts)
    wrong = [
        (text, field, mine[field], official[field])
        for text, official in zip(texts, theirs, strict=True)
        for mine in [ours(text)]
        for field in official
        if mine[field] != official[field]
    ]
    assert not wrong, f"{len(wrong)} differences, the first: {wrong[:3]}"


#: Where twitter-text 3.1.0 is out of date or wrong, and megaphone does what X
#: does: (text, field, megaphone's answer, the library's, why).
KNOWN = [
    (
        "🐦\u200d🔥",
        "weighted",
        2,
        5,
        "phoenix, an Emoji 15.1 sequence: the library knows emoji up to Emoji 11 and "
        "weighs a newer sequence by its parts; X shows (and counts) it as one emoji",
    ),
    (
        "🧑\u200d🩰",
        "weighted",
        2,
        5,
        "ballet dancer (Emoji 17), likewise",
    ),
    (
        "🏃\u200d➡\ufe0f",
        "weighted",
        2,
        5,
        "person running facing right (Emoji 15.1), likewise",
    ),
]


@pytest.mark.parametrize(
    ("text", "field", "mine", "official", "why"), KNOWN, ids=[k[4][:40] for k in KNOWN]
)
def test_where_the_official_library_is_out_of_date(
    text: str, field: str, mine: object, official: object, why: str
) -> None:
    [theirs] = twitter_text_js.run([text])
    assert theirs[field] == official, f"the library changed: {why}"
    assert ours(text)[field] == mine, why
