"""The ledger: what happened to each post, per account — the source of truth.

An SQLite database in the project (``.megaphone/ledger.db``; WAL) by default,
or any database SQLAlchemy reaches (a PostgreSQL URL serves several workers),
through SQLAlchemy Core.  One row per post and account (a *delivery*) holds
its state, attempts, last error and claim; one row per published thread part
holds that part's remote id and URL, so that a thread that stopped at part 3
resumes at part 3.  Every change of state is also appended to ``events``.

Claiming is what keeps a post from going out twice: a delivery moves to
``publishing`` in a committed transaction whose ``UPDATE … WHERE state =
'scheduled'`` only one process can win.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from megaphone.errors import MegaphoneError
from megaphone.ledger_peek import DEFAULT_PATH, default_url, sqlite_path

__all__ = ["DEFAULT_PATH", "Delivery", "Ledger", "PartRecord", "default_url", "sqlite_path"]

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from sqlalchemy.engine import Connection, Engine

STATES = (
    "scheduled",
    "publishing",
    "published",
    "failed",
    "unknown",
    "missed",
    "expired",
    "skipped",
)
#: States a delivery never leaves by itself (``retry`` and ``mark`` move it).
SETTLED = ("published", "failed", "unknown", "skipped")
SCHEMA_VERSION = "1"
#: A claim not refreshed for this long is taken to be abandoned.
LEASE = timedelta(minutes=15)


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
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("post_id", sa.String(200), primary_key=True),
    sa.Column("account", sa.String(100), primary_key=True),
    sa.Column("network", sa.String(20), nullable=False, default="x"),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("queue", sa.String(500)),
    sa.Column("scheduled_at", UTCDateTime),
    sa.Column("digest", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text),
    sa.Column("claimed_by", sa.String(200)),
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("late_ok", sa.Boolean, nullable=False, default=False),
    # The part whose request is (or may be) on its way: set just before it is
    # sent, cleared once it is recorded.  After a crash it tells a part that
    # may have gone out from one that was never sent.
    sa.Column("in_flight", sa.Integer),
    sa.Column("remote_id", sa.String(64)),
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
    sa.Column("post_id", sa.String(200), primary_key=True),
    sa.Column("account", sa.String(100), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True),
    sa.Column("remote_id", sa.String(64)),
    sa.Column("url", sa.String(500)),
    sa.Column("published_at", UTCDateTime, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("post_id", sa.String(200), nullable=False),
    sa.Column("account", sa.String(100), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("detail", sa.Text),
)

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text),
)


@dataclass(frozen=True)
class Delivery:
    post_id: str
    account: str
    network: str
    state: str
    queue: str | None
    scheduled_at: datetime | None
    digest: str | None
    attempts: int
    error: str | None
    claimed_by: str | None
    claimed_at: datetime | None
    next_attempt_at: datetime | None
    late_ok: bool
    in_flight: int | None
    remote_id: str | None
    url: str | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PartRecord:
    idx: int
    remote_id: str | None
    url: str | None
    published_at: datetime


def new_token() -> str:
    """Who holds a claim: this host, this process, and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim_abandoned(token: str | None, claimed_at: datetime | None, now: datetime) -> bool:
    """Whether a claim's holder is gone: a process of this host that no longer
    runs, or a claim not refreshed within :data:`LEASE`."""
    if token is None:
        return True
    host, _, rest = token.partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        return claimed_at is None or now - claimed_at > LEASE
    return claimed_at is None or now - claimed_at > LEASE


