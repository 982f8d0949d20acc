"""What every network declares about itself: its capabilities and the pure
rules the rest of megaphone asks of it — how it measures a text, what it
refuses in a text or in media, which post URLs are its own.

A network's rules live in ``networks/<name>/rules.py`` as one subclass of
:class:`NetworkRules`.  They are pure: importing them loads no client
library, so ``validate`` and ``preview`` stay fast and work offline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from megaphone.model import AccountLimits

__all__ = [
    "AccountLimits",
    "Capabilities",
    "Credentials",
    "Finding",
    "Measure",
    "MediaItem",
    "MediaLimits",
    "NetworkRules",
    "Secret",
    "shorten_link",
]

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import timedelta

    from megaphone.model import MediaInfo, Poll
    from megaphone.text import Entity


class Secret:
    """A secret value that never shows itself by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a secret is not pickled")


@dataclass(frozen=True)
class Credentials:
    """One account's credentials: its network's fields by name, each a
    :class:`Secret`, and where its API is."""

    fields: tuple[tuple[str, Secret], ...] = ()
    api_url: str | None = None
    #: The account's handle, for networks that sign in with it (Bluesky).
    handle: str | None = None
    #: A folder of the project's own (``.megaphone/``) where an adapter may
    #: keep what it needs between runs (a Bluesky session), mode 0600.
    keep: str | None = None

    def field(self, name: str) -> Secret:
        """The secret of field ``name`` (``ACCESS_TOKEN``…)."""
        for key, value in self.fields:
            if key == name:
                return value
        raise KeyError(name)


_SCHEME = re.compile(r"^(?:https?://)?(?:www\.)?", re.IGNORECASE)


class Capabilities(NamedTuple):
    """What a network can do, and how it behaves."""

    quotes: bool = True
    threads: bool = True
    #: Whether a post says which language it is in (``lang:`` is sent).
    languages: bool = False
    #: How a reply names what it answers: "parent" (X, Mastodon) or
    #: "parent+root" (Bluesky: the thread's first post as well).
    reply_model: str = "parent"
    #: The network refuses a post whose text the account posted already.
    rejects_duplicate_text: bool = False
    #: How long after a post the network refuses the same text (None: for
    #: as long as the post is there, as far as megaphone knows).
    duplicate_window: timedelta | None = None
    #: The most posts a day an account should publish by default (None: no cap).
    default_daily_cap: int | None = None
    #: How a send is made safe to repeat: "lookup" (no key: after an unclear
    #: outcome the post is looked for), "key" (a key sent with the request
    #: that the server remembers), "record" (the post's own id, chosen here).
    idempotency: str = "lookup"
    #: Post fields the network has: who sees it (``visibility``), a content
    #: warning (``spoiler``, ``sensitive``), a poll.
    visibility: bool = False
    content_warning: bool = False
    polls: bool = False
    #: A post's first link shows as a card made by the client (Bluesky).
    link_cards: bool = False


class Measure(NamedTuple):
    """A text as one network counts it."""

    #: The length in the network's unit, and its limit.
    length: int
    limit: int
    #: What is counted ("characters", "weighted characters", "graphemes").
    unit: str
    #: Where (an index into ``text``) the part that fits ends.
    fits_until: int
    #: The text as the network will hold it (NFC).
    text: str
    #: The links the network will make of it.
    links: Sequence[Entity] = ()
    #: Characters the network refuses outright.
    refused: str = ""

    @property
    def over_by(self) -> int:
        return max(0, self.length - self.limit)


class Finding(NamedTuple):
    """Something a network would refuse, or that would surprise a reader:
    a problem code of :mod:`megaphone.problems` and its message."""

    code: str
    message: str


class MediaItem(NamedTuple):
    """One medium of a post as the rules see it: how the queue file names
    it, what the file holds, its alt text."""

    path: str
    info: MediaInfo
    alt: str | None


class MediaLimits(NamedTuple):
    """A network's limits on the media of one post."""

    #: kind ("image", "gif", "video") -> largest size in bytes.
    max_bytes: dict[str, int] = {}  # noqa: RUF012 - never changed
    max_images: int = 4
    #: A video or GIF must be the only medium of its post.
    single_video: bool = True
    #: Longest alt text, in characters.
    max_alt: int = 1000
    #: Image and GIF need alt text (megaphone's rule everywhere).
    alt_required: bool = True


