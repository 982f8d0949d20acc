"""Posts in time: what is due when, in which state, filtered and laid out by
day.  Plain values in, plain values out; the command line renders them."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from megaphone.errors import UsageError
from megaphone.time.zones import zone

if TYPE_CHECKING:
    from collections.abc import Iterable

    from megaphone.model import Post

_DURATION = re.compile(r"([+-]?)(\d{1,9})\s*(s|sec|m|min|h|d|w)", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: No duration is longer (so that no arithmetic on one can overflow).
_LONGEST = 100 * 366 * 86400


def parse_duration(raw: str) -> timedelta | None:
    """``30s``, ``90m``, ``1h``, ``2d``, ``1w`` (or ``-1h``); None when it is
    not one (or is longer than a century)."""
    m = _DURATION.fullmatch(raw.strip())
    if not m:
        return None
    seconds = int(m[2]) * _UNITS[m[3].lower()]
    if seconds > _LONGEST:
        return None
    return timedelta(seconds=-seconds if m[1] == "-" else seconds)


def parse_when(raw: str, *, now: datetime, tz_name: str) -> datetime:
    """A point in time given on the command line: ``now``, ``today``,
    ``tomorrow``, ``yesterday``, a duration from now (``3d``, ``-12h``,
    ``+2w``), a date (``2026-12-01``, midnight) or a date and time, local to
    ``tz_name`` unless it has an offset."""
    text = raw.strip().lower()
    tz = zone(tz_name)
    local_now = now.astimezone(tz)
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    days = {"now": None, "today": 0, "tomorrow": 1, "yesterday": -1}
    if text in days:
        offset = days[text]
        return (
            now
            if offset is None
            else _wall(midnight.replace(tzinfo=None) + timedelta(days=offset), tz_name)
        )
    m = _DURATION.fullmatch(text)
    if m:
        seconds = int(m[2]) * _UNITS[m[3]]
        return now + timedelta(seconds=-seconds if m[1] == "-" else seconds)
    try:
        when = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise UsageError(
            f"cannot read {raw!r} as a time: use now, today, tomorrow, 3d, -12h, "
            "2026-12-01 or '2026-12-01 09:00'"
        ) from None
    return when if when.tzinfo else _wall(when, tz_name)


def _wall(naive: datetime, tz_name: str) -> datetime:
    # For a filter, a time that a clock change skips or repeats is taken at
    # its first reading: no post is lost by it.
    return naive.replace(tzinfo=zone(tz_name), fold=0)


def relative(when: datetime, now: datetime) -> str:
    """``in 3 h``, ``in 2 days``, ``12 min ago``..."""
    seconds = (when - now).total_seconds()
    ahead = seconds >= 0
    seconds = abs(seconds)
    if seconds < 60:
        amount = "now" if seconds < 30 else "1 min"
    elif seconds < 3600:
        amount = f"{round(seconds / 60)} min"
    elif seconds < 48 * 3600:
        amount = f"{round(seconds / 3600)} h"
    else:
        amount = f"{round(seconds / 86400)} days"
    if amount == "now":
        return "now"
    return f"in {amount}" if ahead else f"{amount} ago"


@dataclass(frozen=True)
class Filter:
    """Which posts to show."""

    ids: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None

    def keep(self, post: Post) -> bool:
        if self.ids and post.id not in self.ids and post.entry_id not in self.ids:
            return False
        if self.accounts and not set(post.accounts) & set(self.accounts):
            return False
        if self.start is not None or self.end is not None:
            if post.at is None:
                return False  # a draft has no place in a span of time
            if self.start is not None and post.at < self.start:
                return False
            if self.end is not None and post.at >= self.end:
                return False
        return True


def ordered(posts: Iterable[Post]) -> list[Post]:
    """By time (drafts last), then by id."""
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(posts, key=lambda p: (p.at or far, p.id))


def side_by_side(posts: list[Post]) -> list[Post]:
    """``posts`` in order, each post's other languages right after it (the
    same occurrence), whatever their own times."""
    first: dict[tuple[str, datetime | None], int] = {}
    for i, post in enumerate(posts):
        first.setdefault((post.entry_id, post.occurrence), i)
    return sorted(posts, key=lambda p: first[(p.entry_id, p.occurrence)])


@dataclass
class Day:
    """One account's posts on one day."""

    day: date
    times: list[datetime] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    collisions: list[tuple[str, str]] = field(default_factory=list)
    over_cap: bool = False


def by_day(
    posts: Iterable[Post],
    *,
    tz_name: str,
    caps: dict[str, int | None],
    gap: timedelta = timedelta(minutes=10),
) -> dict[str, dict[date, Day]]:
    """For each account, its scheduled posts day by day (in ``tz_name``), with
    posts closer than ``gap`` to the one before (collisions) and days over the
    account's daily cap."""
    tz = zone(tz_name)
    table: dict[str, dict[date, Day]] = defaultdict(dict)
    for post in ordered(posts):
        if post.at is None or post.draft:
            continue
        local = post.at.astimezone(tz)
        for account in post.accounts:
            day = table[account].setdefault(local.date(), Day(local.date()))
            if day.times and local - day.times[-1] < gap:
                day.collisions.append((day.ids[-1], post.id))
            day.times.append(local)
            day.ids.append(post.id)
    for account, days in table.items():
        cap = caps.get(account)
        for day in days.values():
            day.over_cap = cap is not None and len(day.times) > cap
    return dict(table)


def parse_occurrence(raw: str) -> datetime | None:
    """The time of an occurrence as a delivery's id writes it
    (``2027-01-04T17:00Z``); None when it is not one."""
    from datetime import UTC

    try:
        return datetime.strptime(raw, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    except ValueError:
        return None