class Ledger:
    """Every read and write of the ledger."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self._write_lock = threading.Lock()
        path = sqlite_path(url)
        if path is not None:
            if create:
                os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            elif not os.path.exists(path):
                raise MegaphoneError(f"no ledger at {path}")
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
            self.engine = sa.create_engine(url, pool_pre_ping=True)
            self.reader = self.engine
        if create:
            try:
                metadata.create_all(self.engine)
                with self._writing() as c:
                    _upsert_meta(c, "schema_version", SCHEMA_VERSION)
            except sa.exc.SQLAlchemyError as e:
                raise MegaphoneError(f"cannot open the ledger: {_short(e)}") from None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction.  Threads of this process take turns on a lock
        first: SQLite's own wait for its write lock sleeps in steps of up to
        100 ms, which is for other processes only."""
        with self._write_lock, self.engine.begin() as c:
            yield c

    def close(self) -> None:
        self.engine.dispose()
        self.reader.dispose()

    # ---------------------------------------------------------------- reads

    def get(self, post_id: str, account: str) -> Delivery | None:
        with self.reader.connect() as c:
            row = c.execute(sa.select(deliveries).where(*_key(post_id, account))).first()
        return Delivery(**row._mapping) if row else None

    def all(self) -> list[Delivery]:
        with self.reader.connect() as c:
            rows = c.execute(sa.select(deliveries)).all()
        return [Delivery(**r._mapping) for r in rows]

    def of_post(self, post_id: str) -> list[Delivery]:
        with self.reader.connect() as c:
            rows = c.execute(sa.select(deliveries).where(deliveries.c.post_id == post_id)).all()
        return [Delivery(**r._mapping) for r in rows]

    def parts(self, post_id: str, account: str) -> dict[int, PartRecord]:
        with self.reader.connect() as c:
            rows = c.execute(
                sa.select(parts.c.idx, parts.c.remote_id, parts.c.url, parts.c.published_at)
                .where(parts.c.post_id == post_id, parts.c.account == account)
                .order_by(parts.c.idx)
            ).all()
        return {r.idx: PartRecord(r.idx, r.remote_id, r.url, r.published_at) for r in rows}

    def parts_since(self, account: str, since: datetime) -> int:
        """Posts (thread parts count one each) the account published since ``since``."""
        with self.reader.connect() as c:
            count = c.execute(
                sa.select(sa.func.count())
                .select_from(parts)
                .where(parts.c.account == account, parts.c.published_at >= since)
            ).scalar()
        return int(count or 0)

    def events(self, post_id: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(events).order_by(events.c.id)
        if post_id is not None:
            query = query.where(events.c.post_id == post_id)
        with self.reader.connect() as c:
            return [dict(r._mapping) for r in c.execute(query).all()]

    def get_meta(self, key: str) -> str | None:
        with self.reader.connect() as c:
            value: str | None = c.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()
        return value

    def set_meta(self, key: str, value: str) -> None:
        with self._writing() as c:
            _upsert_meta(c, key, value)

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
    ) -> None:
        """A delivery row for the post and account, ``scheduled`` if new.  A
        post that was missed or expired and has since been given a new time
        is scheduled again."""
        with self._writing() as c:
            row = c.execute(
                sa.select(deliveries.c.state, deliveries.c.scheduled_at).where(
                    *_key(post_id, account)
                )
            ).first()
            if row is None:
                _new_row(
                    c,
                    post_id,
                    account,
                    now,
                    network=network,
                    queue=queue,
                    scheduled_at=scheduled_at,
                    digest=digest,
                )
                return
            values: dict[str, Any] = {}
            if row.state in ("scheduled", "missed", "expired") and row.scheduled_at != scheduled_at:
                values["scheduled_at"] = scheduled_at
                if row.state != "scheduled":
                    values.update(state="scheduled", error=None, late_ok=False)
            if row.state == "scheduled":
                values["digest"] = digest
                values["queue"] = queue
            if values:
                values["updated_at"] = now
                c.execute(
                    deliveries.update()
                    .where(
                        *_key(post_id, account),
                        deliveries.c.state == row.state,
                    )
                    .values(**values)
                )
                if values.get("state") == "scheduled":
                    _event(c, post_id, account, now, "scheduled", "given a new time")

    def claim(
        self,
        post_id: str,
        account: str,
        *,
        token: str,
        now: datetime,
        digest: str | None = None,
        ignore_backoff: bool = False,
        create: Mapping[str, Any] | None = None,
        in_flight: int | None = None,
    ) -> Delivery | None:
        """Move a scheduled delivery to ``publishing`` for ``token``; None
        when another process holds it or it is not (or not yet) to be sent.

        ``create``: the row's values (network, queue, scheduled_at, digest),
        to make it first when it is new.  ``in_flight``: the part about to be
        sent right after (one write fewer than :meth:`sending`)."""
        condition = [
            *_key(post_id, account),
            deliveries.c.state == "scheduled",
        ]
        if not ignore_backoff:
            condition.append(
                sa.or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now)
            )
        values: dict[str, Any] = {
            "state": "publishing",
            "claimed_by": token,
            "claimed_at": now,
            "attempts": deliveries.c.attempts + 1,
            "updated_at": now,
        }
        if digest is not None:
            values["digest"] = digest
        if in_flight is not None:
            values["in_flight"] = in_flight
        with self._writing() as c:
            if create is not None:
                _new_row(c, post_id, account, now, **create)
            result = c.execute(deliveries.update().where(*condition).values(**values))
            if result.rowcount != 1:
                return None
            _event(c, post_id, account, now, "publishing", token)
            row = c.execute(sa.select(deliveries).where(*_key(post_id, account))).one()
        return Delivery(**row._mapping)

    def take_over(
        self, post_id: str, account: str, *, old_token: str | None, token: str, now: datetime
    ) -> bool:
        """Take an abandoned ``publishing`` claim, to reconcile it."""
        with self._writing() as c:
            result = c.execute(
                deliveries.update()
                .where(
                    *_key(post_id, account),
                    deliveries.c.state == "publishing",
                    deliveries.c.claimed_by.is_(None)
                    if old_token is None
                    else deliveries.c.claimed_by == old_token,
                )
                .values(claimed_by=token, claimed_at=now, updated_at=now)
            )
            if result.rowcount != 1:
                return False
            _event(c, post_id, account, now, "publishing", f"taken over from {old_token}")
        return True

    def reclaim(
        self, post_id: str, account: str, *, from_state: str, token: str, now: datetime
    ) -> bool:
        """Claim a settled delivery (``unknown``) to resolve it."""
        with self._writing() as c:
            result = c.execute(
                deliveries.update()
                .where(
                    *_key(post_id, account),
                    deliveries.c.state == from_state,
                )
                .values(state="publishing", claimed_by=token, claimed_at=now, updated_at=now)
            )
            if result.rowcount != 1:
                return False
            _event(c, post_id, account, now, "publishing", f"resolving {from_state}")
        return True

    def attempt_failed(
        self, post_id: str, account: str, *, token: str, error: str, now: datetime
    ) -> None:
        """An attempt failed in a way safe to retry, and the claim is kept for
        the next attempt."""
        with self._writing() as c:
            c.execute(
                deliveries.update()
                .where(
                    *_key(post_id, account),
                    deliveries.c.claimed_by == token,
                )
                .values(
                    attempts=deliveries.c.attempts + 1, error=error, claimed_at=now, updated_at=now
                )
            )
            _event(c, post_id, account, now, "publishing", f"retrying: {error}")

    def sending(self, post_id: str, account: str, idx: int, *, token: str, now: datetime) -> None:
        """Part ``idx`` is about to be sent."""
        with self._writing() as c:
            c.execute(
                deliveries.update()
                .where(
                    *_key(post_id, account),
                    deliveries.c.claimed_by == token,
                )
                .values(in_flight=idx, claimed_at=now, updated_at=now)
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
        next_in_flight: int | None = None,
        publish: tuple[str | None, str | None] | None = None,
    ) -> None:
        """A thread part is live: recorded at once, so it is never sent again.
        In the same write: the next part about to be sent (``next_in_flight``),
        or, for the last part, the post published with ``publish`` (its
        remote id and URL)."""
        with self._writing() as c:
            c.execute(
                _insert_ignore(c, parts).values(
                    post_id=post_id,
                    account=account,
                    idx=idx,
                    remote_id=remote_id,
                    url=url,
                    published_at=now,
                )
            )
            c.execute(
                deliveries.update()
                .where(
                    *_key(post_id, account),
                    deliveries.c.claimed_by == token,
                )
                .values(in_flight=next_in_flight, claimed_at=now, updated_at=now)
            )
            if publish is not None:
                self._finish(
                    c,
                    post_id,
                    account,
                    token=token,
                    state="published",
                    now=now,
                    remote_id=publish[0],
                    url=publish[1],
                )

    def release_interrupted(self, post_id: str, account: str, *, token: str, now: datetime) -> str:
        """A run stopped mid-post (Ctrl-C, SIGTERM, a bug): ``unknown`` if a
        part's request may have left, else back to ``scheduled``."""
        with self._writing() as c:
            in_flight = c.execute(
                sa.select(deliveries.c.in_flight).where(
                    *_key(post_id, account),
                    deliveries.c.claimed_by == token,
                )
            ).scalar()
            if in_flight is None:
                state, error = "scheduled", "interrupted before a part was sent"
            else:
                state = "unknown"
                error = f"interrupted while part {in_flight + 1} was being sent; " + what_to_do(
                    post_id
                )
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
    ) -> bool:
        """Release a claim with the delivery's new state."""
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
            )

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
    ) -> bool:
        assert state in STATES
        values: dict[str, Any] = {
            "state": state,
            "claimed_by": None,
            "error": error,
            "next_attempt_at": next_attempt_at,
            "updated_at": now,
        }
        if state != "unknown":
            values["in_flight"] = None  # nothing is in doubt
        if state == "published":
            values.update(remote_id=remote_id, url=url, published_at=now)
        result = c.execute(
            deliveries.update()
            .where(
                *_key(post_id, account),
                deliveries.c.state == "publishing",
                deliveries.c.claimed_by == token,
            )
            .values(**values)
        )
        if result.rowcount != 1:
            return False
        _event(c, post_id, account, now, state, error or url)
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
                .where(
                    *_key(post_id, account),
                    deliveries.c.state.in_(list(only_from)),
                )
                .values(state=state, error=error, updated_at=now)
            )
            if result.rowcount != 1:
                return False
            _event(c, post_id, account, now, state, error)
        return True

    def note(self, post_id: str, account: str, *, error: str, now: datetime) -> None:
        """Why a scheduled delivery was not sent this time (it stays scheduled)."""
        with self._writing() as c:
            c.execute(
                deliveries.update()
                .where(
                    *_key(post_id, account),
                    deliveries.c.state == "scheduled",
                )
                .values(error=error, updated_at=now)
            )

    def retry(self, post_id: str, account: str, *, now: datetime) -> Delivery:
        """Send a failed, unknown, missed or expired delivery again at the next
        run, late or not; thread parts already live are kept."""
        with self._writing() as c:
            result = c.execute(
                deliveries.update()
                .where(
                    *_key(post_id, account),
                    deliveries.c.state.in_(["failed", "unknown", "missed", "expired", "skipped"]),
                )
                .values(
                    state="scheduled",
                    error=None,
                    attempts=0,
                    next_attempt_at=None,
                    late_ok=True,
                    claimed_by=None,
                    in_flight=None,
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                row = self.get(post_id, account)
                state = row.state if row else "not in the ledger"
                raise MegaphoneError(
                    f"{post_id} ({account}) is {state}: only a failed, unknown, missed, "
                    "expired or skipped post can be retried"
                )
            _event(c, post_id, account, now, "scheduled", "retry")
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
        url: str | None = None,
        remote_id: str | None = None,
        network: str = "x",
        queue: str | None = None,
        scheduled_at: datetime | None = None,
        digest: str | None = None,
    ) -> None:
        """Set a delivery's state by hand (what the user checked on the network)."""
        if state not in ("published", "skipped", "failed", "scheduled"):
            raise MegaphoneError(f"a post cannot be marked {state}")
        with self._writing() as c:
            row = c.execute(
                sa.select(
                    deliveries.c.state, deliveries.c.claimed_by, deliveries.c.claimed_at
                ).where(*_key(post_id, account))
            ).first()
            if row is None:
                _new_row(
                    c,
                    post_id,
                    account,
                    now,
                    network=network,
                    queue=queue,
                    scheduled_at=scheduled_at,
                    digest=digest,
                )
            elif row.state == "publishing" and not claim_abandoned(
                row.claimed_by, row.claimed_at, now
            ):
                raise MegaphoneError(
                    f"{post_id} ({account}) is being published right now; try again later"
                )
            values: dict[str, Any] = {
                "state": state,
                "claimed_by": None,
                "error": None,
                "next_attempt_at": None,
                "in_flight": None,
                "updated_at": now,
            }
            if state == "published":
                values.update(url=url, remote_id=remote_id, published_at=now)
            c.execute(deliveries.update().where(*_key(post_id, account)).values(**values))
            _event(c, post_id, account, now, state, f"marked by hand {url or ''}".strip())


def _key(post_id: str, account: str) -> tuple[Any, Any]:
    """The conditions that pick one delivery."""
    return deliveries.c.post_id == post_id, deliveries.c.account == account


def what_to_do(post_id: str) -> str:
    """What a person does about a post whose outcome is unknown."""
    return (
        f"check it on the network, then 'megaphone retry {post_id}' or "
        f"'megaphone mark {post_id} published --url URL'"
    )


def _new_row(c: Connection, post_id: str, account: str, now: datetime, **values: Any) -> None:
    """A delivery seen for the first time: ``scheduled`` (unless another
    process made it just now)."""
    inserted = c.execute(
        _insert_ignore(c, deliveries).values(
            post_id=post_id,
            account=account,
            state="scheduled",
            attempts=0,
            late_ok=False,
            created_at=now,
            updated_at=now,
            **values,
        )
    )
    if inserted.rowcount:
        _event(c, post_id, account, now, "scheduled", None)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, open transactions (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


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


def _upsert_meta(c: Connection, key: str, value: str) -> None:
    updated = c.execute(meta.update().where(meta.c.key == key).values(value=value))
    if not updated.rowcount:
        c.execute(_insert_ignore(c, meta).values(key=key, value=value))


def _event(
    c: Connection, post_id: str, account: str, at: datetime, state: str, detail: str | None
) -> None:
    c.execute(
        events.insert().values(post_id=post_id, account=account, at=at, state=state, detail=detail)
    )


def _short(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error)
    return text.splitlines()[0] if text else type(error).__name__
