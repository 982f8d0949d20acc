"""Publishing against the fake X API: threads, media, failures, the ledger."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from click.testing import Result

from megaphone.store.ledger import Ledger, default_url
from tests.conftest import NOW, Write, png_bytes
from tests.fakex import DUPLICATE, FakeX, User

CONFIG = """\
timezone: UTC
accounts:
  - name: utla
    network: x
    handle: utlanow
  - name: reclaim-la
    network: x
"""

THREAD = """\
account: utla
posts:
  - id: caravan
    at: 2026-11-29 11:55
    thread:
      - text: "Part one of the caravan story."
        media:
          - path: ../media/car.png
            alt: A line of cars with signs
      - Part two, with the route.
      - Part three, with the ask.
  - id: later
    at: 2026-11-29 18:00
    text: Not due yet.
"""


@pytest.fixture
def users(fakex: FakeX, monkeypatch: pytest.MonkeyPatch) -> dict[str, User]:
    made = {"utla": fakex.add_user("utlanow"), "reclaim-la": fakex.add_user("reclaimla")}
    for account, user in made.items():
        for key, value in fakex.env(account, user).items():
            monkeypatch.setenv(key, value)
    return made


@pytest.fixture
def proj(project: Write) -> Callable[..., Path]:
    def make(**queues: str) -> Path:
        return project({"megaphone.yaml": CONFIG, "media/car.png": png_bytes()}, **queues)

    return make


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """For what happens in another thread of the fake X (real time)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def publish(run: Callable[..., Result], root: Path, *args: str) -> Result:
    return run("publish", *args, "-v", cwd=root)


def ledger(root: Path) -> Ledger:
    return Ledger(default_url(root), create=False)


def state(root: Path, post_id: str, account: str = "utla") -> str:
    row = ledger(root).get(post_id, account)
    assert row is not None
    return row.state


def test_thread_with_image_lands_as_a_reply_chain(
    fakex: FakeX, users: dict[str, User], proj: Callable[..., Path], run, clock
) -> None:
    root = proj(campaign=THREAD)
    result = publish(run, root, "--due")
    assert result.exit_code == 0, result.output
    tweets = fakex.posted("utlanow")
    assert [t.sent_text for t in tweets] == [
        "Part one of the caravan story.",
        "Part two, with the route.",
        "Part three, with the ask.",
    ]
    assert tweets[0].reply_to is None
    assert tweets[1].reply_to == tweets[0].id and tweets[2].reply_to == tweets[1].id
    [media_id] = tweets[0].media_ids
    assert fakex.uploads[media_id].alt == "A line of cars with signs"
    assert bytes(fakex.uploads[media_id].data) == png_bytes()
    url = f"https://x.com/utlanow/status/{tweets[0].id}"
    assert url in result.output and "1 published" in result.output
    assert state(root, "caravan") == "published"
    assert len(ledger(root).parts("caravan", "utla")) == 3
    # The ledger's event log tells the story of the delivery.
    assert [e["state"] for e in ledger(root).events("caravan")] == [
        "scheduled",
        "publishing",
        "published",
    ]
    # Run again: nothing is sent twice.
    again = publish(run, root, "--due")
    assert again.exit_code == 0 and len(fakex.posted()) == 3
    assert "published" not in again.output.split("publish:")[-1]


def test_thread_failing_at_part_three_resumes_at_part_three(
    fakex: FakeX, users, proj, run, clock
) -> None:
    root = proj(campaign=THREAD)
    fakex.fault(
        "POST", "/2/tweets", "status", status=400, skip=2, body={"detail": "Invalid Request"}
    )
    first = publish(run, root, "--due")
    assert first.exit_code == 1
    assert "failed" in first.output and "400" in first.output
    assert state(root, "caravan") == "failed"
    assert len(fakex.posted()) == 2
    assert run("retry", "caravan", cwd=root).exit_code == 0
    second = publish(run, root, "--due")
    assert second.exit_code == 0, second.output
    tweets = fakex.posted()
    assert [t.sent_text for t in tweets][2] == "Part three, with the ask."
    assert len(tweets) == 3 and tweets[2].reply_to == tweets[1].id
    assert len(fakex.uploads) == 1  # the image went up once


