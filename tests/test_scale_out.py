"""Several runs on one ledger: rows written ahead, an account's posts sent by
one run at a time (in their order), claims in batches, few writes a post —
on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from megaphone.store.ledger import Ledger, Wanted, events
from tests.fakex import FakeX

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
ACCOUNTS = ["utla", "reclaim", "alliance", "coalition"]


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def never(token: str | None, until: datetime | None) -> bool:
    return False


def test_one_run_at_a_time_holds_an_account(ledger_url: str) -> None:
    ledger = Ledger(ledger_url)
    try:
        for account in (f"a{n}" for n in range(5)):
            barrier = threading.Barrier(8)

            def take(n: int, account: str = account, barrier: threading.Barrier = barrier) -> bool:
                barrier.wait()
                got = ledger.take_account(
                    account,
                    token=f"run-{n}",
                    now=NOW,
                    lease_until=NOW + timedelta(minutes=1),
                    abandoned=never,
                )
                return got is not None

            with ThreadPoolExecutor(8) as pool:
                winners = sum(pool.map(take, range(8)))
            assert winners == 1, account
    finally:
        ledger.close()


def test_an_account_lease_is_kept_renewed_let_go_and_taken_when_it_ran_out(
    ledger_url: str,
) -> None:
    ledger = Ledger(ledger_url)
    later = NOW + timedelta(minutes=2)
    try:

        def take(token: str, now: datetime) -> bool:
            got = ledger.take_account(
                "utla",
                token=token,
                now=now,
                lease_until=now + timedelta(minutes=1),
                abandoned=never,
            )
            return got is not None

        assert take("a", NOW) and take("a", NOW)  # its holder keeps it
        assert not take("b", NOW + timedelta(seconds=30))
        ledger.renew_all(token="a", now=NOW + timedelta(seconds=50), lease_until=later)
        assert not take("b", NOW + timedelta(seconds=90))  # renewed to 2 min
        assert take("b", later + timedelta(seconds=1))  # ran out: taken
        ledger.release_account("utla", token="b")
        assert take("c", later + timedelta(seconds=2))  # let go: anyone's
    finally:
        ledger.close()


def test_a_delivery_made_by_several_runs_at_once_is_scheduled_once(ledger_url: str) -> None:
    ledger = Ledger(ledger_url)
    barrier = threading.Barrier(6)

    def make(n: int) -> None:
        barrier.wait()
        if n % 2:
            ledger.ensure(
                "p1", "utla", network="x", queue="q", scheduled_at=NOW, digest="d", now=NOW
            )
        else:
            ledger.sync([Wanted("p1", "utla", "x", "q", NOW, "d")], now=NOW)

    try:
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(make, range(6)))
        made = [e for e in ledger.events("p1") if e["state"] == "scheduled"]
        assert len(made) == 1
    finally:
        ledger.close()


def test_rows_are_written_ahead_and_kept_up_to_date(ledger_url: str) -> None:
    ledger = Ledger(ledger_url)
    try:
        wanted = [
            Wanted(f"p{i}", "utla", "x", "q", NOW + timedelta(days=i), "d") for i in range(50)
        ]
        rows = ledger.sync(wanted, now=NOW)
        assert len(rows) == 50 and {r.state for r in rows.values()} == {"scheduled"}
        assert rows[("p3", "utla")].scheduled_at == NOW + timedelta(days=3)
        # A new time and new text: the rows follow; a missed post given a
        # new time is scheduled again.
        ledger.settle("p4", "utla", state="missed", now=NOW)
        moved = [
            Wanted(w.post_id, w.account, w.network, w.queue, NOW + timedelta(days=i, hours=1), "e")
            if w.post_id in ("p3", "p4")
            else w
            for i, w in enumerate(wanted)
        ]
        rows = ledger.sync(moved, now=NOW)
        assert rows[("p3", "utla")].scheduled_at == NOW + timedelta(days=3, hours=1)
        assert rows[("p3", "utla")].digest == "e"
        assert rows[("p4", "utla")].state == "scheduled"
        assert rows[("p5", "utla")].digest == "d"
        # Written once: syncing again changes nothing and adds no event.
        count = len(ledger.events())
        ledger.sync(moved, now=NOW)
        assert len(ledger.events()) == count
    finally:
        ledger.close()


def test_claims_are_made_in_batches_and_given_back_unsent(ledger_url: str) -> None:
    ledger = Ledger(ledger_url)
    try:
        ledger.sync([Wanted(f"p{i}", "utla", "x", "q", NOW, "d") for i in range(5)], now=NOW)
        until = NOW + timedelta(minutes=1)
        got = ledger.claim_batch("utla", ["p0", "p1", "p2"], token="a", now=NOW, lease_until=until)
        assert sorted(got) == ["p0", "p1", "p2"]
        assert all(row.state == "publishing" and done == {} for row, done in got.values())
        # Another run claims none of them again, only the one left.
        other = ledger.claim_batch(
            "utla", ["p1", "p2", "p3"], token="b", now=NOW, lease_until=until
        )
        assert list(other) == ["p3"]
        ledger.release_claims("utla", ["p1", "p2"], token="a", now=NOW, error="rate limited")
        p1 = ledger.get("p1", "utla")
        assert p1 is not None and p1.state == "scheduled" and p1.attempts == 0
        assert p1.error == "rate limited" and p1.claimed_by is None
    finally:
        ledger.close()


def test_taking_an_account_reads_the_batch_whoever_held_it(ledger_url: str) -> None:
    """The lease taken and the batch's rows read together: made the first
    time, kept by its holder, refused to another while its holder lives,
    taken from a holder that is gone; only the rows that are there."""
    ledger = Ledger(ledger_url)
    until = NOW + timedelta(minutes=1)
    try:
        ledger.sync([Wanted(f"p{i}", "utla", "x", "q", NOW, "d") for i in range(3)], now=NOW)

        def take(token: str, read: list[str], abandoned: Any = never) -> Any:
            return ledger.take_account(
                "utla", token=token, now=NOW, lease_until=until, abandoned=abandoned, read=read
            )

        first = take("a", ["p0", "p1", "gone"])  # no lease yet: made
        assert first is not None and sorted(first) == ["p0", "p1"]
        again = take("a", ["p1", "p2", "gone"])  # its holder's
        assert again is not None and sorted(again) == ["p1", "p2"]
        row = again["p2"]
        assert (row.project, row.account, row.state, row.digest) == (
            ledger.project,
            "utla",
            "scheduled",
            "d",
        )
        assert row.scheduled_at == NOW and row.scheduled_at.tzinfo is UTC
        assert take("a", []) == {} and take("a", ["gone"]) == {}
        asked: list[tuple[str | None, datetime | None]] = []
        assert take("b", ["p0"], abandoned=lambda *held: asked.append(held)) is None
        assert asked == [("a", until)]  # a's, and a lives: asked once, of its holder
        assert asked[0][1] is not None and asked[0][1].tzinfo is UTC
        if ledger._driver:
            # On PostgreSQL the refusal is one statement: no general write after it.
            real = ledger._writing
            ledger._writing = None  # type: ignore[assignment]
            try:
                assert take("b", ["p0"]) is None
            finally:
                ledger._writing = real  # type: ignore[method-assign]
        taken = take("b", ["p0"], abandoned=lambda token, _until: token == "a")
        assert taken is not None and list(taken) == ["p0"]
        assert take("a", ["p0"]) is None  # b's now
    finally:
        ledger.close()


def test_a_batch_claim_waits_out_a_backoff_and_brings_the_parts_already_live(
    ledger_url: str,
) -> None:
    ledger = Ledger(ledger_url)
    until = NOW + timedelta(minutes=1)
    later = NOW + timedelta(minutes=10)
    try:
        ledger.sync([Wanted(f"p{i}", "utla", "x", "q", NOW, "d") for i in range(3)], now=NOW)
        ledger.claim_batch("utla", ["p0", "p1"], token="a", now=NOW, lease_until=until)
        # p0: a thread whose first part went out, then the network said wait.
        ledger.sending("p0", "utla", 0, token="a", now=NOW, lease_until=until, idem_key="k0")
        ledger.record_part(
            "p0",
            "utla",
            0,
            token="a",
            remote_id="11",
            url="https://x.com/u/11",
            now=NOW,
            lease_until=until,
        )
        for post_id in ("p0", "p1"):
            assert ledger.finish(
                post_id,
                "utla",
                token="a",
                state="scheduled",
                now=NOW,
                error="rate limited",
                next_attempt_at=later,
            )
        # Before the backoff is out only p2 is claimed; ignoring it, all.
        soon = NOW + timedelta(minutes=1)
        got = ledger.claim_batch("utla", ["p0", "p1", "p2"], token="b", now=soon, lease_until=until)
        assert list(got) == ["p2"]
        ledger.release_claims("utla", ["p2"], token="b", now=soon)
        got = ledger.claim_batch(
            "utla",
            ["p0", "p1", "p2"],
            token="b",
            now=soon,
            lease_until=until,
            ignore_backoff=True,
        )
        assert sorted(got) == ["p0", "p1", "p2"]
        p0, live = got["p0"]
        assert (p0.state, p0.claimed_by, p0.attempts, p0.claimed_at) == ("publishing", "b", 2, soon)
        assert p0.claimed_at is not None and p0.claimed_at.tzinfo is UTC
        assert [(r.idx, r.remote_id, r.url) for r in live.values()] == [
            (0, "11", "https://x.com/u/11")
        ]
        assert got["p1"][1] == {} and got["p2"][1] == {}
        said = [(e["state"], e["detail"], e["at"]) for e in ledger.events("p1")]
        assert said[-1] == ("publishing", "b", soon)
    finally:
        ledger.close()


def _project(project: Any, posts_per_account: int, *, at: datetime | None = None) -> Path:
    """Every post due at ``at`` (a minute ago unless given)."""
    due = at or datetime.now(UTC) - timedelta(minutes=1)
    at_text = due.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    config = "timezone: UTC\nproject: union\naccounts:\n" + "".join(
        f"  - name: {a}\n    network: x\n" for a in ACCOUNTS
    )
    files = {}
    for a in ACCOUNTS:
        posts = "".join(
            f"  - {{id: {a}-{i:03d}, at: '{at_text}', text: '{a} update {i}.'}}\n"
            for i in range(posts_per_account)
        )
        files[a] = f"account: {a}\nposts:\n" + posts
    root: Path = project({"megaphone.yaml": config}, **files)
    return root


def _sign_in_all(fakex: FakeX, monkeypatch: pytest.MonkeyPatch) -> None:
    for a in ACCOUNTS:
        for key, value in fakex.env(a, fakex.add_user(a)).items():
            monkeypatch.setenv(key, value)


def _run(root: Path) -> list[Any]:
    from megaphone.cli.options import policy
    from megaphone.publish.runs import open_project, select_jobs
    from megaphone.publish.runs import publish as run_publish

    ctx = open_project(root)
    jobs, _invalid = select_jobs(ctx, ids=(), until=None, account_names=())
    outcomes: list[Any] = run_publish(
        ctx, jobs, force=False, policy=policy(ctx.project.config, None), skip_settled=True
    )
    return outcomes


def _in_order(fakex: FakeX) -> None:
    """Every account's posts went out once each, in their order."""
    sent = [t.sent_text for t in fakex.posted()]
    assert all(n == 1 for n in Counter(sent).values())
    for a in ACCOUNTS:
        mine = [int(t.split()[-1].rstrip(".")) for t in sent if t.startswith(f"{a} ")]
        assert all(x < y for x, y in itertools.pairwise(mine)), (a, mine)


