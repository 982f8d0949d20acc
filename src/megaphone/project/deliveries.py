"""From the posts of the queue files to their deliveries.

A post of a queue file may stand for several deliveries: one per language
(``variants``), sent to the accounts that post that language; one per
occurrence of a repeating post (``repeat``); the slots an evergreen queue's
posts fill.  Each delivery is a :class:`~megaphone.model.Post` of its own,
with an id that says which it is (``id/es@2027-01-04T17:00Z``, see
:func:`megaphone.model.delivery_id`), so the ledger, the publisher and every
listing treat it as they treat any post.

Pure: the project (and, for evergreen queues, the uses the ledger has
recorded) in, deliveries out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from megaphone.model import Post, Text, delivery_id, split_id

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from megaphone.model import Config, Project, Queue

#: How far ahead runs write the rows of repeating and evergreen posts, and
#: how far back they look for occurrences to settle (one that passed its
#: grace period is marked missed).
AHEAD = timedelta(days=7)
BEHIND = timedelta(days=7)

#: Uses of evergreen posts the ledger has: post id -> times.
History = Mapping[str, "list[datetime]"]


def expands(post: Post) -> bool:
    """Whether a post stands for more than itself."""
    return bool(post.variants or post.repeat or post.evergreen)


def deliveries(
    project: Project,
    *,
    start: datetime,
    end: datetime,
    history: History | None = None,
    fill_from: datetime | None = None,
) -> list[Post]:
    """Every delivery of the project: posts that go out once, and their
    languages, whatever their time; the occurrences of repeating posts and
    the slots evergreen posts fill from ``start`` to ``end`` (new fills
    from ``fill_from`` on: a slot that passed unfilled stays so)."""
    config = project.config
    out: list[Post] = []
    evergreen: list[Queue] = []
    # Slots are filled from ``fill_from`` on whatever the span: the dated
    # posts that take some are looked for from there too.
    lo = min(start, fill_from) if fill_from is not None else start
    earlier: list[Post] = []
    for queue in project.queues:
        if queue.evergreen:
            evergreen.append(queue)
            continue
        for post in queue.posts:
            if not expands(post):
                out.append(post)
                continue
            for made in of_post(post, config, start=lo, end=end):
                if made.occurrence is not None and made.occurrence < start:
                    earlier.append(made)
                else:
                    out.append(made)
    if evergreen:
        dated = {(a, p.at) for p in (*out, *earlier) if p.at is not None for a in p.accounts}
        for queue in evergreen:
            out.extend(
                fills(
                    queue,
                    config,
                    start=start,
                    end=end,
                    history=history,
                    taken=dated,
                    fill_from=fill_from,
                )
            )
    return out


def of_post(post: Post, config: Config, *, start: datetime, end: datetime) -> Iterator[Post]:
    """The deliveries of one post of a dated queue."""
    if post.repeat is None or post.at is None or post.draft:
        yield from languages(post, config, post.at, 0)
        return
    from megaphone.time.repeat import occurrences

    for number, when in occurrences(post.repeat, post.at, post.timezone, start=start, end=end):
        if post.expires is not None and when >= post.expires:
            return
        yield from languages(post, config, when, number, occurrence=True)


def languages(
    post: Post,
    config: Config,
    at: datetime | None,
    number: int,
    *,
    occurrence: bool = False,
) -> Iterator[Post]:
    """The post at ``at`` (its ``number``-th turn), in its own language and
    in each of its variants, each to the accounts that take it."""
    when = at if occurrence else None
    base_id = delivery_id(post.id, "", when)
    takers = config.takers(post.accounts, post.lang)
    if takers:
        text = _turn(None, post.rotate, number)
        yield post._replace(
            id=base_id,
            accounts=takers,
            at=at,
            parts=text.parts if text else post.parts,
            is_thread=text.is_thread if text else post.is_thread,
            variants=(),
            repeat=None,
            rotate=(),
            entry=post.id if base_id != post.id else None,
            occurrence=when,
        )
    for i, variant in enumerate(post.variants, 1):
        accounts = config.takers(post.accounts, variant.lang)
        if not accounts:
            continue
        gap = post.variants_as
        text = _turn(variant.text, variant.rotate, number) or variant.text
        yield post._replace(
            id=delivery_id(post.id, variant.lang, when),
            accounts=accounts,
            at=(at + gap * i) if (at is not None and gap is not None) else at,
            lang=variant.lang,
            parts=text.parts,
            is_thread=text.is_thread,
            networks=variant.networks,
            variants=(),
            repeat=None,
            rotate=(),
            entry=post.id,
            variant=variant.lang,
            occurrence=when,
            translation_of=base_id if gap is None and takers else None,
        )


def _turn(own: Text | None, rotate: tuple[Text, ...], number: int) -> Text | None:
    """The text of a post's ``number``-th turn: its own (None: the post's),
    then each of ``rotate`` in turn."""
    if not rotate:
        return own
    pick = number % (len(rotate) + 1)
    return own if pick == 0 else rotate[pick - 1]


# ------------------------------------------------------------- evergreen


def fills(
    queue: Queue,
    config: Config,
    *,
    start: datetime,
    end: datetime,
    history: History | None = None,
    taken: set[tuple[str, datetime]] | None = None,
    fill_from: datetime | None = None,
) -> list[Post]:
    """The evergreen posts of ``queue`` in its slots from ``start`` to
    ``end``: those the ledger has already given a post (``history``), and,
    from ``fill_from`` on, each free slot no dated post of its accounts
    takes, given the post used longest ago (or never) that keeps its gap
    from every use of it, in the ledger or made here."""
    from megaphone.time.slots import upcoming

    pool = [p for p in queue.posts if not p.draft and p.accounts]
    if not pool or not queue.slots or not queue.timezone:
        return []
    gap = queue.min_gap or timedelta(0)
    uses: dict[str, list[datetime]] = {p.id: sorted((history or {}).get(p.id, ())) for p in pool}
    given = {when: post_id for post_id, times in uses.items() for when in times}
    by_id = {p.id: p for p in pool}
    order = {p.id: i for i, p in enumerate(pool)}
    accounts = {a for p in pool for a in p.accounts}
    earliest = datetime.min.replace(tzinfo=start.tzinfo)
    out: list[Post] = []
    # From ``fill_from`` whatever the span shown: a slot's post must not
    # depend on the span asked for.
    begin = min(start, fill_from) if fill_from is not None else start
    for slot in upcoming(queue.slots, after=begin - timedelta(seconds=1), tz_name=queue.timezone):
        if slot > end:
            break
        chosen = given.get(slot)
        if chosen is None:
            if fill_from is not None and slot < fill_from:
                continue  # a slot that passed before any run gave it a post
            if taken and any((a, slot) in taken for a in accounts):
                continue
            best_key: tuple[datetime, int] | None = None
            for post in pool:
                times = uses[post.id]
                if any(abs(slot - t) < gap for t in times):
                    continue
                before = [t for t in times if t < slot]
                key = (before[-1] if before else earliest, order[post.id])
                if best_key is None or key < best_key:
                    chosen, best_key = post.id, key
            if chosen is None:
                continue
            uses[chosen] = sorted([*uses[chosen], slot])
        if slot >= start:
            number = sum(1 for t in uses[chosen] if t < slot)
            out.extend(languages(by_id[chosen], config, slot, number, occurrence=True))
    return out


def history_of(rows: Iterable[tuple[str, str]], project: Project) -> dict[str, list[datetime]]:
    """The uses of the project's evergreen posts, from the ledger's
    deliveries (id and state): the times of their occurrences.  A delivery
    ``skipped`` is no use of its post: it never went out (the slot went to
    another post, or a person skipped it)."""
    from megaphone.time.timeline import parse_occurrence

    pool = {p.id for q in project.queues if q.evergreen for p in q.posts}
    out: dict[str, list[datetime]] = {}
    if not pool:
        return out
    for post_id, state in rows:
        if state == "skipped":
            continue
        entry, variant, occurrence = split_id(post_id)
        if entry in pool and occurrence and not variant:
            when = parse_occurrence(occurrence)
            if when is not None:
                out.setdefault(entry, []).append(when)
    return out


def texts_by_account(project: Project) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """For each post with languages or a network's own text: which text
    each account gets ("es", "en, its bluesky text"), in the file's order."""
    out = []
    for post in project.posts():
        if not (post.variants or post.networks):
            continue
        routes: dict[str, list[str]] = {}
        for made in languages(post, project.config, post.at, 0):
            lang = made.lang or "its text"
            for name in made.accounts:
                account = project.config.account(name)
                network = account.network if account else ""
                label = f"{lang}, its {network} text" if network in made.networks else lang
                routes.setdefault(label, []).append(name)
        out.append((post.id, list(routes.items())))
    return out


