"""The domain: projects, queues, posts, thread parts and media.

Plain frozen values.  Every value read from a file carries the position it
came from, so any message about it can say ``file:line:col``.
"""

from __future__ import annotations

from datetime import timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime, time
    from pathlib import Path

    from megaphone.problems import Loc
    from megaphone.time.slots import Slot


# The domain's values are named tuples rather than frozen dataclasses: as
# immutable, several times cheaper to make (which counts when a project has
# thousands of posts) and to define (which counts at start-up).


class Media(NamedTuple):
    path: str  # as written in the queue file
    alt: str | None
    loc: Loc  # of the path
    alt_loc: Loc | None = None


class Part(NamedTuple):
    """One post as the network sees it: a whole post, or one part of a thread."""

    text: str
    loc: Loc  # of the text value
    media: tuple[Media, ...] = ()
    media_loc: Loc | None = None


class Poll(NamedTuple):
    """A poll on the first post (Mastodon): its options, how long it runs,
    whether several options may be chosen."""

    options: tuple[str, ...]
    expires_in: int  # seconds
    multiple: bool = False


class Card(NamedTuple):
    """A link card given in the queue file (Bluesky), instead of the one
    megaphone makes from the page's Open Graph tags."""

    title: str
    description: str = ""
    image: str | None = None  # a media path, as the queue file writes it


#: Who sees a post, where the network lets it say (Mastodon).
VISIBILITIES = ("public", "unlisted", "private", "direct")


class Text(NamedTuple):
    """A text or a thread: what a network, a language or a turn of a
    rotation gives instead of the post's own."""

    parts: tuple[Part, ...]
    is_thread: bool
    loc: Loc


class Variant(NamedTuple):
    """The post in another language: its text (or thread), the alt text of
    its media in that language, and its own per-network texts and rotation."""

    lang: str
    text: Text
    loc: Loc
    networks: Mapping[str, Text] = MappingProxyType({})
    rotate: tuple[Text, ...] = ()


class Repeat(NamedTuple):
    """When a post comes back (``repeat:``): every ``interval`` days, weeks
    or months from its ``at``, on given weekdays and times, until a time or
    a number of occurrences."""

    freq: str  # "daily", "weekly" or "monthly"
    interval: int
    loc: Loc
    weekdays: tuple[int, ...] = ()  # 0 = Monday
    times: tuple[time, ...] = ()  # default: the time of ``at``
    until: datetime | None = None  # aware
    total: int | None = None  # how many occurrences in all


#: What separates the parts of a delivery's id: the post's id, the
#: language of a variant, the time of an occurrence (``id/es@2027-01-04T17:00Z``).
VARIANT_MARK = "/"
OCCURRENCE_MARK = "@"


