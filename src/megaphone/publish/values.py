"""The values publishing works with: its policy (how patient), its clock
(tests travel in time), a job (a post for one account) and its outcome."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from megaphone.store.lease import DEFAULT_LEASE

if TYPE_CHECKING:
    from megaphone.model import Account, Post


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
    #: Posts of one account claimed in one write, and sent one after another
    #: (a run above its share lets an account go at the end of one).
    batch: int = 25
    #: How long a run waits before asking again for an account another run
    #: sends the posts of (seconds; doubled each time, up to ten times).
    poll: float = 0.1

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


def order(job: Job) -> tuple[datetime, str, str]:
    """Where a job goes among the others (an account's go out in this
    order): by time, queue file and id."""
    return post_order(job.post, job.due)


def post_order(post: Post, due: datetime) -> tuple[datetime, str, str]:
    """:func:`order` of a post (``due``: its time when it has none)."""
    return (post.at or due, post.queue, post.id)


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
    #: The account's next post was marked in flight in the write that
    #: recorded this one: (the key it is sent with,).
    ahead: tuple[str | None] | None = None


def internal(error: Exception) -> str:
    """A failure no code foresaw, in one line."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"internal error ({type(error).__name__}{': ' + text if text else ''}); please report it"
