"""Mastodon's rules, as its own validator judges a status: grapheme clusters
of the content warning and the text, each ``http(s)://`` link counted as the
instance's ``characters_reserved_per_url``, ``@user@domain`` counted as
``@user``; the instance's limits from the account's ``limits:`` (Mastodon's
defaults without them).  Pure: no client library, no request."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, ClassVar

from megaphone.networks.base import (
    Capabilities,
    Finding,
    Measure,
    MediaLimits,
    NetworkRules,
)
from megaphone.text import extract_urls
from megaphone.text.graphemes import grapheme_list, graphemes
from megaphone.text.unicode import nfc

if TYPE_CHECKING:
    from megaphone.model import AccountLimits, Poll
    from megaphone.text import Entity

NAME = "mastodon"
MB = 1024 * 1024
#: Mastodon's own defaults (an instance may say otherwise in /api/v2/instance).
MAX_CHARACTERS = 500
CHARACTERS_RESERVED_PER_URL = 23
MAX_MEDIA_ATTACHMENTS = 4
IMAGE_SIZE_LIMIT = 16 * MB
VIDEO_SIZE_LIMIT = 99 * MB
DESCRIPTION_LIMIT = 1500
POLL_MAX_OPTIONS = 4
POLL_MAX_OPTION_CHARACTERS = 50
POLL_MIN_EXPIRATION = 300
POLL_MAX_EXPIRATION = 2_629_746

#: ``@user`` or ``@user@domain`` as Mastodon finds mentions.
MENTION = re.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(@[\w.-]+\w)?", re.IGNORECASE
)
#: A status URL: https://instance/@user/123 or https://instance/users/user/statuses/123.
_STATUS_URL = re.compile(
    r"https?://(?P<host>[a-z0-9.-]+(?::\d+)?)/(?:@(?P<at>[\w.-]+(?:@[\w.-]+)?)|users/(?P<user>[\w.-]+)"
    r"/statuses)/(?P<id>\d{1,30})/?",
    re.IGNORECASE,
)


class MastodonRules(NetworkRules):
    name = NAME
    title = "Mastodon"
    caps = Capabilities(
        # A quote is a link to the post: not every instance takes quotes.
        quotes=False,
        threads=True,
        languages=True,
        rejects_duplicate_text=False,
        default_daily_cap=None,
        idempotency="key",
        visibility=True,
        content_warning=True,
        polls=True,
    )
    media_limits = MediaLimits(
        max_bytes={"image": IMAGE_SIZE_LIMIT, "gif": IMAGE_SIZE_LIMIT, "video": VIDEO_SIZE_LIMIT},
        max_images=MAX_MEDIA_ATTACHMENTS,
        single_video=True,
        max_alt=DESCRIPTION_LIMIT,
    )
    credential_fields = ("ACCESS_TOKEN",)
    credentials_help = (
        "a user token of the instance with write:statuses write:media read:accounts "
        "read:statuses;\n# `megaphone auth main` gets one"
    )
    post_url_example = "https://INSTANCE/@NAME/NUMBER"
    handle_example = "YourName@mastodon.social"
    init_server = "    instance: https://mastodon.social   # the account's instance\n"
    link_length: ClassVar[int | None] = CHARACTERS_RESERVED_PER_URL
    auth_module = "megaphone.networks.mastodon.auth"
    link_display_length = 30  # Mastodon shows 30 characters of a link, "…" included

    def measure(
        self, text: str, limits: AccountLimits | None = None, *, spoiler: str = ""
    ) -> Measure:
        text = nfc(text)
        reserved = (limits and limits.characters_reserved_per_url) or CHARACTERS_RESERVED_PER_URL
        limit = (limits and limits.max_characters) or MAX_CHARACTERS
        links = [u for u in extract_urls(text) if "://" in u.text] if "://" in text else []
        # Every unit that does not count as it is written: (start, end, weight).
        units = [(u.start, u.end, reserved) for u in links]
        if "@" in text:
            taken = [(s, e) for s, e, _ in units]
            for m in MENTION.finditer(text):
                if m.group(2) and not any(s <= m.start() < e for s, e in taken):
                    # "@user@domain" counts as "@user".
                    units.append((m.start(2), m.end(2), 0))
        units.sort()
        length = graphemes(spoiler) if spoiler else 0
        pos = 0
        for start, end, weight in units:
            length += graphemes(text[pos:start]) + weight
            pos = end
        length += graphemes(text[pos:])
        fits = len(text) if length <= limit else _fits_until(text, units, limit, spoiler)
        return Measure(length, limit, "characters", fits, text, links)

    def explain(self, measure: Measure) -> list[str]:
        why = []
        if measure.links:
            why.append(f"each link counts {self.link_length} characters")
        return why

    def check_text(self, measure: Measure, where: str) -> list[Finding]:
        out = []
        for u in _bare_domains(measure.text):
            out.append(
                Finding(
                    "bare-domain",
                    f"{u.text} is not a link on Mastodon (no https://): it shows as text and "
                    "counts in full",
                )
            )
        if "@" in measure.text:
            local = sorted({m.group(1) for m in MENTION.finditer(measure.text) if not m.group(2)})
            for name in local:
                out.append(
                    Finding(
                        "local-mention",
                        f"@{name} means a user of the account's own instance on Mastodon; "
                        f"write @{name}@their.instance for someone elsewhere",
                    )
                )
        return out

    def check_hashtag(self, tag: str) -> Finding | None:
        if _tag_ok(tag):
            return None
        return Finding(
            "invalid-hashtag",
            f"#{tag} is not a hashtag Mastodon recognises (it needs a letter)",
        )

    def check_poll(self, poll: Poll, *, has_media: bool) -> list[Finding]:
        out = []
        if has_media:
            out.append(Finding("bad-poll", "a poll cannot go with media on Mastodon"))
        if not 2 <= len(poll.options) <= POLL_MAX_OPTIONS:
            out.append(
                Finding(
                    "bad-poll",
                    f"a poll has 2 to {POLL_MAX_OPTIONS} options on Mastodon "
                    f"(this one has {len(poll.options)})",
                )
            )
        for option in poll.options:
            if graphemes(option) > POLL_MAX_OPTION_CHARACTERS:
                out.append(
                    Finding(
                        "bad-poll",
                        f"poll option {option[:20]!r}… is over {POLL_MAX_OPTION_CHARACTERS} "
                        "characters",
                    )
                )
        if len(set(poll.options)) != len(poll.options):
            out.append(Finding("bad-poll", "a poll's options must differ"))
        if not POLL_MIN_EXPIRATION <= poll.expires_in <= POLL_MAX_EXPIRATION:
            out.append(
                Finding("bad-poll", "a poll runs from 5 minutes to about a month on Mastodon")
            )
        return out

    def media_limits_for(self, limits: AccountLimits | None) -> MediaLimits:
        if limits is None or limits == type(limits)():
            return self.media_limits
        image = limits.image_size_limit or IMAGE_SIZE_LIMIT
        return MediaLimits(
            max_bytes={
                "image": image,
                "gif": image,
                "video": limits.video_size_limit or VIDEO_SIZE_LIMIT,
            },
            max_images=limits.max_media_attachments or MAX_MEDIA_ATTACHMENTS,
            single_video=True,
            max_alt=limits.description_limit or DESCRIPTION_LIMIT,
        )

    def parse_post_url(self, url: str) -> str | None:
        """The URL itself: a status of another instance has another id on
        the account's own, so the client resolves the URL when it sends."""
        return url.strip() if _STATUS_URL.fullmatch(url.strip()) else None

    def post_author(self, url: str) -> str | None:
        m = _STATUS_URL.fullmatch(url.strip())
        if m is None:
            return None
        name = m.group("at") or m.group("user")
        return name if "@" in name else f"{name}@{m.group('host').lower()}"

    def new_key(self) -> str | None:
        import uuid

        return uuid.uuid4().hex