def test_rate_limit_waits_for_the_reset(
    fakex: FakeX, users, proj, run, no_wait: list[float]
) -> None:
    root = proj(campaign=THREAD)
    fakex.fault("POST", "/2/tweets", "status", status=429, reset_in=30)
    result = publish(run, root, "--due")
    assert result.exit_code == 0, result.output
    assert len(fakex.posted()) == 3
    assert 30 <= sum(no_wait) <= 32


def test_a_long_rate_limit_leaves_the_account_for_the_next_run(
    fakex: FakeX, users, proj, run, no_wait
) -> None:
    two = THREAD.replace("at: 2026-11-29 18:00", "at: 2026-11-29 11:58")
    root = proj(campaign=two)
    fakex.fault("POST", "/2/tweets", "status", status=429, reset_in=900)
    result = publish(run, root, "--due")
    assert result.exit_code == 75, result.output
    assert "rate limited until" in result.output
    assert fakex.posted() == []
    row = ledger(root).get("caravan", "utla")
    assert row is not None and row.state == "scheduled" and row.next_attempt_at is not None
    assert state(root, "later") == "scheduled"
    # After the reset, the next run publishes both.
    no_wait.clear()
    with time_machine.travel(NOW + timedelta(minutes=16), tick=False):
        after = publish(run, root, "--due")
    assert after.exit_code == 0, after.output
    assert len(fakex.posted()) == 4


def test_server_errors_are_retried_with_backoff(
    fakex: FakeX, users, proj, run, no_wait: list[float]
) -> None:
    root = proj(one="account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n")
    fakex.fault("POST", "/2/tweets", "status", status=503, times=2)
    result = publish(run, root, "--due")
    assert result.exit_code == 0, result.output
    assert len(fakex.posted()) == 1
    assert len(no_wait) == 2 and no_wait[0] <= 2.0 and no_wait[1] <= 4.0
    assert ledger(root).get("one", "utla").attempts == 3  # type: ignore[union-attr]


def test_server_error_after_the_post_went_out_is_not_sent_twice(
    fakex: FakeX, users, proj, run, no_wait
) -> None:
    root = proj(one="account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n")
    fakex.fault("POST", "/2/tweets", "after", status=503)
    result = publish(run, root, "--due")
    assert result.exit_code == 0, result.output
    assert len(fakex.posted()) == 1
    assert state(root, "one") == "published"


def test_no_answer_after_sending_is_reconciled(fakex: FakeX, users, proj, run, clock) -> None:
    root = proj(one="account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n")
    fakex.fault("POST", "/2/tweets", "drop_after")
    result = publish(run, root, "--due")
    assert result.exit_code == 0, result.output
    [tweet] = fakex.posted()
    row = ledger(root).get("one", "utla")
    assert row is not None and row.state == "published" and row.remote_id == tweet.id


def test_unknown_outcome_stays_unknown_until_found_or_retried(
    fakex: FakeX, users, proj, run, clock
) -> None:
    root = proj(one="account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n")
    # The post goes out, the answer is lost, and the account cannot be read.
    fakex.fault("POST", "/2/tweets", "drop_after")
    fakex.fault("GET", r"/2/users/\d+/tweets", "status", status=503)
    result = publish(run, root, "--due")
    assert result.exit_code == 1
    assert "unknown" in result.output and "megaphone retry one" in result.output
    assert state(root, "one") == "unknown"
    status = run("status", "--json", cwd=root)
    [row] = [r for r in json.loads(status.output) if r["id"] == "one"]
    assert row["state"] == "unknown" and "check it" in row["note"]
    # The next run looks again, finds it, and records it: never a second post.
    again = publish(run, root, "--due")
    assert again.exit_code == 0, again.output
    assert len(fakex.posted()) == 1
    assert state(root, "one") == "published"


def test_unknown_that_did_not_go_out_is_sent_after_retry(
    fakex: FakeX, users, proj, run, clock
) -> None:
    root = proj(one="account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n")
    fakex.fault("POST", "/2/tweets", "drop")
    assert publish(run, root, "--due").exit_code == 1
    assert state(root, "one") == "unknown"
    assert publish(run, root, "--due").exit_code == 0  # looked again: not there; left alone
    assert state(root, "one") == "unknown" and fakex.posted() == []
    assert run("retry", "one", cwd=root).exit_code == 0
    assert publish(run, root, "--due").exit_code == 0
    assert len(fakex.posted()) == 1 and state(root, "one") == "published"


