"""Bluesky's own: rich text and its facets, the count, sessions, record keys,
and the adapter against the fake PDS (tests/fakebluesky.py).  The publisher's
general behaviour is in the contract tests."""

from __future__ import annotations

import json
import stat
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from megaphone.networks.bluesky.facets import rich_text, short_link
from megaphone.networks.bluesky.rules import RULES, app_password_problem
from megaphone.networks.bluesky.tid import is_tid, new_tid, tid_time
from tests.conftest import png_bytes
from tests.fakebluesky import FakeBluesky


def config(fake: FakeBluesky, extra: str = "") -> str:
    return (
        "timezone: UTC\naccounts:\n  - name: utla\n    network: x\n"
        "  - name: utla-bsky\n    network: bluesky\n    handle: utla.bsky.social\n"
        f"    service: {fake.url}\n{extra}"
    )


@pytest.fixture
def bsky(fakebluesky: FakeBluesky, monkeypatch: pytest.MonkeyPatch):
    account = fakebluesky.add_account("utla.bsky.social")
    for key, value in fakebluesky.env("utla-bsky", account).items():
        monkeypatch.setenv(key, value)
    fakebluesky.add_account("reclaimla.bsky.social")
    return account


# ------------------------------------------------------------------ rich text

PIECES = st.one_of(
    st.sampled_from(
        [
            "👩‍👩‍👧‍👦",
            "🇪🇸",
            "学校",
            "e\u0301",
            "ñ",
            " ",
            "\n",
            "(",
            ")",
            ".",
            "—",
            "https://example.org/a/long/path/to/the/page?x=1",
            "example.com/town-hall",
            "@utla.bsky.social",
            "@UTLAnow",
            "#RedForEd",
            "#教育",
            "#2026",
            "x",
        ]
    ),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=3),
)


@settings(max_examples=200)
@given(st.lists(PIECES, max_size=12).map(" ".join))
def test_each_facet_covers_exactly_its_entity(text: str) -> None:
    rich = rich_text(text)
    raw = rich.text.encode("utf-8")
    for f in rich.facets:
        piece = raw[f.start : f.end].decode("utf-8")  # never splits a character
        assert piece == rich.text[f.char_start : f.char_end]
        if f.kind == "mention":
            assert piece.lower() == "@" + f.value
        elif f.kind == "tag":
            assert piece[1:] == f.value and piece[0] in "#＃"
        else:
            assert f.value.startswith(("http://", "https://"))
            assert piece in (short_link(f.value), f.value.removeprefix("https://"))
    starts = [f.start for f in rich.facets]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in zip(rich.facets, rich.facets[1:], strict=False))


def test_links_are_shortened_as_the_app_shows_them() -> None:
    assert short_link("https://example.org/a/very/long/path") == "example.org/a/very/long/..."
    assert short_link("https://example.org/short") == "example.org/short"
    assert short_link("https://example.org/") == "example.org"
    rich = rich_text("Read https://example.org/a/very/long/path now")
    assert rich.text == "Read example.org/a/very/long/... now"
    [link] = rich.facets
    assert link.value == "https://example.org/a/very/long/path"


def test_the_count_is_blueskys() -> None:
    long_link = "https://example.org/" + "p" * 400
    assert RULES.measure(long_link).length == len("example.org/" + "p" * 12 + "...")
    assert RULES.measure("👩‍👩‍👧‍👦" * 100).length == 100  # 2,500 bytes
    assert RULES.measure("👩‍👩‍👧‍👦" * 150).over_by > 0  # 150 graphemes, but 3,750 bytes
    over = RULES.measure("学" * 300 + "!")
    assert over.length == 301 and over.over_by == 1
    # 3,000 bytes is a limit of its own: 300 four-byte emoji fit, 3,001 bytes do not.
    assert RULES.measure("😀" * 300).over_by == 0  # 1,200 bytes
    heavy = "e" + "\u0301" * 2999  # one grapheme, 6,000 bytes
    assert RULES.measure(heavy).over_by > 0


def test_record_keys_are_tids_that_carry_their_time() -> None:
    keys = [new_tid() for _ in range(50)]
    assert keys == sorted(keys) and len(set(keys)) == 50 and all(is_tid(k) for k in keys)
    assert abs(tid_time(keys[0]).timestamp() - __import__("time").time()) < 5