def _set_up(
    fakex: FakeX, ledger_url: str, project: Any, monkeypatch: pytest.MonkeyPatch, posts: int
) -> Path:
    """A project of ``posts`` due posts per account on the ledger, signed in."""
    monkeypatch.setenv("MEGAPHONE_LEDGER_URL", ledger_url)
    _sign_in_all(fakex, monkeypatch)
    fakex.reject_duplicates = False
    return _project(project, posts)


def test_runs_at_once_send_each_post_once_in_each_accounts_order(
    fakex: FakeX, ledger_url: str, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _set_up(fakex, ledger_url, project, monkeypatch, 25)
    fakex.latency = 0.01
    barrier = threading.Barrier(3)

    def one(n: int) -> list[Any]:
        barrier.wait()
        return _run(root)

    with ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(one, range(3)))
    assert len(fakex.posted()) == 25 * len(ACCOUNTS)
    _in_order(fakex)
    published = [sum(o.state == "published" for o in outcomes) for outcomes in runs]
    assert sum(published) == 25 * len(ACCOUNTS)


def test_a_run_that_starts_later_takes_over_its_share_of_the_accounts(
    fakex: FakeX, ledger_url: str, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from megaphone.publish.values import Policy

    batch = Policy().batch
    posts = 3 * batch
    root = _set_up(fakex, ledger_url, project, monkeypatch, posts)
    fakex.latency = 0.05  # each account's three batches take 50 ms a post or more
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_run, root)
        deadline = time.monotonic() + 30
        while len(fakex.posted()) < len(ACCOUNTS):  # under way on every account
            assert time.monotonic() < deadline
            time.sleep(0.01)
        second = pool.submit(_run, root)
        runs = [first.result(), second.result()]
    _in_order(fakex)
    published = [sum(o.state == "published" for o in outcomes) for outcomes in runs]
    assert sum(published) == posts * len(ACCOUNTS)
    # At its next batch the first run let half its accounts go to the second.
    assert published[1] >= 2 * batch, published


