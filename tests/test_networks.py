"""Each network judges a post by its own rules: validate, preview and the dry
run measure the text once per network a post goes to, name the network
when a post goes to several, and keep X's behaviour for X alone.  The
second network is the tests' own (tests/memorynet), one registry line away."""

from __future__ import annotations

import json

import pytest

from megaphone import networks
from megaphone.networks.base import AccountLimits

CONFIG = """\
timezone: UTC
accounts:
  - {name: utla, network: x}
  - {name: memo, network: memory}
"""


@pytest.fixture(autouse=True)
def memory_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(networks.REGISTRY, "memory", "tests.memorynet")


def queue(text: str, accounts: str = "[utla, memo]", extra: str = "") -> str:
    return (
        f"account: {accounts}\nposts:\n  - id: both\n    at: 2026-12-01 09:00\n"
        f"    text: {json.dumps(text)}\n{extra}"
    )


def problems(run, root) -> list[dict[str, object]]:
    result = run("validate", "--format", "json", cwd=root)
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def test_the_text_is_measured_once_per_network(project, run, frozen_now) -> None:
    root = project({"megaphone.yaml": CONFIG}, q=queue("a" * 290))
    [too_long] = problems(run, root)
    assert too_long["code"] == "text-too-long" and too_long["network"] == "x"
    assert str(too_long["message"]).startswith("X: post 'both' weighs 290/280")
    human = run("validate", cwd=root).output
    assert "X: post 'both' weighs 290/280, 10 over" in human
    # Memory takes 300 characters: nothing to say of it.
    root = project({"megaphone.yaml": CONFIG}, q=queue("a" * 290, accounts="memo"))
    assert problems(run, root) == []


def test_a_post_to_one_network_does_not_name_it(project, run, frozen_now) -> None:
    root = project({"megaphone.yaml": CONFIG}, q=queue("a" * 290, accounts="utla"))
    [too_long] = problems(run, root)
    assert str(too_long["message"]).startswith("post 'both' weighs 290/280")


def test_preview_shows_one_count_per_network(project, run, frozen_now) -> None:
    root = project({"megaphone.yaml": CONFIG}, q=queue("a" * 290))
    out = run("preview", cwd=root).output
    assert "X 290/280 ✗ · Memory 290/300" in out
    assert "⟫" in out  # the strictest failing cut: X's
    md = run("preview", "--format", "markdown", cwd=root).output
    assert "X 290/280 — **10 over** · Memory 290/300" in md


def test_only_networks_that_refuse_duplicates_say_so(project, run, frozen_now) -> None:
    twice = (
        "account: memo\nposts:\n  - {id: a, at: 2026-12-01 09:00, text: Same words.}\n"
        "  - {id: b, at: 2026-12-02 09:00, text: Same words.}\n"
    )
    root = project({"megaphone.yaml": CONFIG}, q=twice)
    assert problems(run, root) == []
    root = project({"megaphone.yaml": CONFIG}, q=twice.replace("account: memo", "account: utla"))
    [dup] = problems(run, root)
    assert dup["code"] == "duplicate-text" and "X rejects duplicates" in str(dup["message"])


def test_a_reference_to_another_networks_post_is_an_error(project, run, frozen_now) -> None:
    extra = "    reply_to: https://x.com/UTLAnow/status/123\n"
    root = project({"megaphone.yaml": CONFIG}, q=queue("An answer.", extra=extra))
    [bad] = problems(run, root)
    assert bad["code"] == "bad-reference" and bad["network"] == "memory"
    assert "is a post on X; it cannot be answered or quoted from Memory" in str(bad["message"])
    extra = "    quote: https://memory.example/utlanow/posts/7\n"
    root = project({"megaphone.yaml": CONFIG}, q=queue("A quote.", accounts="memo", extra=extra))
    assert problems(run, root) == []


def test_media_limits_are_each_networks(project, run, frozen_now, tmp_path) -> None:
    from tests.conftest import png_bytes

    images = "".join(f"      - {{path: media/{i}.png, alt: A picture.}}\n" for i in range(3))
    extra = "    media:\n" + images
    files: dict[str, str | bytes] = {"megaphone.yaml": CONFIG}
    files.update({f"posts/media/{i}.png": png_bytes() for i in range(3)})
    root = project(files, q=queue("Three pictures.", extra=extra))
    [count] = problems(run, root)
    assert count["code"] == "media-count" and count["network"] == "memory"
    assert str(count["message"]) == "Memory: 3 images: a post on Memory takes at most 2"


def test_hashtags_are_judged_by_each_network(project, run, frozen_now) -> None:
    extra = "    hashtags: ['2026']\n"
    root = project({"megaphone.yaml": CONFIG}, q=queue("Numbers.", accounts="memo", extra=extra))
    assert problems(run, root) == []  # Memory has no rule on hashtags
    root = project({"megaphone.yaml": CONFIG}, q=queue("Numbers.", accounts="utla", extra=extra))
    assert [p["code"] for p in problems(run, root)] == ["invalid-hashtag"]


def test_an_account_needs_its_network(project, run, frozen_now) -> None:
    config = "timezone: UTC\naccounts:\n  - name: utla\n"
    root = project({"megaphone.yaml": config}, q=queue("Hello.", accounts="utla"))
    result = run("validate", cwd=root)
    assert result.exit_code == 1
    supported = ", ".join(networks.names())
    assert f"account 'utla' needs its network (network: one of {supported})" in result.output
    root = project(
        {"megaphone.yaml": "timezone: UTC\naccounts: [{name: utla, network: X}]\n"},
        q=queue("Hello.", accounts="utla"),
    )
    assert run("validate", cwd=root).exit_code == 0  # the name, in any case