def test_duplicate_means_already_live(fakex: FakeX, users, proj, run, clock) -> None:
    root = proj(one="account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n")
    seeded = fakex.seed("utlanow", "Hello.")
    result = publish(run, root, "--due")
    assert result.exit_code == 0, result.output
    assert len(fakex.posted()) == 1
    row = ledger(root).get("one", "utla")
    assert row is not None and row.state == "published" and row.remote_id == seeded.id
    assert DUPLICATE  # the fake answered X's message (see test_x_adapter)


def test_late_posts_are_missed_not_sent(fakex: FakeX, users, proj, run, clock) -> None:
    root = proj(one="account: utla\nposts:\n  - {id: old, at: 2026-11-29 09:00, text: Old.}\n")
    result = publish(run, root, "--due")
    assert result.exit_code == 1
    assert "missed" in result.output and fakex.posted() == []
    assert state(root, "old") == "missed"
    # A wider grace, or a retry, sends it.
    assert run("retry", "old", cwd=root).exit_code == 0
    assert publish(run, root, "--due").exit_code == 0
    assert len(fakex.posted()) == 1


def test_expired_posts_are_never_sent(fakex: FakeX, users, proj, run, clock) -> None:
    queue = """\
    account: utla
    posts:
      - id: tonight
        at: 2026-11-29 11:30
        expires: 2026-11-29 11:45
        text: Tonight!
    """
    root = proj(one=queue)
    result = publish(run, root, "--due", "--grace", "2h")
    assert result.exit_code == 0, result.output
    assert "expired" in result.output and fakex.posted() == []
    assert state(root, "tonight") == "expired"


