"""X's rules: pure facts about X that validation, preview and publishing
need — its post URLs, its capabilities, the credentials an account needs —
importable without tweepy or requests."""

from __future__ import annotations

import re

from megaphone.networks.base import Capabilities, NetworkRules

NAME = "x"
WEB_URL = "https://x.com"
DEFAULT_API_URL = "https://api.x.com"

_STATUS_URL = re.compile(
    r"https?://(?:www\.|mobile\.)?(?:x|twitter)\.com/(?:\w{1,15}|i/web)/status/(\d{1,20})"
    r"(?:[/?#]\S*)?"
)


def post_id_from_url(url: str) -> str | None:
    match = _STATUS_URL.fullmatch(url.strip())
    return match.group(1) if match else None


def post_url(username: str | None, post_id: str) -> str:
    return f"{WEB_URL}/{username or 'i/web'}/status/{post_id}"


RULES = NetworkRules(
    name=NAME,
    title="X",
    caps=Capabilities(
        quotes=True,
        threads=True,
        rejects_duplicate_text=True,
        # X's free tier allows 17 posts a day (thread parts count one each).
        default_daily_cap=17,
        max_media=4,
    ),
    credential_fields=("API_KEY", "API_SECRET", "ACCESS_TOKEN", "ACCESS_SECRET"),
    parse_post_url=post_id_from_url,
)
