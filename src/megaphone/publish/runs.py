"""What the publishing commands do, without the command line: load the
project, open the ledger, plan, publish or rehearse, and report."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from megaphone.errors import MegaphoneError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from megaphone.checks.validate import Report
    from megaphone.model import Account, Post, Project
    from megaphone.networks.base import NetworkRules
    from megaphone.project.loader import Loaded
    from megaphone.publish.publisher import Clock, Job, Outcome, Policy, Publisher
    from megaphone.store.ledger import Delivery, Ledger
    from megaphone.store.view import Deliveries


@dataclass
class Context:
    """A project, read and checked, for the publishing commands."""

    loaded: Loaded
    report: Report
    now: datetime
    environ: Mapping[str, str]
    _deliveries: tuple[datetime, list[Post]] | None = field(default=None, repr=False)
    _history: dict[str, list[datetime]] | None = field(default=None, repr=False)

    @property
    def project(self) -> Project:
        return self.loaded.project

    def broken(self) -> list[str]:
        """Errors of no post: a queue file or the configuration that cannot be
        read, whose posts are not seen at all."""
        return [
            f"{p.loc}: {p.message}"
            for p in self.report.problems
            if p.post_id is None and p.severity == "error"
        ]

    def invalid_ids(self) -> set[str]:
        """The posts (by their id in the queue files) with an error."""
        return {p.post_id for p in self.report.problems if p.post_id and p.severity == "error"}

    def deliveries(self, until: datetime | None = None) -> list[Post]:
        """The project's deliveries: every post that goes out once, in each
        of its languages, and the occurrences and evergreen slots from a
        little before now to a little after, or to ``until`` (see
        project.deliveries)."""
        from megaphone.project.deliveries import AHEAD, BEHIND, deliveries

        end = max(self.now + AHEAD, until or self.now)
        if self._deliveries is None or self._deliveries[0] < end:
            made = deliveries(
                self.project,
                start=self.now - BEHIND,
                end=end,
                history=self.history(),
                fill_from=self.now - timedelta(minutes=1),
            )
            self._deliveries = (end, made)
        return self._deliveries[1]

    def history(self) -> dict[str, list[datetime]] | None:
        """The uses of the evergreen posts the ledger records (None: the
        project has no evergreen queue)."""
        if not any(q.evergreen for q in self.project.queues):
            return None
        if self._history is None:
            from megaphone.project.deliveries import history_of

            ledger = self.open_ledger(create=False)
            rows: list[tuple[str, str]] = []
            if ledger is not None:
                try:
                    rows = [(d.post_id, d.state) for d in ledger.all()]
                finally:
                    ledger.close()
            self._history = history_of(rows, self.project)
        return self._history

    def posts(self) -> Mapping[str, Post]:
        """The deliveries by id, any occurrence found by its id."""
        from megaphone.project.deliveries import ByDelivery

        return ByDelivery(
            self.project, {p.id: p for p in self.deliveries()}, history=self.history()
        )

    def accounts(self) -> dict[str, Account]:
        return {a.name: a for a in self.project.config.accounts}

    def open_ledger(self, *, create: bool = True) -> Ledger | None:
        """The ledger; None when ``create`` is false and there is none yet."""
        from megaphone.store.ledger import Ledger

        return Ledger.for_project(
            self.project.root, self.project.config, self.environ, create=create
        )


def open_project(
    project_dir: Path, *, environ: Mapping[str, str] | None = None, now: datetime | None = None
) -> Context:
    from megaphone.checks.validate import validate
    from megaphone.project.loader import load, require_root

    now = now or datetime.now(UTC)
    root = require_root(project_dir)
    loaded = load((), cwd=root, allow_empty=True)
    return Context(
        loaded, validate(loaded, now=now), now, os.environ if environ is None else environ
    )


# ---------------------------------------------------------------- publishing


@dataclass
class RunSummary:
    outcomes: list[Outcome] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (post id, account)
    #: Errors outside any post (a file that cannot be read): its posts are
    #: not even seen.
    broken: list[str] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes if o.state == state)

    @property
    def exit_code(self) -> int:
        """0 all went well; 1 something failed, is unknown, was missed, or
        could not be sent (invalid, no credentials); 75 only waits (a rate
        limit or a retry later)."""
        bad = ("failed", "unknown", "missed", "blocked")
        if self.invalid or self.broken or any(o.state in bad for o in self.outcomes):
            return 1
        if any(o.state == "deferred" for o in self.outcomes):
            return 75
        return 0

    def line(self) -> str:
        states = (
            "published",
            "failed",
            "unknown",
            "blocked",
            "missed",
            "expired",
            "deferred",
            "skipped",
        )
        parts = [f"{self.count(s)} {s}" for s in states if self.count(s)]
        if self.invalid:
            parts.append(f"{len(self.invalid)} invalid (not sent)")
        if self.broken:
            parts.append(f"{len(self.broken)} file problem{'s' if len(self.broken) != 1 else ''}")
        return ", ".join(parts) if parts else "nothing due"


def select_jobs(
    ctx: Context,
    *,
    ids: tuple[str, ...],
    until: datetime | None,
    account_names: tuple[str, ...],
) -> tuple[list[Job], list[tuple[str, str]]]:
    """The jobs of a run, and the (post, account) pairs left out as invalid."""
    from megaphone.publish.publisher import named, plan

    posts = ctx.deliveries(until)
    if ids:
        found = ctx.posts()
        for post_id in ids:
            if post_id in found:
                continue
            if not any(named(p, (post_id,)) for p in posts):
                entry = next((p for p in ctx.project.posts() if p.id == post_id), None)
                if entry is not None and (entry.repeat or entry.evergreen):
                    raise UsageError(
                        f"{post_id!r} comes back: name one of its times "
                        f"({post_id}@YYYY-MM-DDTHH:MMZ, as 'megaphone list' shows them)"
                    )
                raise UsageError(f"no post has the id {post_id!r}")
        posts = posts + [found[i] for i in ids if i in found and i not in {p.id for p in posts}]
    for name in account_names:
        if name not in ctx.accounts() and not any(name in p.accounts for p in posts):
            raise UsageError(f"no account is named {name!r}")
    jobs = plan(
        posts, ctx.accounts(), now=ctx.now, until=until, ids=ids, account_names=account_names
    )
    invalid_ids = ctx.invalid_ids()
    invalid = [(j.post.id, j.account.name) for j in jobs if j.post.entry_id in invalid_ids]
    return [j for j in jobs if j.post.entry_id not in invalid_ids], invalid


def publish(
    ctx: Context,
    jobs: list[Job],
    *,
    force: bool,
    policy: Policy,
    clock: Clock | None = None,
    report: Callable[[Outcome], None] | None = None,
    warn: Callable[[str], None] | None = None,
    connect: Callable[[Account], Any] | None = None,
    skip_settled: bool = False,
) -> list[Outcome]:
    """Publish ``jobs`` for real: reconcile what an interrupted run left
    first, then send.  ``skip_settled`` leaves out, without a word, the
    posts the ledger has settled (published, failed... — a cron run would
    otherwise list every past post each time)."""
    from megaphone.publish.publisher import Publisher, connector

    ledger = ctx.open_ledger()
    assert ledger is not None
    publisher = Publisher(
        project=ctx.project,
        ledger=ledger,
        connect=connect or connector(ctx.project, ctx.environ),
        policy=policy,
        clock=clock,
        report=report,
        warn=warn,
    )
    try:
        outcomes: list[Outcome] = _publish(
            ctx, publisher, jobs, force=force, skip_settled=skip_settled, warn=warn
        )
        return outcomes
    finally:
        publisher.close()
        ledger.close()


def _publish(
    ctx: Context,
    publisher: Publisher,
    jobs: list[Job],
    *,
    force: bool,
    skip_settled: bool,
    warn: Callable[[str], None] | None,
) -> list[Outcome]:
    from megaphone.publish.publisher import FOREVER, plan
    from megaphone.store.ledger import SETTLED

    # Every dated post's deliveries are rows before they are due.
    invalid_ids = ctx.invalid_ids()
    coming = plan(ctx.deliveries(), ctx.accounts(), now=ctx.now, until=FOREVER)
    rows = publisher.write_ahead([j for j in coming if j.post.entry_id not in invalid_ids] + jobs)
    if skip_settled:

        def settled(job: Job) -> bool:
            row = rows.get((job.post.id, job.account.name))
            if row is None:
                return False
            if row.state in SETTLED:
                return True
            # missed or expired stay so unless the post was given a new time
            return row.state in ("missed", "expired") and row.scheduled_at == job.post.at

        jobs = [j for j in jobs if not settled(j)]
    outcomes = publisher.reconcile_abandoned(ctx.posts())
    outcomes += publisher.run(jobs, force=force, written=True)
    # Told after the ledger recorded every outcome; never fails the run.
    from megaphone.publish.notify import destinations, tell

    tell(
        destinations(ctx.project.config, ctx.environ, ctx.project.root),
        outcomes,
        config=ctx.project.config,
        ledger=publisher.ledger,
        project=ctx.project.root.name,
        warn=warn or (lambda message: None),
    )
    return outcomes


# ------------------------------------------------------------------ dry run


@dataclass
class PartPlan:
    text: str
    weighted: int
    limit: int
    media: list[tuple[str, str | None, str]]  # (path, alt, what: "image/png, 12 KB")
    reply_to: str


@dataclass
class PostPlan:
    job: Job
    action: str  # send, missed, expired, skip, wait
    reason: str = ""
    parts: list[PartPlan] = field(default_factory=list)
    quote: str | None = None
    cap: str = ""  # e.g. "3 of 17 in 24 h"
    #: How a send of it is made safe to repeat, and the key it would use.
    idempotency: str = ""


def rehearse(ctx: Context, jobs: list[Job], *, policy: Policy, force: bool) -> list[PostPlan]:
    """What a run would do, touching nothing: no ledger written, no request."""
    ledger = ctx.open_ledger(create=False)
    try:
        return _rehearse(ctx, jobs, ledger, policy=policy, force=force)
    finally:
        if ledger is not None:
            ledger.close()


def _rehearse(
    ctx: Context, jobs: list[Job], ledger: Ledger | None, *, policy: Policy, force: bool
) -> list[PostPlan]:
    from megaphone.checks.media import find, sniff
    from megaphone.networks import groups, measure_part
    from megaphone.publish.decide import FINAL, Row, decide

    rows: dict[tuple[str, str], Delivery] = {}
    if ledger is not None:
        rows = {(d.post_id, d.account): d for d in ledger.all()}
    sent_ids = {d.post_id for d in rows.values() if d.state == "published"}
    used: dict[str, list[datetime]] = {}  # account -> times of parts sent (24 h window)
    queue_paths = {p.id: q.path for q in ctx.project.queues for p in q.posts}  # by entry id
    plans = []
    for job in jobs:
        post, account = job.post, job.account
        # A post whose time has passed would go now: judged (late or not) now.
        when = max(job.due, ctx.now) if not force else ctx.now
        row = rows.get((post.id, account.name))
        plan = PostPlan(job, "send")
        # The one rule, at the time the post would go (a held post is
        # shown held: the run tries it again, and says why if it fails).
        facts = None if row is None else Row(row.state, False, bool(row.late_ok), None)
        decision = decide(post, when, facts, grace=policy.grace, force=force, asked=True)
        if row is not None and row.held and decision.verdict == "send":
            plan.action, plan.reason = "blocked", f"held: {row.error or 'a person must act'}"
        elif decision.verdict in FINAL and row is not None:
            plan.action, plan.reason = "skip", f"already {row.state}"
        elif decision.verdict == "expired":
            plan.action, plan.reason = "expired", "past its expiry: will be marked expired"
        elif decision.verdict == "missed":
            plan.action, plan.reason = "missed", "more late than the grace period"
        elif decision.verdict == "publishing":
            plan.action, plan.reason = "skip", "another run is publishing it"
        plans.append(plan)
        if plan.action != "send":
            continue
        texts = post.texts()
        found = groups(ctx.project.config, [account.name])
        if not found:
            plan.action, plan.reason = "failed", f"account {account.name!r} has no known network"
            continue
        group = found[0]
        plan.idempotency = _idempotency(group.rules, row)
        done = ledger.parts(post.id, account.name) if ledger is not None and row else {}
        previous = _describe_ref(post.reply_to, sent_ids, [p.job.post.id for p in plans])
        for i, (part, text) in enumerate(zip(post.parts, texts, strict=True)):
            if i in done:
                previous = f"part {i + 1} (already live)"
                continue
            media = []
            for m in part.media:
                what = "missing"
                queue_path = queue_paths.get(post.entry_id)
                if queue_path is not None:
                    path, why = find(queue_path, m.path, ctx.project.root)
                    info = sniff(path) if why is None else None
                    what = why or (
                        f"{info.mime}, {_size(info.size)}" if info else "not a known media type"
                    )
                media.append((m.path, m.alt, what))
            measure = measure_part(group, post, i, text)
            # As the network will hold it (Bluesky's links shortened).
            plan.parts.append(
                PartPlan(measure.text, measure.length, measure.limit, media, previous)
            )
            previous = f"part {i + 1}"
        plan.quote = _describe_ref(post.quote, sent_ids, [p.job.post.id for p in plans])
        if account.daily_cap:
            window = [
                t for t in used.setdefault(account.name, []) if when - t < timedelta(hours=24)
            ]
            already = 0
            if ledger is not None:
                already = ledger.parts_since(account.name, when - timedelta(hours=24))
            total = already + len(window) + len(plan.parts)
            plan.cap = f"{total} of {account.daily_cap} in 24 h"
            if total > account.daily_cap:
                plan.cap += " — over the cap: the rest waits"
            used[account.name] = window + [when] * len(plan.parts)
    return plans


def _idempotency(rules: NetworkRules, row: Delivery | None) -> str:
    """How the dry run says a send is made safe to repeat."""
    how = rules.caps.idempotency
    if how == "lookup":
        return (
            f"none ({rules.title} takes no key: after an unclear outcome the post is looked "
            "up before it is sent again)"
        )
    if row is not None and row.idem_key:
        return f"{row.idem_key} (stored for part {(row.in_flight or 0) + 1}, sent again as is)"
    what = "a record key" if how == "record" else "an Idempotency-Key"
    return f"{what} per part, made and stored in the ledger before its first send"


def _describe_ref(ref: str | None, sent: set[str], before: list[str]) -> str:
    if ref is None:
        return ""
    if "://" in ref:
        return ref
    if ref in sent:
        return f"{ref} (live)"
    if ref in before:
        return f"{ref} (sent earlier in this run)"
    return f"{ref} (not published yet: the post waits for it)"


def _size(n: int) -> str:
    return f"{n / 1024:.0f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


# ------------------------------------------------------------------ status


@dataclass
class StatusRow:
    post_id: str
    account: str
    state: str
    at: datetime | None
    queue: str
    url: str | None = None
    note: str = ""
    attempts: int = 0
    edited: bool = False


def status_rows(ctx: Context, *, ledger: Ledger | None) -> list[StatusRow]:
    """Every post of the queue files per account, with what the ledger knows;
    and what the ledger knows of posts no longer in the files."""
    from megaphone.publish.decide import state as post_state
    from megaphone.publish.publisher import digest
    from megaphone.store.view import shown_state

    rows: dict[tuple[str, str], Delivery] = {}
    if ledger is not None:
        rows = {(d.post_id, d.account): d for d in ledger.all()}
    out = []
    invalid = ctx.invalid_ids()
    grace = ctx.project.config.grace
    for post in ctx.deliveries():
        for account in post.accounts:
            d = rows.pop((post.id, account), None)
            known: Deliveries | None = (
                {post.id: ((account, shown_state(d.state, d.held, d.late_ok), d.digest),)}
                if d is not None
                else None
            )
            state = post_state(post, ctx.now, known, grace=grace, account=account)
            note = d.error or "" if d is not None else ""
            if post.entry_id in invalid:
                note = "invalid: see megaphone validate"
            elif state == "due":
                note = note or "due: the next run publishes it"
            elif state == "missed" and not note:
                note = "more late than the grace period: the next run marks it missed"
            edited = (
                d is not None
                and d.state == "published"
                and d.digest is not None
                and d.digest != digest(post.for_network(d.network))
            )
            if edited:
                note = "edited since it was published: the change is not sent"
            out.append(
                StatusRow(
                    post.id,
                    account,
                    state,
                    post.at,
                    post.queue,
                    d.url if d else None,
                    note,
                    d.attempts if d else 0,
                    edited,
                )
            )
    found: Mapping[str, Post] = ctx.posts() if rows else {}
    for d in rows.values():
        # An occurrence outside the window listed above is still the
        # project's when its post's rule has that time.
        ours = found.get(d.post_id)
        out.append(
            StatusRow(
                d.post_id,
                d.account,
                d.state,
                d.scheduled_at,
                d.queue or "",
                d.url,
                d.error or "" if ours is not None else "no longer in the queue files",
                d.attempts,
            )
        )
    out.sort(key=lambda r: (r.at is None, r.at or ctx.now, r.post_id, r.account))
    return out


def accounts_of(ctx: Context, post_id: str, accounts: tuple[str, ...] = ()) -> list[str]:
    post = ctx.posts().get(post_id)
    names = list(post.accounts) if post else []
    ledger = ctx.open_ledger(create=False)
    if ledger is not None:
        names += [d.account for d in ledger.of_post(post_id) if d.account not in names]
        ledger.close()
    if not names:
        raise UsageError(f"no post has the id {post_id!r}")
    for account in accounts:
        if account not in names:
            raise UsageError(
                f"{post_id} is not posted by {account!r} (it is by {', '.join(names)})"
            )
    return list(dict.fromkeys(accounts)) if accounts else names


def require_project_ledger(ctx: Context) -> Ledger:
    ledger = ctx.open_ledger(create=False)
    if ledger is None:
        raise MegaphoneError("nothing has been published from this project yet (no ledger)")
    return ledger


def health(ctx: Context, *, hours: float, accounts: tuple[str, ...] = ()) -> tuple[bool, str]:
    """For monitoring: whether all is well, and one line saying so — a post
    failed, unknown or missed in the last ``hours``, or a worker whose
    heartbeat is stale, is not."""
    from megaphone.store.heartbeat import read_heartbeats

    ledger = ctx.open_ledger(create=False)
    if ledger is None:
        return True, "nothing recorded yet"
    since = ctx.now - timedelta(hours=hours)
    try:
        rows = [
            d
            for d in ledger.all()
            if d.state in ("failed", "unknown", "missed")
            and d.updated_at >= since
            and (not accounts or d.account in accounts)
        ]
        beats = read_heartbeats(ledger)
    finally:
        ledger.close()
    problems = []
    if rows:
        counts: dict[str, int] = {}
        for d in rows:
            counts[d.state] = counts.get(d.state, 0) + 1
        listed = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        ids = ", ".join(sorted({d.post_id for d in rows})[:5])
        problems.append(f"{listed} in the last {hours:g} h ({ids})")
    for beat in beats:
        if not beat.stopped and not beat.alive(ctx.now):
            problems.append(
                f"a worker's heartbeat is stale (pid {beat.pid} on {beat.host}, last at "
                f"{beat.beat_at:%Y-%m-%d %H:%M} UTC)"
            )
    if problems:
        return False, "; ".join(problems)
    return True, f"no failed, unknown or missed post in the last {hours:g} h"