def test_missing_credentials_block_the_account_only(
    fakex: FakeX, users, proj, run, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEGAPHONE_RECLAIM_LA_ACCESS_SECRET")
    queue = """\
    posts:
      - {id: a, at: 2026-11-29 11:59, text: For utla., accounts: [utla]}
      - {id: b, at: 2026-11-29 11:59, text: For reclaim., accounts: [reclaim-la]}
    """
    root = proj(one=queue)
    result = publish(run, root, "--due")
    assert result.exit_code == 1
    assert "MEGAPHONE_RECLAIM_LA_ACCESS_SECRET" in result.output
    assert [t.sent_text for t in fakex.posted()] == ["For utla."]
    assert state(root, "b", "reclaim-la") == "scheduled"


def test_refused_credentials_block_and_never_print(
    fakex: FakeX, users, proj, run, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEGAPHONE_UTLA_ACCESS_SECRET", "not-the-secret-xyz")
    root = proj(one="account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n")
    result = publish(run, root, "--due")
    assert result.exit_code == 1
    assert "blocked" in result.output and "401" in result.output
    assert "not-the-secret-xyz" not in result.output
    assert state(root, "one") == "scheduled"
    db = (root / ".megaphone" / "ledger.db").read_bytes()
    assert b"not-the-secret-xyz" not in db and FakeX.API_SECRET.encode() not in db


def test_dry_run_touches_nothing(fakex: FakeX, users, proj, run, clock) -> None:
    root = proj(campaign=THREAD)
    result = run("publish", "--due", "--dry-run", cwd=root)
    assert result.exit_code == 0, result.output
    assert "part 1/3" in result.output and "in reply to part 2" in result.output
    assert "alt: A line of cars with signs" in result.output
    assert "1 post would be sent" in result.output
    assert fakex.requests == [] and not (root / ".megaphone").exists()
    ahead = run("publish", "--due", "--dry-run", "--until", "1d", cwd=root)
    assert "2 posts would be sent" in ahead.output


def test_invalid_posts_are_not_sent(fakex: FakeX, users, proj, run, clock) -> None:
    queue = """\
    account: utla
    posts:
      - {id: good, at: 2026-11-29 11:59, text: Fine.}
      - {id: bad, at: 2026-11-29 11:59, text: "%s"}
    """ % ("x" * 300)
    root = proj(one=queue)
    result = publish(run, root, "--due")
    assert result.exit_code == 1
    assert "bad (utla): has errors" in result.output
    assert [t.sent_text for t in fakex.posted()] == ["Fine."]


def test_publish_one_post_now(fakex: FakeX, users, proj, run, clock) -> None:
    root = proj(campaign=THREAD)
    early = run("publish", "later", cwd=root)
    assert early.exit_code == 2 and "--now" in early.output
    now = publish(run, root, "later", "--now")
    assert now.exit_code == 0, now.output
    assert [t.sent_text for t in fakex.posted()] == ["Not due yet."]


def test_a_second_run_waits_for_the_lock(fakex: FakeX, users, proj, run, clock) -> None:
    from megaphone.store.lock import ProjectLock

    root = proj(campaign=THREAD)
    with ProjectLock(root / ".megaphone" / "publish.lock", "megaphone publish"):
        result = run("publish", "--due", cwd=root)
    assert result.exit_code == 75
    assert "already running (pid" in result.output
    assert fakex.posted() == []


def test_mark_status_history_and_cron(fakex: FakeX, users, proj, run, clock) -> None:
    root = proj(campaign=THREAD)
    assert publish(run, root, "--due").exit_code == 0
    marked = run(
        "mark", "later", "published", "--url", "https://x.com/utlanow/status/123", cwd=root
    )
    assert marked.exit_code == 0, marked.output
    assert state(root, "later") == "published"
    history = run("history", "--csv", cwd=root)
    assert "later,utla," in history.output and "caravan,utla," in history.output
    rows = json.loads(run("status", "--json", cwd=root).output)
    assert {r["id"]: r["state"] for r in rows} == {"caravan": "published", "later": "published"}
    line = run("cron", cwd=root).output
    assert line.startswith("*/5 * * * * cd ") and "publish --due" in line


def test_a_post_edited_after_publishing_is_flagged(fakex: FakeX, users, proj, run, clock) -> None:
    root = proj(one="account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n")
    assert publish(run, root, "--due").exit_code == 0
    (root / "posts" / "one.yaml").write_text(
        "account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello again.}\n"
    )
    rows = json.loads(run("status", "--json", cwd=root).output)
    assert rows[0]["edited_since_published"] is True
    assert publish(run, root, "--due").exit_code == 0
    assert len(fakex.posted()) == 1  # never re-sent


def test_replies_wait_for_the_post_they_answer(fakex: FakeX, users, proj, run, clock) -> None:
    queue = """\
    posts:
      - {id: hub, at: 2026-11-29 11:58, text: The hub., accounts: [reclaim-la]}
      - {id: reply, at: 2026-11-29 11:59, text: A reply., accounts: [utla], reply_to: hub}
    """
    root = proj(one=queue)
    result = publish(run, root, "--due")
    assert result.exit_code == 0, result.output
    hub, reply = fakex.posted()
    assert reply.reply_to == hub.id


def test_accounts_lists_credentials_without_showing_them(
    fakex: FakeX, users, proj, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEGAPHONE_RECLAIM_LA_API_KEY")
    root = proj()
    result = run("accounts", cwd=root)
    assert result.exit_code == 1
    assert "✓ utla" in result.output and "MEGAPHONE_RECLAIM_LA_API_KEY" in result.output
    assert users["utla"].access_secret not in result.output
    check = run("accounts", "check", "utla", cwd=root)
    assert check.exit_code == 0, check.output
    assert "signs in as @utlanow" in check.output


def test_auth_pin_flow_writes_env_privately(
    fakex: FakeX, proj, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = proj()
    (root / ".env").write_text(
        "# keys\nMEGAPHONE_UTLA_API_KEY=fake-api-key\nMEGAPHONE_UTLA_API_SECRET=fake-api-secret\n"
        f"MEGAPHONE_UTLA_API_URL={fakex.url}\n"
    )
    monkeypatch.chdir(root)
    from click.testing import CliRunner

    from megaphone.cli.main import cli

    result = CliRunner().invoke(cli, ["auth", "utla"], input="0000001\n", catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "/oauth/authorize?oauth_token=req-" in result.output
    env = (root / ".env").read_text()
    assert env.startswith("# keys\n") and "MEGAPHONE_UTLA_ACCESS_TOKEN=" in env
    assert (root / ".env").stat().st_mode & 0o777 == 0o600
    user = next(iter(fakex.users.values()))
    assert user.access_secret not in result.output
    check = run("accounts", "check", "utla", cwd=root)
    assert "signs in as @user1" in check.output


def test_a_broken_file_is_reported_and_the_others_publish(
    fakex: FakeX, users, proj, run, clock
) -> None:
    root = proj(
        good="account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n",
        broken="account: utla\nposts:\n  - id: two\n    text: [unclosed\n",
    )
    result = publish(run, root, "--due")
    assert result.exit_code == 1
    assert "posts/broken.yaml" in result.output and "1 file problem" in result.output
    assert [t.sent_text for t in fakex.posted()] == ["Hello."]


def test_validate_knows_what_the_ledger_says(fakex: FakeX, users, proj, run, clock) -> None:
    root = proj(one="account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n")
    before = run("validate", "--format", "json", cwd=root)
    assert [p["code"] for p in json.loads(before.output)] == ["past-due"]
    assert publish(run, root, "--due").exit_code == 0
    after = run("validate", "--format", "json", cwd=root)
    assert after.exit_code == 0 and json.loads(after.output) == []
    (root / "posts" / "one.yaml").write_text(
        "account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello again.}\n"
    )
    edited = run("validate", "--format", "json", cwd=root)
    [problem] = json.loads(edited.output)
    assert problem["code"] == "edited-after-publish" and problem["line"] == 3
    assert edited.exit_code == 0  # a warning


def test_a_clock_far_off_holds_the_posts(fakex: FakeX, users, proj, run, clock) -> None:
    root = proj(one="account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n")
    fakex.clock_offset = 600  # X is ten minutes ahead of this machine
    held = publish(run, root, "--due")
    assert held.exit_code == 1
    assert "clock is 10 min behind" in held.output and "blocked" in held.output
    assert fakex.posted() == [] and state(root, "one") == "scheduled"
    fakex.clock_offset = 45
    warned = publish(run, root, "--due")
    assert warned.exit_code == 0, warned.output
    # (the Date header has whole seconds: a second either way)
    assert re.search(r"clock is 4[456] s behind", warned.output), warned.output
    assert len(fakex.posted()) == 1


def test_a_timeout_after_sending_is_unknown_then_reconciled(
    fakex: FakeX, users, proj, clock
) -> None:
    from megaphone.networks.contract import Timeouts
    from megaphone.publish.publisher import Policy, connector
    from megaphone.publish.runs import open_project, select_jobs
    from megaphone.publish.runs import publish as run_publish

    root = proj(one="account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n")
    # X takes the post but answers after the client has stopped waiting.
    fakex.fault("POST", "/2/tweets", "slow", delay=0.6)

    def run_once() -> list[str]:
        ctx = open_project(root)
        jobs, _ = select_jobs(ctx, ids=(), until=None, account_names=())
        connect = connector(ctx.project, ctx.environ, timeouts=Timeouts(2, 0.3))
        outcomes = run_publish(ctx, jobs, force=False, policy=Policy(), connect=connect)
        return [o.state for o in outcomes]

    assert run_once() == ["unknown"]
    assert state(root, "one") == "unknown"
    wait_until(lambda: len(fakex.posted()) == 1)  # the slow request lands on the fake X
    assert run_once() == ["published", "skipped"]  # found on a later look; not resent
    assert len(fakex.posted()) == 1 and state(root, "one") == "published"


def test_a_broken_ledger_is_one_line_not_a_crash(proj, run) -> None:
    root = proj(one="account: utla\nposts:\n  - {id: one, at: 2026-12-29 11:59, text: Hello.}\n")
    (root / ".megaphone").mkdir()
    (root / ".megaphone" / "ledger.db").write_bytes(b"this is not a database" * 100)
    result = run("status", cwd=root)
    assert result.exit_code == 1
    assert result.output.startswith("megaphone: error: the ledger: file is not a database")
    assert run("validate", cwd=root).exit_code == 0  # validate still works


def test_list_shows_what_the_ledger_knows(fakex: FakeX, users, proj, run, clock) -> None:
    root = proj(campaign=THREAD)
    before = json.loads(run("list", "--json", cwd=root).output)
    assert [r["state"] for r in before] == ["due", "scheduled"]  # by the files alone
    assert publish(run, root, "--due").exit_code == 0
    after = json.loads(run("list", "--json", cwd=root).output)
    assert [r["state"] for r in after] == ["published", "scheduled"]
