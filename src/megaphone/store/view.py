"""Where the ledger is, and a quick read-only look into it for ``validate``
(with the standard library's sqlite3: no SQLAlchemy at start-up)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from megaphone.model import Config, Post

#: The states of a delivery in the ledger.
LEDGER_STATES = (
    "scheduled",
    "publishing",
    "published",
    "failed",
    "unknown",
    "missed",
    "expired",
    "skipped",
)
#: Every state a command shows: the ledger's, and those of the one rule
#: (megaphone.publish.decide.state) for posts it has not settled.
SHOWN_STATES = (*LEDGER_STATES, "due", "draft", "blocked")

DEFAULT_PATH = ".megaphone/ledger.db"
LEDGER_ENV = "MEGAPHONE_LEDGER_URL"
#: The project's own ledger file belongs to it alone: its rows are this id's.
LOCAL_ID = "local"
#: Where a project that shares an SQLite ledger file keeps the id it made.
ID_FILE = ".megaphone/project-id"

#: post id -> ((account, state, digest), ...)
Deliveries = dict[str, tuple[tuple[str, str, str | None], ...]]


def default_url(root: Path) -> str:
    return f"sqlite:///{root / DEFAULT_PATH}"


def sqlite_path(url: str) -> str | None:
    """The file of an SQLite URL, else None."""
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None


#: libpq's settings for megaphone's PostgreSQL connections, where the ledger
#: URL does not set them: a server that has not answered a new connection in
#: 10 s is an error; an idle connection is probed after 10 s (three probes
#: 5 s apart unanswered end it); and a request the server's machine has not
#: acknowledged in 30 s ends the connection.  A server gone from the network
#: is then an error in under a minute, not a thread that waits for ever (the
#: system's own limits are two minutes to connect and about fifteen to give
#: up on a connection).
PG_CONNECTION = {
    "connect_timeout": "10",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "30000",
}


def engine_url(url: str) -> str:
    """The SQLAlchemy URL of a ledger URL: ``postgresql://`` (or
    ``postgres://``) goes through psycopg 3, the driver of megaphone's
    ``postgres`` extra (SQLAlchemy alone would ask for psycopg2), with
    PG_CONNECTION's settings where the URL has none of its own."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
            break
    if not url.startswith(("postgresql+psycopg://", "postgresql+psycopg2://")):
        return url
    from urllib.parse import parse_qsl, urlencode

    base, _, query = url.partition("?")
    given = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    extra = urlencode([(k, v) for k, v in PG_CONNECTION.items() if k not in given])
    if not extra:
        return url
    return f"{base}?{query}&{extra}" if query else f"{base}?{extra}"


def ledger_url(root: Path, configured: str | None, environ: Mapping[str, str]) -> str:
    """Where the ledger is: $MEGAPHONE_LEDGER_URL, else ``ledger`` of the
    project configuration (a URL, or a path relative to the project), else
    ``.megaphone/ledger.db`` in the project."""
    configured = environ.get(LEDGER_ENV) or configured
    if not configured:
        return default_url(root)
    if "://" in configured:
        return configured
    return f"sqlite:///{(root / configured).resolve()}"


def project_id(root: Path, configured: str | None, url: str, *, create: bool = True) -> str | None:
    """Which rows of the ledger are this project's: ``project:`` of
    megaphone.yaml; else, in the project's own ledger file, ``local``; else
    (another SQLite file that projects may share) an id made at first use
    and kept in ``.megaphone/project-id``.  A database server needs
    ``project:`` — every machine's checkout must name the same project.
    None when ``create`` is false and no id was made yet."""
    if configured:
        return configured
    if url == default_url(root):
        return LOCAL_ID
    if sqlite_path(url) is None:
        from megaphone.errors import LedgerError

        raise LedgerError(
            "a ledger on a database server needs the project's id: add "
            "'project: NAME' to megaphone.yaml (the same on every machine)"
        )
    path = root / ID_FILE
    try:
        made = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        made = ""
    if made:
        return made
    if not create:
        return None
    import uuid

    made = f"{root.name[:40] or 'project'}-{uuid.uuid4().hex[:12]}"
    import re

    made = re.sub(r"[^A-Za-z0-9._-]", "-", made).lstrip(".-_") or made
    from megaphone.project.edit import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, made + "\n")
    return made


