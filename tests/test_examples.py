"""The shipped example project: valid, and a tour of every feature."""

from __future__ import annotations

import json
from collections.abc import Callable

import jsonschema
import yaml
from click.testing import Result

from megaphone.checks.validate import validate
from megaphone.project.loader import load
from megaphone.project.schema import schema_json
from tests.conftest import NOW, ROOT

POSTS = ROOT / "posts"


def test_examples_validate_cleanly() -> None:
    report = validate(load([POSTS], cwd=ROOT), now=NOW)
    assert report.problems == []
    assert report.files == 6 and report.posts >= 15


def test_examples_use_every_feature_of_the_format() -> None:
    loaded = load([POSTS], cwd=ROOT)
    posts = loaded.project.posts()
    assert any(len(p.accounts) > 1 for p in posts), "coalition cross-posting"
    assert any(p.is_thread and len(p.parts) > 2 for p in posts), "a thread"
    assert any(p.is_thread and any(part.media for part in p.parts[1:]) for p in posts)
    assert any(m.alt for p in posts for part in p.parts for m in part.media), "media with alt"
    assert any(p.reply_to and "://" not in p.reply_to for p in posts), "reply to own post"
    assert any(p.quote and "://" in p.quote for p in posts), "quote a partner's post"
    assert any(p.expires for p in posts), "expires"
    assert any(p.draft and p.at is None for p in posts), "draft"
    assert {p.lang for p in posts} >= {"en", "es"}, "bilingual"
    assert any(p.hashtags for p in posts), "hashtags"
    assert len({p.timezone for p in posts}) > 1, "per-queue time zone"
    texts = [t for p in posts for t in p.texts()]
    assert any("@" in t for t in texts) and any("https://" in t for t in texts)
    networks = {a.name: a.network for a in loaded.project.config.accounts}
    assert set(networks.values()) == {"x", "mastodon", "bluesky"}, "every network"
    assert any({networks[a] for a in p.accounts} == {"x", "mastodon", "bluesky"} for p in posts)
    assert any(p.poll and p.spoiler and p.visibility for p in posts), "Mastodon's own fields"
    assert any(v.text.parts[0].media[0].alt for p in posts for v in p.variants), "languages"
    assert any(a.langs for a in loaded.project.config.accounts), "accounts' languages"
    assert any(p.networks for p in posts), "a network's own text"
    assert any(p.repeat and p.rotate for p in posts), "a repeating post, rotating texts"
    assert any(q.evergreen and q.min_gap and q.slots for q in loaded.project.queues), "evergreen"


def test_examples_match_the_json_schema() -> None:
    schema = json.loads(schema_json())
    for path in sorted(POSTS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        # YAML reads unquoted times as datetimes; the schema speaks of the text.
        for post in data["posts"]:
            for key in ("at", "expires"):
                if key in post:
                    post[key] = str(post[key])
            if "until" in post.get("repeat", {}):
                post["repeat"]["until"] = str(post["repeat"]["until"])
        jsonschema.validate(data, schema)


def test_the_published_schema_file_is_current() -> None:
    assert (ROOT / "schema" / "queue.schema.json").read_text(encoding="utf-8") == schema_json()


def test_schema_command(run: Callable[..., Result]) -> None:
    result = run("schema", cwd=ROOT)
    assert json.loads(result.stdout)["title"] == "megaphone queue file"


def test_the_quick_start_rehearsal_runs_without_credentials(
    run: Callable[..., Result], monkeypatch
) -> None:
    """The README's first command: a dry run of the example project."""
    import os
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"\.venv/bin/megaphone (publish [^\n`]*)", readme)
    assert command is not None, "the Quick start runs megaphone publish"
    for name in list(os.environ):
        if name.startswith("MEGAPHONE_"):
            monkeypatch.delenv(name)
    ledger = ROOT / ".megaphone" / "ledger.db"
    before = ledger.stat().st_mtime_ns if ledger.exists() else None
    result = run(*command.group(1).split(), cwd=ROOT)
    assert result.exit_code == 0, result.output
    assert "nothing was sent or recorded" in result.output
    assert "part 2/2" in result.output and "alt: " in result.output
    assert (ledger.stat().st_mtime_ns if ledger.exists() else None) == before  # untouched
