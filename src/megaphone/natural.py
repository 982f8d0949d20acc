"""Times as people write them on the command line: ISO 8601, ``2026-12-01
09:00``, and phrases (``tomorrow 9am``, ``in 2 hours``, ``next monday
14:00``, ``fri noon``), read in a queue's time zone.  A phrase that cannot be
read is an error, never a guess.  dateparser is imported only for phrases."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

from megaphone.errors import UsageError
from megaphone.schedule import zone

_IN = re.compile(
    r"in\s+(\d+)\s*(m|min|mins|minutes?|h|hrs?|hours?|d|days?|w|weeks?)", re.IGNORECASE
)
_EXACT = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{1,2}:\d{2}(:\d{2})?)?([+-]\d{2}:?\d{2}|Z)?")


def resolve(raw: str, *, now: datetime, tz_name: str) -> datetime:
    """The moment ``raw`` names, aware; :class:`UsageError` when it cannot
    be read, names a time that does not exist, or is not in the future."""
    text = raw.strip()
    tz = zone(tz_name)  # raises for an unknown zone
    if not text:
        raise UsageError("a time is needed (e.g. 'tomorrow 9am', '2026-12-01 09:00')")
    if text.lower() == "now":
        return now
    m = _IN.fullmatch(text)
    if m:
        when = _relative(int(m[1]), m[2].lower(), now, tz_name)
        # To the minute: a post at 14:03:27 is nobody's plan.
        minute = when.replace(second=0, microsecond=0)
        when = minute if minute >= now else minute + timedelta(minutes=1)
    elif _EXACT.fullmatch(text):
        when = _exact(text, tz_name)
    else:
        when = _phrase(text, now, tz_name)
    if when < now - timedelta(seconds=1):
        shown = when.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z")
        raise UsageError(f"{raw!r} is {shown}, which has passed")
    return when


def _relative(n: int, unit: str, now: datetime, tz_name: str) -> datetime:
    if unit.startswith(("m",)):
        return now + timedelta(minutes=n)
    if unit.startswith("h"):
        return now + timedelta(hours=n)  # real hours, across a clock change too
    days = n * (7 if unit.startswith("w") else 1)
    # Days are calendar days: the same wall-clock time, whatever the offset.
    wall = now.astimezone(zone(tz_name)).replace(tzinfo=None) + timedelta(days=days)
    return _localize(wall, tz_name)


def _exact(text: str, tz_name: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{text!r} is not a date and time (e.g. 2026-12-01 09:00)") from None
    return when if when.tzinfo else _localize(when, tz_name)


def _phrase(text: str, now: datetime, tz_name: str) -> datetime:
    import dateparser

    base = now.astimezone(zone(tz_name)).replace(tzinfo=None)
    parsed: datetime | None = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "RELATIVE_BASE": base,
            "PREFER_DATES_FROM": "future",
            "RETURN_AS_TIMEZONE_AWARE": False,
            "STRICT_PARSING": False,
        },
    )
    if parsed is None:
        raise UsageError(
            f"cannot read {text!r} as a time: try 'tomorrow 9am', 'in 2 hours', "
            "'next monday 14:00', 'fri noon' or '2026-12-01 09:00'"
        )
    if parsed.tzinfo is not None:  # the phrase named its own zone
        return parsed
    return _localize(parsed.replace(microsecond=0), tz_name)


def _localize(wall: datetime, tz_name: str) -> datetime:
    """A wall-clock time in the zone: an error when the clocks skip it or
    repeat it (as in queue files, megaphone never guesses which was meant)."""
    from megaphone.schedule import TimeError, localize

    try:
        return localize(wall, tz_name)
    except TimeError as e:
        raise UsageError(str(e)) from None


def ambiguous(when: datetime, tz: tzinfo) -> bool:
    """Whether the wall-clock time of ``when`` happens twice in ``tz``."""
    wall = when.astimezone(tz).replace(tzinfo=None)
    return (
        wall.replace(tzinfo=tz, fold=0).utcoffset() != wall.replace(tzinfo=tz, fold=1).utcoffset()
    )
