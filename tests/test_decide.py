"""The one rule (megaphone.publish.decide), as a table: what happens to a
delivery now, for every case the run, the dry run, the worker and the
listings meet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from megaphone.model import Part, Post
from megaphone.problems import Loc
from megaphone.publish.decide import FINAL, Cap, Decision, Row, decide, shown, still_open

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(hours=1)
LOC = Loc("posts/q.yaml", 1, 1)


def post(
    at: datetime | None = NOW - timedelta(minutes=5),
    *,
    expires: datetime | None = None,
    draft: bool = False,
) -> Post:
    return Post(
        id="p",
        loc=LOC,
        queue="posts/q.yaml",
        accounts=("utla",),
        parts=(Part("Hello.", LOC),),
        timezone="UTC",
        at=at,
        expires=expires,
        draft=draft,
    )


H = timedelta(hours=1)
M = timedelta(minutes=1)

CASES = [
    # (what, post, row, options, verdict)
    ("due, on time", post(), None, {}, "send"),
    ("not yet", post(NOW + M), None, {}, "scheduled"),
    ("exactly now", post(NOW), None, {}, "send"),
    ("late within grace", post(NOW - 59 * M), None, {}, "send"),
    ("later than grace", post(NOW - 61 * M), None, {}, "missed"),
    ("late, but a person asked", post(NOW - 5 * H), Row("scheduled", late_ok=True), {}, "send"),
    ("expired", post(expires=NOW - M), None, {}, "expired"),
    ("expiry wins over retry", post(expires=NOW), Row("scheduled", late_ok=True), {}, "expired"),
    ("expired, forced", post(expires=NOW - M), None, {"force": True}, "send"),
    ("missed, forced", post(NOW - 5 * H), None, {"force": True}, "send"),
    ("early, forced", post(NOW + H), None, {"force": True}, "send"),
    ("draft", post(draft=True), None, {}, "draft"),
    ("draft even forced", post(draft=True), None, {"force": True}, "draft"),
    ("no time", post(None), None, {}, "scheduled"),
    ("no time, named", post(None), None, {"asked": True}, "send"),
    ("published", post(), Row("published"), {}, "published"),
    ("failed stays failed", post(), Row("failed"), {"force": True}, "failed"),
    ("unknown is settled elsewhere", post(), Row("unknown"), {}, "unknown"),
    ("a run holds it", post(), Row("publishing"), {}, "publishing"),
    ("held", post(), Row("scheduled", held=True), {}, "blocked"),
    (
        "held, a run tries again",
        post(),
        Row("scheduled", held=True),
        {"recheck_held": True},
        "send",
    ),
    ("backoff ahead", post(), Row("scheduled", next_attempt_at=NOW + M), {}, "deferred"),
    ("backoff over", post(), Row("scheduled", next_attempt_at=NOW - M), {}, "send"),
    ("backoff, forced", post(), Row("scheduled", next_attempt_at=NOW + M), {"force": True}, "send"),
    ("under the cap", post(), None, {"cap": Cap(17, 16, 1)}, "send"),
    ("over the cap", post(), None, {"cap": Cap(17, 16, 2)}, "capped"),
    ("over the cap, forced", post(), None, {"cap": Cap(17, 17, 1), "force": True}, "send"),
    ("reply target not live", post(), None, {"target_ready": False}, "waiting"),
    ("missed before waiting", post(NOW - 2 * H), None, {"target_ready": False}, "missed"),
]


@pytest.mark.parametrize(
    ("what", "p", "row", "options", "verdict"), CASES, ids=[c[0] for c in CASES]
)
def test_the_rule(what, p, row, options, verdict) -> None:
    assert decide(p, NOW, row, grace=GRACE, **options).verdict == verdict


def test_a_late_send_says_how_late() -> None:
    decision = decide(post(NOW - 10 * M), NOW, grace=GRACE)
    assert decision == Decision("send", "", 10 * M)
    missed = decide(post(NOW - 3 * H), NOW, grace=GRACE)
    assert missed.reason == "3 h late, more than the grace period" and missed.late == 3 * H


def test_what_people_see() -> None:
    assert shown(decide(post(), NOW, grace=GRACE)) == "due"
    assert shown(decide(post(), NOW, None, grace=GRACE, cap=Cap(1, 1, 1))) == "due"
    assert shown(decide(post(NOW + H), NOW, grace=GRACE)) == "scheduled"
    assert shown(decide(post(NOW - 2 * H), NOW, grace=GRACE)) == "missed"


@pytest.mark.parametrize("state", [None, "scheduled", "retry", "blocked", "publishing"])
def test_still_open(state: str | None) -> None:
    assert still_open(state)


@pytest.mark.parametrize("state", sorted(FINAL))
def test_settled(state: str) -> None:
    assert not still_open(state)
