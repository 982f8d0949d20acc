"""Bluesky's rules: at most 300 grapheme clusters and 3,000 UTF-8 bytes of the
text as stored (links shortened the way the Bluesky app shows them), images
only (up to 4, 2,000,000 bytes each by default), post URLs of bsky.app.  Pure:
no client library, no request."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from megaphone.networks.base import Capabilities, Finding, Measure, MediaLimits, NetworkRules
from megaphone.networks.bluesky.facets import plain_mentions, rich_text, short_link
from megaphone.text import Entity
from megaphone.text.graphemes import grapheme_list, graphemes

if TYPE_CHECKING:
    from collections.abc import Sequence

    from megaphone.model import AccountLimits
    from megaphone.networks.base import MediaItem

NAME = "bluesky"
MAX_GRAPHEMES = 300
MAX_BYTES = 3000
IMAGE_SIZE_LIMIT = 2_000_000
MAX_IMAGES = 4
MAX_ALT = 2000
DEFAULT_SERVICE = "https://bsky.social"
#: A write costs points: 5,000 an hour and 35,000 a day per account; a
#: post (a create) costs 3.
DAILY_POSTS = 35_000 // 3

_POST_URL = re.compile(
    r"https://(?:www\.)?bsky\.app/profile/(?P<actor>[a-zA-Z0-9.:_-]+)/post/(?P<rkey>[a-z2-7]{13})/?",
    re.IGNORECASE,
)
_APP_PASSWORD = re.compile(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}")


def app_password_problem(value: str) -> str | None:
    """Why ``value`` is not an app password (an account's own password must
    never be given to a tool), or None."""
    if _APP_PASSWORD.fullmatch(value.strip()):
        return None
    return (
        "is not an app password (four groups of four letters and digits: xxxx-xxxx-xxxx-xxxx); "
        "make one in Bluesky's Settings → Privacy and security → App passwords, never give "
        "megaphone the account's own password"
    )


class BlueskyRules(NetworkRules):
    name = NAME
    title = "Bluesky"
    caps = Capabilities(
        quotes=True,
        threads=True,
        languages=True,
        reply_model="parent+root",
        rejects_duplicate_text=False,
        default_daily_cap=DAILY_POSTS,
        idempotency="record",
        link_cards=True,
    )
    media_limits = MediaLimits(
        max_bytes={"image": IMAGE_SIZE_LIMIT},
        max_images=MAX_IMAGES,
        single_video=True,
        max_alt=MAX_ALT,
    )
    credential_fields = ("APP_PASSWORD",)
    credentials_help = (
        "an app password, made in Bluesky's Settings → Privacy and security → App passwords;\n"
        "# never the account's own password. The account's handle is in megaphone.yaml"
    )
    post_url_example = "https://bsky.app/profile/HANDLE/post/RKEY"
    handle_example = "yourname.bsky.social"
    link_length: ClassVar[int | None] = None
    auth_module = "megaphone.networks.bluesky.auth"

    def measure(
        self, text: str, limits: AccountLimits | None = None, *, spoiler: str = ""
    ) -> Measure:
        rich = rich_text(text)
        stored = rich.text
        length = graphemes(stored)
        size = len(stored.encode("utf-8")) if not stored.isascii() else len(stored)
        fits = len(stored) if length <= MAX_GRAPHEMES and size <= MAX_BYTES else _fits_until(stored)
        links = [
            Entity("url", stored[f.char_start : f.char_end], f.char_start, f.char_end)
            for f in rich.facets
            if f.kind == "link"
        ]
        if length <= MAX_GRAPHEMES and size > MAX_BYTES:
            # The graphemes fit, the bytes do not: the bytes are the count.
            return Measure(size, MAX_BYTES, "UTF-8 bytes", fits, stored, links)
        return Measure(length, MAX_GRAPHEMES, "graphemes", fits, stored, links)

    def explain(self, measure: Measure) -> list[str]:
        if measure.unit == "UTF-8 bytes":
            return [
                f"its {graphemes(measure.text)} characters fit, but Bluesky also takes at most "
                f"{MAX_BYTES} bytes, and emoji and many scripts take several each"
            ]
        return []

    def check_text(self, measure: Measure, where: str) -> list[Finding]:
        return [
            Finding(
                "plain-mention",
                f"@{name} is not a Bluesky handle (they look like name.bsky.social): it stays "
                "plain text there",
            )
            for name in plain_mentions(measure.text)
        ]

    def check_media(
        self, items: Sequence[MediaItem], limits: AccountLimits | None = None
    ) -> list[tuple[int | None, Finding]]:
        out = super().check_media(items, limits)
        for i, m in enumerate(items):
            if m.info.kind != "image":
                out.append(
                    (
                        i,
                        Finding(
                            "media-type",
                            f"{m.path} is a {m.info.kind}: megaphone sends images only to Bluesky",
                        ),
                    )
                )
        return out

    def media_limits_for(self, limits: AccountLimits | None) -> MediaLimits:
        if limits is None or not limits.image_size_limit:
            return self.media_limits
        return self.media_limits._replace(max_bytes={"image": limits.image_size_limit})

    def mentions(self, text: str) -> list[str]:
        return [f.value for f in rich_text(text).facets if f.kind == "mention"]

    def display_link(self, url: str) -> str:
        return short_link(url if "://" in url else "https://" + url)

    def parse_post_url(self, url: str) -> str | None:
        """The URL itself: the client resolves the handle to the post's at:// URI."""
        return url.strip() if _POST_URL.fullmatch(url.strip()) else None

    def post_author(self, url: str) -> str | None:
        m = _POST_URL.fullmatch(url.strip())
        return m.group("actor").lower() if m else None

    def new_key(self) -> str | None:
        from megaphone.networks.bluesky.tid import new_tid

        return new_tid()


def _fits_until(stored: str) -> int:
    """Where the part that fits both limits ends (grapheme by grapheme)."""
    size = end = 0
    for used, cluster in enumerate(grapheme_list(stored), 1):
        size += len(cluster.encode("utf-8"))
        if used > MAX_GRAPHEMES or size > MAX_BYTES:
            return end
        end += len(cluster)
    return end


RULES = BlueskyRules()
