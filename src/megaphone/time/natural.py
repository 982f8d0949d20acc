"""Times as people write them on the command line, read in a queue's time
zone — each phrase means exactly one moment, or it is refused with an
example of what works.  Never a guess.

Understood (case does not matter; ``at`` and commas may be added):

- ``now``; ``in 90 minutes``, ``in 2 hours`` (real time), ``in 3 days``,
  ``in 2 weeks`` (the same clock time, so many calendar days on);
- ``2026-12-01 09:00``, ``2026-12-01T09:00-08:00`` (ISO 8601);
- a day and a time of day, in either order: the day ``today``,
  ``tomorrow``, a weekday (``fri``, ``friday``, ``this friday``: the coming
  one — today's if its time is still ahead), a date with its month's name
  (``dec 5``, ``5 december``, ``dec 5 2027``: the coming one), or an ISO
  date; the time ``9`` or ``14:30`` (24-hour clock), ``9am``,
  ``9:30 pm``, ``noon``;
- after it, a time zone that is honoured: ``UTC``, an offset (``+02:00``,
  ``-0500``), an IANA name (``Europe/Madrid``), or one of the common
  abbreviations with one meaning (``EST``, ``PDT``, ``CET``…).

Refused, because people read them differently: a day without a time
(``monday``), ``midnight``, ``next friday`` (this week's or next week's?),
numeric dates (``01/02/2027``: January or February?), hours out of range
(``25:00``, ``13pm``), and anything else.  A local time that a clock change
skips or repeats is refused too, as in queue files.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from megaphone.errors import UsageError
from megaphone.time.zones import zone

EXAMPLES = "'tomorrow 9am', 'fri 14:30', 'dec 5 9am', 'in 2 hours' or '2026-12-01 09:00'"

_IN = re.compile(
    r"in\s+(\d{1,6})\s*(m|min|mins|minutes?|h|hrs?|hours?|d|days?|w|weeks?)", re.IGNORECASE
)
_EXACT = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{1,2}:\d{2}(:\d{2})?)?([+-]\d{2}:?\d{2}|Z)?")

WEEKDAYS = {
    name: i
    for i, names in enumerate(
        [
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "weds", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ]
    )
    for name in names
}
MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for name in names
}
#: Abbreviations with one meaning where megaphone's users are; others
#: (IST, BST, CST in China…) are refused: write the offset or the IANA name.
ABBREVIATIONS = {
    "utc": 0, "gmt": 0, "z": 0,
    "est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7, "mdt": -6,
    "pst": -8, "pdt": -7, "akst": -9, "akdt": -8, "hst": -10,
    "wet": 0, "west": 1, "cet": 1, "cest": 2, "eet": 2, "eest": 3,
}  # fmt: skip

_TIME = re.compile(
    r"(?:(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?)?|(?P<noon>noon|midday))"
)
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_DAY = re.compile(
    rf"\b(?:(?P<rel>today|tomorrow|yesterday)"
    rf"|(?:(?P<this>this)\s+)?(?P<wd>{_WEEKDAY})"
    rf"|(?P<mon1>{_MONTH})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+(?P<y1>\d{{4}}))?"
    rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mon2>{_MONTH})\.?(?:\s+(?P<y2>\d{{4}}))?"
    rf"|(?P<iso>\d{{4}}-\d{{2}}-\d{{2}}))\b"
)
_OFFSET = re.compile(r"(?:utc|gmt)?([+-])(\d{1,2})(?::?(\d{2}))?")


def resolve(raw: str, *, now: datetime, tz_name: str) -> datetime:
    """The moment ``raw`` names, aware; :class:`UsageError` when it cannot
    be read, could be read two ways, names a time that does not exist, or
    is not in the future."""
    text = " ".join(raw.replace(",", " ").split())
    zone(tz_name)  # raises for an unknown zone
    if not text:
        raise UsageError(f"a time is needed, e.g. {EXAMPLES}")
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
        shown = when.astimezone(zone(tz_name)).strftime("%a %Y-%m-%d %H:%M %Z")
        raise UsageError(f"{raw!r} is {shown}, which has passed")
    return when


def _relative(n: int, unit: str, now: datetime, tz_name: str) -> datetime:
    if unit.startswith("m"):
        return now + timedelta(minutes=n)
    if unit.startswith("h"):
        return now + timedelta(hours=n)  # real hours, across a clock change too
    days = n * (7 if unit.startswith("w") else 1)
    if days > 366 * 10:
        raise UsageError(f"in {n} {unit}: more than ten years ahead")
    # Days are calendar days: the same wall-clock time, whatever the offset.
    wall = now.astimezone(zone(tz_name)).replace(tzinfo=None) + timedelta(days=days)
    return _localize(wall, tz_name)


def _exact(text: str, tz_name: str) -> datetime:
    if len(text) == 10:
        raise UsageError(f"{text!r} has no time of day: write e.g. '{text} 09:00'")
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{text!r} is not a date and time (e.g. 2026-12-01 09:00)") from None
    return when if when.tzinfo else _localize(when, tz_name)


def _refuse(text: str, why: str) -> UsageError:
    return UsageError(f"cannot read {text!r} as one time: {why}; write e.g. {EXAMPLES}")


def _phrase(text: str, now: datetime, tz_name: str) -> datetime:
    lowered = text.lower()
    words = lowered.split()
    if re.search(r"\d{1,4}[/.]\d{1,2}", lowered):
        raise _refuse(text, "a date in numbers is read month-first by some, day-first by others")
    if "next" in words or "last" in words:
        raise _refuse(
            text, "'next' is this week's day to some and next week's to others: name the date"
        )
    if "midnight" in words:
        raise _refuse(text, "'midnight' is the start of a day to some and its end to others")
    zone_info, shown_zone, rest = _zone_of(words, tz_name)
    rest = [w for w in rest if w != "at"]
    phrase = " ".join(rest)
    day_match = None
    for candidate in _DAY.finditer(phrase):
        if day_match is not None:
            raise _refuse(text, "two days are named")
        day_match = candidate
    if day_match is None:
        raise _refuse(text, "no day is named (today, tomorrow, a weekday or a date)")
    left = (phrase[: day_match.start()] + " " + phrase[day_match.end() :]).strip()
    if not left:
        raise _refuse(text, "no time of day is given")
    time_match = _TIME.fullmatch(left)
    if time_match is None:
        raise _refuse(text, f"{left!r} is not a time of day")
    clock = _clock(time_match, text)
    local_now = now.astimezone(zone_info)
    wall = _day(day_match, clock, local_now, text)
    if shown_zone is None:
        return _localize(wall, tz_name)
    if isinstance(zone_info, timezone):
        return wall.replace(tzinfo=zone_info)
    return _localize(wall, shown_zone)


def named_zone(raw: str) -> tzinfo | None:
    """The time zone a phrase names at its end (``tomorrow 9am EST``), or
    None — to echo the time in it too."""
    words = " ".join(raw.replace(",", " ").split()).lower().split()
    if not words or _EXACT.fullmatch(raw.strip()):
        return None
    try:
        found, shown, _ = _zone_of(words, "UTC")
    except UsageError:
        return None
    return None if shown is None else found


def _zone_of(words: list[str], tz_name: str) -> tuple[tzinfo, str | None, list[str]]:
    """The time zone the phrase ends with (or the queue's), its IANA name
    when it has one, and the words before it."""
    if not words:
        return zone(tz_name), None, words
    last = words[-1]
    if last in ABBREVIATIONS:
        hours = ABBREVIATIONS[last]
        return timezone(timedelta(hours=hours), last.upper()), "", words[:-1]
    offset = _OFFSET.fullmatch(last)
    if offset and (offset[3] or last.startswith(("utc", "gmt")) or len(offset[2]) == 2):
        sign = -1 if offset[1] == "-" else 1
        hours, minutes = int(offset[2]), int(offset[3] or 0)
        if hours > 14 or minutes >= 60:
            raise UsageError(f"{last!r} is not a time-zone offset")
        delta = sign * timedelta(hours=hours, minutes=minutes)
        return timezone(delta), "", words[:-1]
    if "/" in last:
        from megaphone.time.zones import TimeError

        original = next((name for name in _zone_names() if name.lower() == last), None)
        if original is None:
            raise UsageError(f"unknown time zone {last!r}: use an IANA name such as Europe/Paris")
        try:
            return zone(original), original, words[:-1]
        except TimeError as e:
            raise UsageError(str(e)) from None
    return zone(tz_name), None, words


def _zone_names() -> set[str]:
    from zoneinfo import available_timezones

    return available_timezones()


def _clock(m: re.Match[str], text: str) -> time:
    if m["noon"]:
        return time(12, 0)
    hour, minute = int(m["h"]), int(m["m"] or 0)
    ampm = (m["ampm"] or "").replace(".", "")
    if minute >= 60:
        raise _refuse(text, f"minute {minute} does not exist")
    if ampm:
        if not 1 <= hour <= 12:
            raise _refuse(text, f"{hour}{ampm} is not an hour (1am to 12pm)")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    elif hour > 23:
        raise _refuse(text, f"{hour}:{minute:02d} is not a time of day (00:00 to 23:59)")
    return time(hour, minute)


def _day(m: re.Match[str], clock: time, local_now: datetime, text: str) -> datetime:
    """The wall-clock moment of the day ``m`` names, at ``clock``."""
    today = local_now.date()
    if m["rel"]:
        day = today + timedelta(days={"tomorrow": 1, "yesterday": -1}.get(m["rel"], 0))
        return datetime.combine(day, clock)
    if m["wd"]:
        ahead = (WEEKDAYS[m["wd"]] - today.weekday()) % 7
        moment = datetime.combine(today + timedelta(days=ahead), clock)
        if moment <= local_now.replace(tzinfo=None):
            moment += timedelta(days=7)  # this weekday's time has passed: the next one
        return moment
    if m["iso"]:
        try:
            return datetime.combine(date.fromisoformat(m["iso"]), clock)
        except ValueError:
            raise _refuse(text, f"{m['iso']} is not a date") from None
    month = MONTHS[m["mon1"] or m["mon2"]]
    day_of_month = int(m["d1"] or m["d2"])
    year_text = m["y1"] or m["y2"]
    years = [int(year_text)] if year_text else [today.year, today.year + 1]
    for year in years:
        try:
            candidate = date(year, month, day_of_month)
        except ValueError:
            if year_text or year == today.year + 1:
                named = f"{day_of_month} {m['mon1'] or m['mon2']}"
                raise _refuse(text, f"{named} is not a date") from None
            continue
        if year_text or candidate >= today:
            return datetime.combine(candidate, clock)
    raise _refuse(text, "that date is not ahead")


def _localize(wall: datetime, tz_name: str) -> datetime:
    """A wall-clock time in the zone: an error when the clocks skip it or
    repeat it (as in queue files, megaphone never guesses which was meant)."""
    from megaphone.time.zones import TimeError, localize

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
