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

import contextlib
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from megaphone.errors import (
    AuthFailed,
    ClockSkewed,
    DuplicateContent,
    LeaseLost,
    MegaphoneError,
    OutcomeUnknown,
    PublishError,
    RateLimited,
    ReadFailed,
    Rejected,
    ServerError,
    Unavailable,
)
from megaphone.model import Account
from megaphone.store.lease import DEFAULT_LEASE
from megaphone.store.ledger import SETTLED, PartRecord, what_to_do
from megaphone.store.view import content_digest

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from megaphone.model import Media, Post, Project
    from megaphone.networks import Network, PostRequest, RemotePost, RemoteUser, Timeouts
    from megaphone.store.lease import Owner
    from megaphone.store.ledger import Delivery, Ledger


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
    #: How long after an attempt whose outcome is unknown later runs look
    #: for it by themselves (past that, a person settles it).
    lookback: timedelta = timedelta(hours=24)
    #: How long a claim is this run's without a renewal.
    lease: timedelta = DEFAULT_LEASE
    #: An unknown outcome: ``resend`` once a full lookup ``unknown_after``
    #: the attempt does not find it, or ``hold`` it for a person.
    unknown: str = "resend"
    unknown_after: timedelta = timedelta(minutes=2)
    #: This machine's clock may differ from the network's by this much
    #: (seconds) before a warning, and before the account's posts are held.
    skew_warning: float = 30.0
    skew_limit: float = 300.0

    def wait_for(self, reset_at: float | None) -> float | None:
        """How long to wait in place for a rate limit's reset, or None when
        it is unknown or too far off (the next run tries again)."""
        wait = (reset_at - time.time()) if reset_at else self.max_wait + 1
        return wait + 1 if 0 < wait <= self.max_wait else None

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
        owner: Owner | None = None,
        policy: Policy | None = None,
        clock: Clock | None = None,
        report: Callable[[Outcome], None] | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        from megaphone.store.lease import Owner

        self.project = project
        self.warn = warn or (lambda message: None)
        self.ledger = ledger
        self.connect = connect
        self.owner = owner or Owner.new()
        self.token = self.owner.token
        self.policy = policy or Policy()
        self.clock = clock or Clock()
        self.report = report or (lambda outcome: None)
        self._networks: dict[str, Network] = {}
        self._checked: set[str] = set()
        self._lock = threading.Lock()
        self._queue_paths = {p.id: q.path for q in project.queues for p in q.posts}
        #: Claims this publisher holds now, renewed by a thread while held.
        self._held: set[tuple[str, str]] = set()
        self._renewer: threading.Thread | None = None
        self._stop = threading.Event()

    def use(self, project: Project) -> None:
        """Publish from a newer reading of the project (the worker's)."""
        self.project = project
        self._queue_paths = {p.id: q.path for q in project.queues for p in q.posts}

    # -------------------------------------------------------------- leases

    def lease_until(self) -> datetime:
        return self.clock.now() + self.policy.lease

    def abandoned(self, row: Delivery) -> bool:
        """Whether a ``publishing`` row's holder is gone (see megaphone.store.lease)."""
        from megaphone.store.lease import claim_abandoned

        return claim_abandoned(row.claimed_by, row.lease_until, self.clock.now(), self.owner)

    def _hold(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._held.add(key)
            if self._renewer is None:
                self._renewer = threading.Thread(
                    target=self._renew_loop, name="megaphone-lease", daemon=True
                )
                self._renewer.start()

    def _let_go(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._held.discard(key)

    def _renew_loop(self) -> None:
        """Renew the leases of the claims held, while the sender works (an
        upload, a wait for processing): a claim whose renewal fails is no
        longer this run's, and the sender learns it at its next fence."""
        interval = min(15.0, max(0.2, self.policy.lease.total_seconds() / 4))
        while not self._stop.wait(interval):
            with self._lock:
                held = list(self._held)
            for post_id, account in held:
                # The fence decides; a ledger that fails is seen there.
                with contextlib.suppress(MegaphoneError):
                    self.ledger.renew(
                        post_id,
                        account,
                        token=self.token,
                        now=self.clock.now(),
                        lease_until=self.lease_until(),
                    )

    def _wait(self, key: tuple[str, str], seconds: float) -> None:
        """Wait while holding a claim, renewing its lease as time passes;
        :class:`LeaseLost` when it is no longer this run's."""
        step = max(0.2, self.policy.lease.total_seconds() / 4)
        remaining = seconds
        while remaining > 0:
            self.clock.sleep(min(step, remaining))
            remaining -= step
            if not self.ledger.renew(
                *key, token=self.token, now=self.clock.now(), lease_until=self.lease_until()
            ):
                raise LeaseLost(
                    f"{key[0]} ({key[1]}): this run's claim ran out or was taken over while "
                    "it waited; it leaves the post to the run that holds it"
                )

    # ------------------------------------------------------------ networks

    def network(self, account: Account, key: tuple[str, str] | None = None) -> Network:
        """The account's adapter, signed in: the first time, the network is
        asked who the account is (with the retries a post gets) — it must be
        the account's ``handle``, or the one seen at its first sign-in — and
        its clock compared with this one's.  ``key``: the claim held
        meanwhile, renewed while waiting."""
        with self._lock:
            net = self._networks.get(account.name)
            if net is None:
                net = self.connect(account)
                self._networks[account.name] = net
        if account.name not in self._checked:
            me = self._whoami(net, key)
            self._check_handle(account, me.username)
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

    def _whoami(self, net: Network, key: tuple[str, str] | None) -> RemoteUser:
        """Who the account is, retried as a post would be: a rate limit that
        resets soon is waited for, a failure safe to repeat retried with
        backoff."""
        policy = self.policy
        attempt = 1
        while True:
            try:
                return net.whoami()
            except RateLimited as e:
                wait = policy.wait_for(e.reset_at)
                if wait is None:
                    raise
                self._pause(key, wait)
            except (Unavailable, ServerError, OutcomeUnknown, ReadFailed):
                delay = policy.backoff(attempt)
                if attempt >= policy.max_attempts or delay > policy.max_wait:
                    raise
                attempt += 1
                self._pause(key, delay)

    def _pause(self, key: tuple[str, str] | None, seconds: float) -> None:
        if key is None:
            self.clock.sleep(seconds)
        else:
            self._wait(key, seconds)

    def _check_handle(self, account: Account, username: str) -> None:
        """The credentials must be the account's own: another coalition
        member's would publish one group's words under another's name."""
        from megaphone.errors import AccountMismatch

        shown = f"@{username}" if username else "an account without a name"
        if account.handle:
            if username.lower() != account.handle.lower():
                raise AccountMismatch(
                    f"{account.name}'s credentials sign in as {shown}, but megaphone.yaml "
                    f"says @{account.handle}: its posts are held until the two agree"
                )
            return
        key = f"handle:{account.name}"
        seen = self.ledger.get_meta(key)
        if seen is None:
            if username:
                self.ledger.set_meta(key, username)
        elif seen.lower() != username.lower():
            raise AccountMismatch(
                f"{account.name} signed in as @{seen} before and as {shown} now: its posts "
                f"are held; set handle: in megaphone.yaml to the account it should be"
            )

    def close(self) -> None:
        self._stop.set()
        for net in self._networks.values():
            net.close()
        self.owner.retire()

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
                    self._contained(job, stop.message, held=stop.state == "blocked")
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

    def _contained(self, job: Job, message: str, *, held: bool = False) -> None:
        """Note why a post waits; a failure to note it never stops the run."""
        try:
            self._note(job, message, held=held)
        except Exception as e:
            self.warn(f"{job.post.id} ({job.account.name}): {_internal(e)}")

    def _note(self, job: Job, message: str, *, held: bool = False) -> None:
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
        self.ledger.note(job.post.id, job.account.name, error=message, now=now, held=held)

    # ------------------------------------------------------------- deliver

    def deliver(self, job: Job, *, force: bool = False) -> Outcome:
        """One post for one account, whatever happens: its outcome.  A
        failure of this post (a value no code foresaw, a ledger error) is
        this post's outcome and never stops the others."""
        try:
            return self._deliver(job, force=force)
        except LeaseLost as e:
            return Outcome(job.post.id, job.account.name, "skipped", str(e))
        except MegaphoneError as e:
            return Outcome(job.post.id, job.account.name, "failed", str(e))
        except Exception as e:
            return Outcome(job.post.id, job.account.name, "failed", _internal(e))

    def _deliver(self, job: Job, *, force: bool = False) -> Outcome:
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
            if not self.abandoned(row):
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
            lease_until=now + self.policy.lease,
            ignore_backoff=force,
            create=values if row is None else None,
            in_flight=first_in_flight,
        )
        if claimed is None:
            return Outcome(post.id, account.name, "skipped", "another run has taken it")
        key = (post.id, account.name)
        self._hold(key)
        try:
            outcome = self._send(claimed, post, account, refs)
        except LeaseLost:
            raise
        except Exception as e:
            # A bug: unknown if a part's request may have left (later runs
            # look it up), else failed, for a person to see.
            state = ledger.release_interrupted(
                post.id,
                account.name,
                token=self.token,
                now=self.clock.now(),
                nothing_sent="failed",
                why=_internal(e),
            )
            return Outcome(post.id, account.name, state, _internal(e))
        except BaseException:
            # Interrupted (Ctrl-C): unknown if a part's request may have
            # left (the next run looks it up), else scheduled again.
            ledger.release_interrupted(
                post.id, account.name, token=self.token, now=self.clock.now()
            )
            raise
        finally:
            self._let_go(key)
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
        from megaphone.networks import PostRequest

        ledger, policy = self.ledger, self.policy
        pid, name = post.id, account.name
        key = (pid, name)

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
            if not ledger.finish(
                pid,
                name,
                token=self.token,
                state=state,
                now=self.clock.now(),
                error=message if state != "published" else None,
                url=url,
                remote_id=remote_id,
                next_attempt_at=retry_at,
            ):
                raise LeaseLost(f"{pid} ({name}): another run holds it now")
            return Outcome(pid, name, outcome or state, message, url=url, stop_account=stop_account)

        def blocked(message: str) -> Outcome:
            """Held until a person acts; the account's other posts wait too."""
            if not ledger.finish(
                pid,
                name,
                token=self.token,
                state="scheduled",
                now=self.clock.now(),
                error=message,
                held=True,
            ):
                raise LeaseLost(f"{pid} ({name}): another run holds it now")
            return Outcome(pid, name, "blocked", message, stop_account=True)

        try:
            net = self.network(account, key)
        except (Unavailable, ServerError, OutcomeUnknown, RateLimited, ReadFailed) as e:
            return finish("scheduled", str(e), outcome="deferred", stop_account=True)
        except MegaphoneError as e:
            # No credentials, refused ones, a clock far off, another account
            # signed in: a person must act.
            return blocked(str(e))

        done = ledger.parts(pid, name)
        texts = post.texts()
        reply_to, quote = refs
        previous = reply_to
        first_url: str | None = done[0].url if 0 in done else None
        first_id: str | None = done[0].remote_id if 0 in done else None
        attempt = row.attempts
        # The part the last write fenced (marked in flight under a live
        # lease), with nothing but this code between it and the send.
        fenced = row.in_flight
        # When the last attempt was answered 5xx (it may have been acted on,
        # and the account's posts may not show it yet): looked for again,
        # after the wait, before anything is sent again.
        doubt_since: datetime | None = None
        attempt_at = self.clock.now()
        index = 0
        while index < len(texts):
            if index in done:
                previous = done[index].remote_id or previous
                index += 1
                continue
            part = post.parts[index]
            try:
                remote = None
                request = PostRequest(
                    texts[index], reply_to=previous, quote=quote if index == 0 else None
                )
                if doubt_since is not None:
                    try:
                        remote = net.find_sent(request, since=doubt_since)
                    except PublishError as read:
                        raise OutcomeUnknown(
                            f"the last attempt was answered 5xx, and the account's posts "
                            f"could not be read to check ({read})"
                        ) from None
                    doubt_since = None
                if remote is None:
                    media_ids = tuple(self._upload(key, net, post, m) for m in part.media)
                    if part.media:
                        fenced = None
                    if fenced != index:
                        ledger.sending(
                            pid,
                            name,
                            index,
                            token=self.token,
                            now=self.clock.now(),
                            lease_until=self.lease_until(),
                        )
                    fenced = None  # a send spends the fence
                    attempt_at = self.clock.now()
                    remote = self._create(
                        net, replace(request, media_ids=media_ids), since=attempt_at
                    )
            except RateLimited as e:
                wait = policy.wait_for(e.reset_at)
                if wait is not None:
                    self._wait(key, wait)
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
                # times — after a 5xx, only once a second look after the
                # wait still does not find it.
                if isinstance(e, ServerError):
                    doubt_since = attempt_at
                if attempt >= policy.max_attempts:
                    return finish("failed", f"{e} (gave up after {attempt} attempts)")
                delay = policy.backoff(attempt)
                if delay <= policy.max_wait:
                    attempt += 1
                    ledger.attempt_failed(
                        pid,
                        name,
                        token=self.token,
                        error=str(e),
                        now=self.clock.now(),
                        lease_until=self.lease_until(),
                    )
                    self._wait(key, delay)
                    continue
                return finish(
                    "scheduled",
                    str(e),
                    retry_at=self.clock.now() + timedelta(seconds=delay),
                    outcome="deferred",
                )
            except OutcomeUnknown as e:
                return finish("unknown", f"{e}; {self._next_for_unknown(pid)}")
            except AuthFailed as e:
                return blocked(str(e))
            except (Rejected, PublishError) as e:
                return finish("failed", str(e))
            except OSError as e:
                return finish("failed", f"cannot read media: {e.strerror or e}")
            if remote is not None and index == 0:
                first_url, first_id = remote.url, remote.id
            following = next((i for i in range(index + 1, len(texts)) if i not in done), None)
            last = following is None and remote is not None
            # The next part is marked in flight in the same write (a fence)
            # when nothing (a media upload) comes between.
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
                lease_until=self.lease_until(),
                next_in_flight=ahead,
                publish=(first_id, first_url) if last else None,
            )
            fenced = ahead
            if last:
                return Outcome(pid, name, "published", "", url=first_url, parts=len(texts))
            if remote is None:
                # X says the text is live already, and it was not found:
                # the chain cannot go on without its id.
                if index + 1 < len(texts):
                    return finish(
                        "unknown",
                        f"part {index + 1} is already on X (duplicate) but was not found; "
                        "the rest of the thread needs its id: " + what_to_do(pid),
                    )
                return finish("published", "already on X (duplicate content)", url=first_url)
            done[index] = PartRecord(index, remote.id, remote.url, self.clock.now())
            previous = remote.id
            index += 1
        # Every part was live already (recorded by an earlier run).
        outcome = finish("published", "", url=first_url, remote_id=first_id)
        outcome.parts = len(texts)
        return outcome

    def _next_for_unknown(self, post_id: str) -> str:
        """What happens next to a post whose outcome is unknown."""
        if self.policy.unknown == "hold":
            return what_to_do(post_id)
        return (
            "later runs look for it again, and send it again only if a full look at the "
            f"account's posts, {_human(self.policy.unknown_after)} after the attempt, "
            f"still does not find it; to settle it yourself, {what_to_do(post_id)}"
        )

    def _create(self, net: Network, request: PostRequest, *, since: datetime) -> RemotePost | None:
        """Post one part.  When the outcome is in doubt, look for it first."""
        try:
            return net.create_post(request)
        except DuplicateContent:
            try:
                return net.find_sent(request, since=since)
            except PublishError:
                return None
        except (ServerError, OutcomeUnknown) as e:
            try:
                found = net.find_sent(request, since=since)
            except PublishError as read:
                raise OutcomeUnknown(
                    f"{e}; the account's posts could not be read to check ({read})"
                ) from None
            if found is not None:
                return found
            if isinstance(e, OutcomeUnknown):
                raise OutcomeUnknown(f"{e}; it is not among the account's posts (yet)") from None
            raise

    def _upload(self, key: tuple[str, str], net: Network, post: Post, media: Media) -> str:
        from megaphone.checks.media import find, sniff

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
            except (Unavailable, ServerError, OutcomeUnknown, ReadFailed) as e:
                if attempt == self.policy.max_attempts:
                    raise Unavailable(f"{e} (upload gave up after {attempt} attempts)") from None
                self._wait(key, min(self.policy.backoff(attempt), self.policy.max_wait))
        raise AssertionError("unreachable")

    # ---------------------------------------------------------- reconcile

    def _request_of(
        self, post: Post, account: Account, index: int, done: Mapping[int, PartRecord]
    ) -> PostRequest | None:
        """The request part ``index`` was sent with (media aside), to look
        it up; None when its reply target is not known."""
        from megaphone.networks import PostRequest

        if index > 0:
            parent = done.get(index - 1)
            if parent is None or parent.remote_id is None:
                return None
            return PostRequest(post.texts()[index], reply_to=parent.remote_id)
        refs = self._references(post, account)
        if isinstance(refs, Outcome):
            return None
        return PostRequest(post.texts()[0], reply_to=refs[0], quote=refs[1])

    def reconcile(self, row: Delivery, post: Post | None, account: Account) -> Outcome:
        """A delivery left ``publishing`` by a run that is gone (or whose
        lease ran out): find out what became of the part in flight; never
        send it again blindly."""
        pid, name = row.post_id, row.account
        now = self.clock.now()
        owner_gone = row.lease_until is not None and row.lease_until > now
        if not self.ledger.take_over(
            pid,
            name,
            old_token=row.claimed_by,
            token=self.token,
            now=now,
            lease_until=self.lease_until(),
            owner_gone=owner_gone,
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
            return self._all_live(pid, name, done, now)
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
        # The part in flight may have gone out: unknown until looked up.
        message = f"interrupted while part {index + 1} was being sent"
        outcome = unknown(f"{message}; {self._next_for_unknown(pid)}")
        settled = self.ledger.get(pid, name)
        if settled is not None and settled.state == "unknown":
            found = self.look_again(settled, post, account)
            if found is not None:
                return found
        return outcome

    def reconcile_abandoned(self, posts: dict[str, Post]) -> list[Outcome]:
        """Reconcile every delivery whose publishing run is gone, and settle
        ``unknown`` ones: found live → recorded (and the rest of a thread
        sent); certainly not there → sent again (never blindly)."""
        outcomes = []
        now = self.clock.now()
        for row in self.ledger.all():
            abandoned = row.state == "publishing" and self.abandoned(row)
            since = row.sent_at or row.claimed_at or row.updated_at
            to_settle = (
                row.state == "unknown"
                and row.post_id in posts
                and now - since <= self.policy.lookback
            )
            if not (abandoned or to_settle):
                continue
            account = self.project.config.account(row.account) or Account(row.account)
            try:
                if to_settle:
                    found = self.look_again(row, posts[row.post_id], account)
                    if found is None:
                        continue
                    outcome = found
                else:
                    outcome = self.reconcile(row, posts.get(row.post_id), account)
            except LeaseLost as e:
                outcome = Outcome(row.post_id, row.account, "skipped", str(e))
            except MegaphoneError as e:
                outcome = Outcome(row.post_id, row.account, "failed", str(e))
            except Exception as e:
                outcome = Outcome(row.post_id, row.account, "failed", _internal(e))
            self.report(outcome)
            outcomes.append(outcome)
        return outcomes

    def look_again(self, row: Delivery, post: Post, account: Account) -> Outcome | None:
        """Settle an ``unknown`` delivery.  Its part in doubt found among the
        account's posts: recorded, and the rest sent.  Not found by a lookup
        that read every post since the attempt, long enough after it (the
        network shows a new post within seconds): it never arrived — sent
        again, and why is recorded.  A lookup that fails, or comes too
        soon: None, it stays unknown and a later run looks again."""
        pid, name = row.post_id, row.account
        done = self.ledger.parts(pid, name)
        texts = post.texts()
        index = next((i for i in range(len(texts)) if i not in done), None)
        since = row.sent_at or row.claimed_at or row.updated_at

        def reclaim(why: str | None = None) -> bool:
            # Through the claim: only one run resolves it.
            return self.ledger.reclaim(
                pid,
                name,
                from_state="unknown",
                token=self.token,
                now=self.clock.now(),
                lease_until=self.lease_until(),
                why=why,
            )

        if index is None:  # every part is recorded live
            return self._all_live(pid, name, done, self.clock.now()) if reclaim() else None
        request = self._request_of(post, account, index, done)
        if request is None:
            return None
        try:
            found = self.network(account).find_sent(request, since=since)
        except MegaphoneError:
            return None
        if found is not None:
            return (
                self._found_live(post, account, index, found, "on a later look")
                if reclaim()
                else None
            )
        now = self.clock.now()
        waited = now - since
        if self.policy.unknown == "hold" or waited < self.policy.unknown_after:
            return None
        why = (
            f"part {index + 1} is not among the account's posts {_human(waited)} after "
            "it was sent (every post since then was read): it never arrived"
        )
        late = now - post.at if post.at else None
        if late is not None and late > self.policy.grace and not row.late_ok:
            message = f"{why}; now {_human(late)} late, more than the grace period"
            if self.ledger.settle(
                pid, name, state="missed", now=now, error=message, only_from=("unknown",)
            ):
                return Outcome(pid, name, "missed", message, late=late)
            return None
        if not reclaim(f"{why}: sending it again"):
            return None
        return self._go_on(post, account, now, f"{why}: sent again")

    def _all_live(
        self, pid: str, name: str, done: Mapping[int, PartRecord], now: datetime
    ) -> Outcome:
        """Every part is recorded live: the post is published (under this
        run's claim)."""
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

    def _found_live(
        self, post: Post, account: Account, index: int, found: RemotePost, when: str
    ) -> Outcome:
        """The part in doubt is live after all: record it (under this run's
        claim), and send the rest — a thread under way is finished."""
        now = self.clock.now()
        pid, name = post.id, account.name
        self.ledger.record_part(
            pid,
            name,
            index,
            token=self.token,
            remote_id=found.id,
            url=found.url,
            now=now,
            lease_until=self.lease_until(),
        )
        return self._go_on(post, account, now, f"part {index + 1} found live {when}")

    def _go_on(self, post: Post, account: Account, now: datetime, why: str) -> Outcome:
        """Release a settled claim as ``scheduled`` (saying ``why``) and send
        what is left of the post now — a thread under way is finished, late or
        not."""
        self.ledger.finish(
            post.id, account.name, token=self.token, state="scheduled", now=now, error=why
        )
        return self.deliver(Job(post, account, post.at or now), force=True)


def _internal(error: Exception) -> str:
    """A failure no code foresaw, in one line."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"internal error ({type(error).__name__}{': ' + text if text else ''}); please report it"


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
    from megaphone.store.view import ledger_url as locate

    return locate(project.root, project.config.ledger, environ)


def connector(
    project: Project, environ: Mapping[str, str], *, timeouts: Timeouts | None = None
) -> Callable[[Account], Network]:
    """Opens an account's network adapter with its credentials."""
    from megaphone.networks import connect
    from megaphone.project.credentials import CredentialStore

    store = CredentialStore(project.root, environ)

    def open_account(account: Account) -> Network:
        from megaphone.networks import rules

        credentials = store.require(account.name, rules(account.network).credential_fields)
        if credentials.api_url is None and account.api_url:
            credentials = replace(credentials, api_url=account.api_url)
        return connect(account.network, credentials, timeouts=timeouts)

    return open_account
