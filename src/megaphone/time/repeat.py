"""Repeating posts: reading ``repeat:`` and listing its occurrences.

A rule is read in the queue's time zone, as ``at`` is: ``every: 2 weeks``,
``on: mon, thu``, ``times: 09:00, 17:00``, with ``until`` or ``count``.  The
occurrences are python-dateutil's ``rrule`` (RFC 5545 recurrence rules,
well tested on month ends, leap years and week starts) over wall-clock
times, each then placed in the zone: 09:00 stays 09:00 across a change of
the clocks.  A wall-clock time that a change skips goes out when the clocks
have moved on (02:30 becomes 03:30); one they repeat, the first time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

from megaphone.time.slots import DAYS, parse_days
from megaphone.time.zones import zone

if TYPE_CHECKING:
    from collections.abc import Iterator

    from megaphone.model import Repeat

_EVERY = re.compile(r"(?:(\d{1,3})\s*)?(day|week|month)s?", re.IGNORECASE)
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
#: Units of ``every``, as rrule's frequencies.
FREQS = ("daily", "weekly", "monthly")
#: The most occurrences a rule may list in a year (a post every hour is a
#: mistake, not a campaign).
MOST_A_DAY = 24


def parse_every(raw: str) -> tuple[str, int]:
    """``week``, ``2 weeks``, ``3 days``, ``month`` as (freq, interval);
    ValueError saying what is wrong."""
    m = _EVERY.fullmatch(raw.strip())
    if not m or (m[1] is not None and int(m[1]) < 1):
        raise ValueError(
            f"every: {raw!r} is not a period (e.g. 'day', '2 weeks', 'month', '3 days')"
        )
    return {"day": "daily", "week": "weekly", "month": "monthly"}[m[2].lower()], int(m[1] or 1)


def parse_on(raw: str) -> tuple[tuple[int, ...], tuple[time, ...]]:
    """``mon, thu`` or ``mon-fri 09:00, 17:00``: weekdays, and times when
    given; ValueError saying what is wrong."""
    words = raw.strip().split()
    days: list[str] = []
    times: list[time] = []
    for word in ",".join(words).split(","):
        word = word.strip().lower()
        if not word:
            continue
        m = _TIME.fullmatch(word)
        if m:
            times.append(parse_clock(word))
        elif times:
            raise ValueError(f"on: write the days, then the times ({raw!r})")
        else:
            days.append(word)
    if not days:
        raise ValueError(f"on: {raw!r} names no day (mon … sun, mon-fri, weekdays…)")
    return tuple(sorted(parse_days(",".join(days)))), tuple(times)


def parse_clock(raw: str) -> time:
    m = _TIME.fullmatch(raw.strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise ValueError(f"{raw.strip()!r} is not a time of day (HH:MM, e.g. 09:00)")
    return time(int(m[1]), int(m[2]))


def occurrences(
    rule: Repeat,
    first: datetime,
    tz_name: str,
    *,
    start: datetime | None = None,
    end: datetime,
) -> Iterator[tuple[int, datetime]]:
    """The occurrences of ``rule`` from ``first`` (its ``at``) until ``end``,
    each with its number (0 for the first, whatever ``start`` leaves out):
    those at or after ``start`` as aware times."""
    from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule

    tz = zone(tz_name)
    local_first = first.astimezone(tz).replace(tzinfo=None)
    times = sorted(rule.times or (local_first.time(),))
    freq: Literal[0, 1, 2, 3, 4, 5, 6] = (
        DAILY if rule.freq == "daily" else WEEKLY if rule.freq == "weekly" else MONTHLY
    )
    # The days by the rule (rrule: month ends, leap years, week starts),
    # then the times of each day, on the wall clock.
    days = rrule(
        freq,
        dtstart=datetime.combine(local_first.date(), time()),
        interval=rule.interval,
        byweekday=rule.weekdays or None,
        cache=False,
    )
    number = 0
    for day in days:
        for clock in times:
            local = datetime.combine(day.date(), clock)
            if local < local_first:
                continue
            when = place(local, tz_name)
            if when > end or (rule.until is not None and when > rule.until):
                return
            if start is None or when >= start:
                yield number, when
            number += 1
            if rule.total is not None and number >= rule.total:
                return


def same_text_gap(rule: Repeat, first: datetime, tz_name: str, turns: int) -> timedelta | None:
    """The least time between two occurrences ``turns`` apart (those that
    send the same text, with ``turns`` texts in rotation), worked out from
    the rule's pattern rather than by listing occurrences; None when no
    text comes back (the rule ends first).  Months count as 28 days: a
    lower bound, as a warning wants."""
    if rule.total is not None and rule.total <= turns:
        return None
    local = first.astimezone(zone(tz_name))
    times = sorted(rule.times or (local.time(),))
    day = timedelta(days=1)
    if rule.freq == "weekly":
        period = 7 * day * rule.interval
        days = rule.weekdays or (local.weekday(),)
        offsets = [d * day + timedelta(hours=t.hour, minutes=t.minute) for d in days for t in times]
    else:
        period = (day if rule.freq == "daily" else 28 * day) * rule.interval
        offsets = [timedelta(hours=t.hour, minutes=t.minute) for t in times]
    offsets.sort()
    n = len(offsets)
    laps, rest = divmod(turns, n)
    gap = min(
        offsets[(j + rest) % n] - offsets[j] + period * (laps + (1 if j + rest >= n else 0))
        for j in range(n)
    )
    if rule.until is not None and rule.until < first + gap:
        return None
    return gap


def place(local: datetime, tz_name: str) -> datetime:
    """A wall-clock time in ``tz_name`` as an aware UTC time: a time the
    clocks skip is read with the offset before the change, which is the
    wall clock moved on (02:30 is 03:30); a time they repeat is the first."""
    return local.replace(tzinfo=zone(tz_name), fold=0).astimezone(UTC)


def describe(rule: Repeat) -> str:
    """The rule in words: "every 2 weeks on mon, thu at 09:00, 8 times"."""
    unit = {"daily": "day", "weekly": "week", "monthly": "month"}[rule.freq]
    out = f"every {unit}" if rule.interval == 1 else f"every {rule.interval} {unit}s"
    if rule.weekdays:
        out += " on " + ", ".join(DAYS[d] for d in rule.weekdays)
    if rule.times:
        out += " at " + ", ".join(t.strftime("%H:%M") for t in rule.times)
    if rule.total:
        out += f", {rule.total} times"
    if rule.until:
        out += f", until {rule.until:%Y-%m-%d %H:%M} UTC"
    return out
