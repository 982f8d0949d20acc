"""'Unknown' is settled, not parked: a full lookup long enough after the
attempt that does not find the post sends it again; a lookup that fails, or
cannot read everything, settles nothing; and a lookup never takes another
post (another link, another reply target) for this one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from megaphone.store.ledger import Ledger, default_url
from tests.conftest import sign_in
from tests.fakex import FakeX, User
from tests.test_publish import publish, state

CONFIG = "timezone: UTC\naccounts:\n  - name: utla\n    network: x\n"
ONE = "account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n"


@pytest.fixture
def user(fakex: FakeX, monkeypatch: pytest.MonkeyPatch) -> User:
    return sign_in(fakex, monkeypatch, "utla", "utlanow")


def events(root: Path, post_id: str) -> list[str]:
    return [f"{e['state']}: {e['detail']}" for e in Ledger(default_url(root)).events(post_id)]


def test_an_unknown_post_not_found_by_a_full_later_lookup_is_sent_again(
    fakex: FakeX, user: User, project, run, clock, no_wait
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    fakex.fault("POST", "/2/tweets", "drop")  # the request never arrived
    assert publish(run, root, "--due").exit_code == 1
    assert state(root, "one") == "unknown"
    # Too soon: X may not show a post that did arrive yet.
    clock.shift(timedelta(seconds=30))
    publish(run, root, "--due")
    assert state(root, "one") == "unknown" and fakex.posted() == []
    clock.shift(timedelta(minutes=4))
    result = publish(run, root, "--due")
    assert result.exit_code == 0, result.output
    assert [t.sent_text for t in fakex.posted()] == ["Hello."]
    assert state(root, "one") == "published"
    assert any("never arrived" in e for e in events(root, "one"))


def test_unknown_hold_leaves_it_to_a_person(
    fakex: FakeX, user: User, project, run, clock, no_wait
) -> None:
    root = project({"megaphone.yaml": CONFIG + "unknown: hold\n"}, one=ONE)
    fakex.fault("POST", "/2/tweets", "drop")
    publish(run, root, "--due")
    clock.shift(timedelta(minutes=10))
    result = publish(run, root, "--due")
    assert state(root, "one") == "unknown" and fakex.posted() == []
    status = run("status", cwd=root).output
    assert "megaphone retry one" in status, result.output


def test_a_lookup_that_fails_or_cannot_read_everything_settles_nothing(
    fakex: FakeX, user: User, project, run, clock, no_wait
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    fakex.fault("POST", "/2/tweets", "drop")
    publish(run, root, "--due")
    clock.shift(timedelta(minutes=4))
    fakex.fault("GET", r"/2/users/\d+/tweets", "status", status=503, times=3)
    publish(run, root, "--due")
    assert state(root, "one") == "unknown" and fakex.posted() == []
    # More posts since the attempt than a lookup reads: it cannot tell.
    for i in range(520):
        fakex.seed("utlanow", f"An older post number {i}.")
    publish(run, root, "--due")
    assert state(root, "one") == "unknown"
    assert all(t.sent_text != "Hello." for t in fakex.posted())


def test_a_lookup_in_an_answer_that_cannot_be_read_settles_nothing(
    fakex: FakeX, user: User, project, run, clock, no_wait
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    fakex.fault("POST", "/2/tweets", "drop")
    publish(run, root, "--due")
    clock.shift(timedelta(minutes=4))
    fakex.fault(
        "GET", r"/2/users/\d+/tweets", "status", status=200, body={"data": [{"text": "no id"}]}
    )
    publish(run, root, "--due")
    assert state(root, "one") == "unknown" and fakex.posted() == []


def test_posts_that_differ_only_by_their_link_are_never_confused(
    fakex: FakeX, user: User, project, run, clock, no_wait
) -> None:
    seeded = fakex.seed("utlanow", "Sign here: https://a.example/petition-one")
    root = project(
        {"megaphone.yaml": CONFIG},
        one="account: utla\nposts:\n"
        "  - {id: two, at: 2026-11-29 11:59, text: 'Sign here: https://b.example/petition-two'}\n",
    )
    # Refused with a 503 (not acted on): the lookup must not take the other
    # petition's post for this one.
    fakex.fault("POST", "/2/tweets", "status", status=503)
    result = publish(run, root, "--due")
    assert result.exit_code == 0, result.output
    posted = fakex.posted()
    assert [t.sent_text for t in posted] == [
        "Sign here: https://a.example/petition-one",
        "Sign here: https://b.example/petition-two",
    ]
    row = Ledger(default_url(root)).get("two", "utla")
    assert row is not None and row.remote_id == posted[1].id != seeded.id


def test_a_thread_part_is_matched_on_its_reply_target_too(
    fakex: FakeX, user: User, project, run, clock, no_wait
) -> None:
    fakex.seed("utlanow", "Thanks for reading.")
    root = project(
        {"megaphone.yaml": CONFIG},
        one="account: utla\nposts:\n  - id: story\n    at: 2026-11-29 11:59\n"
        "    thread: ['Our story, in two parts.', 'Thanks for reading.']\n",
    )
    fakex.reject_duplicates = False
    fakex.fault("POST", "/2/tweets", "drop", skip=1)  # part 2 never arrives
    publish(run, root, "--due")
    assert state(root, "story") == "unknown"  # the standalone one is not part 2
    clock.shift(timedelta(minutes=4))
    assert publish(run, root, "--due").exit_code == 0
    _, first, second = fakex.posted()
    assert second.sent_text == "Thanks for reading." and second.reply_to == first.id
    assert state(root, "story") == "published"


def test_an_answer_without_a_usable_id_is_looked_up_not_recorded_as_none(
    fakex: FakeX, user: User, project, run, clock, no_wait
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    fakex.fault("POST", "/2/tweets", "after", status=201, body={"data": {"id": None}})
    result = publish(run, root, "--due")
    assert result.exit_code == 0, result.output
    [tweet] = fakex.posted()
    row = Ledger(default_url(root)).get("one", "utla")
    assert row is not None and row.url is not None
    assert row.url.endswith(f"/status/{tweet.id}") and "None" not in row.url


@pytest.mark.slow
def test_thirty_posts_through_thirty_percent_faults_go_out_exactly_once(
    fakex: FakeX, tmp_path: Path
) -> None:
    """The goal of the hardening: 30 posts, a fake X failing 30 % of posting
    and reading requests (429, 503, dropped, applied-then-dropped), X's own
    duplicate check off, `publish --due` every second: each post exactly once."""
    fakex.reject_duplicates = False
    fakex.chaos = 0.3
    fakex.visible_after = 0.3
    user = fakex.add_user("utlanow")
    at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    (tmp_path / "megaphone.yaml").write_text(CONFIG + "unknown_after: 3s\n")
    (tmp_path / "posts").mkdir()
    texts = [f"Update {i}: the caravan, the petition and the town hall." for i in range(30)]
    (tmp_path / "posts" / "q.yaml").write_text(
        "account: utla\nposts:\n"
        + "".join(f"  - id: p{i}\n    at: '{at}'\n    text: '{t}'\n" for i, t in enumerate(texts))
    )
    env = {**os.environ, **fakex.env("utla", user)}
    env.pop("MEGAPHONE_DEBUG", None)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        subprocess.run(
            [sys.executable, "-m", "megaphone", "publish", "--due"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=200,
        )
        sent = Counter(t.sent_text for t in fakex.posted())
        assert max(sent.values(), default=1) == 1, sent.most_common(3)
        settled = {d.state for d in Ledger(default_url(tmp_path)).all()} == {"published"}
        if len(sent) == len(texts) and settled:
            break
        time.sleep(1)
    sent = Counter(t.sent_text for t in fakex.posted())
    assert sent == Counter(texts)
    ledger = Ledger(default_url(tmp_path))
    assert {d.state for d in ledger.all()} == {"published"}


def test_a_5xx_that_was_acted_on_is_found_by_a_second_look_not_sent_twice(
    fakex: FakeX, user: User, project, run, clock, no_wait
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    fakex.reject_duplicates = False
    fakex.visible_after = 1.0  # X's timeline shows a new post a moment later
    fakex.fault("POST", "/2/tweets", "after", status=503)  # made, then answered 503
    result = publish(run, root, "--due")
    assert result.exit_code == 0, result.output
    assert [t.sent_text for t in fakex.posted()] == ["Hello."]
    assert state(root, "one") == "published"
