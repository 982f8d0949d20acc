"""What happens to a delivery (a post, for one account) now: the one rule.

Pure: plain values in, a :class:`Decision` out, nothing read or written.
The real run, the dry run and the worker act on it; ``list``, ``status``,
``preview`` and the calendar show it (through :func:`shown`).  Keeping it in
one place is what keeps "still to publish" meaning the same everywhere.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, NamedTuple

from megaphone.store.view import FINAL, still_open

if TYPE_CHECKING:
    from datetime import datetime

    from megaphone.model import Post
    from megaphone.store.view import Deliveries

__all__ = ["FINAL", "Cap", "Decision", "Row", "decide", "human", "shown", "state", "still_open"]


class Row(NamedTuple):
    """What the ledger says of a delivery, as far as deciding goes."""

    state: str
    #: Held until a person acts (refused credentials, another account's
    #: handle, a clock far off).
    held: bool = False
    #: A person asked for it to go out, late or not (``megaphone retry``).
    late_ok: bool = False
    #: Not before this (a backoff, a rate limit's reset).
    next_attempt_at: datetime | None = None


class Cap(NamedTuple):
    """An account's daily cap, and what it has used of it."""

    limit: int
    #: Posts (thread parts count one each) of the last 24 hours.
    used: int
    #: Parts this post still has to send.
    needed: int


class Decision(NamedTuple):
    """``verdict`` is one of:

    - ``send``: due, on time — send it now;
    - ``scheduled``: its time has not come;
    - ``draft``: never published;
    - ``expired``: past ``expires`` (marked so);
    - ``missed``: more late than the grace period (marked so, never sent late);
    - ``deferred``: a retry or a rate limit's reset is still ahead;
    - ``capped``: the account's daily cap would be passed: it waits;
    - ``waiting``: the post it replies to or quotes is not live yet;
    - ``blocked``: held until a person acts;
    - ``publishing``: a run holds it now;
    - a final ledger state (``published``, ``failed``, ``unknown``…): settled.
    """

    verdict: str
    reason: str = ""
    late: timedelta | None = None


def decide(
    post: Post,
    now: datetime,
    row: Row | None = None,
    *,
    grace: timedelta,
    force: bool = False,
    asked: bool = False,
    recheck_held: bool = False,
    cap: Cap | None = None,
    target_ready: bool = True,
) -> Decision:
    """What happens to ``post`` now, given what the ledger says of it
    (``row``; None: nothing yet).

    ``force``: sent now, however late or early (a person named it with
    ``--now``).  ``asked``: a person named it: a post without a time is due.
    ``recheck_held``: a held delivery is tried again (a publishing run: what
    held it — credentials, a handle — is checked anew; a listing shows it
    ``blocked``).  ``cap`` and ``target_ready`` are only asked of a post that
    would otherwise be sent."""
    if row is not None:
        if row.state in FINAL:
            return Decision(row.state, f"already {row.state}")
        if row.state == "publishing":
            return Decision("publishing", "a run is publishing it")
        if row.held and not recheck_held:
            return Decision("blocked", "held until a person acts")
    if post.draft:
        return Decision("draft", "a draft")
    late = now - post.at if post.at is not None else None
    if not force:
        if post.expires is not None and post.expires <= now:
            return Decision("expired", "past its expiry")
        if late is not None and late > grace and not (row is not None and row.late_ok):
            return Decision("missed", f"{human(late)} late, more than the grace period", late)
        if late is None and not asked:
            return Decision("scheduled", "it has no time: it goes out when named")
        if late is not None and late < timedelta(0):
            return Decision("scheduled", "its time has not come")
        if row is not None and row.next_attempt_at is not None and row.next_attempt_at > now:
            return Decision("deferred", f"next attempt {row.next_attempt_at:%H:%M:%S} UTC")
        if cap is not None and cap.used + cap.needed > cap.limit:
            return Decision(
                "capped",
                f"daily cap: {cap.used} of {cap.limit} posts in the last 24 h, "
                f"{cap.needed} more would pass it",
            )
    if not target_ready:
        return Decision("waiting", "the post it replies to or quotes is not published yet")
    return Decision("send", "", late if late is not None and late > timedelta(0) else None)


#: How each verdict is shown by list, status, preview and the calendar.
_SHOWN = {"send": "due", "deferred": "due", "capped": "due", "waiting": "due"}


def shown(decision: Decision) -> str:
    """The state a person sees (``due``, ``scheduled``, ``missed``…)."""
    return _SHOWN.get(decision.verdict, decision.verdict)


def state(
    post: Post,
    now: datetime,
    ledger: Deliveries | None = None,
    *,
    grace: timedelta = timedelta(hours=1),
    account: str | None = None,
) -> str:
    """What is, or will be, the state of a post, as every command shows it
    (list, status, preview, calendar, the dry run): what the ledger says
    once it handled the post (``published``, ``failed``, ``unknown``,
    ``blocked``... — for ``account``, else its first account that has one);
    else ``draft``, ``expired``, ``due``, ``missed`` or ``scheduled`` — by
    the one rule, :func:`megaphone.publish.decide.decide`."""
    row: Row | None = None
    if ledger and post.id in ledger:
        states = {name: s for name, s, _ in ledger[post.id]}
        for name in (account,) if account else post.accounts:
            handled = states.get(name)
            if handled == "retry":
                row = Row("scheduled", late_ok=True)
            elif handled == "blocked":
                return "blocked"
            elif handled is not None and handled != "scheduled":
                return handled
    return shown(decide(post, now, row, grace=grace))


def human(delta: timedelta) -> str:
    """A duration in one unit, as messages say it: "90 s", "5 min", "3 h"."""
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
