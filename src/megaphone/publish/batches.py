"""One run's accounts, shared out among the runs publishing now, each
account's posts sent in batches under the account's lease.

Only the holder of an account's lease sends its posts, so an account's
posts and thread parts go out in their order whichever machine sends them.
A worker thread takes an account's lease, reads the rows of its next posts,
applies the rule to each, claims the ones to send in one write, and sends
them in order; then it goes on with the account's next batch.  The accounts
are shared out by the number of runs publishing now (each counts itself in
the ledger): a run holds at most its share, and a thread above its share
lets its account go at the end of a batch — a run that starts while another
is under way takes over half its accounts within one batch.

Every post still goes through its own claim: the account's lease keeps the
order, the claim (with its fence before each part) keeps a post from going
out twice.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import math
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from megaphone.errors import MegaphoneError
from megaphone.publish.values import Job, Outcome, internal, order

if TYPE_CHECKING:
    from collections.abc import Callable

    from megaphone.publish.publisher import Publisher, Ready


#: How long a run's count of the runs publishing now is trusted.
RUNNERS_FRESH = 0.25


#: Polls a run makes at the policy's pace for an account another run holds,
#: before it waits longer each time: about one batch's time, within which a
#: run above its share lets accounts go.
QUICK_POLLS = 8


@dataclass
class _Account:
    """An account's jobs still to be done in this run, in their order."""

    jobs: deque[Job]
    #: A local thread serves it now.
    busy: bool = False
    #: When another run held it last, and how many times in a row (a thread
    #: waits a little before asking again).
    held_at: float = 0.0
    held: int = 0


