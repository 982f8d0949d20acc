"""The ledger: what happened to each post, per account — the source of truth.

An SQLite database in the project (``.megaphone/ledger.db``; WAL) by default,
or any database SQLAlchemy reaches (a PostgreSQL URL serves several workers),
through SQLAlchemy Core.  One row per post and account (a *delivery*) holds
its state, attempts, last error and claim; one row per published thread part
holds that part's remote id and URL, so that a thread that stopped at part 3
resumes at part 3.  Every change of state is also appended to ``events``.

Claiming is what keeps a post from going out twice: a delivery moves to
``publishing`` in a committed transaction whose ``UPDATE … WHERE state =
'scheduled'`` only one process can win.  A claim is a lease (see
:mod:`megaphone.store.lease`): every write under it names its owner token in its
``WHERE``, and the write made just before a part is sent also requires the
lease not to have run out — a run that lost its claim learns it there and
sends nothing.

Every row carries its project's id: several projects may share one
database, and each sees only its own posts.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from megaphone.errors import LeaseLost, LedgerError
from megaphone.model import split_id
from megaphone.store.view import (
    DEFAULT_PATH,
    LEDGER_STATES,
    LOCAL_ID,
    default_url,
    engine_url,
    sqlite_path,
)

__all__ = ["DEFAULT_PATH", "Delivery", "Ledger", "PartRecord", "default_url", "sqlite_path"]

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from pathlib import Path

    from sqlalchemy.engine import Connection, Engine

    from megaphone.model import Config

STATES = LEDGER_STATES
#: States a delivery never leaves by itself (``retry`` and ``mark`` move it).
SETTLED = ("published", "failed", "unknown", "skipped")
#: The ledger's layout (see MIGRATIONS for what each version brought).
SCHEMA_VERSION = 5
#: The PostgreSQL advisory lock held while the tables are made or migrated.
SCHEMA_LOCK = 7_243_001

#: PostgreSQL ends a session of megaphone's that sits this many seconds
#: inside a transaction (its process frozen, its machine paused): megaphone's
#: transactions take milliseconds, and the rows a frozen one holds locked
#: would otherwise stop another machine's takeover for as long as the
#: freeze lasts.  The frozen process finds its write undone when it wakes.
#: Well under a lease (a minute), and far above any pause of a live
#: process between two statements of one write.
IDLE_IN_TRANSACTION = 15.0


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every database."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the ledger stores aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else _utc(value)


metadata = sa.MetaData()

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("project", sa.String(100), primary_key=True),
    #: The delivery's whole id: the post's id, then its language and its
    #: occurrence when it has them (``hub/es``, ``stay@2027-01-04T17:00Z``);
    #: ``variant`` and ``occurrence`` repeat those, for queries.
    sa.Column("post_id", sa.String(200), primary_key=True),
    sa.Column("account", sa.String(100), primary_key=True),
    #: Which version of the post (a language variant); "" for the post itself.
    sa.Column("variant", sa.String(50), primary_key=True, default="", server_default=""),
    #: Which time of a repeating post, as ISO 8601 UTC; "" for a post that
    #: goes out once.
    sa.Column("occurrence", sa.String(40), primary_key=True, default="", server_default=""),
    sa.Column("network", sa.String(20), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("queue", sa.String(500)),
    sa.Column("scheduled_at", UTCDateTime),
    sa.Column("digest", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text),
    sa.Column("claimed_by", sa.String(200)),
    sa.Column("claimed_at", UTCDateTime),
    #: Until when the claim is its owner's, unless renewed.
    sa.Column("lease_until", UTCDateTime),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("late_ok", sa.Boolean, nullable=False, default=False),
    #: Why a scheduled delivery is held until a person acts (refused or
    #: missing credentials, another account's handle, a clock far off):
    #: ``blocked`` for every command.  Cleared when it is claimed again.
    sa.Column("held", sa.Text),
    # The part whose request is (or may be) on its way: set just before it is
    # sent, cleared once it is recorded.  After a crash it tells a part that
    # may have gone out from one that was never sent.
    sa.Column("in_flight", sa.Integer),
    #: The idempotency key of the part in flight, made and stored before its
    #: first send and sent with every retry of it (None: the network takes
    #: none, see Capabilities.idempotency).
    sa.Column("idem_key", sa.String(200)),
    #: The exact request made with that key, where the network needs it the
    #: same on every retry (a Bluesky record, as JSON).
    sa.Column("idem_record", sa.Text),
    #: When the request of the part in flight (or in doubt) was sent: a
    #: lookup of the account's posts since then settles an unknown outcome.
    sa.Column("sent_at", UTCDateTime),
    sa.Column("remote_id", sa.String(500)),
    sa.Column("url", sa.String(500)),
    sa.Column("published_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(f"state IN ({', '.join(repr(s) for s in STATES)})", name="known_state"),
)
sa.Index("deliveries_state", deliveries.c.state)

parts = sa.Table(
    "parts",
    metadata,
    sa.Column("project", sa.String(100), primary_key=True),
    sa.Column("post_id", sa.String(200), primary_key=True),
    sa.Column("account", sa.String(100), primary_key=True),
    sa.Column("variant", sa.String(50), primary_key=True, default="", server_default=""),
    sa.Column("occurrence", sa.String(40), primary_key=True, default="", server_default=""),
    sa.Column("idx", sa.Integer, primary_key=True),
    sa.Column("remote_id", sa.String(500)),
    sa.Column("url", sa.String(500)),
    #: What the network needs of the part later, beyond its id (a Bluesky
    #: cid, to reply to it), as text.
    sa.Column("remote_extra", sa.Text),
    #: The key the part was sent with.
    sa.Column("idem_key", sa.String(200)),
    sa.Column("published_at", UTCDateTime, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(100), nullable=False),
    sa.Column("post_id", sa.String(200), nullable=False),
    sa.Column("account", sa.String(100), nullable=False),
    sa.Column("variant", sa.String(50), nullable=False, default="", server_default=""),
    sa.Column("occurrence", sa.String(40), nullable=False, default="", server_default=""),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("detail", sa.Text),
)

#: Which run publishes an account's posts now: one at a time, so that an
#: account's posts and thread parts go out in their order whichever machine
#: sends them.  A lease, like a delivery's claim.
account_leases = sa.Table(
    "account_leases",
    metadata,
    sa.Column("project", sa.String(100), primary_key=True),
    sa.Column("account", sa.String(100), primary_key=True),
    sa.Column("claimed_by", sa.String(200)),
    sa.Column("lease_until", UTCDateTime),
)

#: The runs publishing now, each until its lease runs out: their number
#: shares the accounts out among them.
runners = sa.Table(
    "runners",
    metadata,
    sa.Column("project", sa.String(100), primary_key=True),
    sa.Column("token", sa.String(200), primary_key=True),
    sa.Column("until", UTCDateTime, nullable=False),
)

#: Which post of an evergreen queue fills each of its slots, for each
#: account: the first run to write a delivery for a slot gives it its post.
#: Two machines whose copies of the queue differ (one pulled a change, the
#: other not yet) may choose different posts for one slot; only the first
#: is sent, the other is settled ``skipped``.
evergreen_slots = sa.Table(
    "evergreen_slots",
    metadata,
    sa.Column("project", sa.String(100), primary_key=True),
    sa.Column("queue", sa.String(500), primary_key=True),
    sa.Column("account", sa.String(100), primary_key=True),
    sa.Column("slot", sa.String(40), primary_key=True),
    #: The post (its id without language or time) that fills it.
    sa.Column("entry", sa.String(200), nullable=False),
)

#: An event, its values bound when it is written.
_EVENT = events.insert()

#: A post's last part recorded on PostgreSQL, in one statement (see
#: ``Ledger._last_part``): what each step of the general write does, as
#: data-modifying steps of one query, which is one transaction.
_LAST_PART = sa.text(
    """