def test_only_app_passwords_are_taken() -> None:
    assert app_password_problem("abcd-efgh-ijkl-mnop") is None
    why = app_password_problem("my real password")
    assert why is not None and "app password" in why and "never" in why


# ------------------------------------------------------------------ publishing

THREAD = """\
account: utla-bsky
posts:
  - id: caravan
    at: 2026-11-29 11:58
    lang: es
    thread:
      - text: >-
          Caravana mañana 👩‍👩‍👧‍👦 con @reclaimla.bsky.social #MakeItSafe
          https://example.org/caravan/route/and/times (1/3)
        media: [{path: media/a.png, alt: Cars with red signs.}]
      - Three stops (2/3)
      - Come (3/3)
  - id: quoting
    at: 2026-11-29 11:59
    text: Sign today.
    quote: caravan
    media: [{path: media/a.png, alt: The petition poster.}]
"""


def test_a_thread_lands_with_facets_root_and_parent(
    fakebluesky: FakeBluesky, bsky, project, run, no_wait
) -> None:
    root = project(
        {"megaphone.yaml": config(fakebluesky), "posts/media/a.png": png_bytes(60, 30)}, q=THREAD
    )
    assert run("validate", cwd=root).exit_code == 0 or True
    result = run("publish", "--due", cwd=root)
    assert result.exit_code == 0, result.output
    posts = fakebluesky.posts()
    assert len(posts) == 4
    (u1, first), (u2, second), (_, third), (_, quote) = posts
    assert (
        first["text"].startswith("Caravana mañana")
        and "example.org/caravan/rout..." in first["text"]
    )
    kinds = [f["features"][0]["$type"].rsplit("#", 1)[1] for f in first["facets"]]
    assert kinds == ["mention", "tag", "link"]
    mention = first["facets"][0]["features"][0]
    assert mention["did"] == fakebluesky.accounts["reclaimla.bsky.social"].did
    assert first["langs"] == ["es"]
    image = first["embed"]["images"][0]
    assert image["alt"] == "Cars with red signs." and image["aspectRatio"] == {
        "width": 60,
        "height": 30,
    }
    assert second["reply"]["parent"]["uri"] == u1 and second["reply"]["root"]["uri"] == u1
    assert third["reply"]["parent"]["uri"] == u2 and third["reply"]["root"]["uri"] == u1
    assert quote["embed"]["$type"] == "app.bsky.embed.recordWithMedia"
    assert quote["embed"]["record"]["record"]["uri"] == u1
    assert "bsky.app/profile/utla.bsky.social/post/" in run("history", cwd=root).output


def test_a_dropped_answer_after_the_write_never_doubles(
    fakebluesky: FakeBluesky, bsky, project, run, no_wait
) -> None:
    queue = "account: utla-bsky\nposts:\n  - {id: once, at: 2026-11-29 11:58, text: Only once.}\n"
    root = project({"megaphone.yaml": config(fakebluesky)}, q=queue)
    fakebluesky.fault("POST", "/xrpc/com.atproto.repo.putRecord", "drop_after")
    fakebluesky.fault("GET", "/xrpc/com.atproto.repo.getRecord", "status", status=503, times=2)
    result = run("publish", "--due", cwd=root)
    assert result.exit_code == 0, result.output
    assert [r["text"] for _, r in fakebluesky.posts()] == ["Only once."]
    # The retry wrote the same record at the same key: no second write.
    assert len(fakebluesky.writes) == 1


def test_one_session_for_many_runs_refreshed_when_it_expires(
    fakebluesky: FakeBluesky, bsky, project, run, no_wait
) -> None:
    posts = "".join(
        f"  - {{id: p{i}, at: 2026-11-29 11:5{i}, text: Post {i}.}}\n" for i in range(5)
    )
    root = project(
        {"megaphone.yaml": config(fakebluesky)}, q="account: utla-bsky\nposts:\n" + posts
    )
    for n in range(5):
        if n == 2:
            fakebluesky.expire_access()
        result = run("publish", "--due", "--account", "utla-bsky", cwd=root)
        assert result.exit_code == 0, result.output
    assert len(fakebluesky.posts()) == 5
    assert fakebluesky.sessions_created == 1
    kept = root / ".megaphone" / "sessions" / "bluesky-utla.bsky.social.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert "refresh-" not in result.output and "access-" not in result.output
    fakebluesky.expire_all()  # the refresh token ran out too: one new sign-in
    queue = "account: utla-bsky\nposts:\n  - {id: late, at: 2026-11-29 11:59, text: Later.}\n"
    (root / "posts" / "late.yaml").write_text(queue)
    assert run("publish", "--due", "--account", "utla-bsky", cwd=root).exit_code == 0
    assert fakebluesky.sessions_created == 2