def test_a_post_costs_at_most_three_ledger_writes(
    fakex: FakeX, ledger_url: str, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEGAPHONE_LEDGER_URL", ledger_url)
    _sign_in_all(fakex, monkeypatch)
    root = _project(project, 30)
    commits = []

    def count(conn: Any) -> None:
        commits.append(1)

    sa.event.listen(sa.engine.Engine, "commit", count)
    try:
        outcomes = _run(root)
    finally:
        sa.event.remove(sa.engine.Engine, "commit", count)
    assert sum(o.state == "published" for o in outcomes) == 30 * len(ACCOUNTS)
    _in_order(fakex)
    posts = 30 * len(ACCOUNTS)
    # Opening, writing the rows ahead, counting the runs: a few for the run;
    # then at most three a post — in fact fewer than two: claims in
    # batches, a post's record and the next one's fence in one write.
    assert len(commits) <= 2 * posts, len(commits)


def test_events_of_a_run_say_which_run_sent_each_post(ledger_url: str) -> None:
    ledger = Ledger(ledger_url)
    try:
        ledger.sync([Wanted("p0", "utla", "x", "q", NOW, "d")], now=NOW)
        ledger.claim_batch(
            "utla", ["p0"], token="run-a", now=NOW, lease_until=NOW + timedelta(minutes=1)
        )
        with ledger.engine.connect() as c:
            states = [
                (r.state, r.detail)
                for r in c.execute(sa.select(events.c.state, events.c.detail).order_by(events.c.id))
            ]
        assert states == [("scheduled", None), ("publishing", "run-a")]
    finally:
        ledger.close()


def test_an_interrupted_run_stops_after_the_post_in_hand_and_gives_back_its_claims(
    fakex: FakeX, ledger_url: str, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from megaphone.cli.options import policy
    from megaphone.publish.publisher import connector
    from megaphone.publish.runs import open_project, select_jobs
    from megaphone.publish.runs import publish as run_publish

    root = _set_up(fakex, ledger_url, project, monkeypatch, 12)
    ctx = open_project(root)
    jobs, _invalid = select_jobs(ctx, ids=(), until=None, account_names=())
    real = connector(ctx.project, ctx.environ)

    def connect(account: Any) -> Any:
        if account.name == "reclaim":
            raise KeyboardInterrupt  # as Ctrl-C would, in the middle of a send
        return real(account)

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_publish(
            ctx,
            jobs,
            force=False,
            policy=policy(ctx.project.config, None),
            skip_settled=True,
            connect=connect,
        )
    assert time.monotonic() - started < 30
    ledger = Ledger(ledger_url, project="union")
    try:
        rows = ledger.all()
    finally:
        ledger.close()
    # Nothing is left claimed: what was not sent is scheduled for the next run.
    assert {r.state for r in rows} <= {"published", "scheduled"}
    assert not [r for r in rows if r.account == "reclaim" and r.state != "scheduled"]
    _in_order(fakex)


def test_an_evergreen_slot_is_filled_by_one_post_whatever_runs_write_it(ledger_url: str) -> None:
    # Eight runs at once, each choosing another post for the same two slots
    # (their copies of the queue differ): one post per slot and account.
    ledger = Ledger(ledger_url)
    slots = ["2026-12-07T20:00Z", "2026-12-09T20:00Z"]
    barrier = threading.Barrier(8)

    def one(post_id: str, account: str) -> None:
        ledger.ensure(
            post_id,
            account,
            network="x",
            queue="posts/e.yaml",
            scheduled_at=NOW,
            digest="d",
            now=NOW,
            slot=True,
        )

    def write(n: int) -> None:
        barrier.wait()
        wanted = [
            Wanted(f"post-{n}@{slot}", account, "x", "posts/e.yaml", NOW, "d", slot=True)
            for slot in slots
            for account in ("utla", "reclaim")
        ]
        if n % 2:
            ledger.sync(wanted, now=NOW)
        else:
            for w in wanted:
                one(w.post_id, w.account)

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(8)))
        rows = ledger.all()
        assert len(rows) == 8 * 4
        for slot in slots:
            for account in ("utla", "reclaim"):
                mine = [r for r in rows if r.post_id.endswith(slot) and r.account == account]
                open_ = [r for r in mine if r.state == "scheduled"]
                assert len(open_) == 1, (slot, account)
                assert all("went to" in (r.error or "") for r in mine if r not in open_)
        # A post written again for its own slot stays scheduled; a dated
        # post's delivery is no slot's.
        keeper = next(r for r in rows if r.state == "scheduled")
        one(keeper.post_id, keeper.account)
        assert ledger.get(keeper.post_id, keeper.account).state == "scheduled"  # type: ignore[union-attr]
        ledger.sync([Wanted("dated", "utla", "x", "posts/q.yaml", NOW, "d")], now=NOW)
        assert ledger.get("dated", "utla").state == "scheduled"  # type: ignore[union-attr]
    finally:
        ledger.close()


