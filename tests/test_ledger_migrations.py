"""The ledger's migrations: a ledger written by an older megaphone is brought
to the current layout in place, nothing lost, and what it recorded still
holds (a published post is never sent again, a thread resumes where it
stopped)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from megaphone.store.ledger import MIGRATIONS, SCHEMA_VERSION, Ledger, default_url, metadata
from tests.conftest import sign_in
from tests.fakex import FakeX, User
from tests.test_publish import publish

CONFIG = "timezone: UTC\naccounts:\n  - name: utla\n    network: x\n"
QUEUE = """\
account: utla
posts:
  - {id: one, at: 2026-11-29 11:58, text: Hello.}
  - id: story
    at: 2026-11-29 11:59
    thread: ['One (1/2)', 'Two (2/2)']
"""

#: Schema 2 as megaphone 0.1 made it (SQLAlchemy's DDL for SQLite).
SCHEMA_2 = """
CREATE TABLE deliveries (project VARCHAR(100) NOT NULL, post_id VARCHAR(200) NOT NULL,
  account VARCHAR(100) NOT NULL, network VARCHAR(20) NOT NULL, state VARCHAR(20) NOT NULL,
  queue VARCHAR(500), scheduled_at DATETIME, digest VARCHAR(64), attempts INTEGER NOT NULL,
  error TEXT, claimed_by VARCHAR(200), claimed_at DATETIME, lease_until DATETIME,
  next_attempt_at DATETIME, late_ok BOOLEAN NOT NULL, held TEXT, in_flight INTEGER,
  sent_at DATETIME, remote_id VARCHAR(500), url VARCHAR(500), published_at DATETIME,
  created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
  PRIMARY KEY (project, post_id, account),
  CONSTRAINT known_state CHECK (state IN ('scheduled', 'publishing', 'published', 'failed',
    'unknown', 'missed', 'expired', 'skipped')));
CREATE INDEX deliveries_state ON deliveries (state);
CREATE TABLE events (id INTEGER NOT NULL, project VARCHAR(100) NOT NULL,
  post_id VARCHAR(200) NOT NULL, account VARCHAR(100) NOT NULL, at DATETIME NOT NULL,
  state VARCHAR(20) NOT NULL, detail TEXT, PRIMARY KEY (id));
CREATE TABLE meta ("key" VARCHAR(100) NOT NULL, value TEXT, PRIMARY KEY ("key"));
CREATE TABLE parts (project VARCHAR(100) NOT NULL, post_id VARCHAR(200) NOT NULL,
  account VARCHAR(100) NOT NULL, idx INTEGER NOT NULL, remote_id VARCHAR(500),
  url VARCHAR(500), published_at DATETIME NOT NULL,
  PRIMARY KEY (project, post_id, account, idx));
INSERT INTO meta VALUES ('schema_version', '2');
INSERT INTO deliveries VALUES ('local', 'one', 'utla', 'x', 'published', 'posts/q.yaml',
  '2026-11-29 11:58:00', 'd', 1, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, '5',
  'https://x.com/utlanow/status/5', '2026-11-29 11:58:30', '2026-11-29 11:58:00',
  '2026-11-29 11:58:30');
INSERT INTO parts VALUES ('local', 'one', 'utla', 0, '5', 'https://x.com/utlanow/status/5',
  '2026-11-29 11:58:30');
INSERT INTO deliveries VALUES ('local', 'story', 'utla', 'x', 'scheduled', 'posts/q.yaml',
  '2026-11-29 11:59:00', NULL, 1, 'the network was unavailable', NULL, NULL, NULL, NULL, 0,
  NULL, NULL, NULL, NULL, NULL, NULL, '2026-11-29 11:59:00', '2026-11-29 11:59:30');
INSERT INTO parts VALUES ('local', 'story', 'utla', 0, 'PART1', 'https://x.com/utlanow/status/PART1',
  '2026-11-29 11:59:10');
