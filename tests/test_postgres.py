"""The ledger on a real PostgreSQL server (a throw-away cluster, see
tests/pgserver.py): the same guarantees as on SQLite, and the first use of an
empty database safe under concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from megaphone.store.ledger import Ledger
from tests.conftest import ROOT, sign_in
from tests.fakex import FakeX
from tests.test_publish import publish

CONFIG = "timezone: UTC\nproject: union\naccounts:\n  - name: utla\n    network: x\n"
ONE = "account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n"


@pytest.fixture
def on_postgres(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MEGAPHONE_LEDGER_URL", postgres_url)
    return postgres_url


def test_publishing_on_postgres_is_once(
    fakex: FakeX, on_postgres: str, project, run, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(fakex, monkeypatch)
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    assert publish(run, root, "--due").exit_code == 0
    assert publish(run, root, "--due").exit_code == 0
    assert [t.sent_text for t in fakex.posted()] == ["Hello."]
    listed = json.loads(run("list", "--json", cwd=root).output)
    assert listed[0]["state"] == "published"
    assert "published" in run("status", cwd=root).output
    assert "https://x.com/utlanow/status/" in run("history", cwd=root).output


def test_read_commands_on_an_empty_database_say_nothing_is_recorded(
    on_postgres: str, project, run, frozen_now
) -> None:
    root = project(
        {"megaphone.yaml": CONFIG}, one=ONE.replace("2026-11-29 11:59", "2026-12-01 09:00")
    )
    for command in (["status"], ["history"], ["publish", "--due", "--dry-run"], ["list"]):
        result = run(*command, cwd=root)
        assert result.exit_code == 0, (command, result.output)
        assert "relation" not in result.output and "error" not in result.output.lower()


@pytest.mark.slow
def test_forty_first_runs_at_once_on_an_empty_database(on_postgres: str, tmp_path: Path) -> None:
    code = (
        "import sys; from megaphone.store.ledger import Ledger; "
        "Ledger(sys.argv[1], project='union').close()"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, on_postgres],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(40)
    ]
    failures = []
    for p in procs:
        _, err = p.communicate(timeout=120)
        if p.returncode != 0:
            failures.append(err.decode()[-300:])
    assert failures == []
    ledger = Ledger(on_postgres, project="union")
    assert ledger.all() == []
    ledger.close()


def test_concurrent_claims_on_postgres_send_each_post_once(
    fakex: FakeX, on_postgres: str, project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    from megaphone.cli.options import policy
    from megaphone.publish.runs import open_project, select_jobs
    from megaphone.publish.runs import publish as run_publish

    sign_in(fakex, monkeypatch)
    fakex.reject_duplicates = False
    at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    posts = "".join(f"  - {{id: p{i}, at: '{at}', text: Post {i}.}}\n" for i in range(20))
    root = project({"megaphone.yaml": CONFIG}, q="account: utla\nposts:\n" + posts)

    def one_run(n: int) -> None:
        ctx = open_project(root)
        jobs, _invalid = select_jobs(ctx, ids=(), until=None, account_names=())
        run_publish(
            ctx, jobs, force=False, policy=policy(ctx.project.config, None), skip_settled=True
        )

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one_run, range(4)))
    texts = [t.sent_text for t in fakex.posted()]
    assert sorted(texts) == sorted(f"Post {i}." for i in range(20))


def _published(
    ledger: Ledger, post_id: str, *, now: datetime, until: datetime, then: str | None = None
) -> bool:
    """``post_id``'s only part recorded live under run ``run``'s claim (and
    ``then`` fenced next): whether the post was published."""
    return ledger.record_part(
        post_id,
        "utla",
        0,
        token="run",
        remote_id=f"r-{post_id}",
        url=f"https://x.test/{post_id}",
        now=now,
        lease_until=until,
        publish=(f"r-{post_id}", f"https://x.test/{post_id}"),
        then=(then, None) if then else None,
    )


def test_the_driver_path_keeps_its_connections_and_closes_them(postgres_url: str) -> None:
    """Statement after statement through the driver use the connections the
    ledger keeps (no connection made per statement), and closing the ledger
    closes them."""
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from megaphone.store.ledger import Wanted

    now = datetime.now(UTC)
    until = now + timedelta(minutes=1)
    admin = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))

    def backends() -> set[int]:
        with admin.connect() as c:
            return set(
                c.execute(
                    sa.text(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalars()
            )

    before = backends()
    ledger = Ledger(postgres_url, project="union")
    try:
        ids = [f"k{i}" for i in range(6)]
        ledger.sync([Wanted(i, "utla", "x", "q", now, "d") for i in ids], now=now)
        first = None
        for i in ids:
            assert (
                ledger.take_account(
                    "utla", token="run", now=now, lease_until=until, abandoned=lambda *_: False
                )
                is not None
            )
            ledger.claim_batch("utla", [i], token="run", now=now, lease_until=until)
            _published(ledger, i, now=now, until=until)
            if first is None:
                first = backends() - before
        assert first and backends() - before == first  # the same connections, no new ones
        assert len(ledger._spare) == 1  # one thread: one connection in turn
    finally:
        ledger.close()
    assert not ledger._spare
    deadline = time.monotonic() + 10  # a backend leaves the list once it has ended
    while not backends() <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backends() <= before
    admin.dispose()


def test_a_post_recorded_through_the_driver_survives_a_dropped_connection(
    postgres_url: str,
) -> None:
    """The last part's write goes straight through psycopg on a pooled
    connection: a connection the server has dropped is not used again, and
    a statement the server refuses is a ledger error, not the driver's."""
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from megaphone.errors import LedgerError
    from megaphone.store.ledger import Wanted

    now = datetime.now(UTC)
    until = now + timedelta(minutes=1)
    ledger = Ledger(postgres_url, project="union")
    try:
        ledger.sync([Wanted(f"p{i}", "utla", "x", "q", now, "d") for i in range(3)], now=now)
        ledger.claim_batch("utla", ["p0", "p1", "p2"], token="run", now=now, lease_until=until)

        def published(post_id: str, then: str | None) -> bool:
            return _published(ledger, post_id, now=now, until=until, then=then)

        assert published("p0", "p1") is True
        # Every connection of the pool is cut off by the server (and gone,
        # its goodbye sent, when the call returns: it waits up to 10 s).
        with sa.create_engine(
            postgres_url.replace("postgresql://", "postgresql+psycopg://")
        ).connect() as admin:
            admin.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        assert published("p1", None) is False  # recorded; nothing was fenced
        row = ledger.get("p1", "utla")
        assert row is not None
        assert row.state == "published"
        assert row.remote_id == "r-p1"
        assert ledger.parts("p1", "utla")[0].url == "https://x.test/p1"
        # A value the server refuses: said as the ledger's error, the
        # connection still good for the next post.
        with pytest.raises(LedgerError, match="the ledger"):
            ledger.record_part(
                "p2",
                "utla",
                0,
                token="run",
                remote_id="r-p2",
                url="https://x.test/p2",
                now=now,
                lease_until=until,
                publish=("r-p2", "https://x.test/p2"),
                idem_key="\x00",
            )
        assert published("p2", None) is False
        assert {d.post_id: d.state for d in ledger.all()} == {
            "p0": "published",
            "p1": "published",
            "p2": "published",
        }
    finally:
        ledger.close()