def test_a_last_part_publishes_and_fences_the_next_post_in_one_write(ledger_url: str) -> None:
    ledger = Ledger(ledger_url)
    until = NOW + timedelta(minutes=5)
    try:
        ledger.sync([Wanted(p, "utla", "x", "q", NOW, "d") for p in ("p1", "p2")], now=NOW)
        claimed = ledger.claim_batch(
            "utla", ["p1", "p2"], token="run-a", now=NOW, lease_until=until
        )
        assert set(claimed) == {"p1", "p2"}
        fenced = ledger.record_part(
            "p1",
            "utla",
            0,
            token="run-a",
            remote_id="11",
            url="https://x.com/utla/status/11",
            now=NOW,
            lease_until=until,
            publish=("11", "https://x.com/utla/status/11"),
            idem_key="k1",
            then=("p2", "k2"),
        )
        assert fenced
        first, second = ledger.get("p1", "utla"), ledger.get("p2", "utla")
        assert first is not None and second is not None
        assert (first.state, first.remote_id, first.claimed_by, first.in_flight) == (
            "published",
            "11",
            None,
            None,
        )
        assert (second.state, second.in_flight, second.idem_key) == ("publishing", 0, "k2")
        assert [(e["state"], e["detail"]) for e in ledger.events("p1")][-1] == (
            "published",
            "https://x.com/utla/status/11",
        )
        assert ledger.parts("p1", "utla")[0].remote_id == "11"
    finally:
        ledger.close()