class Post(NamedTuple):
    id: str
    loc: Loc  # of the post's mapping
    queue: str  # the queue file, as shown to the user
    accounts: tuple[str, ...]
    parts: tuple[Part, ...]
    timezone: str
    at: datetime | None = None  # aware
    expires: datetime | None = None  # aware
    hashtags: tuple[str, ...] = ()  # appended to the first part, without '#'
    reply_to: str | None = None
    quote: str | None = None
    draft: bool = False
    lang: str | None = None
    is_thread: bool = False
    #: Where each field's value is, by field name.
    locs: Mapping[str, Loc] = MappingProxyType({})
    #: Fields some networks have (Mastodon): who sees it, a content warning
    #: over it (``spoiler``), its media marked sensitive, a poll.
    visibility: str | None = None
    spoiler: str | None = None
    sensitive: bool = False
    poll: Poll | None = None
    #: The link card (Bluesky): None makes one from the first link's page,
    #: False has none, a Card is the queue file's own.
    card: Card | bool | None = None
    #: The post in other languages.
    variants: tuple[Variant, ...] = ()
    #: A text of its own for a network (by its name).
    networks: Mapping[str, Text] = MappingProxyType({})
    #: How an account that takes several of its languages gets them: each
    #: this long after the one before, or (None) as replies to the original.
    variants_as: timedelta | None = timedelta(minutes=30)
    repeat: Repeat | None = None
    #: Other texts, taken in turn by the occurrences of a repeating or
    #: evergreen post (the post's own text first).
    rotate: tuple[Text, ...] = ()
    #: A post of an evergreen queue: it fills the queue's free slots.
    evergreen: bool = False
    # A delivery made of the post (see megaphone.project.deliveries) names
    # the post it comes from, its language and its occurrence.
    entry: str | None = None
    variant: str = ""
    occurrence: datetime | None = None
    #: A translation sent as a reply to the account's own copy of this post.
    translation_of: str | None = None

    @property
    def entry_id(self) -> str:
        """The id of the post in its queue file (a delivery's, without its
        language and occurrence)."""
        return self.entry or self.id

    def for_network(self, network: str) -> Post:
        """The post as the accounts of ``network`` get it: with that
        network's own text when it has one."""
        text = self.networks.get(network)
        if text is None:
            return self
        return self._replace(parts=text.parts, is_thread=text.is_thread)

    def field_loc(self, name: str) -> Loc:
        return self.locs.get(name, self.loc)

    def texts(self) -> list[str]:
        """The text of each part as it will be published (hashtags appended to
        the first part, unless its text already carries them)."""
        texts = [p.text for p in self.parts]
        if self.hashtags and texts:
            texts[0] = append_hashtags(texts[0], self.hashtags)
        return texts


def append_hashtags(text: str, tags: tuple[str, ...]) -> str:
    """``text`` followed by the hashtags it does not already carry (compared
    without regard to case)."""
    lowered = text.casefold()
    present: set[str] | None = None
    missing = []
    for tag in tags:
        if f"#{tag.casefold()}" in lowered or f"\uff03{tag.casefold()}" in lowered:
            if present is None:
                from megaphone.text import extract_hashtags

                present = {h.text.casefold() for h in extract_hashtags(text)}
            if tag.casefold() in present:
                continue
        missing.append(tag)
    if not missing:
        return text
    sep = "\n\n" if "\n" in text.strip() else " "
    return text.rstrip() + sep + " ".join(f"#{t}" for t in missing)


class Queue(NamedTuple):
    path: Path
    name: str  # as shown to the user
    posts: tuple[Post, ...]
    timezone: str = ""
    #: The queue's accounts (its ``account``), for posts added to it.
    accounts: tuple[str, ...] = ()
    slots: tuple[Slot, ...] = ()
    #: A pool: its posts fill its free slots in turn, each at most once per
    #: ``min_gap``.
    evergreen: bool = False
    min_gap: timedelta | None = None


class MediaInfo(NamedTuple):
    kind: str  # "image", "gif" or "video"
    mime: str
    size: int
    width: int | None = None
    height: int | None = None


class AccountLimits(NamedTuple):
    """Limits that vary per account, from its configuration (``limits:``,
    named as a Mastodon instance names them in ``/api/v2/instance``); None:
    the network's own default."""

    max_characters: int | None = None
    characters_reserved_per_url: int | None = None
    max_media_attachments: int | None = None
    #: Bytes.
    image_size_limit: int | None = None
    video_size_limit: int | None = None
    #: Alt text, in characters.
    description_limit: int | None = None


class Account(NamedTuple):
    name: str
    #: The network's name in the registry (``x``); "" when not configured.
    network: str = ""
    handle: str | None = None
    #: The most posts a day the account should publish (None: no cap;
    #: ``megaphone init`` writes the network's own, e.g. X's free tier: 17).
    daily_cap: int | None = None
    #: Where the network's API is (a proxy, a test server); default its own.
    api_url: str | None = None
    #: The limits of the account's server, when it has its own (a Mastodon
    #: instance's ``max_characters``…).
    limits: AccountLimits = AccountLimits()
    #: The languages the account posts (empty: every language of a post).
    langs: tuple[str, ...] = ()

    def takes(self, lang: str | None) -> bool:
        """Whether the account posts a text in ``lang`` (None: unsaid)."""
        if not self.langs or lang is None:
            return True
        return any(lang_matches(lang, wanted) for wanted in self.langs)