def peek_project(root: Path, config: Config, environ: Mapping[str, str]) -> Deliveries | None:
    """:func:`peek` for a project as configured."""
    from megaphone.errors import MegaphoneError

    url = ledger_url(root, config.ledger, environ)
    try:
        project = project_id(root, config.project_id, url, create=False)
    except MegaphoneError:
        return None
    return peek(url, project)


def seen_states(seen: Deliveries) -> Iterator[tuple[str, str]]:
    """Each delivery's id with each of its accounts' states."""
    for post_id, rows in seen.items():
        for _account, state, _digest in rows:
            yield post_id, state


#: Ledger states a delivery never leaves by itself.
FINAL = frozenset({"published", "failed", "unknown", "skipped", "missed", "expired"})


def still_open(shown_state: str | None) -> bool:
    """Whether what the ledger shows of a delivery (a state of
    :data:`megaphone.store.view.SHOWN_STATES`, None: nothing yet) leaves it
    to be published: nothing yet, ``scheduled``, ``retry`` (a person asked),
    ``blocked`` (every run tries it again) or ``publishing`` (a run holds it,
    or left it: reconciled).  The one answer for the worker's schedule and
    sweeps, validate's warnings and the alerts."""
    return shown_state is None or shown_state not in FINAL


def shown_state(state: str, held: str | None, late_ok: bool | int | None) -> str:
    """A delivery's state as the commands show it: a scheduled one that is
    held for a person is ``blocked``; one a person asked to send late or not
    (retry) is ``retry`` (``due`` once its time has come)."""
    if state == "scheduled" and held:
        return "blocked"
    if state == "scheduled" and late_ok:
        return "retry"
    return state


def peek(url: str, project: str | None) -> Deliveries | None:
    """What the ledger says of each of the project's posts, or None when it
    has nothing yet.  An SQLite ledger is read with the standard library
    (validate starts fast); a database server through SQLAlchemy, so that
    every command sees the same on every backend."""
    if project is None:
        return None
    path = sqlite_path(url)
    if path is None:
        return _peek_server(url, project)
    if not os.path.isfile(path):
        return None
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as con:
            columns = {r[1] for r in con.execute("PRAGMA table_info(deliveries)")}
            if "project" in columns:
                rows = [
                    (post_id, account, shown_state(state, held, late_ok), digest)
                    for post_id, account, state, digest, held, late_ok in con.execute(
                        "SELECT post_id, account, state, digest, held, late_ok FROM deliveries "
                        "WHERE project = ?",
                        (project,),
                    )
                ]
            elif project == LOCAL_ID:  # written by an older megaphone: one project's
                rows = con.execute(
                    "SELECT post_id, account, state, digest FROM deliveries"
                ).fetchall()
            else:
                return None
    except sqlite3.Error:
        return None
    found: dict[str, list[tuple[str, str, str | None]]] = {}
    for post_id, account, state, digest in rows:
        found.setdefault(post_id, []).append((account, state, digest))
    return {k: tuple(v) for k, v in found.items()}


def content_digest(post: Post) -> str:
    """What identifies a post's content as sent: its texts, media, reply and
    quote.  Kept in the ledger, to tell a post edited after publishing."""
    import hashlib
    import json

    content = {
        "texts": post.texts(),
        "media": [[(m.path, m.alt) for m in p.media] for p in post.parts],
        "reply_to": post.reply_to,
        "quote": post.quote,
    }
    raw = json.dumps(content, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()


def _peek_server(url: str, project: str) -> Deliveries | None:
    """:func:`peek` of a ledger on a database server (read only)."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(engine_url(url))
    except (sa.exc.SQLAlchemyError, ImportError, ValueError):
        return None
    try:
        with engine.connect() as c:
            if not sa.inspect(c).has_table("deliveries"):
                return None
            result = c.execute(
                sa.text(
                    "SELECT post_id, account, state, digest, held, late_ok FROM deliveries "
                    "WHERE project = :project"
                ),
                {"project": project},
            ).all()
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    found: dict[str, list[tuple[str, str, str | None]]] = {}
    for post_id, account, state, digest, held, late_ok in result:
        found.setdefault(post_id, []).append((account, shown_state(state, held, late_ok), digest))
    return {k: tuple(v) for k, v in found.items()}
