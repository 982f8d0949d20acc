"""Every command sees the same ledger on every backend: a ledger reached by
a database URL (here SQLite through SQLAlchemy's URL form, as a server
would be) is read by validate, list, remove and reschedule, not left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import sign_in
from tests.fakex import FakeX
from tests.test_publish import publish

CONFIG = "timezone: UTC\nproject: union\naccounts:\n  - name: utla\n    network: x\n"
ONE = "account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n"


def test_a_database_url_ledger_is_seen_by_every_command(
    fakex: FakeX, project, run, clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(fakex, monkeypatch)
    monkeypatch.setenv("MEGAPHONE_LEDGER_URL", f"sqlite+pysqlite:///{tmp_path / 'server.db'}")
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    assert publish(run, root, "--due").exit_code == 0
    listed = json.loads(run("list", "--json", cwd=root).output)
    assert listed[0]["state"] == "published"
    refused = run("remove", "one", cwd=root)
    assert refused.exit_code != 0 and "published" in refused.output
    (root / "posts" / "one.yaml").write_text(ONE.replace("Hello.", "Hello, edited."))
    checked = run("validate", cwd=root)
    assert "edited-after-publish" in checked.output