INSERT INTO events (project, post_id, account, at, state, detail)
  VALUES ('local', 'one', 'utla', '2026-11-29 11:58:30', 'published', 'by hand');
"""


@pytest.fixture
def user(fakex: FakeX, monkeypatch: pytest.MonkeyPatch) -> User:
    return sign_in(fakex, monkeypatch, "utla", "utlanow")


def test_every_version_says_what_it_brought() -> None:
    assert sorted(MIGRATIONS) == list(range(2, SCHEMA_VERSION + 1))


def test_a_ledger_of_schema_2_is_carried_over(
    fakex: FakeX, project, run, user: User, clock
) -> None:
    root = project({"megaphone.yaml": CONFIG}, q=QUEUE)
    (root / ".megaphone").mkdir()
    db = root / ".megaphone" / "ledger.db"
    part1 = fakex.seed("utlanow", "One (1/2)")  # part 1 went out before the upgrade
    with sqlite3.connect(db) as con:
        con.executescript(SCHEMA_2.replace("PART1", part1.id))
    result = publish(run, root, "--due")
    assert result.exit_code == 0, result.output
    # Published before: never again; the thread resumes at part 2, as a
    # reply to part 1 as recorded.
    assert [(t.sent_text, t.reply_to) for t in fakex.posted()[1:]] == [("Two (2/2)", part1.id)]
    with sqlite3.connect(db) as con:
        [(version,)] = con.execute("SELECT value FROM meta WHERE key = 'schema_version'")
        assert version == str(SCHEMA_VERSION)
        assert con.execute("SELECT count(*) FROM meta WHERE key = 'migrated_from_2'").fetchone()
        rows = con.execute(
            "SELECT post_id, variant, occurrence, state FROM deliveries ORDER BY post_id"
        ).fetchall()
        assert rows == [("one", "", "", "published"), ("story", "", "", "published")]
        [(detail,)] = con.execute("SELECT detail FROM events WHERE post_id = 'one'").fetchall()
        assert detail == "by hand"
    history = run("history", cwd=root).output
    assert "https://x.com/utlanow/status/5" in history


def test_the_current_layout_is_what_a_new_ledger_gets(tmp_path) -> None:
    url = default_url(tmp_path)
    Ledger(url).close()
    engine = sa.create_engine(url)
    with engine.connect() as c:
        inspector = sa.inspect(c)
        for table in ("deliveries", "parts", "events"):
            made = {col["name"] for col in inspector.get_columns(table)}
            assert made == set(metadata.tables[table].c.keys()), table
        keys = inspector.get_pk_constraint("deliveries")["constrained_columns"]
        assert keys == ["project", "post_id", "account", "variant", "occurrence"]
    engine.dispose()


def test_a_new_sqlite_ledger_opens_while_another_run_writes_its_first_tables(
    tmp_path: Path,
) -> None:
    """Two first runs at once: one writes the new ledger's tables while the
    other puts the file in WAL mode.  SQLite refuses that switch at once
    ("database is locked", without its busy timeout); the ledger tries
    again until the writer is done, rather than failing the run."""
    import threading

    path = tmp_path / "ledger.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE elsewhere (x)")  # a write under way, the file not in WAL yet
    done = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    done.start()
    try:
        ledger = Ledger(f"sqlite:///{path}", project="union")
        ledger.close()
    finally:
        done.join()
        writer.close()
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_sqlite_ledger_that_stays_locked_says_so() -> None:
    """The switch to WAL mode is tried again for a while, not for ever; an
    error that is not a lock is not tried again."""
    from megaphone.store import ledger as module

    class Cursor:
        def __init__(self, error: str) -> None:
            self.error, self.tries = error, 0

        def execute(self, sql: str) -> None:
            self.tries += 1
            raise sqlite3.OperationalError(self.error)

    locked = Cursor("database is locked")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        module._sqlite_wal(locked, wait=0.2)
    assert locked.tries > 2
    broken = Cursor("disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk"):
        module._sqlite_wal(broken, wait=5)
    assert broken.tries == 1
