"""Publishing: which posts are due, and sending them without ever losing or
doubling one.

For each post and account (a *delivery*) the publisher

1. makes sure the ledger has a row for it, then asks the one rule
   (:func:`megaphone.publish.decide.decide`) what happens now: send, mark
   ``missed`` or ``expired``, wait (a retry, the daily cap, a reply target
   not live yet), or leave it (settled, held, another run's);
2. claims it (only one process wins) and hands it to the sender
   (:mod:`~megaphone.publish.send`), which sends its parts in order under
   the claim's lease (:mod:`~megaphone.publish.claims`) through the
   account's signed-in adapter (:mod:`~megaphone.publish.sessions`);
3. settles what earlier runs left in doubt (:mod:`~megaphone.publish.reconcile`).

Accounts are published in parallel, each account's posts in order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from megaphone.errors import LeaseLost, MegaphoneError
from megaphone.model import Account
from megaphone.publish.decide import Cap, Row, decide
from megaphone.publish.values import Clock, Job, Outcome, Policy, internal, order
from megaphone.store.view import content_digest

T = TypeVar("T")

__all__ = ["Clock", "Job", "Outcome", "Policy", "Publisher", "connector", "digest", "plan"]

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from megaphone.model import Post, Project
    from megaphone.networks.contract import Network, Timeouts
    from megaphone.publish.batches import AccountRun
    from megaphone.store.lease import Owner
    from megaphone.store.ledger import Delivery, Ledger, PartRecord


digest = content_digest

#: Planning "until" this: every dated post.
FOREVER = datetime.max.replace(tzinfo=UTC)


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
            if not named(post, ids):
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
            jobs.append(Job(post.for_network(account.network), account, due))
    jobs.sort(key=order)
    return jobs


def named(post: Post, ids: tuple[str, ...]) -> bool:
    """Whether ``ids`` name the delivery ``post``: by its id, or by its
    post's id when it is not an occurrence (``hub`` names ``hub/es``)."""
    return post.id in ids or (post.occurrence is None and post.entry_id in ids)


# ------------------------------------------------------------------ publishing


