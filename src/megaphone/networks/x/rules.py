"""X's rules: pure facts about X that validation, preview and publishing
need — its weighted count, what it refuses in a text or in media, its post
URLs, its capabilities, the credentials an account needs — importable
without tweepy or requests."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, ClassVar

from megaphone.networks.base import (
    AccountLimits,
    Capabilities,
    Finding,
    Measure,
    MediaLimits,
    NetworkRules,
)
from megaphone.text import X_CONFIG, count, extract_mentions, is_valid_hashtag
from megaphone.text.extract import INVALID_CHARS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from megaphone.text import Entity

NAME = "x"
WEB_URL = "https://x.com"
DEFAULT_API_URL = "https://api.x.com"
MAX_USERNAME_LENGTH = 15
MB = 1024 * 1024

_STATUS_URL = re.compile(
    r"https?://(?:www\.|mobile\.)?(?:x|twitter)\.com/(?:\w{1,15}|i/web)/status/(\d{1,20})"
    r"(?:[/?#]\S*)?",
    re.IGNORECASE,
)
_AUTHOR = re.compile(r"https?://(?:www\.|mobile\.)?(?:x|twitter)\.com/(\w{1,15})/status/", re.I)
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")


def post_id_from_url(url: str) -> str | None:
    match = _STATUS_URL.fullmatch(url.strip())
    return match.group(1) if match else None


def post_url(username: str | None, post_id: str) -> str:
    return f"{WEB_URL}/{username or 'i/web'}/status/{post_id}"


class XRules(NetworkRules):
    name = NAME
    title = "X"
    caps = Capabilities(
        quotes=True,
        threads=True,
        languages=False,  # X detects the language itself
        rejects_duplicate_text=True,
        # X does not say for how long; reports run from hours to days, and
        # a scheduler that assumed less than a week would send refusals.
        duplicate_window=timedelta(days=7),
        # X's free tier allows 17 posts a day (thread parts count one each).
        default_daily_cap=17,
        idempotency="lookup",
    )
    media_limits = MediaLimits(
        max_bytes={"image": 5 * MB, "gif": 15 * MB, "video": 512 * MB},
        max_images=4,
        single_video=True,
        max_alt=1000,
    )
    credential_fields = ("API_KEY", "API_SECRET", "ACCESS_TOKEN", "ACCESS_SECRET")
    post_url_example = "https://x.com/NAME/status/NUMBER"
    credentials_help = (
        "X developer portal, OAuth 1.0a user context;\n# `megaphone auth main` fills in "
        "the access token and secret"
    )
    link_length: ClassVar[int | None] = X_CONFIG.transformed_url_length
    auth_module = "megaphone.networks.x.auth"
    link_display_length = 23  # what X shows of a link, "…" included

    def measure(
        self, text: str, limits: AccountLimits | None = None, *, spoiler: str = ""
    ) -> Measure:
        c = count(text, X_CONFIG)
        bad = (
            "".join(sorted({ch for ch in c.normalized if ch in INVALID_CHARS}))
            if (c.has_invalid_characters)
            else ""
        )
        return tuple.__new__(  # Measure, once per text: a constructor call fewer
            Measure,
            (
                c.weighted_length,
                c.max_length,
                "weighted characters",
                c.valid_end,
                c.normalized,
                c.urls,
                bad,
            ),
        )

    def explain(self, measure: Measure) -> list[str]:
        why = []
        bare = [u.text for u in measure.links if "://" not in u.text]
        if bare:
            why.append(
                f"{', '.join(repr(b) for b in bare[:3])} counts as a "
                f"{X_CONFIG.transformed_url_length}-character link"
            )
        heavy = sorted({c for c in measure.text if _weighs_two(c)} - {" "})
        if heavy:
            shown = " ".join(heavy[:8]) + (" ..." if len(heavy) > 8 else "")
            why.append(f"these characters weigh 2 each: {shown}")
        return why

    def check_text(self, measure: Measure, where: str) -> list[Finding]:
        out = []
        if measure.refused:
            shown = ", ".join(f"U+{ord(c):04X}" for c in measure.refused)
            message = f"{where} holds characters X refuses: {shown}"
            out.append(Finding("invalid-characters", message))
        text = measure.text
        if "@" in text:
            for m in extract_mentions(text):
                if len(m.text) > MAX_USERNAME_LENGTH:
                    out.append(
                        Finding(
                            "invalid-mention",
                            f"@{m.text} cannot be an X username "
                            f"(at most {MAX_USERNAME_LENGTH} characters)",
                        )
                    )
        for u in measure.links:
            if "://" not in u.text:
                out.append(
                    Finding(
                        "bare-domain",
                        f"{u.text} is a link on X, though it has no https:// (it counts "
                        f"{X_CONFIG.transformed_url_length} characters and opens http://{u.text})",
                    )
                )
        seps = text.count("://")
        if seps:
            for u in measure.links:
                seps -= u.text.count("://")
            if seps:
                out.extend(_unlinked(text, measure.links))  # some '://' is not inside a link
        return out

    def check_hashtag(self, tag: str) -> Finding | None:
        if _tag_ok(tag):
            return None
        return Finding(
            "invalid-hashtag",
            f"#{tag} is not a hashtag X recognises (letters, digits and _; not only digits)",
        )

    def parse_post_url(self, url: str) -> str | None:
        return post_id_from_url(url)

    def post_author(self, url: str) -> str | None:
        m = _AUTHOR.match(url.strip())
        return m.group(1) if m and m.group(1).lower() != "i" else None


def _unlinked(text: str, links: Sequence[Entity]) -> list[Finding]:
    """Things written as links that X will not link."""
    # Where the '://' of each link found stands: those are fine.
    linked = {u.start + i for u in links if (i := u.text.find("://")) >= 0}
    link_starts = {u.start for u in links}
    out = []
    sep = text.find("://")
    while sep > 0:
        if sep in linked:
            sep = text.find("://", sep + 3)
            continue
        start = sep
        while start > 0 and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        scheme = text[start:sep].lstrip("0123456789+.-")
        start = sep - len(scheme)
        sep = text.find("://", sep + 3)
        if not scheme:
            continue
        if scheme.lower() not in ("http", "https"):
            message = f"{scheme}:// links are not linked by X: only http and https are"
        elif start not in link_starts:
            written = text[start:].split(maxsplit=1)[0]
            message = f"{written} will not become a link: X cannot read its address"
        else:
            continue
        out.append(Finding("bad-link", message))
    return out


@cache
def _tag_ok(tag: str) -> bool:
    return is_valid_hashtag("#" + tag)


def _weighs_two(c: str) -> bool:
    o = ord(c)
    return not any(lo <= o <= hi for lo, hi in X_CONFIG.light_ranges)


RULES = XRules()
