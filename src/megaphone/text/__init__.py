"""Post text as the networks judge it: weighted length, links, hashtags, mentions,
cashtags."""

from megaphone.text.counter import X_CONFIG, CountConfig, TextCount, count
from megaphone.text.extract import (
    Entity,
    extract_cashtags,
    extract_emoji,
    extract_hashtags,
    extract_mentions,
    extract_urls,
    is_valid_hashtag,
    is_valid_list,
    is_valid_username,
)
from megaphone.text.urls import is_valid_url

__all__ = [
    "X_CONFIG",
    "CountConfig",
    "Entity",
    "TextCount",
    "count",
    "extract_cashtags",
    "extract_emoji",
    "extract_hashtags",
    "extract_mentions",
    "extract_urls",
    "is_valid_hashtag",
    "is_valid_list",
    "is_valid_url",
    "is_valid_username",
]