def test_rows_read_through_the_driver_are_the_deliveries_sqlalchemy_reads(
    postgres_url: str,
) -> None:
    """The driver path makes its deliveries without their ``__init__``: they
    equal what the general path reads (every field, times aware and in UTC),
    stay immutable, and change only through known fields."""
    import dataclasses
    from datetime import UTC, datetime, timedelta

    from megaphone.store.ledger import Wanted

    now = datetime.now(UTC)
    until = now + timedelta(minutes=1)
    ledger = Ledger(postgres_url, project="rows")
    try:
        ids = ["r1", "r2", "r3"]
        ledger.sync([Wanted(i, "utla", "x", "q", now, f"d-{i}") for i in ids], now=now)
        read = ledger.take_account(
            "utla", token="run", now=now, lease_until=until, abandoned=lambda *_: False, read=ids
        )
        claimed = ledger.claim_batch("utla", ids[:2], token="run", now=now, lease_until=until)
        general = {d.post_id: d for d in ledger.all()}
        assert read is not None and set(read) == set(ids)
        for post_id in ids[2:]:
            assert read[post_id] == general[post_id]
        for post_id, (row, done) in claimed.items():
            assert row == general[post_id] and done == {}
            assert row.claimed_by == "run" and row.lease_until == until
            for name in ("scheduled_at", "lease_until", "created_at", "updated_at"):
                value = getattr(row, name)
                assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
        row = claimed["r1"][0]
        with pytest.raises(dataclasses.FrozenInstanceError):
            row.state = "published"  # type: ignore[misc]
        changed = row.but(in_flight=0, idem_key="k")
        assert changed == dataclasses.replace(row, in_flight=0, idem_key="k")
        assert (row.in_flight, row.idem_key) == (None, None)
        with pytest.raises(TypeError, match="not fields of a delivery"):
            row.but(colour="red")
    finally:
        ledger.close()