def lang_matches(lang: str, wanted: str) -> bool:
    """``es-MX`` is ``es``; ``es`` is not ``es-MX``."""
    lang, wanted = lang.lower(), wanted.lower()
    return lang == wanted or lang.startswith(wanted + "-")


def delivery_id(entry: str, variant: str = "", occurrence: datetime | None = None) -> str:
    """The id of one delivery of a post: its language and its occurrence
    (in UTC, to the minute) after its own id."""
    out = entry
    if variant:
        out += VARIANT_MARK + variant
    if occurrence is not None:
        out += OCCURRENCE_MARK + occurrence_key(occurrence)
    return out


def occurrence_key(when: datetime) -> str:
    from datetime import UTC

    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def split_id(delivery: str) -> tuple[str, str, str]:
    """A delivery's id as (post id, language, occurrence): "" for those it
    has not."""
    entry, _, occurrence = delivery.partition(OCCURRENCE_MARK)
    entry, _, variant = entry.partition(VARIANT_MARK)
    return entry, variant, occurrence


class Limits(NamedTuple):
    max_hashtags: int = 5
    max_mentions: int = 10


#: What a notification destination may be told of.
EVENTS = (
    "failed",
    "unknown",
    "missed",
    "blocked",
    "expired",
    "worker-stopped",
    "stuck",
    "published",
)
DEFAULT_EVENTS = frozenset(
    ("failed", "unknown", "missed", "blocked", "expired", "worker-stopped", "stuck")
)


def check_notify_url(url: str) -> str | None:
    """Why ``url`` cannot be a destination (None: it can), without ever
    quoting it."""
    if "://" not in url:
        return "not an apprise URL (e.g. json://host/path, slack://…, mailto://…)"
    return None


class NotifySpec(NamedTuple):
    """A notification destination of megaphone.yaml (its URL is a secret)."""

    url: str
    events: frozenset[str] | None = None
    accounts: frozenset[str] | None = None


class Config(NamedTuple):
    """The project configuration (``megaphone.yaml``); defaults without one."""

    path: Path | None
    timezone: str
    posts_dir: str = "posts"
    accounts: tuple[Account, ...] = ()
    limits: Limits = Limits()
    #: A post more late than this is marked missed instead of published.
    grace: timedelta = timedelta(hours=1)
    #: The ledger: an SQLAlchemy URL, or a file path relative to the project.
    ledger: str | None = None
    #: The project's id in a ledger shared with other projects (required
    #: for a database server); None: derived on this machine.
    project_id: str | None = None
    #: How long a claim is its holder's without a renewal (None: default).
    lease: timedelta | None = None
    #: A post whose outcome is unknown: ``resend`` it once a full lookup,
    #: this long after the attempt, does not find it; or ``hold`` it for a
    #: person.
    unknown: str = "resend"
    unknown_after: timedelta = timedelta(minutes=2)
    #: Where to tell the team what went wrong (apprise URLs).
    notify: tuple[NotifySpec, ...] = ()

    def account(self, name: str) -> Account | None:
        return next((a for a in self.accounts if a.name == name), None)

    def takers(self, names: tuple[str, ...], lang: str | None) -> tuple[str, ...]:
        """The accounts among ``names`` that post ``lang`` (one that is not
        configured posts every language)."""
        return tuple(name for name in names if (a := self.account(name)) is None or a.takes(lang))


class Project(NamedTuple):
    root: Path
    config: Config
    queues: tuple[Queue, ...]

    def posts(self) -> list[Post]:
        return [p for q in self.queues for p in q.posts]
