"""Where the ledger is, and a quick read-only look into it for ``validate``
(with the standard library's sqlite3: no SQLAlchemy at start-up)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from megaphone.model import Post

DEFAULT_PATH = ".megaphone/ledger.db"
LEDGER_ENV = "MEGAPHONE_LEDGER_URL"

#: post id -> ((account, state, digest), ...)
Deliveries = dict[str, tuple[tuple[str, str, str | None], ...]]


def default_url(root: Path) -> str:
    return f"sqlite:///{root / DEFAULT_PATH}"


def sqlite_path(url: str) -> str | None:
    """The file of an SQLite URL, else None."""
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None


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


def peek(url: str) -> Deliveries | None:
    """What the ledger says of each post, or None without an SQLite ledger
    (none yet, or a database server: ``status`` reads those)."""
    path = sqlite_path(url)
    if path is None or not os.path.exists(path):
        return None
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as con:
            rows = con.execute("SELECT post_id, account, state, digest FROM deliveries").fetchall()
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