def test_a_last_part_sent_under_a_lost_claim_is_recorded_and_said(ledger_url: str) -> None:
    from megaphone.errors import LeaseLost

    ledger = Ledger(ledger_url)
    try:
        ledger.sync([Wanted(p, "utla", "x", "q", NOW, "d") for p in ("p1", "p2")], now=NOW)
        ledger.claim_batch("utla", ["p1", "p2"], token="run-a", now=NOW, lease_until=NOW)
        later = NOW + timedelta(minutes=1)
        # Another run takes the posts over once run-a's lease ran out.
        with ledger._writing() as c:
            c.execute(sa.text("UPDATE deliveries SET claimed_by = 'run-b' WHERE account = 'utla'"))
        with pytest.raises(LeaseLost):
            ledger.record_part(
                "p1",
                "utla",
                0,
                token="run-a",
                remote_id="11",
                url="https://x.com/utla/status/11",
                now=later,
                lease_until=later + timedelta(minutes=5),
                publish=("11", "https://x.com/utla/status/11"),
                then=("p2", "k2"),
            )
        first, second = ledger.get("p1", "utla"), ledger.get("p2", "utla")
        assert first is not None and second is not None
        # Still the other run's, but what is live is known: it will not send it again.
        assert (first.state, first.claimed_by) == ("publishing", "run-b")
        assert second.in_flight is None
        assert ledger.parts("p1", "utla")[0].remote_id == "11"
        assert ledger.events("p1")[-1]["detail"] == (
            "part 1 live at https://x.com/utla/status/11 (sent by a run that had lost its claim)"
        )
    finally:
        ledger.close()


