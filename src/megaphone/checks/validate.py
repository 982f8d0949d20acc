"""The checks: everything a network would refuse, and what a reader would
trip over, found before anything is sent.  What every network shares is
checked here; each network's own rules (its count, what it refuses in a
text or in media, its post URLs) come from its ``rules`` module, applied
once per network a post goes to."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from megaphone.checks.media import MediaInfo, find, sniff
from megaphone.model import Text
from megaphone.networks import REGISTRY, measure_part
from megaphone.networks import groups as network_groups
from megaphone.networks import rules as network_rules
from megaphone.networks.base import MediaItem
from megaphone.problems import Loc, Problem, problem
from megaphone.project.loader import LANG_TAG, did_you_mean
from megaphone.text import extract_hashtags, extract_mentions, extract_urls

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from megaphone.model import Config, Media, Part, Post
    from megaphone.networks import Group
    from megaphone.networks.base import Measure, NetworkRules
    from megaphone.project.loader import Loaded
    from megaphone.store.view import Deliveries
    from megaphone.text import Entity


@dataclass
class Report:
    """The outcome of validating a project."""

    problems: list[Problem]
    posts: int
    files: int

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> int:
        return len(self.problems) - self.errors


class Facts(NamedTuple):
    """What the checks of one post found, and what the checks across posts
    need to know of it.  Plain values (a named tuple, cheap to send), so that
    they can travel between processes (see :mod:`megaphone.checks.batch`)."""

    id: str
    id_loc: Loc
    at: datetime | None  # in UTC: quick to send
    timezone: str  # to show ``at`` as the queue file has it
    draft: bool
    problems: list[Problem]
    #: references to posts of the project: (field, id, where)
    refs: list[tuple[str, str, Loc]]
    #: text as published, per account of a network that refuses a text
    #: posted twice: (account, key of the text, where, which part of the
    #: post, the network's name)
    texts: list[tuple[str, tuple[int, int], Loc, int, str]]
    #: hashtags as spelt: (spelling, where)
    tags: list[tuple[str, Loc]]
    is_thread: bool
    #: A repeating or evergreen post: many deliveries, none of them "the" post.
    comes_back: bool = False


def validate(
    loaded: Loaded, *, now: datetime | None = None, ledger: Deliveries | None = None
) -> Report:
    """Check every post of ``loaded`` and return all problems, file by file,
    in the order they appear.  With ``ledger`` (what it says of each post),
    also flag posts edited after they were published."""
    checker = PostChecker(
        loaded.project.config,
        loaded.project.root,
        {q.name: q.path for q in loaded.project.queues},
        now or datetime.now(UTC),
        ledger,
    )
    facts = [checker.check(post) for post in loaded.project.posts()]
    return report(loaded.problems, facts, loaded.queue_files)


def report(file_problems: list[Problem], facts: list[Facts], files: int) -> Report:
    """The whole report: problems of the files, of each post, and across
    posts (duplicate ids, references, hashtag spellings, repeated text).
    ``facts`` must come in the order of the files and posts."""
    problems = list(file_problems)
    kept = []
    first_of: dict[str, Facts] = {}
    for f in facts:
        first = first_of.get(f.id)
        if first is not None:
            problems.append(
                problem(
                    "duplicate-id",
                    f"id {f.id!r} is already used by the post at {first.id_loc}",
                    f.id_loc,
                    f.id,
                )
            )
            continue  # nothing else is said of a post whose id is taken
        first_of[f.id] = f
        kept.append(f)
        problems.extend(f.problems)
    problems.extend(_references(kept, first_of))
    problems.extend(_hashtag_case(kept))
    problems.extend(_repeated_texts(kept))
    problems.sort(key=lambda p: (p.loc.file, p.loc.line, p.loc.column))
    return Report(problems, len(kept), files)


def _references(kept: list[Facts], by_id: dict[str, Facts]) -> list[Problem]:
    out = []
    in_cycle = _cycles(kept, by_id)
    for f in kept:
        if f.id in in_cycle:
            ring, loc = in_cycle[f.id]
            message = f"{' → '.join(ring)}: these posts wait for each other, so none can go out"
            out.append(problem("reference-cycle", message, loc, f.id))
            continue
        for name, ref, loc in f.refs:
            target = by_id.get(ref)
            if target is None:
                message = f"{name}: no post has the id {ref!r}{did_you_mean(ref, by_id)}"
                out.append(problem("bad-reference", message, loc, f.id))
            elif target is f:
                message = f"{name}: a post cannot refer to itself"
                out.append(problem("bad-reference", message, loc, f.id))
            elif target.draft and not f.draft:
                message = f"{name}: post {ref!r} is a draft and will never be published"
                out.append(problem("bad-reference", message, loc, f.id))
            elif target.comes_back:
                message = (
                    f"{name}: post {ref!r} comes back again and again (a repeat or an "
                    "evergreen pool): a reply or a quote names one post"
                )
                out.append(problem("bad-reference", message, loc, f.id))
            elif f.at and target.at and target.at >= f.at:
                message = (
                    f"{name}: post {ref!r} is scheduled at {_show(target.at)}, not before this one"
                )
                out.append(problem("reply-order", message, loc, f.id))
    return out


def _cycles(kept: list[Facts], by_id: dict[str, Facts]) -> dict[str, tuple[list[str], Loc]]:
    """The posts on a ring of replies and quotes: id -> (the ring, starting
    and ending at it; where its own reference is)."""
    found: dict[str, tuple[list[str], Loc]] = {}
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    for start in kept:
        if state.get(start.id):
            continue
        path: list[tuple[Facts, int]] = [(start, 0)]
        state[start.id] = 1
        while path:
            node, i = path[-1]
            targets = [(ref, loc) for _, ref, loc in node.refs if ref in by_id and ref != node.id]
            if i >= len(targets):
                state[node.id] = 2
                path.pop()
                continue
            path[-1] = (node, i + 1)
            ref, _ = targets[i]
            seen = state.get(ref)
            if seen == 1:
                ids = [n.id for n, _ in path]
                ring = ids[ids.index(ref) :]
                for n, j in path[ids.index(ref) :]:
                    own = [(r, lc) for _, r, lc in n.refs if r in by_id and r != n.id][j - 1]
                    at = ring.index(n.id)
                    found.setdefault(n.id, ([*ring[at:], *ring[:at], n.id], own[1]))
            elif seen is None:
                state[ref] = 1
                path.append((by_id[ref], 0))
    return found


def _hashtag_case(kept: list[Facts]) -> list[Problem]:
    # casefolded hashtag -> spelling -> where it is used
    spellings: dict[str, dict[str, list[tuple[Loc, str]]]] = {}
    for f in kept:
        for spelling, loc in f.tags:
            spellings.setdefault(spelling.casefold(), {}).setdefault(spelling, []).append(
                (loc, f.id)
            )
    out = []
    for variants in spellings.values():
        if len(variants) < 2:
            continue
        ranked = sorted(variants.items(), key=lambda kv: -len(kv[1]))
        usual, usual_uses = ranked[0]
        for spelling, uses in ranked[1:]:
            for loc, post_id in uses:
                message = (
                    f"#{spelling} is written #{usual} in {len(usual_uses)} other place(s) of "
                    "the project: pick one spelling"
                )
                out.append(problem("hashtag-case", message, loc, post_id))
    return out


def _repeated_texts(kept: list[Facts]) -> list[Problem]:
    seen: dict[tuple[str, tuple[int, int]], Loc] = {}
    out = []
    for f in kept:
        if f.draft:
            continue
        for account, text, loc, index, title in f.texts:
            first = seen.setdefault((account, text), loc)
            if first is not loc:
                where = _where_id(f.id, index, is_thread=f.is_thread)
                message = (
                    f"account {account!r} already posts this text ({where}; first at {first}): "
                    f"{title} rejects duplicates"
                )
                out.append(problem("duplicate-text", message, loc, f.id))
    return out


class PostChecker:
    """The checks that need one post only."""

    def __init__(
        self,
        config: Config,
        root: Path,
        queue_paths: dict[str, Path],
        now: datetime,
        ledger: Deliveries | None = None,
    ) -> None:
        self.now = now
        #: What the ledger says of each post (None without a ledger).
        self.ledger = ledger
        self.root = root.resolve()
        self.config = config
        self.limits = config.limits
        self._groups: dict[tuple[str, ...], list[Group]] = {}
        self._networks: dict[tuple[str, ...], list[tuple[NetworkRules, str]]] = {}
        self.queue_paths = queue_paths
        self._media: dict[Path, MediaInfo | None] = {}
        self.facts: Facts
        #: Whether an account says which languages it posts.
        self.langs = any(a.langs for a in config.accounts)

    def check(self, post: Post) -> Facts:
        at = post.at.astimezone(UTC) if post.at else None
        self.facts = tuple.__new__(  # Facts, once per post: see yamldoc.Document.loc
            Facts,
            (
                post.id,
                post.field_loc("id"),
                at,
                post.timezone,
                post.draft,
                [],
                [],
                [],
                [],
                post.is_thread,
                post.repeat is not None or post.evergreen,
            ),
        )
        self.post(post)
        return self.facts

    def add(
        self, code: str, message: str, loc: Loc, post: Post, network: str | None = None
    ) -> None:
        self.facts.problems.append(problem(code, message, loc, post.entry_id, network))

    # ------------------------------------------------------------ per post

    def post(self, post: Post) -> None:
        if post.variants or post.networks or post.rotate or self.langs:
            for version in self.versions(post):
                self.version(version)
        else:
            self.version(post)
            if len(self.networks(post.accounts)) > 1:
                names: dict[str, list[str]] = {r.name: [] for r, _ in self.networks(post.accounts)}
                own = Text(post.parts, post.is_thread, post.loc)
                self.cross_network_mentions(post, own, {}, names)
        self.schedule(post)
        if post.repeat is not None:
            self.repeat(post)
        self.references(post)
        self.network_fields(post)
        if post.lang is not None and not LANG_TAG.fullmatch(post.lang):
            self.add(
                "bad-lang",
                f"lang {post.lang!r} is not a language tag such as 'en' or 'es-MX'",
                post.field_loc("lang"),
                post,
            )
        for tag in post.hashtags:
            for rules, prefix in self.networks(post.accounts):
                found = rules.check_hashtag(tag)
                if found is not None:
                    loc = post.field_loc(f"hashtag:{tag}")
                    self.add(found.code, prefix + found.message, loc, post, rules.name)

    def version(self, post: Post) -> None:
        """The checks of one text of a post (its own, a language's, a
        network's, a turn of its rotation), for the accounts that get it."""
        texts = post.texts()
        for i, (part, text) in enumerate(zip(post.parts, texts, strict=True)):
            self.text(post, part, text, i, appended=i == 0 and text != part.text)
            self.media(post, part)

    def versions(self, post: Post) -> list[Post]:
        """Each text of a post with the accounts that get it: its own
        language's, each variant's; in each, a network's own text for that
        network's accounts, and each turn of a rotation.  (Named ``id/es``
        for a language, so messages say which.)"""
        out: list[Post] = []
        own = Text(post.parts, post.is_thread, post.field_loc("text"))
        languages = [(post.lang, own, post.networks, post.rotate, post.id)]
        languages += [
            (v.lang, v.text, v.networks, v.rotate, f"{post.id}/{v.lang}") for v in post.variants
        ]
        for lang, text, networks, rotate, label in languages:
            accounts = self.config.takers(post.accounts, lang)
            if not accounts:
                if lang is not None and post.accounts:
                    loc = (
                        post.loc
                        if label == post.id
                        else next(v.loc for v in post.variants if v.lang == lang)
                    )
                    message = (
                        f"post {label!r}: none of its accounts ({', '.join(post.accounts)}) "
                        f"posts {lang!r} (their 'langs' in megaphone.yaml): it is not sent"
                    )
                    self.add("no-taker", message, loc, post)
                continue
            by_network: dict[str, list[str]] = {}
            for a in accounts:
                c = self.config.account(a)
                by_network.setdefault(c.network if c else "", []).append(a)
            rest = tuple(a for n, names in by_network.items() if n not in networks for a in names)
            base = post._replace(
                id=label,
                entry=post.id,
                lang=lang,
                networks={},
                variants=(),
                rotate=(),
            )
            for turn in (text, *rotate):
                if rest:
                    out.append(
                        base._replace(accounts=rest, parts=turn.parts, is_thread=turn.is_thread)
                    )
            for network, names in by_network.items():
                other = networks.get(network)
                if other is not None:
                    out.append(
                        base._replace(
                            accounts=tuple(names), parts=other.parts, is_thread=other.is_thread
                        )
                    )
            self.cross_network_mentions(base, text, networks, by_network)
        return out

    def cross_network_mentions(
        self,
        post: Post,
        text: Text,
        networks: Mapping[str, Text],
        by_network: Mapping[str, list[str]],
    ) -> None:
        """An @handle means one person on one network: a text that goes to
        several networks with a mention names someone else (or no one) on
        the others."""
        sharing = [n for n in by_network if n and n not in networks]
        if len(sharing) < 2:
            return
        for part in text.parts:
            if "@" not in part.text and "\uff20" not in part.text:
                continue
            mentions = extract_mentions(part.text)
            if mentions:
                names = ", ".join("@" + m.text for m in mentions[:3])
                titles = ", ".join(network_rules(n).title for n in sharing if n in REGISTRY)
                message = (
                    f"post {post.id!r} mentions {names} and goes to {titles}: a handle names "
                    "one account on one network; give each network its own text (networks:)"
                )
                self.add("cross-network-mention", message, part.loc, post)
                return

    def repeat(self, post: Post) -> None:
        """A repeating post sends the same text again: a network that
        refuses a text it saw lately must get another (``rotate``)."""
        from megaphone.time.repeat import same_text_gap

        rule = post.repeat
        assert rule is not None
        if post.at is None or not post.timezone:
            return
        again = same_text_gap(rule, post.at, post.timezone, 1 + len(post.rotate))
        if again is None:
            return  # no text comes back
        for rules, tag in self.networks(post.accounts):
            window = rules.caps.duplicate_window
            if rules.caps.rejects_duplicate_text and window is not None and again < window:
                message = (
                    f"post {post.id!r} sends the same text again {_span(again)} later; "
                    f"{rules.title} refuses a text it saw in the last {_span(window)}: add texts "
                    "to 'rotate'"
                )
                self.add(
                    "repeat-duplicate", tag + message, post.field_loc("repeat"), post, rules.name
                )

    def network_fields(self, post: Post) -> None:
        """Fields only some networks have (visibility, a content warning, a
        poll) are refused for those that lack them; a poll is checked by
        the rules of those that have it."""
        if (
            post.visibility is None
            and post.spoiler is None
            and not post.sensitive
            and post.poll is None
            and post.card is None
            and post.quote is None
        ):
            return  # the most common case: none of them
        wanted = [
            ("visibility", post.visibility is not None, "visibility"),
            ("spoiler", post.spoiler is not None, "content_warning"),
            ("sensitive", post.sensitive, "content_warning"),
            ("poll", post.poll is not None, "polls"),
            ("card", post.card is not None, "link_cards"),
        ]
        for rules, tag in self.networks(post.accounts):
            for name, present, capability in wanted:
                if present and not getattr(rules.caps, capability):
                    message = f"{name}: {rules.title} has no {name}; megaphone cannot send it there"
                    self.add(
                        "unsupported-field", tag + message, post.field_loc(name), post, rules.name
                    )
            if post.poll is not None and rules.caps.polls:
                has_media = any(p.media for p in post.parts[:1])
                for f in rules.check_poll(post.poll, has_media=has_media):
                    self.add(f.code, tag + f.message, post.field_loc("poll"), post, rules.name)
            if post.quote is not None and not rules.caps.quotes:
                message = (
                    f"quote: {rules.title} has no quotes everywhere: the quoted post's link ends "
                    "the first part (it counts as a link)"
                )
                self.add("quote-as-link", tag + message, post.field_loc("quote"), post, rules.name)

    def groups(self, accounts: tuple[str, ...]) -> list[Group]:
        """The networks a post goes to, with their accounts' limits (see
        :func:`megaphone.networks.groups`)."""
        found = self._groups.get(accounts)
        if found is None:
            found = self._groups[accounts] = network_groups(self.config, accounts)
        return found

    def networks(self, accounts: tuple[str, ...]) -> list[tuple[NetworkRules, str]]:
        """Each network a post goes to, once, with what starts its messages:
        the network's name when the post goes to several, else nothing."""
        found = self._networks.get(accounts)
        if found is None:
            distinct = list(dict.fromkeys(g.rules for g in self.groups(accounts)))
            named = len(distinct) > 1
            found = [(r, f"{r.title}: " if named else "") for r in distinct]
            self._networks[accounts] = found
        return found

    def prefix(self, accounts: tuple[str, ...], rules: NetworkRules) -> str:
        return next(p for r, p in self.networks(accounts) if r is rules)

    def text(self, post: Post, part: Part, text: str, index: int, *, appended: bool) -> None:
        # Runs for every text of every post: written to do little when all is well.
        if not part.text or part.text.isspace():
            self.add("empty-text", f"{_where(post, index)} has no text", part.loc, post)
            return
        where = _where(post, index)
        facts = self.facts
        first: Measure | None = None
        for g in self.groups(post.accounts):
            rules = g.rules
            measure = measure_part(g, post, index, text)
            if first is None:
                first = measure
            if measure.length > measure.limit:
                message = self._too_long(where, rules, measure, appended)
                tag = self.prefix(post.accounts, rules)
                self.add("text-too-long", tag + message, part.loc, post, rules.name)
            found = rules.check_text(measure, where)
            if found:
                tag = self.prefix(post.accounts, rules)
                for f in found:
                    self.add(f.code, tag + f.message, part.loc, post, rules.name)
            if rules.caps.rejects_duplicate_text and not post.draft:
                key = _text_key(measure.text.strip())
                for a in g.accounts:
                    facts.texts.append((a, key, part.loc, index, rules.title))
        if first is None:  # no network known: what every network shares
            normalized = unicodedata.normalize("NFC", text)
            urls: Sequence[Entity] = extract_urls(normalized)
        else:
            normalized, urls = first.text, first.links
        limits = self.limits
        if "#" in normalized or "\uff03" in normalized:
            tags = extract_hashtags(normalized, urls=urls)
            if len(tags) > limits.max_hashtags:
                self.add(
                    "too-many-hashtags",
                    f"{where} has {len(tags)} hashtags (the project's limit is "
                    f"{limits.max_hashtags})",
                    part.loc,
                    post,
                )
            loc = part.loc
            for tag_entity in tags:
                facts.tags.append((tag_entity.text, loc))
        if "@" in normalized or "\uff20" in normalized:
            mentions = extract_mentions(normalized)
            if len(mentions) > limits.max_mentions:
                self.add(
                    "too-many-mentions",
                    f"{where} mentions {len(mentions)} accounts (the project's "
                    f"limit is {limits.max_mentions})",
                    part.loc,
                    post,
                )

    def _too_long(self, where: str, rules: NetworkRules, measure: Measure, appended: bool) -> str:
        why = rules.explain(measure)
        if appended:
            why.append("the hashtags added to the post count too")
        reason = f" ({'; '.join(why)})" if why else ""
        verb = "weighs" if measure.unit == "weighted characters" else "counts"
        unit = " bytes" if measure.unit == "UTF-8 bytes" else ""
        return (
            f"{where} {verb} {measure.length}/{measure.limit}{unit}, {measure.over_by} over{reason}"
        )

    def media(self, post: Post, part: Part) -> None:
        if not part.media:
            return
        items: list[MediaItem] = []
        written: list[Media] = []
        for item in part.media:
            info = self._one_medium(post, item)
            if info is not None:
                items.append(MediaItem(item.path, info, item.alt))
                written.append(item)
        said: set[tuple[str, str]] = set()
        for g in self.groups(post.accounts):
            tag = self.prefix(post.accounts, g.rules)
            for index, f in g.rules.check_media(items, g.limits):
                if (f.code, f.message) in said:
                    continue  # two accounts of one network with the same limits
                said.add((f.code, f.message))
                if index is None:
                    loc = part.media_loc or part.loc
                elif f.code == "alt-too-long":
                    loc = written[index].alt_loc or written[index].loc
                else:
                    loc = written[index].loc
                self.add(f.code, tag + f.message, loc, post, g.rules.name)

    def _one_medium(self, post: Post, item: Media) -> MediaInfo | None:
        target, trouble = find(self._queue_path(post), item.path, self.root)
        if trouble == "outside":
            self.add(
                "media-outside-project",
                f"{item.path} leads outside the project folder: media must live inside it",
                item.loc,
                post,
            )
            return None
        if trouble == "missing":
            self.add("media-missing", f"{item.path} does not exist", item.loc, post)
            return None
        if target not in self._media:
            try:
                self._media[target] = sniff(target)
            except OSError as e:
                self.add(
                    "media-missing", f"{item.path} cannot be read: {e.strerror}", item.loc, post
                )
                return None
        info = self._media[target]
        if info is None:
            self.add(
                "media-type",
                f"{item.path} is not a JPEG, PNG, GIF, WEBP or MP4 file (judged by its content)",
                item.loc,
                post,
            )
            return None
        if info.kind in ("image", "gif") and not (item.alt and item.alt.strip()):
            self.add(
                "alt-missing",
                f"{item.path} needs alt text ('alt'): describe it for readers who cannot see it",
                item.loc,
                post,
            )
        return info

    def _queue_path(self, post: Post) -> Path:
        return self.queue_paths.get(post.queue) or self.root / post.queue

    def schedule(self, post: Post) -> None:
        if post.at and post.expires and post.expires <= post.at:
            self.add(
                "expires-before-at",
                f"expires ({_show(post.expires)}) is not after at ({_show(post.at)})",
                post.field_loc("expires"),
                post,
            )
            return
        if post.draft:
            return
        if self.ledger and self.all_settled(post, self.ledger):
            return  # what became of it is in the ledger: megaphone status tells
        at = self.facts.at  # in UTC: comparing with now needs no zone lookups
        if post.expires and post.expires <= self.now:
            self.add(
                "expired",
                f"post {post.id!r} expired {_ago(self.now - post.expires)}: it will never "
                "be published",
                post.field_loc("expires"),
                post,
            )
        elif post.repeat is not None:
            if post.repeat.until is not None and post.repeat.until <= self.now:
                self.add(
                    "expired",
                    f"post {post.id!r} repeats until {_show(post.repeat.until, post.timezone)}, "
                    "which has passed: it will not come back",
                    post.field_loc("repeat"),
                    post,
                )
        elif at and post.at and at <= self.now:
            self.add(
                "past-due",
                f"post {post.id!r} was due {_ago(self.now - post.at)} "
                f"({_show(post.at, post.timezone)}) and has not been published",
                post.field_loc("at"),
                post,
            )

    def all_settled(self, post: Post, ledger: Deliveries) -> bool:
        """Whether the ledger has settled each delivery of a post that goes
        out once (its own language and each variant, for the accounts that
        take them), flagging on the way a text changed after it went out."""
        from megaphone.project.deliveries import languages

        done = True
        for made in languages(post, self.config, post.at, 0):  # to their takers
            if made.id not in ledger:
                done = False
                continue
            loc = made.parts[0].loc if made.variant else None  # the language's own text
            done = self.settled(made, ledger[made.id], loc) and done
        return done

    def settled(
        self, post: Post, rows: tuple[tuple[str, str, str | None], ...], loc: Loc | None = None
    ) -> bool:
        """Flag a post edited after it was published; say whether the ledger
        has settled it for every account (published, missed...)."""
        from megaphone.store.view import content_digest, still_open

        current: dict[str, str] = {}  # by network: a network's own text is its own
        for account, state, digest in rows:
            if state == "published" and digest:
                known = self.config.account(account)
                network = known.network if known else ""
                if network not in current:
                    current[network] = content_digest(post.for_network(network))
                if digest != current[network]:
                    self.add(
                        "edited-after-publish",
                        f"post {post.id!r} was changed after it was published on {account}: "
                        "the change is never sent (publish a correction as a new post)",
                        loc or post.field_loc("thread" if post.is_thread else "text"),
                        post,
                    )
        states = {account: state for account, state, _ in rows}
        return not any(still_open(states.get(a)) for a in post.accounts)

    def references(self, post: Post) -> None:
        for name, ref in (("reply_to", post.reply_to), ("quote", post.quote)):
            if ref is None:
                continue
            loc = post.field_loc(name)
            if "://" in ref:
                self.remote_reference(post, name, ref, loc)
                continue
            self.facts.refs.append((name, ref, loc))

    def remote_reference(self, post: Post, name: str, ref: str, loc: Loc) -> None:
        """A reply or quote of a post already on a network: every network
        the post goes to must be the one it is on."""
        for rules, _prefix in self.networks(post.accounts):
            if name == "quote" and not rules.caps.quotes:
                continue  # a link, whichever network's (see quote-as-link)
            if rules.parse_post_url(ref) is not None:
                continue
            elsewhere = [
                network_rules(n).title
                for n in REGISTRY
                if n != rules.name and network_rules(n).parse_post_url(ref) is not None
            ]
            if elsewhere:
                message = (
                    f"{name}: {ref} is a post on {elsewhere[0]}; it cannot be answered or "
                    f"quoted from {rules.title}"
                )
            else:
                message = (
                    f"{name}: {ref} is not the URL of a post on {rules.title} "
                    f"({rules.post_url_example})"
                )
            self.add("bad-reference", message, loc, post, rules.name)


def _text_key(text: str) -> tuple[int, int]:
    """A short stand-in for a text, to tell repeated ones apart: its hash and
    length.  (Worker processes are forked, so they share the hash seed; a
    false match needs two texts of one length with one 64-bit hash.)"""
    return hash(text), len(text)


def _span(delta: timedelta) -> str:
    """A duration in days or hours: "3 days", "12 h"."""
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} h"


def _where(post: Post, index: int) -> str:
    """How a message names a post, or one part of a thread."""
    return _where_id(post.id, index, is_thread=post.is_thread)


def _where_id(post_id: str, index: int, *, is_thread: bool) -> str:
    return f"part {index + 1} of thread {post_id!r}" if is_thread else f"post {post_id!r}"


def _show(when: datetime, tz_name: str | None = None) -> str:
    """A time as messages show it: in the zone named (its abbreviation), or
    in the one it carries."""
    if tz_name:
        from megaphone.time.zones import zone

        when = when.astimezone(zone(tz_name))
    return when.strftime("%Y-%m-%d %H:%M %Z").strip()


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 3600:
        return f"{max(seconds // 60, 1)} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"
