"""Times and time zones: reading ``at`` and ``expires`` exactly, or not at all."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from pathlib import Path


class TimeError(ValueError):
    """A time that cannot be used; ``code`` is the problem code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@cache
def zone(name: str) -> tzinfo:
    """The IANA time zone ``name``; :class:`TimeError` if there is none."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a folder of the database (``America``), an unreadable file
        raise TimeError(
            "unknown-timezone", f"unknown time zone {name!r}: use an IANA name such as Europe/Paris"
        ) from None


def local_zone_name() -> str:
    """This machine's time zone as an IANA name (UTC when it cannot be told)."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and "/" in tz and not tz.startswith("/"):
        return tz
    try:
        target = Path("/etc/localtime").resolve()
        parts = target.parts
        if "zoneinfo" in parts:
            return "/".join(parts[parts.index("zoneinfo") + 1 :]) or "UTC"
    except OSError:
        pass
    return "UTC"


def parse_time(raw: str, tz_name: str) -> datetime:
    """Read a post time: ISO 8601 with an offset (``2026-12-01T09:00-08:00``,
    ``...Z``), or a local time in ``tz_name`` (``2026-12-01 09:00``).

    Local times that a daylight-saving change skips or repeats are refused:
    megaphone never guesses which of two moments was meant."""
    text = raw.strip()
    try:
        when = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise TimeError(
            "bad-time",
            f"cannot read {raw!r} as a time: write e.g. '2026-12-01 09:00' or "
            "'2026-12-01T09:00-08:00'",
        ) from None
    if "T" not in text and " " not in text and "t" not in text:
        raise TimeError("bad-time", f"{raw!r} has no time of day: write e.g. '{text} 09:00'")
    if not FIRST_YEAR <= when.year <= LAST_YEAR:
        raise TimeError(
            "bad-time",
            f"{raw!r} is not a time megaphone can schedule: years {FIRST_YEAR} to {LAST_YEAR}",
        )
    if when.tzinfo is not None:
        return when
    return localize(when, tz_name)


#: The years a post's time may fall in: no arithmetic on them (a grace
#: period, a zone's offset, a repeat) can leave what datetime can hold.
FIRST_YEAR = 1970
LAST_YEAR = 2199


def localize(naive: datetime, tz_name: str) -> datetime:
    """``naive`` as a wall-clock time in ``tz_name``, refusing skipped and
    repeated times."""
    tz = zone(tz_name)
    if _steady(tz, naive.date()):
        return naive.replace(tzinfo=tz)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    shown = naive.strftime("%Y-%m-%d %H:%M")
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise TimeError(
            "nonexistent-time",
            f"{shown} does not exist in {tz_name}: the clocks skip it for daylight saving",
        )
    a, b = (fmt_offset(d) for d in (first, second))
    raise TimeError(
        "ambiguous-time",
        f"{shown} happens twice in {tz_name} ({a} and {b}): "
        f"write the offset, e.g. {naive.strftime('%Y-%m-%dT%H:%M')}{a}",
    )


_STEADY: dict[tuple[tzinfo, date], bool] = {}


def _steady(tz: tzinfo, day: date) -> bool:
    """Whether the clocks of ``tz`` keep one offset all through ``day`` (most
    days): then no time of the day is skipped or repeated."""
    key = (tz, day)
    steady = _STEADY.get(key)
    if steady is None:
        midnight = datetime.combine(day, time())
        offsets = {
            (midnight + timedelta(hours=h)).replace(tzinfo=tz, fold=f).utcoffset()
            for h in (0, 12, 24)
            for f in (0, 1)
        }
        steady = _STEADY[key] = len(offsets) == 1
    return steady


def fmt_offset(when: datetime) -> str:
    offset = when.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
