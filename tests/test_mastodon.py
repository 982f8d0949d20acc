"""Mastodon's own: the adapter against the fake instance (tests/fakemastodon.py),
and what validate, preview and the dry run say of Mastodon posts.  The
publisher's general behaviour is in the contract tests."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from megaphone.errors import RateLimited, Rejected, Unavailable
from megaphone.model import AccountLimits
from megaphone.networks.base import Credentials, Secret
from megaphone.networks.contract import PostRequest, Timeouts
from megaphone.networks.mastodon.client import MastodonNetwork
from megaphone.networks.mastodon.rules import RULES
from megaphone.text.graphemes import graphemes
from tests.conftest import png_bytes
from tests.fakemastodon import FakeMastodon


def config(fake: FakeMastodon, extra: str = "") -> str:
    return (
        "timezone: UTC\naccounts:\n"
        "  - name: utla\n    network: x\n"
        "  - name: utla-social\n    network: mastodon\n"
        f"    instance: {fake.url}\n    handle: utlanow@127.0.0.1\n{extra}"
    )


@pytest.fixture
def social(fakemastodon: FakeMastodon, monkeypatch: pytest.MonkeyPatch):
    account = fakemastodon.add_account("utlanow")
    for key, value in fakemastodon.env("utla-social", account).items():
        monkeypatch.setenv(key, value)
    return account


def net(fake: FakeMastodon, token: str) -> MastodonNetwork:
    return MastodonNetwork(
        Credentials((("ACCESS_TOKEN", Secret(token)),), api_url=fake.url),
        timeouts=Timeouts(2, 2),
        sleep=lambda s: None,
    )


THREAD = """\
account: utla-social
posts:
  - id: caravan
    at: 2026-11-29 11:58
    thread:
      - text: Our caravan starts at dawn (1/4)
        media:
          - {path: media/a.png, alt: Teachers with red signs at dawn.}
          - {path: media/b.png, alt: A bus painted red.}
      - text: We stop in three towns (2/4)
        media: [{path: media/c.png, alt: A map of the route.}]
      - Join us at any stop (3/4)
      - https://example.org/caravan has the times (4/4)