class Publisher:
    """Sends jobs for one project through the ledger: the pieces (claims,
    sessions, sender, reconciler) put together, and the rule applied."""

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
        from megaphone.publish.claims import Claims
        from megaphone.publish.reconcile import Reconciler
        from megaphone.publish.send import Sender
        from megaphone.publish.sessions import Sessions
        from megaphone.store.lease import Owner

        self.project = project
        self.warn = warn or (lambda message: None)
        self.ledger = ledger
        self.policy = policy or Policy()
        self.clock = clock or Clock()
        self.report = report or (lambda outcome: None)
        self.claims = Claims(ledger, owner or Owner.new(), self.policy, self.clock)
        self.sessions = Sessions(connect, ledger, self.claims, self.policy, self.warn)
        self.sender = Sender(project, ledger, self.claims, self.sessions, self.policy, self.clock)
        self.reconciler = Reconciler(
            ledger=ledger,
            claims=self.claims,
            sessions=self.sessions,
            sender=self.sender,
            policy=self.policy,
            clock=self.clock,
            deliver=self.deliver,
            report=self.report,
            holding=self.holding,
        )

    def use(self, project: Project) -> None:
        """Publish from a newer reading of the project (the worker's)."""
        self.project = project
        self.sender.use(project)

    def reconcile_abandoned(self, posts: Mapping[str, Post]) -> list[Outcome]:
        """Settle what earlier runs left in doubt (see Reconciler)."""
        return self.reconciler.reconcile_abandoned(posts)

    def close(self) -> None:
        self.claims.close()
        self.sessions.close()

    # ----------------------------------------------------------------- run

    def run(self, jobs: list[Job], *, force: bool = False, written: bool = False) -> list[Outcome]:
        """Send ``jobs``: accounts in parallel (shared with the other runs
        publishing now), each account's in order.  ``force`` sends named
        posts now, however late or early; ``written``: the caller wrote
        their rows ahead (see write_ahead)."""
        if not jobs:
            return []
        if not written:
            self.write_ahead(jobs)
        accounts = self.new_run(force=force)
        accounts.add(jobs)
        outcomes = accounts.go()
        # Replies and quotes of posts that went out in another account's
        # thread above.
        for job in accounts.waiting:
            outcome = self.holding(job.account.name, partial(self.deliver, job, force=force))
            if outcome is None:
                outcome = Outcome(
                    job.post.id,
                    job.account.name,
                    "deferred",
                    "another run sends the account's posts",
                )
            if outcome.state == "waiting":
                outcome.state = "deferred"
            self.report(outcome)
            outcomes.append(outcome)
        return outcomes

    def new_run(
        self, *, force: bool = False, report: Callable[[Outcome], None] | None = None
    ) -> AccountRun:
        """A run of jobs given to it (see :class:`AccountRun`), each
        outcome told to ``report`` (this publisher's unless given)."""
        from megaphone.publish.batches import AccountRun

        return AccountRun(self, force, report)

    def write_ahead(self, jobs: list[Job]) -> dict[tuple[str, str], Delivery]:
        """Every job's delivery is a row before it is sent, with the post's
        current values (one write); every row of the project."""
        from megaphone.store.ledger import Wanted

        return self.ledger.sync(
            [
                Wanted(
                    j.post.id,
                    j.account.name,
                    j.account.network,
                    j.post.queue,
                    j.post.at,
                    digest(j.post),
                    j.post.evergreen,
                )
                for j in jobs
            ],
            now=self.clock.now(),
        )

    def holding(self, account: str, act: Callable[[], T], *, wait: float = 0.0) -> T | None:
        """``act`` under the account's lease; None when another run holds it
        (for ``wait`` seconds: asked again meanwhile, less often each time)."""
        claims = self.claims
        poll = self.policy.poll
        deadline = time.monotonic() + wait
        while True:
            taken = self.ledger.take_account(
                account,
                token=claims.token,
                now=self.clock.now(),
                lease_until=claims.lease_until(),
                abandoned=claims.token_abandoned,
            )
            if taken is not None:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(poll, left))
            poll = min(poll * 2, 1.0)
        try:
            return act()
        finally:
            self.ledger.release_account(account, token=claims.token)

    def contained(self, job: Job, message: str, *, held: bool = False) -> None:
        """Note why a post waits; a failure to note it never stops the run."""
        try:
            self._note(job, message, held=held)
        except Exception as e:
            self.warn(f"{job.post.id} ({job.account.name}): {internal(e)}")

    def _note(self, job: Job, message: str, *, held: bool = False) -> None:
        """Why a post that stays scheduled was not sent, for ``status``."""
        now = self.clock.now()
        self.ledger.ensure(job.post.id, job.account.name, now=now, **_values(job))
        self.ledger.note(job.post.id, job.account.name, error=message, now=now, held=held)

    # ------------------------------------------------------------- deliver

    def deliver(self, job: Job, *, force: bool = False) -> Outcome:
        """One post for one account, whatever happens: its outcome.  A
        failure of this post (a value no code foresaw, a ledger error) is
        this post's outcome and never stops the others."""
        return _contain(job, lambda: self._deliver(job, force=force))

    def _deliver(self, job: Job, *, force: bool = False) -> Outcome:
        post, account = job.post, job.account
        ledger = self.ledger
        values = _values(job)
        row = ledger.get(post.id, account.name)
        if row is not None and _changed(row, values):
            ledger.ensure(post.id, account.name, now=self.clock.now(), **values)
            row = ledger.get(post.id, account.name)
        if row is not None and row.state == "publishing":
            if not self.claims.abandoned(row):
                return Outcome(post.id, account.name, "skipped", "another run is publishing it")
            return self.reconciler.reconcile(row, post, account)
        ready = self.prepare(job, row, force=force)
        if isinstance(ready, Outcome):
            return ready
        return self._claim_and_send(ready, force=force)

    def used_today(self, account: Account) -> int:
        """Posts (thread parts) the account published in the last 24 hours."""
        return self.ledger.parts_since(account.name, self.clock.now() - timedelta(hours=24))

    def prepare(
        self, job: Job, row: Delivery | None, *, force: bool = False, used: int | None = None
    ) -> Outcome | Ready:
        """The rule applied to a post and its row (not ``publishing``): the
        outcome now (settled, missed, deferred, waiting...), or the post
        ready to be claimed and sent.  ``used``: the account's posts in the
        last 24 hours, when the caller counts them."""
        post, account = job.post, job.account
        now = self.clock.now()
        ledger = self.ledger

        def known() -> None:
            # The rarer outcomes below are kept in the ledger; a post seen
            # for the first time is written there by the claim itself.
            if row is None:
                ledger.ensure(post.id, account.name, now=now, **_values(job))

        facts = _row(row)
        rule = partial(
            decide,
            post,
            now,
            facts,
            grace=self.policy.grace,
            force=force,
            asked=True,
            recheck_held=True,
        )
        decision = rule()
        left = len(post.parts)
        if decision.verdict == "send" and not force and account.daily_cap:
            if row is not None:
                left -= len(ledger.parts(post.id, account.name))
            if used is None:
                used = self.used_today(account)
            decision = rule(cap=Cap(account.daily_cap, used, left))
        verdict = decision.verdict
        if verdict in ("expired", "missed"):
            known()
            ledger.settle(post.id, account.name, state=verdict, now=now, error=decision.reason)
            return Outcome(post.id, account.name, verdict, decision.reason, late=decision.late)
        if verdict == "deferred":
            reason = f"{decision.reason} ({row.error or 'retry'})" if row else decision.reason
            return Outcome(post.id, account.name, "deferred", reason)
        if verdict == "capped":
            known()
            ledger.note(post.id, account.name, error=decision.reason, now=now)
            return Outcome(post.id, account.name, "deferred", decision.reason)
        if verdict != "send":
            url = row.url if row is not None else None
            return Outcome(post.id, account.name, "skipped", decision.reason, url=url)
        refs = self.sender.references(post, account)
        if isinstance(refs, Outcome):
            if refs.state == "waiting":
                known()
                ledger.note(post.id, account.name, error=refs.message, now=now)
            return refs
        return Ready(job, row, refs, decision.late, left)

    def send_claimed(
        self,
        ready: Ready,
        row: Delivery,
        done: dict[int, PartRecord] | None = None,
        then: str | None = None,
    ) -> Outcome:
        """Send a post this run has claimed (its parts already live: ``done``;
        ``then``: the next one claimed, see Sender.send)."""
        return _contain(ready.job, lambda: self._send(ready, row, done, then))

    def _claim_and_send(self, ready: Ready, *, force: bool) -> Outcome:
        """Claim one post and send it."""
        from megaphone.networks import rules as network_rules

        post, account, row = ready.job.post, ready.job.account, ready.row
        now = self.clock.now()
        # A new post without media in its first part: that part is sent
        # right after the claim, which marks it in flight (with its key) in
        # the same write.
        first_in_flight = 0 if row is None and not post.parts[0].media else None
        first_key = network_rules(account.network).new_key() if first_in_flight == 0 else None
        fenced_at = time.monotonic()
        claimed = self.ledger.claim(
            post.id,
            account.name,
            token=self.claims.token,
            now=now,
            lease_until=now + self.policy.lease,
            ignore_backoff=force,
            create=_values(ready.job) if row is None else None,
            in_flight=first_in_flight,
            idem_key=first_key,
        )
        if claimed is None:
            return Outcome(post.id, account.name, "skipped", "another run has taken it")
        if first_in_flight == 0:
            self.sender.fenced(post.id, account.name, fenced_at)
        return self._send(ready, claimed, None)

    def _send(
        self,
        ready: Ready,
        claimed: Delivery,
        done: dict[int, PartRecord] | None,
        then: str | None = None,
    ) -> Outcome:
        post, account = ready.job.post, ready.job.account
        ledger = self.ledger
        key = (post.id, account.name)
        self.claims.hold(key)
        try:
            outcome = self.sender.send(claimed, post, account, ready.refs, done=done, then=then)
        except LeaseLost:
            raise
        except Exception as e:
            # A bug: unknown if a part's request may have left (later runs
            # look it up), else failed, for a person to see.
            state = ledger.release_interrupted(
                post.id,
                account.name,
                token=self.claims.token,
                now=self.clock.now(),
                nothing_sent="failed",
                why=internal(e),
            )
            return Outcome(post.id, account.name, state, internal(e))
        except BaseException:
            # Interrupted (Ctrl-C): unknown if a part's request may have
            # left (the next run looks it up), else scheduled again.
            ledger.release_interrupted(
                post.id, account.name, token=self.claims.token, now=self.clock.now()
            )
            raise
        finally:
            self.claims.let_go(key)
        if outcome.state == "published" and ready.late is not None:
            outcome.late = ready.late
        return outcome