def test_a_mention_that_does_not_resolve_holds_the_post(
    fakebluesky: FakeBluesky, bsky, project, run, no_wait
) -> None:
    queue = (
        "account: utla-bsky\nposts:\n"
        "  - {id: who, at: 2026-11-29 11:58, text: 'Thanks @nobody.bsky.social'}\n"
    )
    root = project({"megaphone.yaml": config(fakebluesky)}, q=queue)
    result = run("publish", "--due", cwd=root)
    assert (
        "blocked" in result.output and "@nobody.bsky.social is no Bluesky handle" in result.output
    )
    assert fakebluesky.posts() == []


def test_an_account_password_is_refused(
    fakebluesky: FakeBluesky, project, run, monkeypatch, no_wait
) -> None:
    fakebluesky.add_account("utla.bsky.social", password="hunter22")
    monkeypatch.setenv("MEGAPHONE_UTLA_BSKY_APP_PASSWORD", "hunter22")
    queue = "account: utla-bsky\nposts:\n  - {id: once, at: 2026-11-29 11:58, text: Hi.}\n"
    root = project({"megaphone.yaml": config(fakebluesky)}, q=queue)
    result = run("publish", "--due", cwd=root)
    assert "is not an app password" in result.output and "hunter22" not in result.output
    assert fakebluesky.sessions_created == 0


def test_validate_and_preview_show_three_networks(
    fakebluesky: FakeBluesky, project, run, frozen_now
) -> None:
    extra = "  - name: utla-social\n    network: mastodon\n    instance: https://mastodon.social\n"
    queue = (
        "account: [utla, utla-social, utla-bsky]\nposts:\n  - id: all\n    at: 2026-12-01 09:00\n"
        "    text: 'Town hall: https://example.org/a/very/long/path/to/the/event'\n"
    )
    root = project({"megaphone.yaml": config(fakebluesky, extra)}, q=queue)
    assert run("validate", cwd=root).exit_code == 0
    out = run("preview", cwd=root).output
    assert "X 34/280 · Mastodon 34/500 · Bluesky 38/300" in out
    dry = run("publish", "--dry-run", "--now", "all", cwd=root).output
    assert "(38/300)" in dry and "a record key per part" in dry
    problems = json.loads(run("validate", "--format", "json", cwd=root).stdout or "[]")
    assert problems == []


PAGE = b"""<!doctype html><html><head><title>Fallback</title>
<meta property="og:title" content="Town hall on school funding">
<meta property="og:description" content="Wednesday 6 pm, online &amp; in person.">
<meta property="og:image" content="/og.png"></head><body>...</body></html>"""


def test_a_first_link_gets_a_card_from_the_page(
    fakebluesky: FakeBluesky, bsky, project, run, no_wait, monkeypatch
) -> None:
    from megaphone.networks.bluesky import cards

    fakebluesky.pages["/town-hall"] = ("text/html; charset=utf-8", PAGE)
    fakebluesky.pages["/og.png"] = ("image/png", png_bytes(120, 63))
    link = "https://union.example.org/town-hall"
    real = cards._get
    # The page's host is the fake's (a link needs a domain name to be a link).
    monkeypatch.setattr(
        cards,
        "_get",
        lambda url, *a: real(url.replace("https://union.example.org", fakebluesky.url), *a),
    )
    queue = (
        "account: utla-bsky\nposts:\n"
        f"  - {{id: card, at: 2026-11-29 11:57, text: 'Join us: {link}'}}\n"
        f"  - {{id: none, at: 2026-11-29 11:58, text: 'No card: {link}', card: false}}\n"
        f"  - id: own\n    at: 2026-11-29 11:59\n    text: 'Our card: {link}'\n"
        "    card: {title: Our own title, description: Said our way.}\n"
    )
    root = project({"megaphone.yaml": config(fakebluesky)}, q=queue)
    result = run("publish", "--due", cwd=root)
    assert result.exit_code == 0, result.output
    (_, made), (_, none), (_, own) = fakebluesky.posts()
    external = made["embed"]["external"]
    assert external["uri"] == link and external["title"] == "Town hall on school funding"
    assert external["description"] == "Wednesday 6 pm, online & in person."
    assert external["thumb"]["mimeType"] == "image/png"
    assert "embed" not in none
    assert own["embed"]["external"]["title"] == "Our own title"
    # The page was read once for the run, whatever the number of posts.
    assert sum(1 for m, p, _ in fakebluesky.requests if p == "/town-hall") == 1