def test_a_project_without_accounts_says_so(project, run, frozen_now) -> None:
    root = project({"megaphone.yaml": "timezone: UTC\n"}, q=queue("Hello.", accounts="utla"))
    [unknown] = problems(run, root)
    assert unknown["code"] == "unknown-account"
    assert "it has no accounts yet" in str(unknown["message"])


def test_an_accounts_own_limit_is_used() -> None:
    from tests.memorynet.rules import RULES

    assert RULES.measure("a" * 400).limit == 300
    assert RULES.measure("a" * 400, AccountLimits(max_characters=500)).limit == 500


def test_the_dry_run_measures_per_network(project, run, frozen_now, monkeypatch) -> None:
    root = project({"megaphone.yaml": CONFIG}, q=queue("Hello, both."))
    out = run("publish", "--dry-run", "--now", "both", cwd=root).output
    assert "12/280" in out and "12/300" in out
    assert "idempotency: none (X takes no key" in out


KEYED = """\
account: memo
posts:
  - id: story
    at: 2026-11-29 11:59
    thread: ['One (1/2)', 'Two (2/2)']
"""


@pytest.fixture
def memory(monkeypatch: pytest.MonkeyPatch):
    from tests.memorynet import client

    memory = client.MEMORY
    memory.posts.clear()
    memory.requests.clear()
    memory.keys.clear()
    memory.create_faults.clear()
    monkeypatch.setenv("MEGAPHONE_MEMO_TOKEN", "a-token")
    yield memory
    memory.on_create = None


def test_each_part_has_a_key_stored_before_its_first_send(project, run, no_wait, memory) -> None:
    import sqlite3

    root = project({"megaphone.yaml": CONFIG}, q=KEYED)
    db = root / ".megaphone" / "ledger.db"
    stored_then: list[tuple[int, str]] = []

    def look(request) -> None:
        with sqlite3.connect(db) as con:
            [(in_flight, key)] = con.execute(
                "SELECT in_flight, idem_key FROM deliveries WHERE post_id = 'story'"
            ).fetchall()
        stored_then.append((in_flight, key))
        assert key == request.key, "the key must be in the ledger before the request leaves"

    memory.on_create = look
    memory.create_faults.extend(["unavailable"])  # part 1's first try never arrives
    result = run("publish", "--due", cwd=root)
    assert result.exit_code == 0, result.output
    keys = [r.key for r in memory.requests]
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2]  # a retry sends its key again
    assert all(k and len(k) >= 32 for k in keys)
    assert [i for i, _ in stored_then] == [0, 0, 1]
    with sqlite3.connect(db) as con:
        parts = con.execute(
            "SELECT idx, idem_key FROM parts WHERE post_id = 'story' ORDER BY idx"
        ).fetchall()
    assert parts == [(0, keys[0]), (1, keys[2])]
    assert [p.text for p in memory.posts] == ["One (1/2)", "Two (2/2)"]


def test_a_send_answered_5xx_after_it_was_made_is_not_doubled_by_its_key(
    project, run, no_wait, memory
) -> None:
    root = project({"megaphone.yaml": CONFIG}, q=KEYED)
    # Made, then 503; and the lookup fails too: only the key keeps the
    # retry from posting it twice.
    memory.create_faults.extend(["server_error_after"])
    memory.read_faults.extend(["fail", "fail"])
    result = run("publish", "--due", cwd=root)
    assert result.exit_code == 0, result.output
    assert [p.text for p in memory.posts] == ["One (1/2)", "Two (2/2)"]


def test_the_dry_run_names_a_networks_key(project, run, frozen_now) -> None:
    root = project({"megaphone.yaml": CONFIG}, q=KEYED)
    out = run("publish", "--dry-run", "--now", "story", cwd=root).output
    assert "idempotency: an Idempotency-Key per part, made and stored in the ledger" in out


def test_init_writes_the_networks_own_credentials(tmp_path, run) -> None:
    result = run("init", "fresh", "--timezone", "UTC", "--network", "memory", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    config = (tmp_path / "fresh" / "megaphone.yaml").read_text()
    assert "network: memory" in config and "daily_cap" not in config  # Memory has no cap
    env = (tmp_path / "fresh" / ".env.example").read_text()
    assert "MEGAPHONE_MAIN_TOKEN=" in env and "API_KEY" not in env
    x = run("init", "x-project", "--timezone", "UTC", cwd=tmp_path)
    assert x.exit_code == 0
    assert "daily_cap: 17" in (tmp_path / "x-project" / "megaphone.yaml").read_text()
    assert "MEGAPHONE_MAIN_ACCESS_SECRET=" in (tmp_path / "x-project" / ".env.example").read_text()
    refused = run("init", "other", "--network", "myspace", cwd=tmp_path)
    assert refused.exit_code == 2 and f"not one of {', '.join(networks.names())}" in refused.output


@pytest.mark.parametrize("network", ["x", "mastodon", "bluesky", "memory"])
def test_a_new_project_of_every_network_validates(tmp_path, run, network: str) -> None:
    result = run("init", "fresh", "--timezone", "UTC", "--network", network, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    checked = run("validate", cwd=tmp_path / "fresh")
    assert checked.exit_code == 0 and "no problems" in checked.output, checked.output