WITH part AS (
    INSERT INTO parts (project, post_id, account, variant, occurrence, idx, remote_id, url,
                       remote_extra, idem_key, published_at)
    VALUES (:project, :post_id, :account, '', '', :idx, :remote_id, :url,
            :remote_extra, :idem_key, :now)
    ON CONFLICT DO NOTHING
), done AS (
    UPDATE deliveries
    SET state = 'published', claimed_by = NULL, lease_until = NULL, error = NULL, held = NULL,
        next_attempt_at = NULL, updated_at = :now, in_flight = NULL, sent_at = NULL,
        remote_id = :p_remote_id, url = :p_url, published_at = :now
    WHERE project = :project AND post_id = :post_id AND account = :account
      AND state = 'publishing' AND claimed_by = :token
    RETURNING post_id
), said AS (
    INSERT INTO events (project, post_id, account, variant, occurrence, at, state, detail)
    SELECT :project, :post_id, :account, '', '', :now,
           CASE WHEN EXISTS (SELECT 1 FROM done) THEN 'published' ELSE 'publishing' END,
           CASE WHEN EXISTS (SELECT 1 FROM done) THEN :p_url ELSE :lost END
), fenced AS (
    UPDATE deliveries
    SET in_flight = 0, idem_key = :next_key, idem_record = NULL, sent_at = :now,
        lease_until = :lease_until, updated_at = :now
    WHERE project = :project AND post_id = :next_id AND account = :account
      AND state = 'publishing' AND claimed_by = :token AND lease_until > :now
      AND EXISTS (SELECT 1 FROM done)
    RETURNING post_id
)
SELECT EXISTS (SELECT 1 FROM done), EXISTS (SELECT 1 FROM fenced)
"""
).bindparams(
    sa.bindparam("now", type_=UTCDateTime),
    sa.bindparam("lease_until", type_=UTCDateTime),
)

#: The same, as the driver takes it.
_LAST_PART_SQL = re.sub(r":(\w+)", r"%(\1)s", _LAST_PART.text)

#: ``Ledger.take_account`` on PostgreSQL, in one statement: the lease taken
#: when it is free or this run's already (made, the account's first time),
#: and the batch's rows read.  Its first columns say whether the lease was
#: taken (``got``), whether it was there before (``made``), and who held it
#: (``holder``, ``holder_until``, as the statement found it); then a row per
#: delivery when it was taken, else one row with no delivery.
_TAKE_ACCOUNT_SQL = """
WITH lease AS (
    INSERT INTO account_leases AS l (project, account, claimed_by, lease_until)
    VALUES (%(project)s, %(account)s, %(token)s, %(lease_until)s)
    ON CONFLICT (project, account) DO UPDATE
    SET claimed_by = EXCLUDED.claimed_by, lease_until = EXCLUDED.lease_until
    WHERE l.claimed_by IS NULL OR l.claimed_by = %(token)s OR l.lease_until <= %(now)s
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM lease) AS got, h.project IS NOT NULL AS made,
       h.claimed_by AS holder, h.lease_until AS holder_until, d.*
FROM (SELECT 1) AS one
LEFT JOIN account_leases AS h ON h.project = %(project)s AND h.account = %(account)s
LEFT JOIN deliveries AS d
  ON EXISTS (SELECT 1 FROM lease)
 AND d.project = %(project)s AND d.account = %(account)s AND d.post_id = ANY(%(ids)s)
"""
#: The columns before a delivery's in its rows.
_TAKE_ACCOUNT_WIDTH = 4

#: ``Ledger.claim_batch`` on PostgreSQL in one statement: the batch's
#: scheduled deliveries claimed, an event each, and the claimed rows
#: returned, each saying whether parts of it are live already.
_CLAIM_BATCH_SQL = """
WITH claimed AS (
    UPDATE deliveries
    SET state = 'publishing', claimed_by = %(token)s, claimed_at = %(now)s,
        lease_until = %(lease_until)s, attempts = attempts + 1, held = NULL,
        updated_at = %(now)s
    WHERE project = %(project)s AND account = %(account)s AND post_id = ANY(%(ids)s)
      AND state = 'scheduled'
      AND (%(ignore_backoff)s OR next_attempt_at IS NULL OR next_attempt_at <= %(now)s)
    RETURNING *
), said AS (
    INSERT INTO events (project, post_id, account, variant, occurrence, at, state, detail)
    SELECT project, post_id, account, '', '', %(now)s, 'publishing', %(token)s FROM claimed
)
SELECT EXISTS (
           SELECT 1 FROM parts AS p
           WHERE p.project = claimed.project AND p.account = claimed.account
             AND p.post_id = claimed.post_id
       ) AS has_parts,
       claimed.*