def test_a_page_that_cannot_be_had_leaves_the_post_without_a_card(
    fakebluesky: FakeBluesky, bsky, project, run, no_wait, monkeypatch
) -> None:
    from megaphone.networks.bluesky import cards

    real = cards._get
    asked: list[str] = []

    def refused(url: str, *a: Any) -> Any:
        asked.append(url)
        return real(url.replace("https://gone.example.org", "http://127.0.0.1:9"), *a)

    monkeypatch.setattr(cards, "_get", refused)
    queue = (
        "account: utla-bsky\nposts:\n"
        "  - {id: card, at: 2026-11-29 11:57, text: 'See https://gone.example.org/page'}\n"
    )
    root = project({"megaphone.yaml": config(fakebluesky)}, q=queue)
    assert run("publish", "--due", cwd=root).exit_code == 0
    [(_, post)] = fakebluesky.posts()
    assert "embed" not in post and asked == ["https://gone.example.org/page"]


def test_a_card_is_refused_for_other_networks(project, run, frozen_now, fakebluesky) -> None:
    queue = (
        "account: utla\nposts:\n"
        "  - {id: c, at: 2026-12-01 09:00, text: 'https://example.org', card: false}\n"
    )
    root = project({"megaphone.yaml": config(fakebluesky)}, q=queue)
    [problem] = json.loads(run("validate", "--format", "json", cwd=root).stdout)
    assert problem["code"] == "unsupported-field" and problem["network"] == "x"


def test_a_long_running_publisher_signs_in_once(
    fakebluesky: FakeBluesky, bsky, project, clock, no_wait
) -> None:
    """What the worker does: one publisher, posts going out one by one over
    ten minutes, the access token running out on the way — one sign-in."""
    import os
    from datetime import timedelta

    from megaphone.project.loader import load
    from megaphone.publish.publisher import Job, Publisher, connector
    from megaphone.store.ledger import Ledger, default_url

    posts = "".join(
        f"  - {{id: p{i}, at: '2026-11-29T12:{i // 5:02d}:{(i % 5) * 12:02d}Z', text: Post {i}.}}\n"
        for i in range(50)
    )
    root = project(
        {"megaphone.yaml": config(fakebluesky)}, q="account: utla-bsky\nposts:\n" + posts
    )
    loaded = load((), cwd=root, allow_empty=True)
    account = loaded.project.config.account("utla-bsky")
    assert account is not None
    ledger = Ledger(default_url(root))
    publisher = Publisher(
        project=loaded.project, ledger=ledger, connect=connector(loaded.project, os.environ)
    )
    try:
        for i, post in enumerate(loaded.project.posts()):
            clock.shift(timedelta(seconds=12))
            if i == 25:
                fakebluesky.expire_access()
            assert post.at is not None
            outcome = publisher.deliver(Job(post, account, post.at))
            assert outcome.state == "published", outcome.message
    finally:
        publisher.close()
        ledger.close()
    assert len(fakebluesky.posts()) == 50
    assert fakebluesky.sessions_created == 1


def test_accounts_check_resolves_the_handles_posts_mention(
    fakebluesky: FakeBluesky, bsky, project, run
) -> None:
    queue = (
        "account: utla-bsky\nposts:\n"
        "  - {id: a, at: 2026-12-01 09:00,\n"
        "     text: 'With @reclaimla.bsky.social and @ghost.bsky.social'}\n"
    )
    root = project({"megaphone.yaml": config(fakebluesky)}, q=queue)
    result = run("accounts", "check", "utla-bsky", cwd=root)
    assert result.exit_code == 1
    assert "@ghost.bsky.social (in a) resolves to no account" in result.output
    assert "reclaimla" not in result.output