def test_an_accounts_first_lease_is_made_by_the_one_statement(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new account's lease is made by the driver's statement itself, not
    by the general write after it (three more statements, through SQLAlchemy,
    for each account at a project's first burst); another run then finds it
    held."""
    from datetime import UTC, datetime, timedelta

    from megaphone.store.ledger import Wanted

    now = datetime.now(UTC)
    until = now + timedelta(minutes=1)
    ledger = Ledger(postgres_url, project="first-lease")
    try:
        ledger.sync([Wanted("f1", "utla", "x", "q", now, "d")], now=now)

        def general(*args: object, **kwargs: object) -> None:
            raise AssertionError("the general write was used")

        monkeypatch.setattr(ledger, "_writing", general)
        rows = ledger.take_account(
            "utla",
            token="run-a",
            now=now,
            lease_until=until,
            abandoned=lambda *_: False,
            read=["f1"],
        )
        assert rows is not None and set(rows) == {"f1"}
        again = ledger.take_account(
            "utla", token="run-a", now=now, lease_until=until, abandoned=lambda *_: False
        )
        assert again == {}
        other = ledger.take_account(
            "utla", token="run-b", now=now, lease_until=until, abandoned=lambda *_: False
        )
        assert other is None  # run-a holds it
        later = until + timedelta(seconds=1)
        taken = ledger.take_account(
            "utla",
            token="run-b",
            now=later,
            lease_until=later + timedelta(minutes=1),
            abandoned=lambda *_: False,
        )
        assert taken == {}  # run-a's lease ran out
    finally:
        monkeypatch.undo()
        ledger.close()


def test_connections_are_made_ahead_of_a_burst(postgres_url: str) -> None:
    """``keep_ready`` makes the idle driver connections a burst's threads
    will use, up to the number kept; the threads then make none."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime, timedelta

    from megaphone.store.ledger import Wanted

    now = datetime.now(UTC)
    until = now + timedelta(minutes=1)
    ledger = Ledger(postgres_url, project="ahead")
    try:
        accounts = [f"a{i}" for i in range(6)]
        ledger.sync([Wanted(f"p-{a}", a, "x", "q", now, "d") for a in accounts], now=now)
        ledger.keep_ready(len(accounts))
        assert len(ledger._spare) == len(accounts)
        ledger.keep_ready(3)  # enough already: none made, none closed
        assert len(ledger._spare) == len(accounts)
        ready = set(map(id, (conn for conn, _ in ledger._spare)))

        def take(account: str) -> None:
            assert (
                ledger.take_account(
                    account, token="run", now=now, lease_until=until, abandoned=lambda *_: False
                )
                == {}
            )

        with ThreadPoolExecutor(len(accounts)) as pool:
            list(pool.map(take, accounts))
        assert set(map(id, (conn for conn, _ in ledger._spare))) <= ready  # no new one
        ledger.keep_ready(10**6)
        assert len(ledger._spare) == Ledger.SPARE_CONNECTIONS
    finally:
        ledger.close()
    assert not ledger._spare


def test_a_machine_frozen_inside_a_write_keeps_no_row_from_the_other(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine paused (SIGSTOP, a frozen VM) in the middle of a write of
    several statements holds that write's rows locked: the server ends its
    session after IDLE_IN_TRANSACTION, so the other machine's takeover goes
    through instead of waiting for the freeze to end, and the frozen write
    is undone."""
    import threading
    from datetime import UTC, timedelta

    import sqlalchemy as sa

    import megaphone.store.ledger as ledger_module
    from megaphone.store.ledger import Wanted, deliveries

    plain = Ledger(postgres_url, project="frozen")
    with plain.engine.connect() as c:  # the setting every session gets
        assert c.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar() == "15s"
    plain.close()
    monkeypatch.setattr(ledger_module, "IDLE_IN_TRANSACTION", 1.0)
    now = datetime.now(UTC)
    a = Ledger(postgres_url, project="frozen")
    b = Ledger(postgres_url, project="frozen")
    try:
        a.sync([Wanted("f1", "utla", "x", "q", now, "d")], now=now)
        assert a.claim("f1", "utla", token="a", now=now, lease_until=now + timedelta(seconds=1))
        frozen = a.engine.connect()
        frozen.begin()  # a's lease renewal, frozen after its first statement
        frozen.execute(
            deliveries.update()
            .where(deliveries.c.post_id == "f1")
            .values(lease_until=now + timedelta(minutes=5))
        )
        later = now + timedelta(seconds=2)
        taken: list[bool] = []
        took = time.monotonic()
        other = threading.Thread(
            target=lambda: taken.append(
                b.take_over("f1", "utla", old_token="a", token="b", now=later, lease_until=later)
            ),
            daemon=True,
        )
        other.start()
        other.join(15)
        took = time.monotonic() - took
        assert taken == [True], "the takeover waited on the frozen write"
        assert took < 10, took
        with pytest.raises(sa.exc.DBAPIError):  # a wakes: its session was ended
            frozen.execute(sa.text("SELECT 1"))
        frozen.close()
        [row] = b.all()
        assert row.claimed_by == "b"
    finally:
        a.close()
        b.close()


def test_connections_give_up_on_a_server_gone_from_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """libpq's connect timeout, keepalives and unacknowledged-data limit are
    set on every PostgreSQL URL that does not set its own: a server that
    accepts the connection and never answers is an error, not a wait."""
    import socket
    import threading

    import megaphone.store.view as view
    from megaphone.errors import LedgerError
    from megaphone.store.view import engine_url

    url = engine_url("postgresql://megaphone@db.example.org/megaphone")
    assert url.startswith("postgresql+psycopg://megaphone@db.example.org/megaphone?")
    assert "connect_timeout=10" in url and "tcp_user_timeout=30000" in url
    assert "keepalives=1" in url
    own = engine_url("postgres://m@h/db?connect_timeout=3&sslmode=require")
    assert "connect_timeout=3" in own and "connect_timeout=10" not in own
    assert own.count("?") == 1 and "sslmode=require" in own
    assert engine_url("sqlite:///x.db") == "sqlite:///x.db"

    pytest.importorskip("psycopg")
    monkeypatch.setitem(view.PG_CONNECTION, "connect_timeout", "1")  # not 10 s, in a test
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    port = silent.getsockname()[1]
    failed: list[str] = []

    def open_it() -> None:
        try:
            Ledger(f"postgresql://m@127.0.0.1:{port}/db")
        except LedgerError as e:
            failed.append(str(e))

    opener = threading.Thread(target=open_it, daemon=True)
    started = time.monotonic()
    opener.start()
    opener.join(20)
    silent.close()
    assert failed, "the ledger waited on a server that never answers"
    assert time.monotonic() - started < 10
    assert "\n" not in failed[0]
