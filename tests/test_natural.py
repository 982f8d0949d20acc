"""Natural times: each phrase means exactly one moment a person would agree
with, or is refused with an example — at a fixed now on both sides of a
daylight-saving change (Los Angeles: clocks go forward on Sun 2027-03-14 and
back on Sun 2027-11-07)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from megaphone.errors import UsageError
from megaphone.time.natural import resolve

LA = "America/Los_Angeles"
#: Sat 2027-03-13 12:00 PST, the day before the clocks go forward.
SPRING = datetime(2027, 3, 13, 20, 0, tzinfo=UTC)
#: Sat 2027-11-06 12:00 PDT, the day before the clocks go back.
AUTUMN = datetime(2027, 11, 6, 19, 0, tzinfo=UTC)

MEANS = [
    # (now, phrase, the moment it means)
    (SPRING, "now", "2027-03-13T12:00:00-08:00"),
    (SPRING, "NOW", "2027-03-13T12:00:00-08:00"),
    (SPRING, "tomorrow 9am", "2027-03-14T09:00:00-07:00"),  # after the change: PDT
    (SPRING, "tomorrow at 9am", "2027-03-14T09:00:00-07:00"),
    (SPRING, "9am tomorrow", "2027-03-14T09:00:00-07:00"),
    (SPRING, "Tomorrow 9 AM", "2027-03-14T09:00:00-07:00"),
    (SPRING, "tomorrow 9:30 p.m.", "2027-03-14T21:30:00-07:00"),
    (SPRING, "tomorrow 12am", "2027-03-14T00:00:00-08:00"),
    (SPRING, "tomorrow 12pm", "2027-03-14T12:00:00-07:00"),
    (SPRING, "tomorrow noon", "2027-03-14T12:00:00-07:00"),
    (SPRING, "today 16:00", "2027-03-13T16:00:00-08:00"),
    (SPRING, "today 4pm", "2027-03-13T16:00:00-08:00"),
    (SPRING, "today 12:01", "2027-03-13T12:01:00-08:00"),
    (SPRING, "friday 9", "2027-03-19T09:00:00-07:00"),  # the coming Friday, 09:00
    (SPRING, "fri 9", "2027-03-19T09:00:00-07:00"),
    (SPRING, "fri noon", "2027-03-19T12:00:00-07:00"),
    (SPRING, "this friday 14:00", "2027-03-19T14:00:00-07:00"),
    (SPRING, "monday 14:00", "2027-03-15T14:00:00-07:00"),
    (SPRING, "mon 8:05am", "2027-03-15T08:05:00-07:00"),
    (SPRING, "sat 13:00", "2027-03-13T13:00:00-08:00"),  # today, still ahead
    (SPRING, "sat 11:00", "2027-03-20T11:00:00-07:00"),  # today's has passed: next week
    (SPRING, "sun 03:30", "2027-03-14T03:30:00-07:00"),  # just after the skipped hour
    (SPRING, "thurs 18:45", "2027-03-18T18:45:00-07:00"),
    (SPRING, "Wednesday, 7pm", "2027-03-17T19:00:00-07:00"),
    (SPRING, "dec 5 9am", "2027-12-05T09:00:00-08:00"),
    (SPRING, "5 december 9am", "2027-12-05T09:00:00-08:00"),
    (SPRING, "december 5th at noon", "2027-12-05T12:00:00-08:00"),
    (SPRING, "mar 1 10:00", "2028-03-01T10:00:00-08:00"),  # 1 March has passed: next year's
    (SPRING, "mar 13 18:00", "2027-03-13T18:00:00-08:00"),  # today's date, still ahead
    (SPRING, "apr 1 2028 10:00", "2028-04-01T10:00:00-07:00"),
    (SPRING, "2027-03-20 08:15", "2027-03-20T08:15:00-07:00"),
    (SPRING, "2027-03-20T08:15:00Z", "2027-03-20T08:15:00+00:00"),
    (SPRING, "2027-03-20T08:15-05:00", "2027-03-20T08:15:00-05:00"),
    (SPRING, "2027-03-20 at 8am", "2027-03-20T08:00:00-07:00"),
    (SPRING, "tomorrow 9am EST", "2027-03-14T09:00:00-05:00"),  # the zone is honoured
    (SPRING, "tomorrow 9am est", "2027-03-14T09:00:00-05:00"),
    (SPRING, "tomorrow 9am UTC", "2027-03-14T09:00:00+00:00"),
    (SPRING, "tomorrow 9am +02:00", "2027-03-14T09:00:00+02:00"),
    (SPRING, "tomorrow 9am -0430", "2027-03-14T09:00:00-04:30"),
    (SPRING, "tomorrow 9am utc+1", "2027-03-14T09:00:00+01:00"),
    (SPRING, "tomorrow 9am Europe/Madrid", "2027-03-14T09:00:00+01:00"),
    (SPRING, "fri 14:00 america/new_york", "2027-03-19T14:00:00-04:00"),
    (SPRING, "in 24 hours", "2027-03-14T13:00:00-07:00"),  # real hours
    (SPRING, "in 1 day", "2027-03-14T12:00:00-07:00"),  # calendar days
    (SPRING, "in 90 minutes", "2027-03-13T13:30:00-08:00"),
    (SPRING, "in 2 weeks", "2027-03-27T12:00:00-07:00"),
    (AUTUMN, "tomorrow 9am", "2027-11-07T09:00:00-08:00"),  # after the change: PST
    (AUTUMN, "tomorrow 00:30", "2027-11-07T00:30:00-07:00"),  # before it
    (AUTUMN, "sun 03:00", "2027-11-07T03:00:00-08:00"),
    (AUTUMN, "in 24 hours", "2027-11-07T11:00:00-08:00"),
    (AUTUMN, "in 1 day", "2027-11-07T12:00:00-08:00"),
    (AUTUMN, "friday 9", "2027-11-12T09:00:00-08:00"),
    (AUTUMN, "nov 6 18:00", "2027-11-06T18:00:00-07:00"),
    (AUTUMN, "jan 2 09:00", "2028-01-02T09:00:00-08:00"),
    (AUTUMN, "today 11pm", "2027-11-06T23:00:00-07:00"),
    (AUTUMN, "tomorrow 9am PDT", "2027-11-07T09:00:00-07:00"),
]

REFUSED = [
    # (now, phrase, what the refusal says)
    (SPRING, "monday", "no time of day"),
    (SPRING, "tomorrow", "no time of day"),
    (SPRING, "9am", "no day"),
    (SPRING, "noon", "no day"),
    (SPRING, "tomorrow 25:00", "not a time of day"),
    (SPRING, "tomorrow 13pm", "not an hour"),
    (SPRING, "tomorrow 0am", "not an hour"),
    (SPRING, "tomorrow 9:75", "does not exist"),
    (SPRING, "tomorrow midnight", "midnight"),
    (SPRING, "next monday 14:00", "'next'"),
    (SPRING, "next friday 9am", "'next'"),
    (SPRING, "last friday 9am", "'next'"),
    (SPRING, "01/02/2028 09:00", "month-first"),
    (SPRING, "13/12/2027 09:00", "month-first"),
    (SPRING, "12.03.2028 09:00", "month-first"),
    (SPRING, "2027-03-20", "no time of day"),
    (SPRING, "2027-03-14 02:30", "skip"),  # the clocks skip it
    (AUTUMN, "2027-11-07 01:30", "twice"),  # the clocks repeat it
    (AUTUMN, "sun 01:30", "twice"),
    (SPRING, "sun 02:30", "skip"),
    (SPRING, "yesterday 9am", "has passed"),
    (SPRING, "today 9am", "has passed"),
    (SPRING, "2027-03-01 09:00", "has passed"),
    (SPRING, "feb 30 9am", "not a date"),
    (SPRING, "tomorrow 9am IST", "not a time of day"),  # an abbreviation of several zones
    (SPRING, "tomorrow 9am Mars/Olympus", "unknown time zone"),
    (SPRING, "the day after the vote", "no day"),
    (SPRING, "friday or saturday 9am", "two days"),
    (SPRING, "in a while", "no day"),
    (SPRING, "", "a time is needed"),
    (SPRING, "tonight", "no day"),
]


@pytest.mark.parametrize(("now", "phrase", "expected"), MEANS)
def test_a_phrase_means_one_moment(now: datetime, phrase: str, expected: str) -> None:
    when = resolve(phrase, now=now, tz_name=LA)
    assert when == datetime.fromisoformat(expected)
    if not phrase.lower().startswith(("now", "in ")):  # those are counted from now, in UTC
        assert when.utcoffset() == datetime.fromisoformat(expected).utcoffset()


@pytest.mark.parametrize(("now", "phrase", "why"), REFUSED)
def test_a_phrase_that_is_not_one_moment_is_refused(now: datetime, phrase: str, why: str) -> None:
    with pytest.raises(UsageError, match=why) as refused:
        resolve(phrase, now=now, tz_name=LA)
    message = str(refused.value)
    if why not in ("skip", "twice", "has passed", "a time is needed", "unknown time zone"):
        assert "e.g." in message  # an example of what works


def test_the_table_is_large_enough() -> None:
    assert len(MEANS) + len(REFUSED) >= 60


def test_a_zone_named_is_echoed_back(project, run, frozen_now) -> None:
    root = project(
        {"megaphone.yaml": "timezone: America/Los_Angeles\naccounts: [{name: utla, network: x}]\n"},
        campaign="account: utla\nposts:\n  - {id: a, at: 2026-12-09 09:00, text: A.}\n",
    )
    result = run("add", "campaign", "Town hall.", "--at", "dec 2 9am EST", cwd=root)
    assert result.exit_code == 0, result.output
    assert "06:00 PST" in result.output and "= 09:00 EST as asked" in result.output