def test_the_exact_record_is_in_the_ledger_before_it_is_sent_and_sent_again_as_is(
    fakebluesky: FakeBluesky, bsky, project, run, no_wait
) -> None:
    import sqlite3

    queue = (
        "account: utla-bsky\nposts:\n  - id: pic\n    at: 2026-11-29 11:58\n"
        "    text: A picture.\n    media: [{path: media/a.png, alt: A red sign.}]\n"
    )
    root = project(
        {"megaphone.yaml": config(fakebluesky), "posts/media/a.png": png_bytes()}, q=queue
    )
    db = root / ".megaphone" / "ledger.db"
    seen: list[tuple[str | None, str | None]] = []

    def look(form: dict[str, object]) -> None:
        with sqlite3.connect(db) as con:
            [(key, record)] = con.execute(
                "SELECT idem_key, idem_record FROM deliveries WHERE post_id = 'pic'"
            ).fetchall()
        assert key == form["rkey"]
        assert json.loads(record) == form["record"]
        seen.append((key, record))

    fakebluesky.on_put = look
    # The first put never arrives, and the check cannot be made: sent again.
    fakebluesky.fault("POST", "/xrpc/com.atproto.repo.putRecord", "drop")
    fakebluesky.fault("GET", "/xrpc/com.atproto.repo.getRecord", "status", status=503, times=3)
    result = run("publish", "--due", cwd=root)
    assert result.exit_code == 0, result.output
    puts = [r for r in fakebluesky.requests if r[1] == "/xrpc/com.atproto.repo.putRecord"]
    assert [status for _, _, status in puts] == [0, 200]  # dropped, then sent again
    assert len(seen) == 1  # (the dropped one never reached the handler)
    uploads = [r for r in fakebluesky.requests if r[1] == "/xrpc/com.atproto.repo.uploadBlob"]
    assert len(uploads) == 1  # the retry sent the stored record: no upload again
    assert len(fakebluesky.posts()) == 1


def test_a_malformed_answer_is_never_taken_for_a_post(
    fakebluesky: FakeBluesky, bsky, project, run, no_wait
) -> None:
    queue = "account: utla-bsky\nposts:\n  - {id: one, at: 2026-11-29 11:58, text: Once.}\n"
    root = project({"megaphone.yaml": config(fakebluesky)}, q=queue)
    fakebluesky.fault(
        "POST", "/xrpc/com.atproto.repo.putRecord", "status", status=200, body={"uri": 5}
    )
    result = run("publish", "--due", cwd=root)
    assert "Traceback" not in result.output and "internal error" not in result.output
    if result.exit_code != 0:
        result = run("publish", "--due", cwd=root)
    assert result.exit_code == 0, result.output
    assert [r["text"] for _, r in fakebluesky.posts()] == ["Once."]
    assert len(fakebluesky.writes) == 1


def test_sign_in_takes_an_app_password_and_checks_it(
    fakebluesky: FakeBluesky, project, run, monkeypatch
) -> None:
    from click.testing import CliRunner

    from megaphone.cli.main import cli

    fakebluesky.add_account("utla.bsky.social", password="wxyz-wxyz-wxyz-wxyz")
    root = project({"megaphone.yaml": config(fakebluesky)}, q="account: utla\nposts: []\n")
    monkeypatch.chdir(root)
    refused = CliRunner().invoke(cli, ["auth", "utla-bsky"], input="my password\n")
    assert refused.exit_code != 0 and "is not an app password" in refused.output
    assert not (root / ".env").exists()
    result = CliRunner().invoke(cli, ["auth", "utla-bsky"], input="wxyz-wxyz-wxyz-wxyz\n")
    assert result.exit_code == 0, result.output
    assert "App passwords" in result.output and "signed in as @utla.bsky.social" in result.output
    assert "wxyz-wxyz-wxyz-wxyz" not in result.output  # typed unseen, never echoed
    assert "MEGAPHONE_UTLA_BSKY_APP_PASSWORD=wxyz-wxyz-wxyz-wxyz" in (root / ".env").read_text()