def test_an_account_another_run_holds_is_asked_for_quickly_for_a_batch_then_less_often() -> None:
    from collections import deque
    from types import SimpleNamespace

    from megaphone.publish.batches import QUICK_POLLS, AccountRun, _Account
    from megaphone.publish.values import Policy

    run = AccountRun(SimpleNamespace(policy=Policy(poll=0.1)), force=False)  # type: ignore[arg-type]
    account = _Account(deque())
    waits = []
    for held in range(QUICK_POLLS + 6):
        account.held = held
        waits.append(round(run._poll(account), 3))
    # Not held: at once.  Held: a poll each time for about a batch's time
    # (the holder lets accounts go at the end of one), then longer, to 1 s.
    assert waits[0] == 0.0
    assert waits[1 : QUICK_POLLS + 1] == [0.1] * QUICK_POLLS
    assert waits[QUICK_POLLS + 1 :] == [0.2, 0.4, 0.8, 1.0, 1.0]


# ------------------------------------------------------------------ workers


def _worker(root: Path, log: list[dict[str, Any]]) -> Any:
    import os

    from megaphone.worker.loop import Worker

    return Worker(root, environ=dict(os.environ), log=log.append, poll=0.2, sweep=0.5)


def _until(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_worker_sends_a_burst_in_batches_at_most_two_writes_a_post(
    fakex: FakeX, ledger_url: str, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _set_up(fakex, ledger_url, project, monkeypatch, 30)
    commits = []

    def count(conn: Any) -> None:
        commits.append(1)

    log: list[dict[str, Any]] = []
    worker = _worker(root, log)
    sa.event.listen(sa.engine.Engine, "commit", count)
    try:
        worker.start()
        _until(lambda: len(fakex.posted()) >= 30 * len(ACCOUNTS))
    finally:
        worker.stop()
        sa.event.remove(sa.engine.Engine, "commit", count)
    _in_order(fakex)
    assert sum(e["event"] == "published" for e in log) == 30 * len(ACCOUNTS)
    # Per post one write (its record, with the next one's fence) and a share
    # of each batch's two; the rest are the worker's own (heartbeats,
    # sweeps), a few a second.
    assert len(commits) <= 2 * 30 * len(ACCOUNTS), len(commits)


def test_posts_that_come_due_while_a_worker_sends_go_out_meanwhile(
    fakex: FakeX, ledger_url: str, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEGAPHONE_LEDGER_URL", ledger_url)
    _sign_in_all(fakex, monkeypatch)
    fakex.latency = 0.05  # utla's 40 posts take 2 s or more
    now = datetime.now(UTC)
    due = (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    soon = (now + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    config = "timezone: UTC\nproject: union\naccounts:\n" + "".join(
        f"  - name: {a}\n    network: x\n" for a in ACCOUNTS
    )
    burst = "".join(
        f"  - {{id: b-{i:03d}, at: '{due}', text: 'utla update {i}.'}}\n" for i in range(40)
    )
    later = "  - {id: later, at: '" + soon + "', text: 'reclaim update 0.'}\n"
    root: Path = project(
        {"megaphone.yaml": config},
        utla="account: utla\nposts:\n" + burst,
        reclaim="account: reclaim\nposts:\n" + later,
    )
    log: list[dict[str, Any]] = []
    worker = _worker(root, log)
    try:
        worker.start()
        _until(lambda: len(fakex.posted()) >= 41)
    finally:
        worker.stop()
    sent = [t.sent_text for t in fakex.posted()]
    _in_order(fakex)
    # Given to the run under way: out long before the burst's end.
    assert sent.index("reclaim update 0.") < 35, sent.index("reclaim update 0.")


def test_two_workers_share_a_burst_each_post_once_in_order(
    fakex: FakeX, ledger_url: str, project: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fakex.latency = 0.02
    monkeypatch.setenv("MEGAPHONE_LEDGER_URL", ledger_url)
    _sign_in_all(fakex, monkeypatch)
    fakex.reject_duplicates = False
    # Due once both have started, as two machines' workers are.
    roots = [_project(project, 20, at=datetime.now(UTC) + timedelta(seconds=3))]
    # A second checkout of the same project: another machine.
    files = list(roots[0].rglob("*.yaml"))
    second = tmp_path / "second"
    second.mkdir()
    for path in files:
        target = second / path.relative_to(roots[0])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    roots.append(second)
    logs: list[list[dict[str, Any]]] = [[], []]
    workers = [_worker(r, log) for r, log in zip(roots, logs, strict=True)]
    try:
        for w in workers:
            w.start()
        _until(lambda: len(fakex.posted()) >= 20 * len(ACCOUNTS))
        time.sleep(0.5)  # anything sent twice would show now
    finally:
        for w in workers:
            w.stop()
    assert len(fakex.posted()) == 20 * len(ACCOUNTS)
    _in_order(fakex)
    published = [sum(e["event"] == "published" for e in log) for log in logs]
    assert sum(published) == 20 * len(ACCOUNTS)
    assert all(published), published  # both took their share


def test_a_worker_has_a_job_for_each_moment_and_gives_a_moments_posts_in_order(
    project: Any, clock: Any
) -> None:
    from megaphone.worker.loop import Worker
    from tests.conftest import NOW

    first, second = NOW + timedelta(hours=1), NOW + timedelta(hours=2)

    def at(when: datetime) -> str:
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")

    root = project(
        # Written out of their order: they go out by time, then file, then id.
        utla=(
            "account: utla\nposts:\n"
            f"  - {{id: u-b, at: '{at(first)}', text: B.}}\n"
            f"  - {{id: u-c, at: '{at(second)}', text: C.}}\n"
            f"  - {{id: u-a, at: '{at(first)}', text: A.}}\n"
        ),
        reclaim=(
            "account: reclaim-la\nposts:\n"
            f"  - {{id: r-a, at: '{at(first)}', text: A.}}\n"
            f"  - {{id: r-b, at: '{at(second)}', text: B.}}\n"
        ),
    )
    log: list[dict[str, Any]] = []
    worker = Worker(root, environ={}, log=log.append, dry_run=True, sweep=3600)
    worker.start()
    try:
        assert worker.pending() == 5
        moments = [j for j in worker._scheduler.get_jobs() if j.id != "sweep"]
        assert sorted(j.next_run_time for j in moments) == [first, second]
        assert [p for p, _, _ in worker.next_jobs(3)] == ["r-a", "u-a", "u-b"]
        clock.move_to(first)
        worker.fire(first)
        said = [(e["post"], e["account"]) for e in log if e["event"] == "would-send"]
        assert said == [("r-a", "reclaim-la"), ("u-a", "utla"), ("u-b", "utla")]
        assert worker.pending() == 2
        worker.fire(first)  # a moment's job that runs again gives nothing twice
        assert sum(e["event"] == "would-send" for e in log) == 3
    finally:
        worker.stop()


def test_a_worker_reads_its_configuration_again_only_when_the_file_changes(
    project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder is polled every second: an unchanged megaphone.yaml is not
    parsed again each time (with many accounts, that was a worker's steady
    cost), and a changed one is read at the next poll."""
    import megaphone.project.loader as loader
    from megaphone.worker.loop import Worker

    root = project(utla="account: utla\nposts:\n  - {id: a, at: '2030-01-01 09:00', text: A.}\n")
    reads: list[Path | None] = []
    real = loader.load_config

    def counted(path: Path | None, cwd: Path, at: Path) -> Any:
        reads.append(path)
        return real(path, cwd, at)

    monkeypatch.setattr(loader, "load_config", counted)
    worker = Worker(root, environ={}, log=lambda _: None, dry_run=True, sweep=3600)
    worker.start()
    try:
        assert len(reads) == 1
        for _ in range(5):
            assert worker.check_files() is False
        assert len(reads) == 1
        config = root / "megaphone.yaml"
        before = worker._config
        assert before is not None and before.timezone != "Europe/Madrid"
        config.write_text(config.read_text().replace("timezone:", "timezone: Europe/Madrid\n#"))
        assert worker.check_files() is True
        assert len(reads) == 2
        assert worker._config is not None and worker._config.timezone == "Europe/Madrid"
        assert worker.check_files() is False
        assert len(reads) == 2
    finally:
        worker.stop()


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_worker_imports_its_networks_adapters_as_it_starts(
    project: Any, monkeypatch: pytest.MonkeyPatch, dry_run: bool
) -> None:
    """The first post due does not wait for the network library's import
    (tweepy's takes a good part of a second): a worker that publishes
    imports its networks' adapters as it starts, each network once; a dry
    run sends nothing and imports none."""
    import megaphone.networks as networks
    from megaphone.worker.loop import Worker

    root = project(utla="account: utla\nposts:\n  - {id: a, at: '2030-01-01 09:00', text: A.}\n")
    loaded: list[str] = []
    monkeypatch.setattr(networks, "load_client", loaded.append)
    worker = Worker(root, environ={}, log=lambda _: None, dry_run=dry_run, sweep=3600)
    worker.start()
    try:
        assert loaded == ([] if dry_run else ["x"])
    finally:
        worker.stop()


def test_a_worker_signs_in_to_an_account_shortly_before_its_first_post(
    fakex: FakeX, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An account whose post is due within a minute is signed in to ahead
    of it (the network asked who it is once, before the post's time), so
    that the post does not wait for it, and the ledger makes a connection
    for its thread; an account whose post is hours away is left until then."""
    from megaphone.store.ledger import Ledger
    from megaphone.worker.loop import Worker

    readied: list[int] = []
    monkeypatch.setattr(Ledger, "keep_ready", lambda self, n: readied.append(n))

    soon = (datetime.now(UTC) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    later = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    root = project(
        utla=f"account: utla\nposts:\n  - {{id: a, at: '{soon}', text: Soon.}}\n",
        reclaim=f"account: reclaim-la\nposts:\n  - {{id: b, at: '{later}', text: Later.}}\n",
    )
    environ = {**fakex.env("utla", fakex.add_user("utlanow"))}
    environ.update(fakex.env("reclaim-la", fakex.add_user("reclaimla")))
    worker = Worker(root, environ=environ, log=lambda _: None, poll=0.2, sweep=0.5)
    worker.start()
    try:
        assert worker._publisher is not None
        sessions = worker._publisher.sessions
        _until(lambda: sessions.signed_in("utla"), timeout=10)
        _until(lambda: readied == [1], timeout=10)  # one account posts soon
        assert fakex.posted() == []  # signed in before the post's time
        assert fakex.count("GET", "/2/users/me") == 1
        _until(lambda: len(fakex.posted()) == 1, timeout=15)
        time.sleep(1.2)  # two more sweeps: nothing signs in again
        assert fakex.count("GET", "/2/users/me") == 1
        assert not sessions.signed_in("reclaim-la")
    finally:
        worker.stop()


def test_a_run_counts_the_runs_publishing_now_outside_its_lock(
    fakex: FakeX, ledger_url: str, project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting the runs that share the accounts is a query of the ledger:
    made while the run's lock is held, every account's thread would wait
    for that round trip at its next post."""
    from megaphone.publish.batches import AccountRun
    from megaphone.store.ledger import Ledger

    root = _set_up(fakex, ledger_url, project, monkeypatch, 30)
    monkeypatch.setattr("megaphone.publish.batches.RUNNERS_FRESH", 0.0)  # counted every time
    runs: list[AccountRun] = []
    made = AccountRun.__post_init__

    def record(self: AccountRun) -> None:
        made(self)
        runs.append(self)

    counted: list[bool] = []
    real = Ledger.runners

    def runners(self: Ledger, **kw: Any) -> int:
        counted.append(any(r._lock._is_owned() for r in runs))  # type: ignore[attr-defined]
        return real(self, **kw)

    monkeypatch.setattr(AccountRun, "__post_init__", record)
    monkeypatch.setattr(Ledger, "runners", runners)
    outcomes = _run(root)
    assert [o.state for o in outcomes].count("published") == 30 * len(ACCOUNTS)
    assert counted and not any(counted)