@dataclass(frozen=True)
class Ready:
    """A post the rule says to send now, for one account."""

    job: Job
    row: Delivery | None
    #: The remote ids it replies to and quotes (see Sender.references).
    refs: tuple[str | None, str | None]
    late: timedelta | None
    #: Parts still to send.
    parts: int


def _contain(job: Job, act: Callable[[], Outcome]) -> Outcome:
    """``act``'s outcome, or the failure it met as this post's outcome."""
    try:
        return act()
    except LeaseLost as e:
        return Outcome(job.post.id, job.account.name, "skipped", str(e))
    except MegaphoneError as e:
        return Outcome(job.post.id, job.account.name, "failed", str(e))
    except Exception as e:
        return Outcome(job.post.id, job.account.name, "failed", internal(e))


def _values(job: Job) -> dict[str, Any]:
    """The row's values the post gives."""
    return {
        "network": job.account.network,
        "queue": job.post.queue,
        "scheduled_at": job.post.at,
        "digest": digest(job.post),
        "slot": job.post.evergreen,
    }


def _row(row: Delivery | None) -> Row | None:
    """What the rule needs of a ledger row."""
    if row is None:
        return None
    return Row(row.state, bool(row.held), bool(row.late_ok), row.next_attempt_at)


def _changed(row: Delivery, values: Mapping[str, Any]) -> bool:
    """Whether the ledger's row needs the post's current values (see
    :func:`megaphone.store.ledger.changes_for`)."""
    from megaphone.store.ledger import Wanted, changes_for

    return bool(changes_for(row, Wanted(row.post_id, row.account, **values)))


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
        credentials = replace(
            credentials, handle=account.handle, keep=str(project.root / ".megaphone")
        )
        return connect(account.network, credentials, timeouts=timeouts)

    return open_account
