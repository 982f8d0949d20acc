"""megaphone's text rules against the official twitter-text conformance data."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from megaphone.text import (
    X_CONFIG,
    CountConfig,
    count,
    extract_cashtags,
    extract_hashtags,
    extract_mentions,
    extract_urls,
    is_valid_hashtag,
    is_valid_list,
    is_valid_url,
    is_valid_username,
)
from tests.twitter_text_data import DATA_DIR, SKIP_REASON, cases


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def utf16_offset(s: str, index: int) -> int:
    return utf16_len(s[:index])


# twitter-text's own suite weighs the first group with configuration v2 (the
# same, but every code point of an emoji sequence weighed on its own) and the
# others with v3, the configuration X uses today.
V2_CONFIG = replace(X_CONFIG, emoji_parsing=False)


@pytest.mark.parametrize(
    ("case", "config"),
    cases("validate.yml", "WeightedTweetsCounterTest", V2_CONFIG)
    + cases("validate.yml", "WeightedTweetsWithDiscountedEmojiCounterTest", X_CONFIG)
    + cases("validate.yml", "UnicodeDirectionalMarkerCounterTest", X_CONFIG),
)
def test_weighted_length(case: dict[str, Any], config: CountConfig) -> None:
    text, expected = case["text"], case["expected"]
    result = count(text, config)
    # twitter-text reports inclusive UTF-16 ranges over the original text.
    offset = utf16_len(text) - utf16_len(result.normalized)
    got = {
        "weightedLength": result.weighted_length,
        "valid": result.valid,
        "permillage": result.permillage,
        "displayRangeStart": 0,
        "displayRangeEnd": max(utf16_len(text) - 1, 0),
        "validRangeStart": 0,
        "validRangeEnd": max(utf16_offset(result.normalized, result.valid_end) - 1 + offset, 0),
    }
    assert got == expected


@pytest.mark.parametrize("case", cases("validate.yml", "tweets"))
def test_tweets_140_era(case: dict[str, Any]) -> None:
    # This group dates from the 140-character era (config v1: every character
    # weighs 1, links count as written).  Weighing it with the v3 rules must
    # still tell the empty text apart, and v3 must accept every text that v1 did.
    result = count(case["text"])
    if case["expected"]:
        assert result.valid
    elif case["text"] == "":
        assert not result.valid


@pytest.mark.parametrize("case", cases("validate.yml", "usernames"))
def test_valid_usernames(case: dict[str, Any]) -> None:
    assert is_valid_username(case["text"]) is case["expected"]


@pytest.mark.parametrize("case", cases("validate.yml", "lists"))
def test_valid_lists(case: dict[str, Any]) -> None:
    assert is_valid_list(case["text"]) is case["expected"]


@pytest.mark.parametrize("case", cases("validate.yml", "hashtags"))
def test_valid_hashtags(case: dict[str, Any]) -> None:
    assert is_valid_hashtag(case["text"]) is case["expected"]


@pytest.mark.parametrize("case", cases("validate.yml", "urls"))
def test_valid_urls(case: dict[str, Any]) -> None:
    assert is_valid_url(case["text"]) is case["expected"]


@pytest.mark.parametrize("case", cases("validate.yml", "urls_without_protocol"))
def test_valid_urls_without_protocol(case: dict[str, Any]) -> None:
    assert is_valid_url(case["text"], require_protocol=False) is case["expected"]


@pytest.mark.parametrize("case", cases("extract.yml", "mentions"))
def test_extract_mentions(case: dict[str, Any]) -> None:
    assert [m.text for m in extract_mentions(case["text"])] == case["expected"]


@pytest.mark.parametrize("case", cases("extract.yml", "mentions_with_indices"))
def test_extract_mentions_with_indices(case: dict[str, Any]) -> None:
    got = [
        {"screen_name": m.text, "indices": [m.start, m.end]} for m in extract_mentions(case["text"])
    ]
    assert got == case["expected"]


@pytest.mark.parametrize("case", cases("extract.yml", "mentions_or_lists_with_indices"))
def test_extract_mentions_or_lists(case: dict[str, Any]) -> None:
    got = []
    for m in extract_mentions(case["text"], lists=True):
        name, _, slug = m.text.partition("/")
        got.append(
            {
                "screen_name": name,
                "list_slug": "/" + slug if slug else "",
                "indices": [m.start, m.end],
            }
        )
    assert got == case["expected"]


@pytest.mark.parametrize(
    "case", cases("extract.yml", "urls") + cases("extract.yml", "tco_urls_with_params")
)
def test_extract_urls(case: dict[str, Any]) -> None:
    assert [u.text for u in extract_urls(case["text"])] == case["expected"]


@pytest.mark.parametrize(
    "case",
    cases("extract.yml", "urls_with_indices")
    + cases("extract.yml", "urls_with_directional_markers"),
)
def test_extract_urls_with_indices(case: dict[str, Any]) -> None:
    text = case["text"]
    got = [
        {"url": u.text, "indices": [utf16_offset(text, u.start), utf16_offset(text, u.end)]}
        for u in extract_urls(text)
    ]
    assert got == case["expected"]


@pytest.mark.parametrize(
    "case", cases("extract.yml", "hashtags") + cases("extract.yml", "hashtags_from_astral")
)
def test_extract_hashtags(case: dict[str, Any]) -> None:
    assert [h.text for h in extract_hashtags(case["text"])] == case["expected"]


@pytest.mark.parametrize("case", cases("extract.yml", "hashtags_with_indices"))
def test_extract_hashtags_with_indices(case: dict[str, Any]) -> None:
    got = [{"hashtag": h.text, "indices": [h.start, h.end]} for h in extract_hashtags(case["text"])]
    assert got == case["expected"]


def test_counting_configuration_is_x_v3() -> None:
    path = DATA_DIR / "config-v3.json"
    if not path.is_file():
        pytest.skip(SKIP_REASON)
    official = json.loads(path.read_text(encoding="utf-8"))
    assert official["maxWeightedTweetLength"] == X_CONFIG.max_weighted_length
    assert official["scale"] == X_CONFIG.scale
    assert official["defaultWeight"] == X_CONFIG.default_weight
    assert official["transformedURLLength"] == X_CONFIG.transformed_url_length
    assert official["emojiParsingEnabled"] is X_CONFIG.emoji_parsing
    assert [(r["start"], r["end"]) for r in official["ranges"]] == list(X_CONFIG.light_ranges)
    assert {r["weight"] for r in official["ranges"]} == {X_CONFIG.light_weight}


@pytest.mark.parametrize("case", cases("extract.yml", "cashtags"))
def test_extract_cashtags(case: dict[str, Any]) -> None:
    assert [c.text for c in extract_cashtags(case["text"])] == case["expected"]


@pytest.mark.parametrize("case", cases("extract.yml", "cashtags_with_indices"))
def test_extract_cashtags_with_indices(case: dict[str, Any]) -> None:
    got = [{"cashtag": c.text, "indices": [c.start, c.end]} for c in extract_cashtags(case["text"])]
    assert got == case["expected"]
