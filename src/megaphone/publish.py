"""Publishing: which posts are due, and sending them without ever losing or
doubling one.

For each post and account (a *delivery*) the publisher

1. makes sure the ledger has a row for it, then decides: due and on time →
   send; more than the grace period late → ``missed``; past ``expires`` →
   ``expired``;
2. claims it (only one process wins), then sends its parts in order, each
   replying to the previous, recording each part's remote id as soon as it is
   live — so a thread resumes where it stopped and no part goes out twice;
3. on a failure decides by what is known: not sent (connection refused) →
   retry with backoff; 429 → wait for the reset; 5xx → look the account's
   recent posts up, then retry only if the post is not there; no answer (a
   timeout after sending) → look it up, else ``unknown`` for a person to
   check; refused (400, 401, 403) → ``failed``; duplicate → already live.

Accounts are published in parallel, each account's posts in order.
"""

from __future__ import annotations

import html
import random
import re
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from megaphone.errors import (
    AuthFailed,
    ClockSkewed,
    DuplicateContent,
    MegaphoneError,
    OutcomeUnknown,
    PublishError,
    RateLimited,
    Rejected,
    ServerError,
    Unavailable,
)
from megaphone.ledger import SETTLED, PartRecord, claim_abandoned, what_to_do
from megaphone.ledger_peek import content_digest
from megaphone.model import Account

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from megaphone.ledger import Delivery, Ledger
    from megaphone.model import Media, Post, Project
    from megaphone.networks import Network, RemotePost, Timeouts


@dataclass(frozen=True)
class Policy:
    """How patient publishing is."""

    #: A post more late than this is ``missed``, never sent days late.
    grace: timedelta = timedelta(hours=1)
    #: Attempts of one post before it is ``failed``.
    max_attempts: int = 5
    #: First retry delay, doubled each time (with jitter), up to backoff_max.
    backoff_base: float = 2.0
    backoff_max: float = 300.0
    #: The longest a run waits in place (for a rate-limit reset or a retry);
    #: a longer wait is left to the next run.
    max_wait: float = 120.0
    #: How far back to look for a post whose outcome is unknown.
    lookback: timedelta = timedelta(hours=2)
    #: This machine's clock may differ from the network's by this much
    #: (seconds) before a warning, and before the account's posts are held.
    skew_warning: float = 30.0
    skew_limit: float = 300.0

    def backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2.0 ** max(0, attempt - 1))
        jitter: float = random.uniform(0.5, 1.0)
        return delay * jitter


