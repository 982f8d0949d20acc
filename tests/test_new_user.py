"""What a new user tripped over: the wrong account, states that disagree,
values lost or unchecked, and commands run outside a project."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from megaphone.store.ledger import Ledger, default_url
from tests.conftest import sign_in
from tests.fakex import FakeX, User
from tests.test_publish import publish, state

CONFIG = (
    "timezone: UTC\n"
    "accounts:\n"
    "  - name: utla\n"
    "    network: x\n"
    "    handle: UTLAnow\n"
    "  - name: reclaim-la\n"
    "    network: x\n"
)
ONE = "account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: Hello.}\n"
QUEUE = "account: utla\nposts:\n  - {id: a, at: 2026-12-01 09:00, text: A.}\n"


@pytest.fixture
def partner(fakex: FakeX, monkeypatch: pytest.MonkeyPatch) -> User:
    """utla's variables hold another coalition member's credentials."""
    return sign_in(fakex, monkeypatch, "utla", "AllianceEdUnite")


@pytest.fixture
def own(fakex: FakeX, monkeypatch: pytest.MonkeyPatch) -> User:
    return sign_in(fakex, monkeypatch, "utla", "utlanow")


# ------------------------------------------------------------ the account


def test_another_accounts_credentials_hold_the_posts(
    fakex: FakeX, partner: User, project, run, clock
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    result = publish(run, root, "--due")
    assert result.exit_code == 1
    assert fakex.posted() == []
    assert "@AllianceEdUnite" in result.output and "@UTLAnow" in result.output
    assert "blocked" in result.output
    status = json.loads(run("status", "--json", cwd=root).output)
    assert [r["state"] for r in status] == ["blocked"]
    assert [
        r["id"] for r in json.loads(run("status", "--state", "blocked", "--json", cwd=root).output)
    ] == ["one"]
    checked = run("accounts", "check", "utla", cwd=root)
    assert checked.exit_code == 1 and checked.output.startswith("✗")


def test_the_right_account_in_another_case_publishes(
    fakex: FakeX, own: User, project, run, clock
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    assert publish(run, root, "--due").exit_code == 0
    assert len(fakex.posted()) == 1
    assert run("accounts", "check", "utla", cwd=root).output.startswith("✓")


def test_an_account_without_a_handle_is_held_if_its_sign_in_changes(
    fakex: FakeX, project, run, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = "timezone: UTC\naccounts:\n  - name: utla\n    network: x\n"
    root = project(
        {"megaphone.yaml": config},
        one=ONE + "  - {id: two, at: 2026-11-29 11:59, text: Again.}\n",
    )
    first = fakex.add_user("utlanow")
    for key, value in fakex.env("utla", first).items():
        monkeypatch.setenv(key, value)
    root_posts = root / "posts" / "one.yaml"
    root_posts.write_text(ONE)
    assert publish(run, root, "--due").exit_code == 0
    root_posts.write_text(ONE + "  - {id: two, at: 2026-11-29 11:59, text: Again.}\n")
    second = fakex.add_user("somebodyelse")
    for key, value in fakex.env("utla", second).items():
        monkeypatch.setenv(key, value)
    result = publish(run, root, "--due")
    assert result.exit_code == 1 and "@utlanow before" in result.output
    assert len(fakex.posted()) == 1 and state(root, "two") == "scheduled"


def test_who_am_i_is_retried_like_a_post(
    fakex: FakeX, own: User, project, run, clock, no_wait
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    fakex.fault("GET", "/2/users/me", "status", status=429, reset_in=2)
    fakex.fault("GET", "/2/users/me", "drop")
    result = publish(run, root, "--due")
    assert result.exit_code == 0, result.output
    assert len(fakex.posted()) == 1


# ---------------------------------------------------------- states agree


def test_every_command_agrees_on_a_posts_state(
    fakex: FakeX, own: User, project, run, clock
) -> None:
    root = project(
        {"megaphone.yaml": CONFIG},
        q="account: utla\nposts:\n"
        "  - {id: late-ok, at: 2026-11-29 11:59, text: One minute late.}\n"
        "  - {id: too-late, at: 2026-11-29 09:00, text: Three hours late.}\n"
        "  - {id: ahead, at: 2026-11-29 18:00, text: Later today.}\n",
    )
    listed = {r["id"]: r["state"] for r in json.loads(run("list", "--json", cwd=root).output)}
    status = {r["id"]: r["state"] for r in json.loads(run("status", "--json", cwd=root).output)}
    expected = {"late-ok": "due", "too-late": "missed", "ahead": "scheduled"}
    assert listed == expected and status == expected
    dry = run("publish", "--due", "--dry-run", cwd=root).output
    assert "too-late  — missed" in dry and "late-ok" in dry
    result = publish(run, root, "--due")
    assert "1 published" in result.output and "1 missed" in result.output
    listed = {r["id"]: r["state"] for r in json.loads(run("list", "--json", cwd=root).output)}
    assert listed == {"late-ok": "published", "too-late": "missed", "ahead": "scheduled"}


def test_refused_credentials_are_blocked_everywhere(
    fakex: FakeX, own: User, project, run, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEGAPHONE_UTLA_ACCESS_SECRET", "wrong")
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    assert "blocked" in publish(run, root, "--due").output
    assert json.loads(run("status", "--json", cwd=root).output)[0]["state"] == "blocked"
    assert json.loads(run("list", "--json", cwd=root).output)[0]["state"] == "blocked"


# ------------------------------------------------------------------ mark


def test_mark_keeps_a_known_url_and_refuses_another_accounts(
    fakex: FakeX, own: User, project, run, clock
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    publish(run, root, "--due")
    row = Ledger(default_url(root)).get("one", "utla")
    assert row is not None and row.url
    assert run("mark", "one", "published", cwd=root).exit_code == 0
    again = Ledger(default_url(root)).get("one", "utla")
    assert again is not None and again.url == row.url
    assert "None" not in run("history", cwd=root).output
    wrong = run(
        "mark", "one", "published", "--url", "https://x.com/SomeoneElse/status/12345", cwd=root
    )
    assert wrong.exit_code == 2 and "@SomeoneElse" in wrong.output


# -------------------------------------------------------- options, values


def test_repeated_accounts_accumulate(project, run, frozen_now) -> None:
    root = project(
        {"megaphone.yaml": CONFIG},
        campaign="account: utla\nposts: []\n".replace(
            "posts: []", "posts:\n  - {id: a, at: 2026-12-01 09:00, text: A.}"
        ),
    )
    result = run(
        "add",
        "campaign",
        "Together.",
        "--at",
        "2026-12-02 09:00",
        "--account",
        "utla",
        "--account",
        "reclaim-la",
        "--id",
        "both",
        cwd=root,
    )
    assert result.exit_code == 0, result.output
    from megaphone.project.loader import load

    post = next(p for p in load(cwd=root).project.posts() if p.id == "both")
    assert post.accounts == ("utla", "reclaim-la")
    comma = run(
        "add", "campaign", "X", "--at", "2026-12-02 10:00", "--account", "utla,reclaim-la", cwd=root
    )
    assert comma.exit_code == 2 and "one account per --account" in comma.output


@pytest.mark.parametrize(
    "args",
    [
        ("slots", "campaign", "--count", "0"),
        ("status", "--state", "nonsense"),
        ("list", "--account", "nobody"),
        ("calendar", "--gap", "-5"),
        ("history", "--csv", "--json"),
        ("add", "campaign", "Text", "--thread", "", "--at", "2026-12-02 09:00"),
    ],
)
def test_bad_values_are_usage_errors(project, run, frozen_now, args: tuple[str, ...]) -> None:
    root = project(
        {"megaphone.yaml": CONFIG, ".megaphone/.keep": ""},
        campaign=QUEUE.replace("posts:", "slots: [daily 09:00]\nposts:"),
    )
    Ledger(default_url(root)).close()
    result = run(*args, cwd=root)
    assert result.exit_code == 2, (args, result.output)
    assert "Traceback" not in result.output


def test_add_into_a_new_file_makes_the_queue(project, run, frozen_now) -> None:
    root = project({"megaphone.yaml": CONFIG.replace("UTC", "America/Los_Angeles")})
    (root / "posts").mkdir(exist_ok=True)
    result = run(
        "add",
        "posts/new.yaml",
        "A brand new queue.",
        "--account",
        "utla",
        "--at",
        "2026-12-02 09:00",
        cwd=root,
    )
    assert result.exit_code == 0, result.output
    text = (root / "posts" / "new.yaml").read_text()
    assert "account: utla" in text and "timezone: America/Los_Angeles" in text
    assert run("validate", cwd=root).exit_code == 0
    outside = run(
        "add", "elsewhere.yaml", "No.", "--account", "utla", "--at", "2026-12-02 10:00", cwd=root
    )
    assert outside.exit_code == 2 and "posts folder" in outside.output


def test_media_paths_are_where_the_person_is(project, run, frozen_now) -> None:
    from tests.conftest import png_bytes

    root = project({"megaphone.yaml": CONFIG, "media/car.png": png_bytes()}, campaign=QUEUE)
    result = run(
        "add",
        "campaign",
        "Our caravan.",
        "--media",
        "media/car.png",
        "--alt",
        "Cars",
        "--at",
        "2026-12-02 09:00",
        "--id",
        "caravan",
        cwd=root,
    )
    assert result.exit_code == 0, result.output
    assert "path: ../media/car.png" in (root / "posts" / "campaign.yaml").read_text()
    missing = run(
        "add", "campaign", "X.", "--media", "nope.png", "--at", "2026-12-02 10:00", cwd=root
    )
    assert missing.exit_code == 2 and str(root / "nope.png") in missing.output


def test_add_takes_lang_reply_quote_expires_and_draft(project, run, frozen_now) -> None:
    root = project({"megaphone.yaml": CONFIG}, campaign=QUEUE)
    result = run(
        "add",
        "campaign",
        "¡Hola!",
        "--lang",
        "es",
        "--reply-to",
        "a",
        "--quote",
        "a",
        "--at",
        "2026-12-02 09:00",
        "--expires",
        "2026-12-03 09:00",
        "--id",
        "hola",
        cwd=root,
    )
    assert result.exit_code == 0, result.output
    draft = run("add", "campaign", "Maybe later.", "--draft", "--id", "maybe", cwd=root)
    assert draft.exit_code == 0, draft.output
    from megaphone.project.loader import load

    posts = {p.id: p for p in load(cwd=root).project.posts()}
    hola = posts["hola"]
    assert (hola.lang, hola.reply_to, hola.quote) == ("es", "a", "a")
    assert hola.expires is not None and hola.at is not None
    assert hola.expires - hola.at == timedelta(days=1)
    assert posts["maybe"].draft and posts["maybe"].at is None


# ---------------------------------------------------- outside a project


@pytest.mark.parametrize(
    "args",
    [
        ("publish", "--due"),
        ("status",),
        ("history",),
        ("accounts",),
        ("cron",),
        ("worker",),
        ("add", "q", "Hello", "--at", "now"),
        ("reschedule", "one", "now"),
    ],
)
def test_outside_a_project_nothing_is_made(tmp_path: Path, run, args: tuple[str, ...]) -> None:
    result = run(*args, cwd=tmp_path)
    assert result.exit_code == 2 and "not a megaphone project" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_project_is_found_from_a_folder_inside_it_or_with_dash_c(
    project, run, tmp_path: Path, frozen_now
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    inner = root / "posts"
    assert json.loads(run("status", "--json", cwd=inner).output)[0]["id"] == "one"
    elsewhere = tmp_path.parent
    listed = run("-C", str(root), "list", "--json", cwd=elsewhere)
    assert listed.exit_code == 0 and json.loads(listed.output)[0]["id"] == "one"


def test_a_queue_that_cannot_be_read_is_named_for_its_real_problem(
    project, run, frozen_now
) -> None:
    root = project(
        {"megaphone.yaml": CONFIG},
        q="account: utla\npost:\n  - {id: a, at: 2027-01-01 09:00, text: x}\n",
    )
    result = run("add", "q", "Hello.", "--at", "2026-12-02 09:00", cwd=root)
    assert result.exit_code == 1
    assert "unknown key 'post'" in result.output and "names no account" not in result.output
