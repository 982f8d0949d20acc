"""Time slots: a queue's regular posting times, as Buffer keeps them.

A queue may say::

    slots:
      - mon-fri 09:00, 12:30
      - sat 10:00

Days: ``mon`` … ``sun``, ranges (``mon-fri``, ``fri-mon``), lists
(``mon,wed,fri``), ``daily``, ``weekdays``, ``weekends``.  Times: ``HH:MM``,
comma-separated.  The next free slot is the first one after now in which
none of the post's accounts has a post already.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, NamedTuple

from megaphone.time.zones import zone

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAMED = {
    "daily": range(7),
    "everyday": range(7),
    "weekdays": range(5),
    "weekends": range(5, 7),
}
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


class Slot(NamedTuple):
    days: frozenset[int]  # 0 = Monday
    at: time


def parse_slot(text: str) -> list[Slot]:
    """The slots one line names; ValueError saying what is wrong."""
    words = text.strip().split(None, 1)
    if len(words) != 2:
        raise ValueError(f"{text!r}: write days, then times (e.g. 'mon-fri 09:00, 12:30')")
    days = parse_days(words[0].lower())
    times = []
    for raw in words[1].split(","):
        m = _TIME.fullmatch(raw.strip())
        if not m or int(m[1]) > 23 or int(m[2]) > 59:
            raise ValueError(f"{raw.strip()!r} is not a time of day (HH:MM, e.g. 09:00)")
        times.append(time(int(m[1]), int(m[2])))
    return [Slot(days, t) for t in times]


def parse_days(text: str) -> frozenset[int]:
    """The weekdays (0 = Monday) a word names: ``mon-fri``, ``sat,sun``,
    ``weekdays``; ValueError saying what is wrong."""
    if text in _NAMED:
        return frozenset(_NAMED[text])
    found: set[int] = set()
    for part in text.split(","):
        ends = part.split("-")
        if len(ends) > 2 or any(e[:3] not in DAYS or len(e) < 3 for e in ends):
            raise ValueError(
                f"{part!r} is not a day or range of days "
                "(mon … sun, mon-fri, mon,wed,fri, daily, weekdays, weekends)"
            )
        first = DAYS.index(ends[0][:3])
        last = DAYS.index(ends[-1][:3])
        day = first
        while True:
            found.add(day)
            if day == last:
                break
            day = (day + 1) % 7
    return frozenset(found)


def upcoming(
    slots: Iterable[Slot], *, after: datetime, tz_name: str, days: int = 370
) -> Iterator[datetime]:
    """Every slot after ``after``, in order, as aware times (a wall-clock time
    that a clock change skips or repeats is passed over)."""
    from megaphone.time.zones import TimeError, localize

    tz = zone(tz_name)
    ordered = sorted(slots, key=lambda s: s.at)
    start = after.astimezone(tz).date()
    for offset in range(days):
        day = start + timedelta(days=offset)
        for slot in ordered:
            if day.weekday() not in slot.days:
                continue
            try:
                when = localize(datetime.combine(day, slot.at), tz_name)
            except TimeError:
                continue
            if when > after:
                yield when


def free(
    slots: Iterable[Slot],
    *,
    after: datetime,
    tz_name: str,
    taken: set[datetime],
    count: int = 1,
) -> list[datetime]:
    """The first ``count`` slots after ``after`` not in ``taken``."""
    out: list[datetime] = []
    for when in upcoming(slots, after=after, tz_name=tz_name):
        if when not in taken:
            out.append(when)
            if len(out) == count:
                break
    return out