class Clock:
    """The time, and waiting (tests travel in time instead)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class Job:
    post: Post
    account: Account
    #: When the post is due for this run (its time; with --until, the time
    #: it will be sent).
    due: datetime


@dataclass
class Outcome:
    post_id: str
    account: str
    #: published, failed, unknown, missed, expired; deferred (stays
    #: scheduled: a rate limit, a retry later, the daily cap); blocked (stays
    #: scheduled until a person acts: no credentials, credentials refused);
    #: waiting (for the post it replies to or quotes); skipped (another run
    #: holds it, or it is settled already)
    state: str
    message: str = ""
    url: str | None = None
    late: timedelta | None = None
    parts: int = 0
    #: The account's other posts wait too (rate limit, credentials).
    stop_account: bool = False


digest = content_digest


_SPACE = re.compile(r"\s+")


def normalized(text: str) -> str:
    """A text as compared with what the network shows: links removed (the
    network shows its own short links), entities unescaped, spaces collapsed."""
    from megaphone.text import extract_urls

    text = unicodedata.normalize("NFC", html.unescape(text))
    for url in reversed(extract_urls(text)):
        text = text[: url.start] + " " + text[url.end :]
    return _SPACE.sub(" ", text).strip()


def find_posted(recent: list[RemotePost], text: str) -> RemotePost | None:
    wanted = normalized(text)
    for remote in recent:
        if normalized(remote.text) == wanted:
            return remote
    return None


# ------------------------------------------------------------------ planning


def plan(
    posts: list[Post],
    accounts: dict[str, Account],
    *,
    now: datetime,
    until: datetime | None = None,
    ids: tuple[str, ...] = (),
    account_names: tuple[str, ...] = (),
) -> list[Job]:
    """The deliveries to consider, in the order they go out: due posts (or
    those due by ``until``), or the posts named by ``ids`` whatever their time."""
    jobs = []
    for post in posts:
        if post.draft:
            continue
        if ids:
            if post.id not in ids:
                continue
            due = now
        else:
            if post.at is None or post.at > (until or now):
                continue
            due = post.at
        for name in post.accounts:
            if account_names and name not in account_names:
                continue
            account = accounts.get(name) or Account(name)
            jobs.append(Job(post, account, due))
    jobs.sort(key=lambda j: (j.post.at or now, j.post.queue, j.post.id))
    return jobs


# ------------------------------------------------------------------ publishing


class Publisher:
    """Sends jobs for one project through the ledger."""

    def __init__(
        self,
        *,
        project: Project,
        ledger: Ledger,
        connect: Callable[[Account], Network],
        token: str,
        policy: Policy | None = None,
        clock: Clock | None = None,
        report: Callable[[Outcome], None] | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.project = project
        self.warn = warn or (lambda message: None)
        self.ledger = ledger
        self.connect = connect
        self.token = token
        self.policy = policy or Policy()
        self.clock = clock or Clock()
        self.report = report or (lambda outcome: None)
        self._networks: dict[str, Network] = {}
        self._checked: set[str] = set()
        self._lock = threading.Lock()
        self._queue_paths = {p.id: q.path for q in project.queues for p in q.posts}

    def use(self, project: Project) -> None:
        """Publish from a newer reading of the project (the worker's)."""
        self.project = project
        self._queue_paths = {p.id: q.path for q in project.queues for p in q.posts}

    # ------------------------------------------------------------ networks

    def network(self, account: Account) -> Network:
        """The account's adapter, signed in: the first time, the network is
        asked who the account is, and its clock compared with this one's."""
        with self._lock:
            net = self._networks.get(account.name)
            if net is None:
                net = self.connect(account)
                self._networks[account.name] = net
        if account.name not in self._checked:
            net.whoami()
            skew = net.clock_skew()
            if skew is not None and abs(skew) > self.policy.skew_limit:
                raise ClockSkewed(
                    f"this machine's clock is {_human(timedelta(seconds=abs(skew)))} "
                    f"{'behind' if skew > 0 else 'ahead of'} the network's: posts would go "
                    "out at the wrong time; set the clock right (NTP) and run again"
                )
            if skew is not None and abs(skew) > self.policy.skew_warning:
                self.warn(
                    f"{account.name}: this machine's clock is {abs(skew):.0f} s "
                    f"{'behind' if skew > 0 else 'ahead of'} the network's"
                )
            self._checked.add(account.name)
        return net

    def close(self) -> None:
        for net in self._networks.values():
            net.close()

    # ----------------------------------------------------------------- run

    def run(self, jobs: list[Job], *, force: bool = False) -> list[Outcome]:
        """Send ``jobs``: accounts in parallel, each account's in order.
        ``force`` sends named posts now, however late or early."""
        by_account: dict[str, list[Job]] = {}
        for job in jobs:
            by_account.setdefault(job.account.name, []).append(job)
        outcomes: list[Outcome] = []
        waiting: list[Job] = []

        def one_account(account_jobs: list[Job]) -> tuple[list[Outcome], list[Job]]:
            done: list[Outcome] = []
            later: list[Job] = []
            stop: Outcome | None = None
            for job in account_jobs:
                if stop is not None:
                    outcome = Outcome(job.post.id, job.account.name, stop.state, stop.message)
                    self._note(job, stop.message)
                else:
                    outcome = self.deliver(job, force=force)
                    if outcome.state == "waiting":
                        later.append(job)
                        continue
                    if outcome.stop_account:
                        stop = outcome
                self.report(outcome)
                done.append(outcome)
            return done, later

        if by_account:
            with ThreadPoolExecutor(max_workers=len(by_account)) as pool:
                for done, later in pool.map(one_account, by_account.values()):
                    outcomes.extend(done)
                    waiting.extend(later)
        # Replies and quotes of posts that went out in another account's
        # thread above.
        for job in waiting:
            outcome = self.deliver(job, force=force)
            if outcome.state == "waiting":
                outcome.state = "deferred"
            self.report(outcome)
            outcomes.append(outcome)
        return outcomes

    def _note(self, job: Job, message: str) -> None:
        """Why a post that stays scheduled was not sent, for ``status``."""
        now = self.clock.now()
        self.ledger.ensure(
            job.post.id,
            job.account.name,
            network=job.account.network,
            queue=job.post.queue,
            scheduled_at=job.post.at,
            digest=digest(job.post),
            now=now,
        )
        self.ledger.note(job.post.id, job.account.name, error=message, now=now)

    # ------------------------------------------------------------- deliver

    def deliver(self, job: Job, *, force: bool = False) -> Outcome:
        post, account = job.post, job.account
        now = self.clock.now()
        ledger = self.ledger
        values: dict[str, Any] = {
            "network": account.network,
            "queue": post.queue,
            "scheduled_at": post.at,
            "digest": digest(post),
        }
        row = ledger.get(post.id, account.name)
        if row is not None and _changed(row, values):
            ledger.ensure(post.id, account.name, now=now, **values)
            row = ledger.get(post.id, account.name)

        def known() -> None:
            # The rarer outcomes below are kept in the ledger; a post seen
            # for the first time is written there by the claim itself.
            if row is None:
                ledger.ensure(post.id, account.name, now=now, **values)

        if row is None:
            pass
        elif row.state == "publishing":
            if not claim_abandoned(row.claimed_by, row.claimed_at, now):
                return Outcome(post.id, account.name, "skipped", "another run is publishing it")
            return self.reconcile(row, post, account)
        elif row.state in SETTLED or row.state in ("missed", "expired"):
            return Outcome(post.id, account.name, "skipped", f"already {row.state}", url=row.url)
        late = now - post.at if post.at else None
        if not force:
            if post.expires is not None and post.expires <= now:
                known()
                ledger.settle(post.id, account.name, state="expired", now=now, error="expired")
                return Outcome(post.id, account.name, "expired", "past its expiry")
            if late is not None and late > self.policy.grace and not (row and row.late_ok):
                message = f"{_human(late)} late, more than the grace period"
                known()
                ledger.settle(post.id, account.name, state="missed", now=now, error=message)
                return Outcome(post.id, account.name, "missed", message, late=late)
        if row and row.next_attempt_at is not None and row.next_attempt_at > now and not force:
            return Outcome(
                post.id,
                account.name,
                "deferred",
                f"next attempt {row.next_attempt_at:%H:%M:%S} UTC ({row.error or 'retry'})",
            )
        if account.daily_cap and not force:
            done = len(ledger.parts(post.id, account.name)) if row else 0
            remaining = len(post.parts) - done
            used = ledger.parts_since(account.name, now - timedelta(hours=24))
            if used + remaining > account.daily_cap:
                message = (
                    f"daily cap: {used} of {account.daily_cap} posts in the last 24 h, "
                    f"{remaining} more would pass it"
                )
                known()
                ledger.note(post.id, account.name, error=message, now=now)
                return Outcome(post.id, account.name, "deferred", message)
        refs = self._references(post, account)
        if isinstance(refs, Outcome):
            if refs.state == "waiting":
                known()
                ledger.note(post.id, account.name, error=refs.message, now=now)
            return refs
        # A new post without media in its first part: that part is sent
        # right after the claim, which marks it in flight in the same write.
        first_in_flight = 0 if row is None and not post.parts[0].media else None
        claimed = ledger.claim(
            post.id,
            account.name,
            token=self.token,
            now=now,
            ignore_backoff=force,
            create=values if row is None else None,
            in_flight=first_in_flight,
        )
        if claimed is None:
            return Outcome(post.id, account.name, "skipped", "another run has taken it")
        try:
            outcome = self._send(claimed, post, account, refs)
        except BaseException:
            # Interrupted (Ctrl-C) or a bug: unknown if a part's request may
            # have left (the next run looks it up), else scheduled again.
            ledger.release_interrupted(
                post.id, account.name, token=self.token, now=self.clock.now()
            )
            raise
        if outcome.state == "published" and late is not None and late > timedelta(0):
            outcome.late = late
        return outcome

    def _references(self, post: Post, account: Account) -> tuple[str | None, str | None] | Outcome:
        """The remote ids to reply to and quote, or why the post must wait."""
        from megaphone.networks import post_id_from_url

        ids: list[str | None] = []
        for name, ref in (("reply_to", post.reply_to), ("quote", post.quote)):
            if ref is None:
                ids.append(None)
                continue
            if "://" in ref:
                remote = post_id_from_url(account.network, ref)
                if remote is None:
                    return Outcome(post.id, account.name, "failed", f"{name}: {ref} is not a post")
                ids.append(remote)
                continue
            rows = self.ledger.of_post(ref)
            live = [r for r in rows if r.state == "published" and r.remote_id]
            live.sort(key=lambda r: r.account != account.name)
            if not live:
                return Outcome(
                    post.id, account.name, "waiting", f"{name} {ref!r} is not published yet"
                )
            ids.append(live[0].remote_id)
        return ids[0], ids[1]

    def _send(
        self,
        row: Delivery,
        post: Post,
        account: Account,
        refs: tuple[str | None, str | None],
    ) -> Outcome:
        ledger, policy = self.ledger, self.policy
        pid, name = post.id, account.name

        def finish(
            state: str,
            message: str,
            *,
            url: str | None = None,
            remote_id: str | None = None,
            retry_at: datetime | None = None,
            outcome: str | None = None,
            stop_account: bool = False,
        ) -> Outcome:
            """Release the claim with ``state``; the run's outcome is
            ``outcome`` (default: the state)."""
            ledger.finish(
                pid,
                name,
                token=self.token,
                state=state,
                now=self.clock.now(),
                error=message if state != "published" else None,
                url=url,
                remote_id=remote_id,
                next_attempt_at=retry_at,
            )
            return Outcome(pid, name, outcome or state, message, url=url, stop_account=stop_account)

        try:
            net = self.network(account)
        except (Unavailable, ServerError, OutcomeUnknown, RateLimited) as e:
            return finish("scheduled", str(e), outcome="deferred", stop_account=True)
        except MegaphoneError as e:
            # No credentials, refused ones, a clock far off: a person must act.
            return finish("scheduled", str(e), outcome="blocked", stop_account=True)

        done = ledger.parts(pid, name)
        texts = post.texts()
        reply_to, quote = refs
        previous = reply_to
        first_url: str | None = done[0].url if 0 in done else None
        first_id: str | None = done[0].remote_id if 0 in done else None
        attempt = row.attempts
        in_flight = row.in_flight  # the part the ledger has as being sent
        index = 0
        while index < len(texts):
            if index in done:
                previous = done[index].remote_id or previous
                index += 1
                continue
            part = post.parts[index]
            try:
                media_ids = tuple(self._upload(net, post, m) for m in part.media)
                if in_flight != index:
                    ledger.sending(pid, name, index, token=self.token, now=self.clock.now())
                    in_flight = index
                remote = self._create(
                    net,
                    texts[index],
                    media_ids=media_ids,
                    reply_to=previous,
                    quote=quote if index == 0 else None,
                    since=row.claimed_at or self.clock.now(),
                )
            except RateLimited as e:
                wait = (e.reset_at - time.time()) if e.reset_at else policy.max_wait + 1
                if 0 < wait <= policy.max_wait:
                    self.clock.sleep(wait + 1)
                    continue
                at = (
                    datetime.fromtimestamp(e.reset_at, UTC)
                    if e.reset_at
                    else self.clock.now() + timedelta(minutes=15)
                )
                return finish(
                    "scheduled",
                    f"rate limited until {at:%H:%M:%S} UTC",
                    retry_at=at,
                    outcome="deferred",
                    stop_account=True,
                )
            except (Unavailable, ServerError) as e:
                # Not sent, or answered 5xx and not found among the
                # account's posts: safe to send again, a bounded number of
                # times.
                if attempt >= policy.max_attempts:
                    return finish("failed", f"{e} (gave up after {attempt} attempts)")
                delay = policy.backoff(attempt)
                if delay <= policy.max_wait:
                    attempt += 1
                    ledger.attempt_failed(
                        pid, name, token=self.token, error=str(e), now=self.clock.now()
                    )
                    self.clock.sleep(delay)
                    continue
                return finish(
                    "scheduled",
                    str(e),
                    retry_at=self.clock.now() + timedelta(seconds=delay),
                    outcome="deferred",
                )
            except OutcomeUnknown as e:
                return finish(
                    "unknown", f"{e}; not found among the account's posts: {what_to_do(pid)}"
                )
            except AuthFailed as e:
                return finish("scheduled", str(e), outcome="blocked", stop_account=True)
            except (Rejected, PublishError) as e:
                return finish("failed", str(e))
            except OSError as e:
                return finish("failed", f"cannot read media: {e.strerror or e}")
            if remote is not None and index == 0:
                first_url, first_id = remote.url, remote.id
            following = next((i for i in range(index + 1, len(texts)) if i not in done), None)
            last = following is None and remote is not None
            # The next part is marked in flight in the same write when
            # nothing (a media upload) comes between.
            ahead = (
                following
                if following is not None and not post.parts[following].media and remote
                else None
            )
            ledger.record_part(
                pid,
                name,
                index,
                token=self.token,
                remote_id=remote.id if remote else None,
                url=remote.url if remote else None,
                now=self.clock.now(),
                next_in_flight=ahead,
                publish=(first_id, first_url) if last else None,
            )
            in_flight = ahead
            if last:
                return Outcome(pid, name, "published", "", url=first_url, parts=len(texts))
            if remote is None:
                # X says the text is live already, and it was not found:
                # the chain cannot go on without its id.
                if index + 1 < len(texts):
                    return finish(
                        "unknown",
                        f"part {index + 1} is already on X (duplicate) but was not found; "
                        "the rest of the thread needs its id",
                    )
                return finish("published", "already on X (duplicate content)", url=first_url)
            done[index] = PartRecord(index, remote.id, remote.url, self.clock.now())
            previous = remote.id
            index += 1
        # Every part was live already (recorded by an earlier run).
        outcome = finish("published", "", url=first_url, remote_id=first_id)
        outcome.parts = len(texts)
        return outcome

    def _create(
        self,
        net: Network,
        text: str,
        *,
        media_ids: tuple[str, ...],
        reply_to: str | None,
        quote: str | None,
        since: datetime,
    ) -> RemotePost | None:
        """Post one part.  When the outcome is in doubt, look for it first."""
        try:
            return net.create_post(text, media_ids=media_ids, reply_to=reply_to, quote=quote)
        except DuplicateContent:
            return self._look_up(net, text, since)
        except (ServerError, OutcomeUnknown) as e:
            try:
                found = self._look_up(net, text, since)
            except PublishError:
                raise OutcomeUnknown(f"{e}; the account's posts could not be read") from None
            if found is not None:
                return found
            raise

    def _look_up(self, net: Network, text: str, since: datetime) -> RemotePost | None:
        recent = net.recent_posts(since=since - timedelta(minutes=5))
        return find_posted(recent, text)

    def _upload(self, net: Network, post: Post, media: Media) -> str:
        from megaphone.media import find, sniff

        queue_path = self._queue_paths.get(post.id)
        if queue_path is None:
            raise Rejected(f"{post.id}: its queue file is unknown")
        path, why = find(queue_path, media.path, self.project.root)
        if why is not None:
            raise Rejected(f"media {media.path}: {why}")
        info = sniff(path)
        if info is None:
            raise Rejected(f"media {media.path}: not an image, GIF or video X takes")
        # Uploads are not visible to anyone: sending one again is harmless.
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                return net.upload_media(path, mime=info.mime, kind=info.kind, alt=media.alt)
            except (Unavailable, ServerError, OutcomeUnknown) as e:
                if attempt == self.policy.max_attempts:
                    raise Unavailable(f"{e} (upload gave up after {attempt} attempts)") from None
                self.clock.sleep(min(self.policy.backoff(attempt), self.policy.max_wait))
        raise AssertionError("unreachable")

    # ---------------------------------------------------------- reconcile

    def reconcile(self, row: Delivery, post: Post | None, account: Account) -> Outcome:
        """A delivery left ``publishing`` by a run that is gone: find out what
        became of the part in flight; never send it again blindly."""
        pid, name = row.post_id, row.account
        now = self.clock.now()
        if not self.ledger.take_over(
            pid, name, old_token=row.claimed_by, token=self.token, now=now
        ):
            return Outcome(pid, name, "skipped", "another run is reconciling it")
        done = self.ledger.parts(pid, name)

        def unknown(message: str) -> Outcome:
            self.ledger.finish(pid, name, token=self.token, state="unknown", now=now, error=message)
            return Outcome(pid, name, "unknown", message)

        if post is None:
            return unknown("interrupted, and no longer in the queue files: check it on the network")
        texts = post.texts()
        index = next((i for i in range(len(texts)) if i not in done), None)
        if index is None:
            first = done[0]
            self.ledger.finish(
                pid,
                name,
                token=self.token,
                state="published",
                now=now,
                remote_id=first.remote_id,
                url=first.url,
            )
            return Outcome(pid, name, "published", "all parts were live", url=first.url)
        if row.in_flight != index:
            # Interrupted before the next part's request was sent: nothing
            # is in doubt.  A thread under way is finished, late or not.
            self.ledger.finish(
                pid,
                name,
                token=self.token,
                state="scheduled",
                now=now,
                error=f"interrupted before part {index + 1} was sent",
            )
            return self.deliver(Job(post, account, post.at or now), force=bool(done))
        try:
            net = self.network(account)
            found = self._look_up(net, texts[index], row.claimed_at or now - self.policy.lookback)
        except (PublishError, MegaphoneError) as e:
            return unknown(
                f"interrupted at part {index + 1}; the account's posts could not be read ({e})"
            )
        if found is None:
            return unknown(
                f"interrupted while sending part {index + 1}, which is not among the "
                f"account's posts: {what_to_do(pid)}"
            )
        return self._found_live(post, account, index, found, "after an interruption")

    def reconcile_abandoned(self, posts: dict[str, Post]) -> list[Outcome]:
        """Reconcile every delivery whose publishing run is gone, and look
        again for recent ``unknown`` ones (never sending them blindly)."""
        outcomes = []
        now = self.clock.now()
        for row in self.ledger.all():
            abandoned = row.state == "publishing" and claim_abandoned(
                row.claimed_by, row.claimed_at, now
            )
            recent_unknown = (
                row.state == "unknown"
                and row.claimed_at is not None
                and now - row.claimed_at <= self.policy.lookback
                and row.post_id in posts
            )
            if not (abandoned or recent_unknown):
                continue
            account = self.project.config.account(row.account) or Account(row.account)
            if recent_unknown:
                outcome = self.look_again(row, posts[row.post_id], account)
                if outcome is None:
                    continue
            else:
                outcome = self.reconcile(row, posts.get(row.post_id), account)
            self.report(outcome)
            outcomes.append(outcome)
        return outcomes

    def look_again(self, row: Delivery, post: Post, account: Account) -> Outcome | None:
        """An ``unknown`` delivery: if its part in doubt is now found among
        the account's posts, record it and send the rest; else leave it."""
        pid, name = row.post_id, row.account
        done = self.ledger.parts(pid, name)
        texts = post.texts()
        index = next((i for i in range(len(texts)) if i not in done), None)
        if index is None:
            return None
        try:
            net = self.network(account)
            found = self._look_up(net, texts[index], row.claimed_at or self.clock.now())
        except MegaphoneError:
            return None
        if found is None:
            return None
        now = self.clock.now()
        # Take it back through the claim: only one run resolves it.
        if not self.ledger.reclaim(pid, name, from_state="unknown", token=self.token, now=now):
            return None
        return self._found_live(post, account, index, found, "on a later look")

    def _found_live(
        self, post: Post, account: Account, index: int, found: RemotePost, when: str
    ) -> Outcome:
        """The part in doubt is live after all: record it (under this run's
        claim), and send the rest — a thread under way is finished."""
        now = self.clock.now()
        pid, name = post.id, account.name
        self.ledger.record_part(
            pid, name, index, token=self.token, remote_id=found.id, url=found.url, now=now
        )
        self.ledger.finish(
            pid,
            name,
            token=self.token,
            state="scheduled",
            now=now,
            error=f"part {index + 1} found live {when}",
        )
        return self.deliver(Job(post, account, post.at or now), force=True)


def _changed(row: Delivery, values: Mapping[str, Any]) -> bool:
    """Whether the ledger's row needs the post's current values: a new time
    (which also revives a missed or expired post), or new content not sent yet."""
    if (
        row.state in ("scheduled", "missed", "expired")
        and row.scheduled_at != values["scheduled_at"]
    ):
        return True
    return row.state == "scheduled" and (
        row.digest != values["digest"] or row.queue != values["queue"]
    )


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


# ------------------------------------------------------------------ a run


def ledger_url(project: Project, environ: Mapping[str, str]) -> str:
    from megaphone.ledger_peek import ledger_url as locate

    return locate(project.root, project.config.ledger, environ)


def connector(
    project: Project, environ: Mapping[str, str], *, timeouts: Timeouts | None = None
) -> Callable[[Account], Network]:
    """Opens an account's network adapter with its credentials."""
    from megaphone.credentials import CredentialStore
    from megaphone.networks import connect

    store = CredentialStore(project.root, environ)

    def open_account(account: Account) -> Network:
        credentials = store.require(account.name)
        if credentials.api_url is None and account.api_url:
            from dataclasses import replace

            credentials = replace(credentials, api_url=account.api_url)
        return connect(account.network, credentials, timeouts=timeouts)

    return open_account