"""


def images() -> dict[str, str | bytes]:
    return {f"posts/media/{n}.png": png_bytes() for n in "abc"}


def test_a_thread_with_images_lands_as_a_reply_chain(
    fakemastodon: FakeMastodon, social, project, run, no_wait
) -> None:
    root = project({"megaphone.yaml": config(fakemastodon), **images()}, q=THREAD)
    result = run("publish", "--due", cwd=root)
    assert result.exit_code == 0, result.output
    posted = fakemastodon.posted()
    assert [s.text for s in posted] == [
        "Our caravan starts at dawn (1/4)",
        "We stop in three towns (2/4)",
        "Join us at any stop (3/4)",
        "https://example.org/caravan has the times (4/4)",
    ]
    assert [s.in_reply_to_id for s in posted] == [None, posted[0].id, posted[1].id, posted[2].id]
    assert [len(s.media_ids) for s in posted] == [2, 1, 0, 0]
    described = {m.description for m in fakemastodon.media.values()}
    assert described == {
        "Teachers with red signs at dawn.",
        "A bus painted red.",
        "A map of the route.",
    }
    # Each upload was polled until processed before it was attached.
    assert all(m.polls_left == 0 for m in fakemastodon.media.values())
    keys = [
        h.get("Idempotency-Key")
        for m, p, _, h in fakemastodon.requests
        if (m, p) == ("POST", "/api/v1/statuses")
    ]
    assert len(keys) == 4 and len(set(keys)) == 4 and all(keys)
    assert fakemastodon.status_url(posted[0]) in result.output or "published" in result.output


def test_a_dropped_answer_after_the_status_was_made_never_makes_a_second(
    fakemastodon: FakeMastodon, social, project, run, no_wait
) -> None:
    root = project(
        {"megaphone.yaml": config(fakemastodon)},
        q=THREAD.split("    thread:")[0] + "    text: One status only.\n",
    )
    fakemastodon.fault("POST", "/api/v1/statuses", "drop_after")
    result = run("publish", "--due", cwd=root)
    assert result.exit_code == 0, result.output
    assert [s.text for s in fakemastodon.posted()] == ["One status only."]


def test_a_repeat_with_the_key_gets_the_first_status_even_when_lookups_fail(
    fakemastodon: FakeMastodon, social, project, run, no_wait
) -> None:
    root = project(
        {"megaphone.yaml": config(fakemastodon)},
        q=THREAD.split("    thread:")[0]
        + "    text: Made, then 503, and the timeline cannot be read.\n",
    )
    fakemastodon.fault("POST", "/api/v1/statuses", "after", status=503)
    fakemastodon.fault("GET", r"/api/v1/accounts/\d+/statuses", "status", status=503, times=5)
    result = run("publish", "--due", cwd=root)
    assert result.exit_code == 0, result.output
    assert len(fakemastodon.posted()) == 1
    posts = [r for r in fakemastodon.requests if r[:2] == ("POST", "/api/v1/statuses")]
    assert len(posts) == 2 and posts[0][3]["Idempotency-Key"] == posts[1][3]["Idempotency-Key"]


def test_the_instances_own_limit_is_honoured(
    fakemastodon: FakeMastodon, social, project, run, no_wait
) -> None:
    fakemastodon.max_characters = 1000
    limits = "    limits: {max_characters: 1000}\n"
    queue = "account: utla-social\nposts:\n  - {id: long, at: 2026-11-29 11:58, text: %s}\n"
    root = project({"megaphone.yaml": config(fakemastodon, limits)}, q=queue % ("a" * 900))
    assert run("validate", cwd=root).exit_code == 0
    result = run("publish", "--due", cwd=root)
    assert result.exit_code == 0, result.output
    assert len(fakemastodon.posted()[0].text) == 900
    root = project({"megaphone.yaml": config(fakemastodon, limits)}, q=queue % ("a" * 1001))
    out = run("validate", "--format", "json", cwd=root).stdout
    [problem] = [p for p in json.loads(out) if p["severity"] == "error"]
    assert problem["code"] == "text-too-long" and "1001/1000" in problem["message"]


def test_accounts_check_reads_and_saves_the_instances_limits(
    fakemastodon: FakeMastodon, social, project, run
) -> None:
    fakemastodon.max_characters = 5000
    root = project({"megaphone.yaml": config(fakemastodon)}, q="account: utla-social\nposts: []\n")
    shown = run("accounts", "check", "utla-social", cwd=root)
    assert "max_characters 5000" in shown.output, shown.output
    assert "limits" not in (root / "megaphone.yaml").read_text()
    saved = run("accounts", "check", "utla-social", "--save", cwd=root)
    assert saved.exit_code == 0, saved.output
    text = (root / "megaphone.yaml").read_text()
    assert "max_characters: 5000" in text and "description_limit: 1500" in text
    from megaphone.project.loader import load

    loaded = load((), cwd=root, allow_empty=True)
    account = loaded.project.config.account("utla-social")
    assert account is not None and account.limits.max_characters == 5000
    # Saved again: replaced, not added twice.
    fakemastodon.max_characters = 6000
    assert run("accounts", "check", "utla-social", "--save", cwd=root).exit_code == 0
    text = (root / "megaphone.yaml").read_text()
    assert text.count("max_characters") == 1 and "max_characters: 6000" in text


def test_mastodon_fields_reach_the_instance(
    fakemastodon: FakeMastodon, social, project, run, no_wait
) -> None:
    queue = """\
account: utla-social
posts:
  - id: vote
    at: 2026-11-29 11:58
    lang: es
    visibility: unlisted
    spoiler: Strike vote
    text: ¿Votamos el jueves?
    poll: {options: ['Sí', 'No'], expires: 1d}
"""
    root = project({"megaphone.yaml": config(fakemastodon)}, q=queue)
    assert run("validate", cwd=root).exit_code == 0
    assert run("publish", "--due", cwd=root).exit_code == 0
    [status] = fakemastodon.posted()
    assert (status.visibility, status.spoiler_text, status.language) == (
        "unlisted",
        "Strike vote",
        "es",
    )
    assert status.poll == {"options": ["Sí", "No"], "expires_in": 86400, "multiple": False}
    assert status.sensitive


def test_fields_x_lacks_are_refused_for_x(project, run, frozen_now, fakemastodon) -> None:
    queue = (
        "account: [utla, utla-social]\nposts:\n  - id: vote\n    at: 2026-12-01 09:00\n"
        "    text: Vote!\n    poll: {options: ['Yes', 'No'], expires: 1d}\n    spoiler: Strike\n"
    )
    root = project({"megaphone.yaml": config(fakemastodon)}, q=queue)
    problems = json.loads(run("validate", "--format", "json", cwd=root).stdout)
    assert sorted((p["code"], p["network"]) for p in problems) == [
        ("unsupported-field", "x"),
        ("unsupported-field", "x"),
    ]


def test_a_quote_is_a_link_on_mastodon(
    fakemastodon: FakeMastodon, social, project, run, no_wait
) -> None:
    queue = """\