FROM claimed
"""


class _Start(TypedDict):
    """The state a new delivery starts in, and why when it is not scheduled."""

    state: str
    error: str | None


#: A new delivery's start, when nothing stands in its way.
_SCHEDULED: _Start = {"state": "scheduled", "error": None}

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text),
)


@dataclass(frozen=True)
class Delivery:
    project: str
    post_id: str
    account: str
    variant: str
    occurrence: str
    network: str
    state: str
    queue: str | None
    scheduled_at: datetime | None
    digest: str | None
    attempts: int
    error: str | None
    claimed_by: str | None
    claimed_at: datetime | None
    lease_until: datetime | None
    next_attempt_at: datetime | None
    late_ok: bool
    held: str | None
    in_flight: int | None
    idem_key: str | None
    idem_record: str | None
    sent_at: datetime | None
    remote_id: str | None
    url: str | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def but(self, **changes: Any) -> Delivery:
        """The delivery with ``changes`` (as :func:`dataclasses.replace`
        gives it, for a fraction of the time: a send makes one a post)."""
        if not changes.keys() <= _DELIVERY_FIELDS:
            unknown = sorted(changes.keys() - _DELIVERY_FIELDS)
            raise TypeError(f"not fields of a delivery: {unknown}")
        values = dict(self.__dict__)
        values.update(changes)
        return _made(values)


#: Every field of a delivery, and those that are times.
_DELIVERY_FIELDS = frozenset(f.name for f in fields(Delivery))
_DELIVERY_TIMES = tuple(f.name for f in fields(Delivery) if str(f.type).startswith("datetime"))


def _made(values: dict[str, Any]) -> Delivery:
    """A delivery from a value for each of its fields, made without the
    frozen dataclass's ``__init__`` (a call of ``object.__setattr__`` for
    each of its 27 fields), which every row read for a send costs; the
    same object, as immutable.  Any other set of names goes through
    ``__init__``, which says what is wrong."""
    if values.keys() != _DELIVERY_FIELDS:
        return Delivery(**values)
    made = object.__new__(Delivery)
    made.__dict__.update(values)
    return made


def _from_row(row: Any) -> Delivery:
    """A delivery from a row of ``deliveries`` that SQLAlchemy read."""
    return _made(dict(row._mapping))


@dataclass(frozen=True)
class Wanted:
    """A delivery as the project has it now, to be a row before it is due."""

    post_id: str
    account: str
    network: str
    queue: str | None
    scheduled_at: datetime | None
    digest: str
    #: It fills a slot of an evergreen queue (see ``evergreen_slots``).
    slot: bool = False


@dataclass(frozen=True)
class PartRecord:
    idx: int
    remote_id: str | None
    url: str | None
    published_at: datetime


class Ledger:
    """Every read and write of one project's rows in the ledger."""

    @staticmethod
    def for_project(
        root: Path, config: Config, environ: Mapping[str, str], *, create: bool = True
    ) -> Ledger | None:
        """The project's ledger, where megaphone.yaml and the environment say
        it is; None when ``create`` is false and there is none yet."""
        from megaphone.store.view import ledger_url, project_id

        url = ledger_url(root, config.ledger, environ)
        _refuse_memory(url)
        path = sqlite_path(url)
        if not create and path is not None and not os.path.exists(path):
            return None
        project = project_id(root, config.project_id, url, create=create)
        if project is None:
            return None
        return Ledger(url, project=project, create=create)

    def __init__(self, url: str, *, project: str = LOCAL_ID, create: bool = True) -> None:
        self.url = url
        self.project = project
        self._statements: dict[Any, Any] = {}
        #: PostgreSQL: connections whose every statement is a transaction.
        self._single: Engine | None = None
        #: PostgreSQL through psycopg 3: every post's writes go straight
        #: through the driver (see ``_driver_rows``).
        self._driver = False
        #: The driver's connections not in use (see ``_driver_rows``).
        self._spare: deque[tuple[Any, Any]] = deque()
        #: SQLite only: the threads of this process take turns writing
        #: (a database server lets them write at once).
        self._write_lock: threading.Lock | contextlib.nullcontext[None] = (
            threading.Lock() if sqlite_path(url) is not None else contextlib.nullcontext()
        )
        _refuse_memory(url)
        path = sqlite_path(url)
        try:
            if path is not None:
                folder = os.path.dirname(path) or "."
                if create:
                    _make_folder(folder)
                elif not os.path.exists(path):
                    raise LedgerError(f"no ledger at {path}")
                if os.path.exists(path) and not os.path.isfile(path):
                    raise LedgerError(f"the ledger {path} is not a file")
                # Writes begin IMMEDIATE (the write lock at once); reads begin
                # deferred and, in WAL mode, never wait for a writer.
                pool = {"pool_size": 4, "max_overflow": 32}
                self.engine: Engine = sa.create_engine(url, connect_args={"timeout": 30}, **pool)
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
                sa.event.listen(self.engine, "begin", _sqlite_begin_immediate)
                self.reader: Engine = sa.create_engine(url, connect_args={"timeout": 30}, **pool)
                sa.event.listen(self.reader, "connect", _sqlite_pragmas)
                sa.event.listen(self.reader, "begin", _sqlite_begin)
            else:
                # One connection per publishing thread (accounts in parallel).
                self.engine = sa.create_engine(engine_url(url), pool_size=8, max_overflow=32)
                if self.engine.dialect.name == "postgresql":
                    sa.event.listen(self.engine, "connect", _pg_session)
                    sa.event.listen(self.engine, "checkout", _drop_if_closed)
                    # A write of one statement is its own transaction: no
                    # BEGIN and COMMIT, two round trips fewer.
                    self._single = self.engine.execution_options(isolation_level="AUTOCOMMIT")
                    self._driver = self.engine.dialect.driver == "psycopg"
                self.reader = self.engine
        except LedgerError:
            raise
        except ImportError as e:
            if "psycopg" in str(e):
                raise LedgerError(
                    "a ledger on PostgreSQL needs psycopg: pip install 'megaphone[postgres]'"
                ) from None
            raise LedgerError(f"the ledger: {_short(e)}") from None
        except (sa.exc.SQLAlchemyError, ValueError) as e:
            raise LedgerError(f"the ledger: {_short(e)}") from None
        with self._reading() as c:
            current = _version(c) == SCHEMA_VERSION
        if not current:
            with self._writing() as c:
                if c.dialect.name == "postgresql":
                    # One process makes or migrates the tables; the others
                    # wait here, then find them made.
                    c.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
                _prepare(c, project)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction.  On SQLite the threads of this process take
        turns on a lock first: SQLite's own wait for its write lock sleeps in
        steps of up to 100 ms, which is for other processes only."""
        try:
            with self._write_lock, self.engine.begin() as c:
                yield c
        except sa.exc.SQLAlchemyError as e:
            raise LedgerError(f"the ledger: {_short(e)}") from None

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self.reader.connect() as c:
                yield c
        except sa.exc.SQLAlchemyError as e:
            raise LedgerError(f"the ledger: {_short(e)}") from None

    def close(self) -> None:
        while self._spare:
            with contextlib.suppress(Exception):
                self._spare.pop()[0].close()
        self.engine.dispose()
        self.reader.dispose()

    # ------------------------------------------------ statements made once
    #
    # The writes of every post (a fence, a part recorded, a claim released)
    # are made once per ledger with bound parameters: SQLAlchemy builds and
    # keys a new statement object each time otherwise, which costs more than
    # the round trip to a database server.

    def _claim_update(self, names: tuple[str, ...], *, live: bool = False) -> Any:
        """``UPDATE deliveries SET <names>`` of one delivery, under this owner's
        claim (``live``: whose lease has not run out, the fence)."""
        key = ("held", names, live)
        statement = self._statements.get(key)
        if statement is None:
            d = deliveries.c
            condition = [
                d.project == sa.bindparam("w_project"),
                d.post_id == sa.bindparam("w_post_id"),
                d.account == sa.bindparam("w_account"),
                d.state == "publishing",
                d.claimed_by == sa.bindparam("w_token"),
            ]
            if live:
                condition.append(d.lease_until > sa.bindparam("w_now", type_=UTCDateTime))
            statement = (
                deliveries.update()
                .where(*condition)
                .values({n: sa.bindparam(f"v_{n}", type_=deliveries.c[n].type) for n in names})
            )
            self._statements[key] = statement
        return statement

    def _under_claim(
        self,
        c: Connection,
        post_id: str,
        account: str,
        token: str,
        values: Mapping[str, Any],
        *,
        live_at: datetime | None = None,
    ) -> bool:
        """Write ``values`` to a delivery this owner holds (still live at
        ``live_at``, when given); whether it did."""
        names = tuple(sorted(values))
        params = {f"v_{n}": values[n] for n in names}
        params.update(w_project=self.project, w_post_id=post_id, w_account=account, w_token=token)
        if live_at is not None:
            params["w_now"] = live_at
        statement = self._claim_update(names, live=live_at is not None)
        return bool(c.execute(statement, params).rowcount == 1)

    def _ours(self) -> tuple[Any]:
        """The conditions that pick this project's deliveries (of every
        language and occurrence: a delivery's ``post_id`` is its whole id)."""
        return (deliveries.c.project == self.project,)

    def _key(self, post_id: str, account: str) -> tuple[Any, Any, Any]:
        """The conditions that pick one delivery of this project."""
        return (
            deliveries.c.project == self.project,
            deliveries.c.post_id == post_id,
            deliveries.c.account == account,
        )

    # ---------------------------------------------------------------- reads

    def get(self, post_id: str, account: str) -> Delivery | None:
        with self._reading() as c:
            row = c.execute(sa.select(deliveries).where(*self._key(post_id, account))).first()
        return _from_row(row) if row else None

    def all(self) -> list[Delivery]:
        with self._reading() as c:
            rows = c.execute(
                sa.select(deliveries).where(deliveries.c.project == self.project)
            ).all()
        return [_from_row(r) for r in rows]

    def of_post(self, post_id: str) -> list[Delivery]:
        with self._reading() as c:
            rows = c.execute(
                sa.select(deliveries).where(
                    deliveries.c.project == self.project, deliveries.c.post_id == post_id
                )
            ).all()
        return [_from_row(r) for r in rows]

    def parts(self, post_id: str, account: str) -> dict[int, PartRecord]:
        with self._reading() as c:
            rows = c.execute(
                sa.select(parts.c.idx, parts.c.remote_id, parts.c.url, parts.c.published_at)
                .where(
                    parts.c.project == self.project,
                    parts.c.post_id == post_id,
                    parts.c.account == account,
                )
                .order_by(parts.c.idx)
            ).all()
        return {r.idx: PartRecord(r.idx, r.remote_id, r.url, r.published_at) for r in rows}

    def parts_since(self, account: str, since: datetime) -> int:
        """Posts (thread parts count one each) the account published since ``since``."""
        with self._reading() as c:
            count = c.execute(
                sa.select(sa.func.count())
                .select_from(parts)
                .where(
                    parts.c.project == self.project,
                    parts.c.account == account,
                    parts.c.published_at >= since,
                )
            ).scalar()
        return int(count or 0)

    def events(self, post_id: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(events).where(events.c.project == self.project).order_by(events.c.id)
        if post_id is not None:
            query = query.where(events.c.post_id == post_id)
        with self._reading() as c:
            return [dict(r._mapping) for r in c.execute(query).all()]

    def get_meta(self, key: str) -> str | None:
        with self._reading() as c:
            value: str | None = c.execute(
                sa.select(meta.c.value).where(meta.c.key == self._meta_key(key))
            ).scalar()
        return value

    def set_meta(self, key: str, value: str) -> None:
        with self._writing() as c:
            _upsert_meta(c, self._meta_key(key), value)

    def meta_items(self, prefix: str) -> dict[str, str]:
        """This project's values whose keys start with ``prefix``."""
        start = self._meta_key(prefix)
        with self._reading() as c:
            rows = c.execute(
                sa.select(meta.c.key, meta.c.value).where(
                    meta.c.key.startswith(start, autoescape=True)
                )
            ).all()
        cut = len(self._meta_key(""))
        return {k[cut:]: v for k, v in rows if v is not None}

    def delete_meta(self, key: str) -> None:
        with self._writing() as c:
            c.execute(meta.delete().where(meta.c.key == self._meta_key(key)))

    def _meta_key(self, key: str) -> str:
        return f"{self.project}:{key}"

    # --------------------------------------------------------------- writes

    def ensure(
        self,
        post_id: str,
        account: str,
        *,
        network: str,
        queue: str,
        scheduled_at: datetime | None,
        digest: str,
        now: datetime,
        slot: bool = False,
    ) -> None:
        """A delivery row for the post and account, ``scheduled`` if new.  A
        post that was missed or expired and has since been given a new time
        is scheduled again.  ``slot``: it fills an evergreen slot."""
        key = self._key(post_id, account)
        wanted = Wanted(post_id, account, network, queue, scheduled_at, digest)
        d = deliveries.c
        with self._writing() as c:
            row = c.execute(
                sa.select(d.state, d.scheduled_at, d.digest, d.queue).where(*key)
            ).first()
            if row is None:
                self._new_row(
                    c,
                    post_id,
                    account,
                    now,
                    network=network,
                    queue=queue,
                    scheduled_at=scheduled_at,
                    digest=digest,
                    slot=slot,
                )
                return
            values = changes_for(row, wanted)
            if values:
                c.execute(
                    deliveries.update()
                    .where(*key, d.state == row.state)
                    .values(updated_at=now, **values)
                )
                if values.get("state") == "scheduled":
                    self._event(c, post_id, account, now, "scheduled", "given a new time")

    def claim(
        self,
        post_id: str,
        account: str,
        *,
        token: str,
        now: datetime,
        lease_until: datetime,
        digest: str | None = None,
        ignore_backoff: bool = False,
        create: Mapping[str, Any] | None = None,
        in_flight: int | None = None,
        idem_key: str | None = None,
    ) -> Delivery | None:
        """Move a scheduled delivery to ``publishing`` for ``token``, its
        lease until ``lease_until``; None when another process holds it or it
        is not (or not yet) to be sent.

        ``create``: the row's values (network, queue, scheduled_at, digest),
        to make it first when it is new.  ``in_flight``: the part about to be
        sent right after (one write fewer than :meth:`sending`), and
        ``idem_key`` the key it is sent with."""
        condition = [*self._key(post_id, account), deliveries.c.state == "scheduled"]
        if not ignore_backoff:
            condition.append(
                sa.or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now)
            )
        values: dict[str, Any] = {
            "state": "publishing",
            "claimed_by": token,
            "claimed_at": now,
            "lease_until": lease_until,
            "attempts": deliveries.c.attempts + 1,
            "held": None,
            "updated_at": now,
        }
        if digest is not None:
            values["digest"] = digest
        if in_flight is not None:
            values.update(in_flight=in_flight, sent_at=now, idem_key=idem_key, idem_record=None)
        with self._writing() as c:
            if create is not None:
                self._new_row(c, post_id, account, now, **create)
            result = c.execute(deliveries.update().where(*condition).values(**values))
            if result.rowcount != 1:
                return None
            self._event(c, post_id, account, now, "publishing", token)
            row = c.execute(sa.select(deliveries).where(*self._key(post_id, account))).one()
        return _from_row(row)

    def _held(self, post_id: str, account: str, token: str) -> list[Any]:
        """The conditions of a write under a claim: still this owner's."""
        return [
            *self._key(post_id, account),
            deliveries.c.state == "publishing",
            deliveries.c.claimed_by == token,
        ]

    def _live(self, post_id: str, account: str, token: str, now: datetime) -> list[Any]:
        """…and its lease not run out: the condition of the write made just
        before a part is sent (the fence)."""
        return [*self._held(post_id, account, token), deliveries.c.lease_until > now]

    def renew(
        self, post_id: str, account: str, *, token: str, now: datetime, lease_until: datetime
    ) -> bool:
        """Extend the lease of a claim this owner still holds (and whose
        lease has not run out); False when it is no longer this owner's."""
        with self._writing() as c:
            result = c.execute(
                deliveries.update()
                .where(*self._live(post_id, account, token, now))
                .values(lease_until=lease_until)
            )
        return result.rowcount == 1

    def take_over(
        self,
        post_id: str,
        account: str,
        *,
        old_token: str | None,
        token: str,
        now: datetime,
        lease_until: datetime,
        owner_gone: bool = False,
    ) -> bool:
        """Take an abandoned ``publishing`` claim, to reconcile it: its lease
        has run out — or ``owner_gone``, when the caller saw for itself that
        the owner's process is no more."""
        condition = [
            *self._key(post_id, account),
            deliveries.c.state == "publishing",
            deliveries.c.claimed_by.is_(None)
            if old_token is None
            else deliveries.c.claimed_by == old_token,
        ]
        if not owner_gone:
            condition.append(
                sa.or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until <= now)
            )
        with self._writing() as c:
            result = c.execute(
                deliveries.update()
                .where(*condition)
                .values(claimed_by=token, claimed_at=now, lease_until=lease_until, updated_at=now)
            )
            if result.rowcount != 1:
                return False
            self._event(c, post_id, account, now, "publishing", f"taken over from {old_token}")
        return True

    def reclaim(
        self,
        post_id: str,
        account: str,
        *,
        from_state: str,
        token: str,
        now: datetime,
        lease_until: datetime,
        why: str | None = None,
    ) -> bool:
        """Claim a settled delivery (``unknown``) to resolve it."""
        with self._writing() as c:
            result = c.execute(
                deliveries.update()
                .where(*self._key(post_id, account), deliveries.c.state == from_state)
                .values(
                    state="publishing",
                    claimed_by=token,
                    claimed_at=now,
                    lease_until=lease_until,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                return False
            self._event(c, post_id, account, now, "publishing", why or f"resolving {from_state}")
        return True

    def attempt_failed(
        self,
        post_id: str,
        account: str,
        *,
        token: str,
        error: str,
        now: datetime,
        lease_until: datetime,
    ) -> None:
        """An attempt failed in a way safe to retry, and the claim is kept for
        the next attempt."""
        with self._writing() as c:
            result = c.execute(
                deliveries.update()
                .where(*self._held(post_id, account, token))
                .values(
                    attempts=deliveries.c.attempts + 1,
                    error=error,
                    lease_until=lease_until,
                    in_flight=None,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                raise LeaseLost(f"{post_id} ({account}): another run holds it now")
            self._event(c, post_id, account, now, "publishing", f"retrying: {error}")

    def sending(
        self,
        post_id: str,
        account: str,
        idx: int,
        *,
        token: str,
        now: datetime,
        lease_until: datetime,
        idem_key: str | None = None,
        idem_record: str | None = None,
    ) -> None:
        """Part ``idx`` is about to be sent (with ``idem_key``, and the exact
        request ``idem_record`` where the network needs one, stored here
        before the first send): the fence.  Raises :class:`LeaseLost` when
        the claim is no longer this owner's, or its lease ran out — then
        nothing may be sent."""
        with self._writing() as c:
            fenced = self._under_claim(
                c,
                post_id,
                account,
                token,
                {
                    "in_flight": idx,
                    "idem_key": idem_key,
                    "idem_record": idem_record,
                    "sent_at": now,
                    "lease_until": lease_until,
                    "updated_at": now,
                },
                live_at=now,
            )
        if not fenced:
            raise LeaseLost(
                f"{post_id} ({account}): this run's claim ran out or was taken over; "
                "it sends nothing more and leaves the post to the run that holds it"
            )

    def record_part(
        self,
        post_id: str,
        account: str,
        idx: int,
        *,
        token: str,
        remote_id: str | None,
        url: str | None,
        now: datetime,
        lease_until: datetime,
        next_in_flight: int | None = None,
        next_key: str | None = None,
        publish: tuple[str | None, str | None] | None = None,
        idem_key: str | None = None,
        extra: str | None = None,
        then: tuple[str, str | None] | None = None,
    ) -> bool:
        """A thread part is live: recorded at once, so it is never sent again
        — even by a run that lost its claim meanwhile (what is live is a
        fact the new holder needs).  In the same write, under the claim: the
        next part about to be sent (``next_in_flight``: a fence, like
        :meth:`sending`, with ``next_key``), or, for the last part, the post
        published with ``publish`` (its remote id and URL).  ``idem_key``:
        the key the part went with; ``extra``: what the network needs of it
        later (a Bluesky cid).  ``then``: with ``publish``, the account's next
        post this owner claimed (its id, and its first part's key), marked in
        flight in the same write; whether it was."""
        if publish is not None and self._single is not None:
            published, fenced = self._last_part(
                {
                    "project": self.project,
                    "post_id": post_id,
                    "account": account,
                    "idx": idx,
                    "remote_id": remote_id,
                    "url": url,
                    "remote_extra": extra,
                    "idem_key": idem_key,
                    "now": now,
                    "token": token,
                    "p_remote_id": publish[0],
                    "p_url": publish[1],
                    "lost": _lost_claim(idx, url),
                    "next_id": then[0] if then is not None else None,
                    "next_key": then[1] if then is not None else None,
                    "lease_until": lease_until,
                }
            )
            if not published:
                raise _live_but_lost(post_id, account, idx)
            return fenced
        with self._writing() as c:
            statement = self._statements.get("part")
            if statement is None:
                statement = self._statements["part"] = _insert_ignore(c, parts)
            c.execute(
                statement,
                {
                    "project": self.project,
                    "post_id": post_id,
                    "account": account,
                    "variant": "",
                    "occurrence": "",
                    "idx": idx,
                    "remote_id": remote_id,
                    "url": url,
                    "remote_extra": extra,
                    "idem_key": idem_key,
                    "published_at": now,
                },
            )
            if publish is not None:
                # The last part: the post is published, in the same write.
                lost = not self._finish(
                    c,
                    post_id,
                    account,
                    token=token,
                    state="published",
                    now=now,
                    remote_id=publish[0],
                    url=publish[1],
                )
            else:
                lost = not self._under_claim(
                    c,
                    post_id,
                    account,
                    token,
                    {
                        "in_flight": next_in_flight,
                        "idem_key": next_key if next_in_flight is not None else None,
                        "idem_record": None,
                        "sent_at": now if next_in_flight is not None else None,
                        "lease_until": lease_until,
                        "updated_at": now,
                    },
                    live_at=now if next_in_flight is not None else None,
                )
            if lost:
                self._event(
                    c,
                    post_id,
                    account,
                    now,
                    "publishing",
                    _lost_claim(idx, url),
                )
            fenced = False
            if then is not None and not lost:
                next_id, key = then
                fenced = self._under_claim(
                    c,
                    next_id,
                    account,
                    token,
                    {
                        "in_flight": 0,
                        "idem_key": key,
                        "idem_record": None,
                        "sent_at": now,
                        "lease_until": lease_until,
                        "updated_at": now,
                    },
                    live_at=now,
                )
        if lost:
            raise _live_but_lost(post_id, account, idx)
        return fenced

    def release_interrupted(
        self,
        post_id: str,
        account: str,
        *,
        token: str,
        now: datetime,
        nothing_sent: str = "scheduled",
        why: str = "interrupted",
    ) -> str:
        """A run stopped mid-post (Ctrl-C, SIGTERM, a bug): ``unknown`` if a
        part's request may have left, else ``nothing_sent`` (scheduled
        again, or failed for a bug)."""
        with self._writing() as c:
            in_flight = c.execute(
                sa.select(deliveries.c.in_flight).where(*self._held(post_id, account, token))
            ).scalar()
            if in_flight is None:
                state, error = nothing_sent, f"{why} before a part was sent"
            else:
                state = "unknown"
                error = f"{why} while part {in_flight + 1} was being sent; " + what_to_do(post_id)
            self._finish(c, post_id, account, token=token, state=state, now=now, error=error)
        return state

    def finish(
        self,
        post_id: str,
        account: str,
        *,
        token: str,
        state: str,
        now: datetime,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
        remote_id: str | None = None,
        url: str | None = None,
        held: bool = False,
    ) -> bool:
        """Release a claim with the delivery's new state; False when the
        claim is not this owner's any more (nothing is written).  ``held``:
        a scheduled delivery that waits for a person (``blocked``)."""
        with self._writing() as c:
            return self._finish(
                c,
                post_id,
                account,
                token=token,
                state=state,
                now=now,
                error=error,
                next_attempt_at=next_attempt_at,
                remote_id=remote_id,
                url=url,
                held=held,
            )

    def _last_part(self, params: Mapping[str, Any]) -> tuple[bool, bool]:
        """:meth:`record_part` of a post's last part on PostgreSQL, in one
        statement (one round trip, where the general write takes six): the
        part, the post published under the claim and its event (or, the
        claim lost, the event that says the part is live), and the next
        post's fence.  Whether the post was published, and fenced."""
        assert self._single is not None
        if self._driver:
            row = self._driver_rows(_LAST_PART_SQL, params)[1][0]
        else:
            try:
                with self._single.connect() as c:
                    row = c.execute(_LAST_PART, params).one()
            except sa.exc.SQLAlchemyError as e:
                raise LedgerError(f"the ledger: {_short(e)}") from None
        return bool(row[0]), bool(row[1])

    def _driver_rows(
        self, sql: str, params: Mapping[str, Any]
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """One statement, its own transaction, straight through psycopg,
        prepared once per connection: its columns' names and its rows.
        Every post's writes go this way: SQLAlchemy's own work for a
        statement (a connection object from its pool, the compiled form
        looked up, each value of the result processed) costs the interpreter
        more than the driver's, and each account's thread waits for the
        interpreter behind the others.  The connections are the ledger's
        own, in autocommit (no BEGIN and COMMIT: two round trips fewer),
        kept between statements; one the server closed is dropped."""
        conn, cursor = self._driver_connection()
        try:
            cursor.execute(sql, params, prepare=True)
            names = [column.name for column in cursor.description or ()]
            rows = cursor.fetchall()
        except self.engine.dialect.loaded_dbapi.Error as e:
            if conn.closed:
                self._driver_spoilt(conn)
            else:
                self._driver_done(conn, cursor)
            raise LedgerError(f"the ledger: {_short(e)}") from None
        except BaseException:
            self._driver_spoilt(conn)  # interrupted mid-statement: not used again
            raise
        self._driver_done(conn, cursor)
        return names, rows

    #: Idle driver connections kept: as many as a burst's account threads
    #: use at once (SQLAlchemy's pool may open as many; one closed and made
    #: again each time costs the ledger's server a new backend process).
    SPARE_CONNECTIONS = 32

    def keep_ready(self, connections: int) -> None:
        """Have ``connections`` idle driver connections (up to
        SPARE_CONNECTIONS) made now, ahead of a burst (the worker asks,
        before its posts' time): its accounts' threads would otherwise each
        wait for a new one at once, and the server for as many new backends.
        Nothing to do on SQLite."""
        if not self._driver:
            return
        for _ in range(min(connections, self.SPARE_CONNECTIONS) - len(self._spare)):
            self._driver_done(*self._new_driver_connection())

    def _driver_connection(self) -> tuple[Any, Any]:
        """An idle driver connection of the ledger's and its cursor (kept
        with it: a cursor made for each statement costs more than the
        statement's own work in the driver), or a new one."""
        while True:
            try:
                conn, cursor = self._spare.pop()
            except IndexError:
                break
            try:
                _drop_if_closed(conn, None, None)
            except sa.exc.DisconnectionError:
                self._driver_spoilt(conn)
                continue
            return conn, cursor
        return self._new_driver_connection()

    def _new_driver_connection(self) -> tuple[Any, Any]:
        """A new driver connection, made as SQLAlchemy would make it (the
        same URL and arguments), in autocommit, and its cursor."""
        dialect = self.engine.dialect
        try:
            cargs, cparams = dialect.create_connect_args(self.engine.url)
            conn = dialect.connect(*cargs, **cparams)
            conn.autocommit = True
        except dialect.loaded_dbapi.Error as e:
            raise LedgerError(f"the ledger: {_short(e)}") from None
        return conn, conn.cursor()

    def _driver_done(self, conn: Any, cursor: Any) -> None:
        if len(self._spare) < self.SPARE_CONNECTIONS:
            self._spare.append((conn, cursor))
        else:
            self._driver_spoilt(conn)

    @staticmethod
    def _driver_spoilt(conn: Any) -> None:
        with contextlib.suppress(Exception):
            conn.close()

    def _finish(
        self,
        c: Connection,
        post_id: str,
        account: str,
        *,
        token: str,
        state: str,
        now: datetime,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
        remote_id: str | None = None,
        url: str | None = None,
        held: bool = False,
    ) -> bool:
        assert state in STATES
        values: dict[str, Any] = {
            "state": state,
            "claimed_by": None,
            "lease_until": None,
            "error": error,
            "held": (error or "held") if held else None,
            "next_attempt_at": next_attempt_at,
            "updated_at": now,
        }
        if state != "unknown":
            values.update(in_flight=None, sent_at=None)  # nothing is in doubt
        if state == "published":
            values.update(remote_id=remote_id, url=url, published_at=now)
        if not self._under_claim(c, post_id, account, token, values):
            return False
        self._event(c, post_id, account, now, "blocked" if held else state, error or url)
        return True

    def settle(
        self,
        post_id: str,
        account: str,
        *,
        state: str,
        now: datetime,
        error: str | None = None,
        only_from: Iterable[str] = ("scheduled",),
    ) -> bool:
        """Move an unclaimed delivery to ``state`` (``missed``, ``expired``)."""
        with self._writing() as c:
            result = c.execute(
                deliveries.update()
                .where(*self._key(post_id, account), deliveries.c.state.in_(list(only_from)))
                .values(state=state, error=error, updated_at=now)
            )
            if result.rowcount != 1:
                return False
            self._event(c, post_id, account, now, state, error)
        return True

    def note(
        self, post_id: str, account: str, *, error: str, now: datetime, held: bool = False
    ) -> None:
        """Why a scheduled delivery was not sent this time (it stays
        scheduled; ``held``: until a person acts — ``blocked``)."""
        with self._writing() as c:
            c.execute(
                deliveries.update()
                .where(*self._key(post_id, account), deliveries.c.state == "scheduled")
                .values(error=error, held=error if held else None, updated_at=now)
            )

    # ------------------------------------------------- publishing in batches

    def sync(self, wanted: Iterable[Wanted], *, now: datetime) -> dict[tuple[str, str], Delivery]:
        """Make every delivery the project has a row before it is due, and
        bring rows not sent yet up to the project's values (a new time, new
        text): one transaction, whatever the number.  Returns the rows."""
        # One of each delivery (a run may name a due post twice: as due, and
        # as one of the project's dated posts).
        wanted = list({(w.post_id, w.account): w for w in wanted}.values())
        with self._writing() as c:
            found = {
                (r.post_id, r.account): r
                for r in c.execute(sa.select(deliveries).where(*self._ours())).all()
            }
            new: list[dict[str, Any]] = []
            changed: list[tuple[Any, dict[str, Any]]] = []
            # Evergreen slots are taken first, in one order in every run (so
            # that two never wait on each other).
            slotted = sorted(
                (w for w in wanted if w.slot and (w.post_id, w.account) not in found),
                key=lambda w: (w.queue or "", w.account, w.post_id),
            )
            starts = {
                (w.post_id, w.account): self._slot_state(c, w.post_id, w.account, w.queue)
                for w in slotted
            }
            for w in wanted:
                row = found.get((w.post_id, w.account))
                if row is None:
                    new.append(
                        {
                            "project": self.project,
                            "post_id": w.post_id,
                            **_parts_of(w.post_id),
                            "account": w.account,
                            "network": w.network,
                            "queue": w.queue,
                            "scheduled_at": w.scheduled_at,
                            "digest": w.digest,
                            "attempts": 0,
                            "late_ok": False,
                            "created_at": now,
                            "updated_at": now,
                            **starts.get((w.post_id, w.account), _SCHEDULED),
                        }
                    )
                    continue
                values = changes_for(row, w)
                if values:
                    changed.append((row, values))
            if new:
                inserted = c.execute(
                    _insert_ignore(c, deliveries).returning(
                        deliveries.c.post_id, deliveries.c.account
                    ),
                    new,
                ).all()
                made = []
                for r in inserted:
                    start = starts.get((r.post_id, r.account), _SCHEDULED)
                    made.append((r.post_id, r.account, start["state"], start["error"]))
                self._events(c, made, now)
            for row, values in changed:
                c.execute(
                    deliveries.update()
                    .where(*self._key(row.post_id, row.account), deliveries.c.state == row.state)
                    .values(updated_at=now, **values)
                )
                if values.get("state") == "scheduled":
                    self._event(c, row.post_id, row.account, now, "scheduled", "given a new time")
            rows = (
                c.execute(sa.select(deliveries).where(*self._ours())).all()
                if (new or changed)
                else list(found.values())
            )
        return {(r.post_id, r.account): _from_row(r) for r in rows}

    def in_doubt(self) -> list[Delivery]:
        """Deliveries a run may have left in doubt: ``publishing`` and ``unknown``."""
        with self._reading() as c:
            rows = c.execute(
                sa.select(deliveries).where(
                    *self._ours(), deliveries.c.state.in_(["publishing", "unknown"])
                )
            ).all()
        return [_from_row(r) for r in rows]

    def take_account(
        self,
        account: str,
        *,
        token: str,
        now: datetime,
        lease_until: datetime,
        abandoned: Callable[[str | None, datetime | None], bool],
        read: Iterable[str] = (),
    ) -> dict[str, Delivery] | None:
        """Take (or keep) the lease on ``account``: only its holder sends the
        account's posts.  None when another run holds it (and is not gone,
        by ``abandoned``); else the rows of the posts ``read``, read in the
        same transaction."""
        ids = list(read)
        if self._driver:
            names, taken = self._driver_rows(
                _TAKE_ACCOUNT_SQL,
                {
                    "project": self.project,
                    "account": account,
                    "token": token,
                    "now": now,
                    "lease_until": lease_until,
                    "ids": ids,
                },
            )
            got, made, holder, holder_until = taken[0][:_TAKE_ACCOUNT_WIDTH]
            if got:
                # One row with no delivery when none of ``ids`` is there.
                columns = names[_TAKE_ACCOUNT_WIDTH:]
                post_id = _TAKE_ACCOUNT_WIDTH + columns.index("post_id")
                found = (
                    _delivery(columns, row[_TAKE_ACCOUNT_WIDTH:])
                    for row in taken
                    if row[post_id] is not None
                )
                return {d.post_id: d for d in found}
            if made and not abandoned(holder, holder_until and _utc(holder_until)):
                return None  # another run's, and it lives
            # Its holder is gone (or, made by another run at this very
            # moment, not in the statement's view): the general write below
            # takes it from that run, or says who holds it.
        lease = account_leases.c
        mine = (lease.project == self.project, lease.account == account)
        with self._writing() as c:
            got = c.execute(
                account_leases.update()
                .where(
                    *mine,
                    sa.or_(
                        lease.claimed_by.is_(None),
                        lease.claimed_by == token,
                        lease.lease_until <= now,
                    ),
                )
                .values(claimed_by=token, lease_until=lease_until)
            ).rowcount
            if not got:
                holder = c.execute(
                    sa.select(lease.claimed_by, lease.lease_until).where(*mine)
                ).first()
                if holder is None:
                    got = _inserted(
                        c,
                        account_leases,
                        project=self.project,
                        account=account,
                        claimed_by=token,
                        lease_until=lease_until,
                    )
                elif abandoned(holder.claimed_by, holder.lease_until):
                    got = c.execute(
                        account_leases.update()
                        .where(*mine, lease.claimed_by == holder.claimed_by)
                        .values(claimed_by=token, lease_until=lease_until)
                    ).rowcount
            if not got:
                return None
            if not ids:
                return {}
            rows = c.execute(
                sa.select(deliveries).where(
                    *self._ours(),
                    deliveries.c.account == account,
                    deliveries.c.post_id.in_(ids),
                )
            ).all()
        return {r.post_id: _from_row(r) for r in rows}

    def release_account(self, account: str, *, token: str) -> None:
        """Let another run take ``account`` (this run sends none of its posts now)."""
        lease = account_leases.c
        with self._writing() as c:
            c.execute(
                account_leases.update()
                .where(
                    lease.project == self.project,
                    lease.account == account,
                    lease.claimed_by == token,
                )
                .values(claimed_by=None, lease_until=None)
            )

    def claim_batch(
        self,
        account: str,
        post_ids: list[str],
        *,
        token: str,
        now: datetime,
        lease_until: datetime,
        ignore_backoff: bool = False,
    ) -> dict[str, tuple[Delivery, dict[int, PartRecord]]]:
        """:meth:`claim` for several posts of one account in one transaction,
        with the parts already live of each: what it claimed, by post id."""
        if not post_ids:
            return {}
        if self._driver:
            # One statement; the parts of a post claimed again after some
            # went out are read after it.
            names, got = self._driver_rows(
                _CLAIM_BATCH_SQL,
                {
                    "project": self.project,
                    "account": account,
                    "token": token,
                    "now": now,
                    "lease_until": lease_until,
                    "ids": post_ids,
                    "ignore_backoff": ignore_backoff,
                },
            )
            claimed = {}
            for row in got:
                delivery = _delivery(names[1:], row[1:])
                done = self.parts(delivery.post_id, account) if row[0] else {}
                claimed[delivery.post_id] = (delivery, done)
            return claimed
        d = deliveries.c
        condition = [
            *self._ours(),
            d.account == account,
            d.post_id.in_(post_ids),
            d.state == "scheduled",
        ]
        if not ignore_backoff:
            condition.append(sa.or_(d.next_attempt_at.is_(None), d.next_attempt_at <= now))
        with self._writing() as c:
            c.execute(
                deliveries.update()
                .where(*condition)
                .values(
                    state="publishing",
                    claimed_by=token,
                    claimed_at=now,
                    lease_until=lease_until,
                    attempts=d.attempts + 1,
                    held=None,
                    updated_at=now,
                )
            )
            rows = c.execute(
                sa.select(deliveries).where(
                    *self._ours(),
                    d.account == account,
                    d.post_id.in_(post_ids),
                    d.state == "publishing",
                    d.claimed_by == token,
                    d.claimed_at == now,
                )
            ).all()
            if not rows:
                return {}
            self._events(c, [(r.post_id, account, "publishing", token) for r in rows], now)
            live: dict[str, dict[int, PartRecord]] = {r.post_id: {} for r in rows}
            for p in c.execute(
                sa.select(
                    parts.c.post_id,
                    parts.c.idx,
                    parts.c.remote_id,
                    parts.c.url,
                    parts.c.published_at,
                )
                .where(
                    parts.c.project == self.project,
                    parts.c.account == account,
                    parts.c.post_id.in_(list(live)),
                )
                .order_by(parts.c.idx)
            ).all():
                live[p.post_id][p.idx] = PartRecord(p.idx, p.remote_id, p.url, p.published_at)
        return {r.post_id: (_from_row(r), live[r.post_id]) for r in rows}

    def release_claims(
        self,
        account: str,
        post_ids: list[str],
        *,
        token: str,
        now: datetime,
        error: str | None = None,
        held: bool = False,
    ) -> None:
        """Give back claims of ``account`` this run made and never sent a
        part of: scheduled again as they were (``error``: why they were not
        sent; ``held``: until a person acts)."""
        if not post_ids:
            return
        d = deliveries.c
        with self._writing() as c:
            c.execute(
                deliveries.update()
                .where(
                    *self._ours(),
                    d.account == account,
                    d.post_id.in_(post_ids),
                    d.state == "publishing",
                    d.claimed_by == token,
                    d.in_flight.is_(None),
                )
                .values(
                    state="scheduled",
                    claimed_by=None,
                    lease_until=None,
                    attempts=sa.case((d.attempts > 0, d.attempts - 1), else_=0),
                    error=error,
                    held=(error or "held") if held else None,
                    updated_at=now,
                )
            )

    def renew_all(self, *, token: str, now: datetime, lease_until: datetime) -> None:
        """Extend every lease ``token`` holds that has not run out: its
        claims, its accounts and its place among the runs."""
        d, lease = deliveries.c, account_leases.c
        with self._writing() as c:
            c.execute(
                deliveries.update()
                .where(
                    *self._ours(),
                    d.state == "publishing",
                    d.claimed_by == token,
                    d.lease_until > now,
                )
                .values(lease_until=lease_until)
            )
            c.execute(
                account_leases.update()
                .where(
                    lease.project == self.project,
                    lease.claimed_by == token,
                    lease.lease_until > now,
                )
                .values(lease_until=lease_until)
            )
            c.execute(
                runners.update()
                .where(runners.c.project == self.project, runners.c.token == token)
                .values(until=lease_until)
            )

    def join(self, *, token: str, now: datetime, until: datetime) -> int:
        """Count this run among those publishing now (until ``until``, unless
        renewed); how many there are, this one included."""
        with self._writing() as c:
            c.execute(
                runners.delete().where(runners.c.project == self.project, runners.c.until <= now)
            )
            c.execute(
                _insert_ignore(c, runners).values(project=self.project, token=token, until=until)
            )
        return self.runners(now=now)

    def runners(self, *, now: datetime) -> int:
        """How many runs publish now."""
        with self._reading() as c:
            count = c.execute(
                sa.select(sa.func.count())
                .select_from(runners)
                .where(runners.c.project == self.project, runners.c.until > now)
            ).scalar()
        return int(count or 0)

    def leave(self, *, token: str) -> None:
        """This run publishes no more: its accounts are free for others."""
        with self._writing() as c:
            c.execute(
                runners.delete().where(runners.c.project == self.project, runners.c.token == token)
            )
            c.execute(
                account_leases.update()
                .where(
                    account_leases.c.project == self.project,
                    account_leases.c.claimed_by == token,
                )
                .values(claimed_by=None, lease_until=None)
            )

    def retry(self, post_id: str, account: str, *, now: datetime) -> Delivery:
        """Send a failed, unknown, missed or expired delivery again at the next
        run, late or not; thread parts already live are kept."""
        with self._writing() as c:
            result = c.execute(
                deliveries.update()
                .where(
                    *self._key(post_id, account),
                    deliveries.c.state.in_(["failed", "unknown", "missed", "expired", "skipped"]),
                )
                .values(
                    state="scheduled",
                    error=None,
                    attempts=0,
                    next_attempt_at=None,
                    late_ok=True,
                    claimed_by=None,
                    lease_until=None,
                    in_flight=None,
                    sent_at=None,
                    updated_at=now,
                )
            )
            if result.rowcount == 1:
                self._event(c, post_id, account, now, "scheduled", "retry")
        if result.rowcount != 1:
            row = self.get(post_id, account)
            state = row.state if row else "not in the ledger"
            raise LedgerError(
                f"{post_id} ({account}) is {state}: only a failed, unknown, missed, "
                "expired or skipped post can be retried"
            )
        delivery = self.get(post_id, account)
        assert delivery is not None
        return delivery

    def mark(
        self,
        post_id: str,
        account: str,
        *,
        state: str,
        now: datetime,
        abandoned: Callable[[Delivery], bool],
        url: str | None = None,
        remote_id: str | None = None,
        network: str = "",
        queue: str | None = None,
        scheduled_at: datetime | None = None,
        digest: str | None = None,
    ) -> None:
        """Set a delivery's state by hand (what the user checked on the
        network).  ``abandoned`` tells whether a ``publishing`` claim's
        holder is gone; a live one is never overridden."""
        if state not in ("published", "skipped", "failed", "scheduled"):
            raise LedgerError(f"a post cannot be marked {state}")
        key = self._key(post_id, account)
        with self._writing() as c:
            row = c.execute(sa.select(deliveries).where(*key)).first()
            if row is None:
                self._new_row(
                    c,
                    post_id,
                    account,
                    now,
                    network=network,
                    queue=queue,
                    scheduled_at=scheduled_at,
                    digest=digest,
                )
            elif row.state == "publishing" and not abandoned(_from_row(row)):
                raise LedgerError(
                    f"{post_id} ({account}) is being published right now; try again later"
                )
            values: dict[str, Any] = {
                "state": state,
                "claimed_by": None,
                "lease_until": None,
                "error": None,
                "next_attempt_at": None,
                "in_flight": None,
                "sent_at": None,
                "updated_at": now,
            }
            if state == "published":
                values["published_at"] = now
                if url is not None:
                    values.update(url=url, remote_id=remote_id)
            c.execute(deliveries.update().where(*key).values(**values))
            self._event(c, post_id, account, now, state, f"marked by hand {url or ''}".strip())

    # ------------------------------------------------------------- helpers

    def _new_row(
        self,
        c: Connection,
        post_id: str,
        account: str,
        now: datetime,
        *,
        slot: bool = False,
        **values: Any,
    ) -> None:
        """A delivery seen for the first time: ``scheduled`` (unless another
        process made it just now), or ``skipped`` when it would fill an
        evergreen slot another post already fills."""
        state = self._slot_state(c, post_id, account, values.get("queue")) if slot else _SCHEDULED
        inserted = _inserted(
            c,
            deliveries,
            project=self.project,
            post_id=post_id,
            account=account,
            attempts=0,
            late_ok=False,
            created_at=now,
            updated_at=now,
            **_parts_of(post_id),
            **values,
            **state,
        )
        if inserted:
            self._event(c, post_id, account, now, state["state"], state["error"])

    def _slot_state(self, c: Connection, post_id: str, account: str, queue: str | None) -> _Start:
        """The state a new delivery that fills an evergreen slot starts in:
        ``scheduled`` when the slot is its post's (taken now, if it was
        free), ``skipped`` (and why) when another post fills it."""
        entry, _, occurrence = split_id(post_id)
        if not occurrence:
            return _SCHEDULED
        s = evergreen_slots.c
        key = {
            "project": self.project,
            "queue": queue or "",
            "account": account,
            "slot": occurrence,
        }
        if _inserted(c, evergreen_slots, entry=entry, **key):
            return _SCHEDULED
        holder = c.execute(
            sa.select(s.entry).where(*(s[name] == value for name, value in key.items()))
        ).scalar()
        if holder is None or holder == entry:
            return _SCHEDULED
        return {
            "state": "skipped",
            "error": f"its evergreen slot went to {holder!r}, chosen first by a run with "
            "another copy of the queue: one post per slot",
        }

    def _events(
        self, c: Connection, rows: list[tuple[str, str, str, str | None]], at: datetime
    ) -> None:
        """Events in one statement: (post id, account, state, detail) each."""
        if rows:
            c.execute(
                _EVENT,
                [
                    {
                        "project": self.project,
                        "post_id": post_id,
                        "account": account,
                        "at": at,
                        "state": state,
                        "detail": detail,
                    }
                    for post_id, account, state, detail in rows
                ],
            )

    def _event(
        self,
        c: Connection,
        post_id: str,
        account: str,
        at: datetime,
        state: str,
        detail: str | None,
    ) -> None:
        self._events(c, [(post_id, account, state, detail)], at)


def _lost_claim(idx: int, url: str | None) -> str:
    """The event of a part sent by a run whose claim was gone meanwhile."""
    return f"part {idx + 1} live at {url} (sent by a run that had lost its claim)"


def _live_but_lost(post_id: str, account: str, idx: int) -> LeaseLost:
    """What a run is told when a part it sent is live but its claim was gone."""
    return LeaseLost(
        f"{post_id} ({account}): part {idx + 1} is live, but this run's claim ran out "
        "or was taken over; it leaves the rest to the run that holds it"
    )


def _refuse_memory(url: str) -> None:
    if url.startswith("sqlite") and (
        url in ("sqlite://", "sqlite:///") or ":memory:" in url or "mode=memory" in url
    ):
        raise LedgerError(
            "the ledger cannot be an in-memory database: it would forget every post "
            "when the run ends; give a file (ledger: .megaphone/ledger.db) or a server URL"
        )


def _make_folder(folder: str) -> None:
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise LedgerError(f"cannot keep the ledger in {folder}: it is a file, not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise LedgerError(f"cannot make the ledger's folder {folder}: {e.strerror or e}") from None


def _version(c: Connection) -> int | None:
    """The ledger's schema version (None: no tables yet, or schema 1's
    first writes); refuses a layout newer than this megaphone knows."""
    version: int | None = None
    if sa.inspect(c).has_table("meta"):
        raw = c.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
        if raw is not None:
            try:
                version = int(raw)
            except ValueError:
                raise LedgerError(
                    f"the ledger's schema version {raw!r} is not one megaphone knows"
                ) from None
    if version is not None and version > SCHEMA_VERSION:
        raise LedgerError(
            f"the ledger was written by a newer megaphone (schema {version}; this one knows "
            f"up to {SCHEMA_VERSION}): upgrade megaphone to use it"
        )
    return version


#: The ledger's versions, and what each one brought.  Every change so far
#: adds columns (with defaults that keep older rows valid), widens one or
#: widens a primary key, so one step brings any older layout up to date:
#: each table is rebuilt in the current layout and the columns both layouts
#: have are copied over (see README, "The ledger's migrations").  A change
#: that is not of that kind adds its own step here.
MIGRATIONS: dict[int, str] = {
    2: "rows per project; claims as leases (lease_until); sent_at; held; remote ids of 500",
    3: "an idempotency key per part (and the exact request made with it); a variant and an "
    "occurrence in every key",
    4: "account leases (one run sends an account's posts at a time) and the runs publishing now",
    5: "which post fills each evergreen slot (one post per slot, whichever machine writes it)",
}
#: Versions that only added tables: nothing to rebuild, the new tables are made.
NEW_TABLES_ONLY = frozenset({4, 5})


def _prepare(c: Connection, project: str) -> None:
    """Make the tables, or bring an older layout up to this one (in the
    write transaction ``c``: one process does it, the others wait)."""
    version = _version(c)
    if version == SCHEMA_VERSION:
        return
    only_new_tables = version is not None and all(
        v in NEW_TABLES_ONLY for v in range(version + 1, SCHEMA_VERSION + 1)
    )
    if not only_new_tables and (version is not None or sa.inspect(c).has_table("deliveries")):
        _rebuild(c, project, version or 1)
    metadata.create_all(c)
    _upsert_meta(c, "schema_version", str(SCHEMA_VERSION))
    if version is not None and version < SCHEMA_VERSION:
        _upsert_meta(c, f"migrated_from_{version}", datetime.now(UTC).isoformat())


def _rebuild(c: Connection, project: str, version: int) -> None:
    """Bring the tables of layout ``version`` to the current one: each is
    renamed, made anew, and the columns both have copied over; a column
    the old layout lacks takes its default (``project``: this project's
    id, for a ledger of schema 1, which held one project)."""
    inspector = sa.inspect(c)
    c.exec_driver_sql("DROP INDEX IF EXISTS deliveries_state")
    old_columns: dict[str, list[str]] = {}
    for table in ("deliveries", "parts", "events"):
        if not inspector.has_table(table):
            continue
        old_columns[table] = [col["name"] for col in inspector.get_columns(table)]
        c.exec_driver_sql(f"ALTER TABLE {table} RENAME TO {table}_v{version}")
        if c.dialect.name == "postgresql":
            # The primary key's index keeps its name: free it for the new table.
            c.exec_driver_sql(
                f"ALTER INDEX IF EXISTS {table}_pkey RENAME TO {table}_v{version}_pkey"
            )
    metadata.create_all(c)
    for table, columns in old_columns.items():
        new = metadata.tables[table]
        # Events get new ids (in their order): the new table's sequence
        # must know every id it holds.
        common = [n for n in columns if n in new.c and n != "id"]
        names = ", ".join(common)
        extra, values = "", {}
        if "project" not in columns:
            extra, values = ", project", {"project": project}
        select = ", ".join(common) + (", :project" if extra else "")
        order = " ORDER BY id" if table == "events" else ""
        c.execute(
            sa.text(
                f"INSERT INTO {table} ({names}{extra}) "
                f"SELECT {select} FROM {table}_v{version}{order}"
            ),
            values,
        )
        c.exec_driver_sql(f"DROP TABLE {table}_v{version}")


def _parts_of(post_id: str) -> dict[str, str]:
    """The language and occurrence of a delivery, from its id, for the
    columns that let queries pick them."""
    _, variant, occurrence = split_id(post_id)
    return {"variant": variant, "occurrence": occurrence}


def changes_for(row: Any, wanted: Wanted) -> dict[str, Any]:
    """What a row needs of the post's current values: a new time (which also
    revives a missed or expired post), or new content not sent yet."""
    values: dict[str, Any] = {}
    if row.state in ("scheduled", "missed", "expired") and row.scheduled_at != wanted.scheduled_at:
        values["scheduled_at"] = wanted.scheduled_at
        if row.state != "scheduled":
            values.update(state="scheduled", error=None, late_ok=False)
    if row.state == "scheduled" and (row.digest != wanted.digest or row.queue != wanted.queue):
        values["digest"] = wanted.digest
        values["queue"] = wanted.queue
    return values


def what_to_do(post_id: str) -> str:
    """What a person does about a post whose outcome is unknown."""
    return (
        f"check it on the network, then 'megaphone retry {post_id}' or "
        f"'megaphone mark {post_id} published --url URL'"
    )


def _pg_session(dbapi_connection: Any, _record: Any) -> None:
    """Each PostgreSQL session SQLAlchemy opens (those that hold
    transactions of several statements) is ended by the server when it
    sits inside one for IDLE_IN_TRANSACTION."""
    cursor = dbapi_connection.cursor()
    try:
        ms = max(1, round(IDLE_IN_TRANSACTION * 1000))
        cursor.execute(f"SET idle_in_transaction_session_timeout = {ms}")
    finally:
        cursor.close()
    dbapi_connection.commit()


def _drop_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server has closed (a restart, a timeout) is
    dropped when it is taken, without a round trip: while no query runs, a
    live connection's socket has nothing to read, and a closed one has the
    server's goodbye or its end.  The pool then opens a new one."""
    import select

    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except Exception:  # OSError, or the driver's own "the connection is closed"
        readable = [True]
    if readable:
        raise sa.exc.DisconnectionError("the ledger's server closed the connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, open transactions (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    _sqlite_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


#: How long a connection tries to put a new SQLite ledger in WAL mode.
SQLITE_WAL_WAIT = 30.0


def _sqlite_wal(cursor: Any, *, wait: float = SQLITE_WAL_WAIT) -> None:
    """Put the ledger in WAL mode (readers never wait for the writer).  A
    new ledger that several runs open at once (their first run) is switched
    by one while another may be writing its tables: SQLite then answers
    "database is locked" at once, without its busy timeout (waiting could
    deadlock the two), so the switch is tried again, up to ``wait`` seconds."""
    import sqlite3

    deadline = time.monotonic() + wait
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            busy = "locked" in str(e) or "busy" in str(e)
            if not busy or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _sqlite_begin_immediate(conn: Connection) -> None:
    # BEGIN IMMEDIATE: a writing transaction takes the write lock at once, so
    # two claims never both read "scheduled" and both write.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def _insert_ignore(c: Connection, table: sa.Table) -> Any:
    name = c.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    return table.insert()


def _inserted(c: Connection, table: sa.Table, **values: Any) -> bool:
    """Insert a row unless one with its key exists; whether it was.  (The
    driver's row count of ``ON CONFLICT DO NOTHING`` is not to be trusted:
    psycopg says -1 whether a row went in or not.)"""
    statement = _insert_ignore(c, table).values(**values)
    if c.dialect.name in ("sqlite", "postgresql"):
        key = next(iter(table.primary_key.columns))
        return c.execute(statement.returning(key)).first() is not None
    return bool(c.execute(statement).rowcount == 1)


def _upsert_meta(c: Connection, key: str, value: str) -> None:
    updated = c.execute(meta.update().where(meta.c.key == key).values(value=value))
    if not updated.rowcount:
        c.execute(_insert_ignore(c, meta).values(key=key, value=value))


def _delivery(names: list[str], values: tuple[Any, ...]) -> Delivery:
    """A delivery from a row the driver read (its times in UTC, as
    ``UTCDateTime`` gives them)."""
    row = dict(zip(names, values, strict=True))
    for name in _DELIVERY_TIMES:
        value = row.get(name)
        if value is not None and value.tzinfo is not UTC:
            row[name] = _utc(value)
    return _made(row)


def _utc(value: datetime) -> datetime:
    """A time the database gave, aware and in UTC (SQLite gives it naive)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _short(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error)
    return text.splitlines()[0] if text else type(error).__name__
