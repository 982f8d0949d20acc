"""What a reader will see of each post: the text as published, weighed, with
its links, hashtags and mentions found, its media described, and the problems
that belong to it.  Built once; rendered for the terminal or for Markdown."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from megaphone.checks.media import MediaInfo, find, sniff
from megaphone.networks import groups, measure_part
from megaphone.text import extract_hashtags, extract_mentions, extract_urls

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from megaphone.model import Account, Media, Post, Project
    from megaphone.networks import Group
    from megaphone.networks.base import Measure, NetworkRules
    from megaphone.problems import Problem
    from megaphone.text import Entity


@dataclass(frozen=True)
class MediaView:
    media: Media
    info: MediaInfo | None  # None when the file is missing or of no known type


@dataclass(frozen=True)
class Count:
    """A part's text as one network counts it."""

    rules: NetworkRules
    measure: Measure


@dataclass(frozen=True)
class PartView:
    text: str  # as published (NFC, hashtags appended)
    #: One count per network the post goes to (none when no account of it
    #: is configured).
    counts: tuple[Count, ...]
    entities: tuple[Entity, ...]  # links, hashtags and mentions, in order
    media: tuple[MediaView, ...]
    problems: tuple[Problem, ...]

    @property
    def cut(self) -> int:
        """Where the text stops fitting on the strictest network it goes to
        (its length when it fits everywhere)."""
        # Only a count of this very text has its cut here (Bluesky stores
        # links shortened: its cut is in another text).
        return min(
            (c.measure.fits_until for c in self.counts if c.measure.text == self.text),
            default=len(self.text),
        )

    def display_link(self, url: str) -> str:
        """A link as the first network of the post shows it."""
        if self.counts:
            return self.counts[0].rules.display_link(url)
        from megaphone.networks.base import shorten_link

        return shorten_link(url)


@dataclass(frozen=True)
class PostView:
    post: Post
    accounts: tuple[Account, ...]
    parts: tuple[PartView, ...]
    problems: tuple[Problem, ...]  # those about the post as a whole


def build(project: Project, posts: list[Post], problems: list[Problem]) -> list[PostView]:
    """Views of ``posts``, each with the problems found in it."""
    by_post: dict[str, list[Problem]] = {}
    for p in problems:
        if p.post_id is not None:
            by_post.setdefault(p.post_id, []).append(p)
    queue_paths = {q.name: q.path for q in project.queues}
    root = project.root.resolve()
    sniffed: dict[Path, MediaInfo | None] = {}
    by_accounts: dict[tuple[str, ...], list[Group]] = {}
    views = []
    for post in _per_text(project, posts):
        mine = by_post.get(post.entry_id, [])
        parts = []
        claimed: set[int] = set()
        networks = by_accounts.get(post.accounts)
        if networks is None:
            networks = by_accounts[post.accounts] = groups(project.config, post.accounts)
        for i, (part, text) in enumerate(zip(post.parts, post.texts(), strict=True)):
            counts = tuple(Count(g.rules, measure_part(g, post, i, text)) for g in networks)
            if counts:
                normalized, urls = counts[0].measure.text, list(counts[0].measure.links)
            else:
                normalized = unicodedata.normalize("NFC", text)
                urls = extract_urls(normalized)
            found = [
                *urls,
                *extract_hashtags(normalized, urls=urls),
                *extract_mentions(normalized),
            ]
            found.sort(key=lambda e: e.start)
            media = tuple(
                MediaView(m, _info(queue_paths.get(post.queue), m, root, sniffed))
                for m in part.media
            )
            lines = {part.loc.line, *(m.loc.line for m in part.media)}
            if part.media_loc is not None:
                lines.add(part.media_loc.line)
            own = tuple(p for p in mine if p.loc.line in lines and id(p) not in claimed)
            claimed.update(id(p) for p in own)
            parts.append(PartView(normalized, counts, tuple(found), media, own))
        rest = tuple(p for p in mine if id(p) not in claimed)
        accounts = tuple(project.config.account(name) or _unnamed(name) for name in post.accounts)
        views.append(PostView(post, accounts, tuple(parts), rest))
    return views


def _per_text(project: Project, posts: list[Post]) -> Iterator[Post]:
    """Each post, split where a network has a text of its own: a card for
    the accounts of that network, another for the rest."""
    for post in posts:
        if not post.networks:
            yield post
            continue
        rest = []
        own: dict[str, list[str]] = {}
        for name in post.accounts:
            account = project.config.account(name)
            network = account.network if account else ""
            if network in post.networks:
                own.setdefault(network, []).append(name)
            else:
                rest.append(name)
        if rest:
            yield post._replace(accounts=tuple(rest))
        for network, names in own.items():
            yield post.for_network(network)._replace(accounts=tuple(names))


def _unnamed(name: str) -> Account:
    from megaphone.model import Account

    return Account(name)


def _info(
    queue_path: Path | None, media: Media, root: Path, cache: dict[Path, MediaInfo | None]
) -> MediaInfo | None:
    if queue_path is None:
        return None
    target, trouble = find(queue_path, media.path, root)
    if trouble:
        return None  # validation says why
    if target not in cache:
        try:
            cache[target] = sniff(target)
        except OSError:
            cache[target] = None
    return cache[target]