account: utla-social
posts:
  - {id: first, at: 2026-11-29 11:57, text: The petition is live.}
  - {id: second, at: 2026-11-29 11:58, text: Sign it today., quote: first}
"""
    root = project({"megaphone.yaml": config(fakemastodon)}, q=queue)
    codes = [p["code"] for p in json.loads(run("validate", "--format", "json", cwd=root).stdout)]
    assert [c for c in codes if c != "past-due"] == ["quote-as-link"]
    assert run("publish", "--due", cwd=root).exit_code == 0
    first, second = fakemastodon.posted()
    assert second.text == "Sign it today.\n\n" + fakemastodon.status_url(first)


def test_a_reply_to_a_status_url_is_resolved_on_the_instance(
    fakemastodon: FakeMastodon, social, project, run, no_wait
) -> None:
    n = net(fakemastodon, social.token)
    original = n.create_post(PostRequest("The original."))
    queue = (
        "account: utla-social\nposts:\n  - id: answer\n    at: 2026-11-29 11:58\n"
        f"    text: An answer.\n    reply_to: {original.url}\n"
    )
    root = project({"megaphone.yaml": config(fakemastodon)}, q=queue)
    assert run("validate", cwd=root).exit_code == 0
    assert run("publish", "--due", cwd=root).exit_code == 0
    assert fakemastodon.posted()[-1].in_reply_to_id == original.id


def test_another_accounts_token_holds_the_posts(
    fakemastodon: FakeMastodon, project, run, monkeypatch, no_wait
) -> None:
    other = fakemastodon.add_account("someoneelse")
    for key, value in fakemastodon.env("utla-social", other).items():
        monkeypatch.setenv(key, value)
    root = project({"megaphone.yaml": config(fakemastodon), **images()}, q=THREAD)
    result = run("publish", "--due", cwd=root)
    assert result.exit_code != 0
    assert "@someoneelse@127.0.0.1" in result.output and "blocked" in result.output
    assert fakemastodon.posted() == []


def test_a_refused_token_blocks_the_account(
    fakemastodon: FakeMastodon, project, run, monkeypatch, no_wait
) -> None:
    monkeypatch.setenv("MEGAPHONE_UTLA_SOCIAL_ACCESS_TOKEN", "wrong")
    monkeypatch.setenv("MEGAPHONE_UTLA_SOCIAL_API_URL", fakemastodon.url)
    root = project({"megaphone.yaml": config(fakemastodon), **images()}, q=THREAD)
    result = run("publish", "--due", cwd=root)
    assert "blocked" in result.output and "401" in result.output
    assert "wrong" not in result.output  # the token is never shown


def test_sign_in_writes_the_token(fakemastodon: FakeMastodon, project, run, monkeypatch) -> None:
    account = fakemastodon.add_account("utlanow")
    fakemastodon.codes["the-code"] = account.token
    root = project({"megaphone.yaml": config(fakemastodon)}, q="account: utla\nposts: []\n")
    from click.testing import CliRunner

    from megaphone.cli.main import cli

    monkeypatch.chdir(root)
    result = CliRunner().invoke(cli, ["auth", "utla-social"], input="the-code\n")
    assert result.exit_code == 0, result.output
    assert "/oauth/authorize?client_id=" in result.output
    assert "signed in as @utlanow@127.0.0.1" in result.output
    env = (root / ".env").read_text()
    assert f"MEGAPHONE_UTLA_SOCIAL_ACCESS_TOKEN={account.token}" in env
    assert (root / ".env").stat().st_mode & 0o777 == 0o600


def test_errors_map_to_megaphones(fakemastodon: FakeMastodon, social) -> None:
    n = net(fakemastodon, social.token)
    fakemastodon.fault("POST", "/api/v1/statuses", "status", status=429, reset_in=30)
    with pytest.raises(RateLimited) as limited:
        n.create_post(PostRequest("Hello."))
    assert limited.value.reset_at is not None
    assert 0 < limited.value.reset_at - datetime.now(UTC).timestamp() <= 31
    fakemastodon.fault(
        "POST",
        "/api/v1/statuses",
        "status",
        status=422,
        body={"error": "Validation failed: Media has not finished processing"},
    )
    with pytest.raises(Unavailable):  # a wait, not a refusal
        n.create_post(PostRequest("Hello."))
    fakemastodon.max_characters = 10
    with pytest.raises(Rejected) as refused:
        n.create_post(PostRequest("Far more than ten characters."))
    assert "character limit of 10 exceeded" in str(refused.value)


def test_a_lookup_compares_the_source_not_the_html(fakemastodon: FakeMastodon, social) -> None:
    n = net(fakemastodon, social.token)
    since = datetime.now(UTC) - timedelta(seconds=5)
    text = "Fish & chips <3 at https://example.org/menu\n\nSee you there"
    made = n.create_post(PostRequest(text))
    assert "&amp;" in fakemastodon.content(fakemastodon.posted()[0])
    found = n.find_sent(PostRequest(text), since=since)
    assert found is not None and found.id == made.id
    assert n.find_sent(PostRequest("Another text"), since=since) is None


def test_the_count_is_mastodons() -> None:
    family = "👩‍👩‍👧‍👦"
    assert graphemes(family) == 1
    m = RULES.measure(f"{family} https://example.org/" + "x" * 100 + " @ana@social.example")
    assert m.length == 1 + 1 + 23 + 1 + len("@ana")
    assert RULES.measure("Hi", AccountLimits(max_characters=1000)).limit == 1000
    # A bare domain is text on Mastodon.
    assert RULES.measure("example.org").length == len("example.org")
    assert RULES.measure("x" * 10, spoiler="CW: strike").length == 10 + len("CW: strike")
    over = RULES.measure("y" * 498 + " 👩‍👩‍👧‍👦👩‍👩‍👧‍👦 z")
    assert over.length == 503 and over.text[: over.fits_until].endswith("👩‍👩‍👧‍👦")


def test_the_dry_run_shows_both_networks(
    fakemastodon: FakeMastodon, project, run, frozen_now
) -> None:
    queue = (
        "account: [utla, utla-social]\nposts:\n  - {id: both, at: 2026-12-01 09:00, text: Hi.}\n"
    )
    root = project({"megaphone.yaml": config(fakemastodon)}, q=queue)
    out = run("publish", "--dry-run", "--now", "both", cwd=root).output
    assert "(3/280)" in out and "(3/500)" in out
    assert "an Idempotency-Key per part" in out
    preview = run("preview", cwd=root).output
    assert "X 3/280 · Mastodon 3/500" in preview


def test_the_ledger_keeps_each_parts_key(
    fakemastodon: FakeMastodon, social, project, run, no_wait
) -> None:
    root = project({"megaphone.yaml": config(fakemastodon), **images()}, q=THREAD)
    assert run("publish", "--due", cwd=root).exit_code == 0
    with sqlite3.connect(root / ".megaphone" / "ledger.db") as con:
        keys = [k for (k,) in con.execute("SELECT idem_key FROM parts ORDER BY idx")]
    sent = [
        h["Idempotency-Key"]
        for m, p, _, h in fakemastodon.requests
        if (m, p) == ("POST", "/api/v1/statuses")
    ]
    assert keys == sent


@given(
    st.lists(
        st.one_of(
            st.characters(max_codepoint=0x2FF),
            st.characters(min_codepoint=0x2000, max_codepoint=0x20CF),
            st.sampled_from(["\r\n", "\u0301", "\u200d", "👩", "🏽", "🇪🇸", "\u1100\u1161", "é"]),
        ),
        max_size=60,
    ).map("".join)
)
def test_the_fast_grapheme_count_agrees_with_the_full_one(text: str) -> None:
    import regex

    assert graphemes(text) == len(regex.findall(r"\X", text))


def test_a_malformed_answer_is_never_taken_for_a_post(
    fakemastodon: FakeMastodon, social, project, run, no_wait
) -> None:
    queue = "account: utla-social\nposts:\n  - {id: one, at: 2026-11-29 11:58, text: Once.}\n"
    root = project({"megaphone.yaml": config(fakemastodon)}, q=queue)
    # A 200 that is not a status (a proxy's page, a broken instance), then
    # a list where an object should be.
    fakemastodon.fault("POST", "/api/v1/statuses", "status", status=200, body={"html": "<p>"})
    fakemastodon.fault(
        "GET", "/api/v1/accounts/verify_credentials", "status", status=200, body={"id": 5}
    )
    result = run("publish", "--due", cwd=root)
    assert "Traceback" not in result.output and "internal error" not in result.output
    again = run("publish", "--due", cwd=root)
    assert again.exit_code == 0, again.output
    assert [s.text for s in fakemastodon.posted()] == ["Once."]