# ---------------------------------------------------------------- lookup


def find(project: Project, delivery: str, *, history: History | None = None) -> Post | None:
    """The delivery named by its id (a post's, a language's, an
    occurrence's); None when the project has no such delivery."""
    from megaphone.time.timeline import parse_occurrence

    entry, _variant, occurrence = split_id(delivery)
    post = next((p for p in project.posts() if p.id == entry), None)
    if post is None:
        return None
    if not occurrence:
        if post.repeat is not None or post.evergreen:
            return None
        candidates: Iterable[Post] = languages(post, project.config, post.at, 0)
    else:
        when = parse_occurrence(occurrence)
        if when is None:
            return None
        if post.evergreen:
            number = sum(1 for t in (history or {}).get(entry, ()) if t < when)
            candidates = languages(post, project.config, when, number, occurrence=True)
        else:
            candidates = of_post(post, project.config, start=when, end=when)
    return next((p for p in candidates if p.id == delivery), None)


class ByDelivery(Mapping[str, Post]):
    """The project's deliveries by id: those listed, and any other found
    by its id (an occurrence of a repeating post the ledger names)."""

    def __init__(
        self, project: Project, listed: Mapping[str, Post], *, history: History | None = None
    ) -> None:
        self.project = project
        self.history = history
        self.listed = listed  # by id; never changed here
        self._found: dict[str, Post] = {}

    def __getitem__(self, key: str) -> Post:
        found = self.listed.get(key) or self._found.get(key)
        if found is None:
            found = find(self.project, key, history=self.history)
            if found is None:
                raise KeyError(key)
            self._found[key] = found
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self.listed)

    def __len__(self) -> int:
        return len(self.listed)