def _fits_until(text: str, units: list[tuple[int, int, int]], limit: int, spoiler: str) -> int:
    """Where the part of ``text`` that fits ends (links and remote mention
    suffixes are whole units; the rest grapheme by grapheme)."""
    used = graphemes(spoiler) if spoiler else 0
    end = 0
    pos = 0
    pieces: list[tuple[int, int, int]] = []
    for start, stop, weight in units:
        if pos < start:
            pieces.append((pos, start, -1))
        pieces.append((start, stop, weight))
        pos = stop
    if pos < len(text):
        pieces.append((pos, len(text), -1))
    for start, stop, weight in pieces:
        if weight >= 0:
            if used + weight > limit:
                return end
            used += weight
            end = stop
            continue
        chunk = text[start:stop]
        clusters = list(chunk) if chunk.isascii() else grapheme_list(chunk)
        for cluster in clusters:
            if used + 1 > limit:
                return end
            used += 1
            end += len(cluster)
    return end


def _bare_domains(text: str) -> list[Entity]:
    """Links twitter-text finds without a scheme: Mastodon does not link them."""
    if "." not in text:
        return []
    return [u for u in extract_urls(text) if "://" not in u.text]


_TAG_EXTRA = "\u00b7\u30fb\u200c"


@cache
def _tag_ok(tag: str) -> bool:
    return (
        bool(tag)
        and all(c.isalnum() or c == "_" or c in _TAG_EXTRA for c in tag)
        and any(c.isalpha() for c in tag)
    )


RULES = MastodonRules()