@dataclass
class AccountRun:
    """One run of ``jobs``, grouped by account.  Jobs may be offered while
    it goes (the worker's posts that come due meanwhile), until it ends."""

    publisher: Publisher
    force: bool
    #: Where each outcome is told as it comes (the publisher's ``report``
    #: unless given).
    report: Callable[[Outcome], None] | None = None
    accounts: dict[str, _Account] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    #: Jobs whose reply or quote target was not live yet: tried again at the end.
    waiting: list[Job] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._workers = 0
        self._runners = 1
        self._runners_at = 0.0
        self._counting = threading.Lock()
        #: The run was interrupted (Ctrl-C): threads stop after the post in hand.
        self._stopping = False
        #: What interrupted a thread, raised again once every thread stopped.
        self._raised: BaseException | None = None
        #: Every job the run was given (post id, account): each is done once.
        self._given: set[tuple[str, str]] = set()
        #: The run has ended: it takes no more jobs.
        self._ended = False

    def add(self, jobs: list[Job]) -> bool:
        """Give the run more jobs (those it has already are left out), each
        account's in their order; False, taking none, once it has ended."""
        with self._lock:
            if self._ended:
                return False
            for job in jobs:
                name = job.account.name
                key = (job.post.id, name)
                if key in self._given:
                    continue
                self._given.add(key)
                if name not in self.accounts:
                    self.accounts[name] = _Account(deque())
                queued = self.accounts[name].jobs
                if queued and order(queued[-1]) > order(job):
                    bisect.insort(queued, job, key=order)  # in its place
                else:
                    queued.append(job)
                self._lock.notify_all()
            return True

    def stop(self) -> None:
        """Stop after the post in hand on each account (the worker stops):
        the claims not used are given back, the jobs left stay scheduled."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()

    # -------------------------------------------------------------- sharing

    def _count_runners(self) -> None:
        """Count the runs publishing now again, when the last count is
        older than RUNNERS_FRESH: a query of the ledger, made outside the
        run's lock (every thread takes that lock for each post), by one
        thread at a time."""
        now = time.monotonic()
        if now - self._runners_at <= RUNNERS_FRESH or not self._counting.acquire(blocking=False):
            return
        try:
            self._runners_at = now
            clock = self.publisher.clock
            self._runners = max(1, self.publisher.ledger.runners(now=clock.now()))
        except MegaphoneError:
            pass  # the last count stands
        finally:
            self._counting.release()

    def _share(self) -> int:
        """How many accounts this run may serve at once: the accounts left,
        shared by the runs publishing now (as last counted)."""
        return max(1, math.ceil(len(self.accounts) / self._runners))

    def go(self) -> list[Outcome]:
        """Serve every account until each one's jobs are done (by this run or
        by another), with up to the share of threads."""
        claims = self.publisher.claims
        claims.join()
        _switch_sooner()
        threads: list[threading.Thread] = []
        try:
            while True:
                self._count_runners()
                with self._lock:
                    if not self.accounts or self._stopping:
                        self._ended = True
                        break
                    threads = [t for t in threads if t.is_alive()]
                    idle = [a for a in self.accounts.values() if not a.busy]
                    room = self._share() - self._workers
                    for _ in range(min(room, len(idle))):
                        self._workers += 1
                        thread = threading.Thread(
                            target=self._worker, name="megaphone-account", daemon=True
                        )
                        threads.append(thread)
                        thread.start()
                    self._lock.wait(0.25)
        except BaseException:
            with self._lock:
                self._stopping = self._ended = True
            raise
        finally:
            for thread in threads:
                thread.join()
            claims.leave()
        if self._raised is not None:
            raise self._raised
        return self.outcomes

    def _pick(self) -> tuple[str, _Account] | None:
        """An account no thread of this run serves (the one another run held
        longest ago first); None when none is left."""
        with self._lock:
            idle = [(n, a) for n, a in self.accounts.items() if not a.busy]
            if not idle:
                return None
            name, account = min(idle, key=lambda item: item[1].held_at + self._poll(item[1]))
            account.busy = True
            return name, account

    def _worker(self) -> None:
        name = None
        try:
            while True:
                picked = self._pick()
                if picked is None:
                    return
                name, account = picked
                rest = account.held_at + self._poll(account) - time.monotonic()
                if rest > 0:
                    time.sleep(rest)
                if not self._serve(name, account):
                    return
                name = None
        except BaseException as e:
            # An interruption in this thread (what a bug raises is an
            # outcome already): the run stops, and says so once it has.
            self._stopping = True
            with self._lock:
                if name is not None:
                    self.accounts.pop(name, None)
                self._raised = self._raised or e
            if name is not None:
                self._let_go(name)
        finally:
            with self._lock:
                self._workers -= 1
                self._lock.notify_all()

    def _serve(self, name: str, account: _Account) -> bool:
        """Batch after batch of one account, while this run's share allows;
        whether this thread goes on (False: above the share, it stops).  The
        account's lease is this run's (every thread's): it is let go before
        another thread of this run may pick the account again."""
        while True:
            if self._stopping:
                self._let_go(name)
                return False
            try:
                state = self._batch(name, account)
            except Exception as e:  # a bug: this account's jobs say so, the others go on
                for job in self._drain(account):
                    self._tell(Outcome(job.post.id, name, "failed", internal(e)))
                state = "done"
            if state == "held":
                with self._lock:
                    account.busy = False
                    account.held += 1
                    account.held_at = time.monotonic()
                return True
            account.held = 0
            if state == "done":
                self._let_go(name)
                with self._lock:
                    if not account.jobs:
                        self.accounts.pop(name, None)
                        self._lock.notify_all()
                        return True
                # More were given meanwhile: the next batch takes the lease again.
                continue
            self._count_runners()
            with self._lock:
                above = self._workers > self._share()
            if above:
                self._let_go(name)
                with self._lock:
                    account.busy = False
                return False

    def _poll(self, account: _Account) -> float:
        """How long to wait before asking again for an account another run
        held: a poll each time for about a batch's time (another run lets an
        account go at the end of a batch, when it is above its share), then
        longer each time, up to ten polls."""
        poll: float = self.publisher.policy.poll
        if not account.held:
            return 0.0
        return poll * min(10, 1 << max(0, account.held - QUICK_POLLS))

    def _let_go(self, name: str) -> None:
        try:
            self.publisher.ledger.release_account(name, token=self.publisher.claims.token)
        except MegaphoneError as e:
            self.publisher.warn(f"{name}: {e}")

    # -------------------------------------------------------------- a batch

    def _batch(self, name: str, account: _Account) -> str:
        """One batch of the account's posts: ``held`` (another run holds the
        account), ``more`` or ``done``."""
        p = self.publisher
        size = p.policy.batch
        with self._lock:  # jobs may be given meanwhile
            page = list(itertools.islice(account.jobs, size * 2))
        try:
            rows = p.ledger.take_account(
                name,
                token=p.claims.token,
                now=p.clock.now(),
                lease_until=p.claims.lease_until(),
                abandoned=p.claims.token_abandoned,
                read=[j.post.id for j in page],
            )
        except MegaphoneError as e:
            # The ledger cannot be reached: the account's posts are left
            # for the next run, each saying why.
            for job in self._drain(account):
                self._tell(Outcome(job.post.id, name, "deferred", str(e)))
            return "done"
        if rows is None:
            return "held"
        ready: list[Ready] = []
        alone: Job | None = None
        used: int | None = None
        for job in page:
            row = rows.get(job.post.id)
            if row is None or row.state == "publishing" or _names_a_post(job):
                # Made now, left by a run that is gone, or a reply to (a quote
                # of) a post that may be in this batch: on its own, in its turn.
                if not ready:
                    alone = job
                    self._take(account, job)
                break
            if used is None and job.account.daily_cap:
                used = p.used_today(job.account)
            decided = p.prepare(job, row, force=self.force, used=used)
            self._take(account, job)
            if isinstance(decided, Outcome):
                if decided.state == "waiting":
                    self.waiting.append(job)
                else:
                    self._tell(decided)
                continue
            ready.append(decided)
            if used is not None:
                used += decided.parts
            if len(ready) >= size:
                break
        if alone is not None:
            outcome = p.deliver(alone, force=self.force)
            if outcome.state == "waiting":
                self.waiting.append(alone)
            else:
                self._tell(outcome)
                if outcome.stop_account:
                    self._stop(name, account, outcome, [])
        elif ready:
            self._send(name, account, ready)
        return "done" if not account.jobs else "more"

    def _send(self, name: str, account: _Account, ready: list[Ready]) -> None:
        p = self.publisher
        ids = [r.job.post.id for r in ready]
        try:
            claimed = p.ledger.claim_batch(
                name,
                ids,
                token=p.claims.token,
                now=p.clock.now(),
                lease_until=p.claims.lease_until(),
                ignore_backoff=self.force,
            )
        except MegaphoneError as e:
            for r in ready:
                self._tell(Outcome(r.job.post.id, name, "deferred", str(e)))
            return
        ahead: tuple[str | None] | None = None
        for i, r in enumerate(ready):
            if self._stopping and ahead is None:
                # Interrupted: the claims not used yet are given back as they
                # were (a post already marked in flight is sent first).
                rest = [x.job.post.id for x in ready[i:] if x.job.post.id in claimed]
                with contextlib.suppress(MegaphoneError):
                    p.ledger.release_claims(name, rest, token=p.claims.token, now=p.clock.now())
                return
            got = claimed.get(r.job.post.id)
            if got is None:
                self._tell(Outcome(r.job.post.id, name, "skipped", "another run has taken it"))
                continue
            row, done = got
            if ahead is not None:
                # Marked in flight when the post before was recorded.
                row = row.but(in_flight=0, idem_key=ahead[0], idem_record=None)
            following = ready[i + 1] if i + 1 < len(ready) else None
            then = None
            if (
                following is not None
                and following.job.post.id in claimed
                and not following.job.post.parts[0].media
                and not claimed[following.job.post.id][1]
            ):
                then = following.job.post.id
            try:
                outcome = p.send_claimed(r, row, done, then)
            except BaseException:
                # Interrupted in a send (the sender settled that post): the
                # claims not used yet are given back as they were.
                rest = [x.job.post.id for x in ready[i + 1 :] if x.job.post.id in claimed]
                with contextlib.suppress(MegaphoneError):
                    p.ledger.release_claims(name, rest, token=p.claims.token, now=p.clock.now())
                raise
            ahead = outcome.ahead
            self._tell(outcome)
            lost = outcome.state == "skipped"  # the claim was lost: so were the others
            if outcome.stop_account or lost:
                rest = [x.job.post.id for x in ready[i + 1 :] if x.job.post.id in claimed]
                self._stop(name, account, outcome, rest, lost=lost)
                return

    def _stop(
        self, name: str, account: _Account, stop: Outcome, claimed: list[str], *, lost: bool = False
    ) -> None:
        """The account's other posts wait (a rate limit, refused credentials):
        the claims not used are given back, and every job left says why."""
        p = self.publisher
        blocked = stop.state == "blocked"
        message = stop.message if not lost else "this run's claims were taken over"
        try:
            p.ledger.release_claims(
                name,
                claimed,
                token=p.claims.token,
                now=p.clock.now(),
                error=None if lost else message,
                held=blocked,
            )
        except MegaphoneError as e:
            p.warn(f"{name}: {e}")
        state = "skipped" if lost else stop.state
        for post_id in claimed:
            self._tell(Outcome(post_id, name, state, message))
        for job in self._drain(account):
            if not lost:
                p.contained(job, message, held=blocked)
            self._tell(Outcome(job.post.id, name, state, message))

    def _take(self, account: _Account, job: Job) -> None:
        """The job is in hand: out of the account's queue (where a job given
        meanwhile may have come before it)."""
        with self._lock:
            for i, queued in enumerate(account.jobs):
                if queued is job:
                    del account.jobs[i]
                    return

    def _drain(self, account: _Account) -> list[Job]:
        """The account's jobs left, taken out (jobs may be given meanwhile)."""
        with self._lock:
            jobs = list(account.jobs)
            account.jobs.clear()
        return jobs

    def _tell(self, outcome: Outcome) -> None:
        (self.report or self.publisher.report)(outcome)
        with self._lock:
            self.outcomes.append(outcome)


#: How long a thread may hold the interpreter while another waits for it
#: (Python's default is 5 ms).
SWITCH_INTERVAL = 0.001


def _switch_sooner() -> None:
    """The run's threads wait on the network and the ledger nearly all the
    time; one whose answer came takes the interpreter within a millisecond
    instead of five, which, a round trip after another, is most of the
    post's time beyond the network's when many accounts go at once."""
    if sys.getswitchinterval() > SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)


def _names_a_post(job: Job) -> bool:
    """Whether the post replies to or quotes a post of the queue files (not a URL)."""
    return any(ref is not None and "://" not in ref for ref in (job.post.reply_to, job.post.quote))