class NetworkRules:
    """One network's pure rules.  A subclass per network, registered in
    :data:`megaphone.networks.REGISTRY`."""

    #: The name in megaphone.yaml (``network: x``).
    name: ClassVar[str]
    #: The name people know it by.
    title: ClassVar[str]
    caps: ClassVar[Capabilities]
    media_limits: ClassVar[MediaLimits]
    #: The variables an account's credentials are read from
    #: (``MEGAPHONE_<NAME>_<FIELD>``).
    credential_fields: ClassVar[tuple[str, ...]]
    #: Where an account's credentials come from (for .env.example).
    credentials_help: ClassVar[str] = ""
    #: What ``megaphone init`` writes for an account of this network: a
    #: handle to replace, and the line naming its server where it has one.
    handle_example: ClassVar[str] = "YourHandle"
    init_server: ClassVar[str] = ""
    #: What a post URL of this network looks like, for messages.
    post_url_example: ClassVar[str]
    #: How many characters a link counts whatever its length (None: as written).
    link_length: ClassVar[int | None] = None
    #: The module whose ``flow(account, credentials, environ)`` signs an
    #: account in (``megaphone auth``); None: no sign-in flow.
    auth_module: ClassVar[str | None] = None

    def measure(
        self, text: str, limits: AccountLimits | None = None, *, spoiler: str = ""
    ) -> Measure:
        """``text`` as the network counts it (with the post's content
        warning, ``spoiler``, where the network counts that too)."""
        raise NotImplementedError

    def explain(self, measure: Measure) -> list[str]:
        """Why a text counts more than it seems to (for a too-long message)."""
        return []

    def check_text(self, measure: Measure, where: str) -> list[Finding]:
        """What this network refuses, or will not make what was meant of,
        in a text (its length is checked by the caller)."""
        return []

    def check_hashtag(self, tag: str) -> Finding | None:
        return None

    def media_limits_for(self, limits: AccountLimits | None) -> MediaLimits:
        """The media limits of one account (a network whose servers differ
        reads them from ``limits``)."""
        return self.media_limits

    def check_media(
        self, items: Sequence[MediaItem], limits: AccountLimits | None = None
    ) -> list[tuple[int | None, Finding]]:
        """Media findings: (index of the item, or None for the set, finding)."""
        out: list[tuple[int | None, Finding]] = []
        media = self.media_limits_for(limits)
        kinds = [m.info.kind for m in items]
        for i, m in enumerate(items):
            largest = media.max_bytes.get(m.info.kind)
            if largest is not None and m.info.size > largest:
                out.append(
                    (
                        i,
                        Finding(
                            "media-too-large",
                            f"{m.path} is {m.info.size / 1024 / 1024:.1f} MB: a {m.info.kind} "
                            f"may be at most {_mb(largest)} on {self.title}",
                        ),
                    )
                )
            if m.alt and len(m.alt) > media.max_alt:
                out.append(
                    (
                        i,
                        Finding(
                            "alt-too-long",
                            f"alt text is {len(m.alt)} characters: {self.title} takes at most "
                            f"{media.max_alt}",
                        ),
                    )
                )
        single = [k for k in kinds if k != "image"]
        if media.single_video and single and len(kinds) > 1:
            message = (
                f"a {single[0]} must be the only media of its post (this one has {len(kinds)})"
            )
            out.append((None, Finding("media-count", message)))
        elif kinds.count("image") > media.max_images:
            message = (
                f"{kinds.count('image')} images: a post on {self.title} takes at most "
                f"{media.max_images}"
            )
            out.append((None, Finding("media-count", message)))
        return out

    def check_poll(self, poll: Poll, *, has_media: bool) -> list[Finding]:
        """What the network refuses in a poll (only asked of networks with
        ``caps.polls``)."""
        return []

    def parse_post_url(self, url: str) -> str | None:
        """The id of the post at ``url`` when it is a post of this network."""
        return None

    def new_key(self) -> str | None:
        """A new idempotency key for one part, stored before its first send
        (None: the network takes none)."""
        if self.caps.idempotency == "lookup":
            return None
        import uuid

        return uuid.uuid4().hex

    def mentions(self, text: str) -> list[str]:
        """The handles ``text`` mentions that the client resolves when it
        sends (Bluesky: to DIDs); none for networks that resolve nothing."""
        return []

    def post_author(self, url: str) -> str | None:
        """The handle a post URL of this network names, when it names one."""
        return None

    #: How much of a link the network shows ("…" included).
    link_display_length: ClassVar[int] = 30

    def display_link(self, url: str) -> str:
        """A link as the network shows it."""
        return shorten_link(url, self.link_display_length)


def shorten_link(url: str, length: int = 30) -> str:
    """A link as networks show it: no scheme, no "www.", cut with "…" to
    ``length`` characters."""
    shown = _SCHEME.sub("", url)
    if len(shown) > length:
        shown = shown[: length - 1] + "…"
    return shown


def _mb(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n % (1024 * 1024) == 0 else f"{n / 1024 / 1024:.1f} MB"
