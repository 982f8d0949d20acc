"""The everyday commands people expect (show, edit, completion, a
line-per-problem format) and output that fits: at any width from 40 up
nothing drawn is wider than the terminal; piped output is not wrapped."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from megaphone.cli.main import cli
from tests.conftest import ROOT, sign_in
from tests.fakex import FakeX, User
from tests.test_publish import publish

CONFIG = (
    "timezone: America/Los_Angeles\n"
    "accounts:\n"
    "  - name: utla\n"
    "    network: x\n"
    "    handle: utlanow\n"
)
ONE = "account: utla\nposts:\n  - {id: one, at: 2026-11-29 03:59, text: Hello.}\n"
QUEUE = (
    "account: utla\nposts:\n"
    "  - id: town-hall\n    at: 2026-12-02 18:00\n    text: Town hall tonight.\n"
    "  - id: other\n    at: 2026-12-03 18:00\n    text: Another post.\n"
)


@pytest.fixture
def user(fakex: FakeX, monkeypatch: pytest.MonkeyPatch) -> User:
    return sign_in(fakex, monkeypatch, "utla", "utlanow")


def test_show_tells_everything_known_of_a_post(
    fakex: FakeX, user: User, project, run, clock
) -> None:
    root = project({"megaphone.yaml": CONFIG}, one=ONE)
    publish(run, root, "--due")
    shown = run("show", "one", cwd=root)
    assert shown.exit_code == 0, shown.output
    assert "Hello." in shown.output and "published" in shown.output
    assert "history:" in shown.output and "https://x.com/utlanow/status/" in shown.output
    record = json.loads(run("show", "one", "--json", cwd=root).output)
    assert record["id"] == "one" and record["accounts"][0]["state"] == "published"
    assert [e["state"] for e in record["events"]][-1] == "published"
    assert run("show", "nothing-like-it", cwd=root).exit_code == 2


def test_edit_writes_back_only_the_posts_lines_when_they_check(
    project, run, frozen_now, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project({"megaphone.yaml": CONFIG}, campaign=QUEUE)
    path = root / "posts" / "campaign.yaml"
    before = path.read_text()

    def editor(text: str, **kwargs: object) -> str:
        return text.replace("Town hall tonight.", "Town hall tonight at six.")

    monkeypatch.setattr("click.edit", editor)
    result = run("edit", "town-hall", cwd=root)
    assert result.exit_code == 0, result.output
    assert path.read_text() == before.replace("Town hall tonight.", "Town hall tonight at six.")
    # An edit that would break the post is refused, and nothing is written.
    monkeypatch.setattr("click.edit", lambda text, **kw: text.replace("18:00", "25:00"))
    refused = run("edit", "town-hall", cwd=root)
    assert refused.exit_code == 1 and "not written" in refused.output
    assert "six" in path.read_text() and "25:00" not in path.read_text()
    # Closing the editor without saving changes nothing.
    monkeypatch.setattr("click.edit", lambda text, **kw: None)
    assert "not changed" in run("edit", "town-hall", cwd=root).output


def test_completion_offers_ids_queues_and_accounts(project, frozen_now) -> None:
    root = project({"megaphone.yaml": CONFIG}, campaign=QUEUE)

    def complete(words: str) -> list[str]:
        env = {
            "_MEGAPHONE_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        }
        cwd = os.getcwd()
        os.chdir(root)
        try:
            result = CliRunner(env=env).invoke(cli, [], prog_name="megaphone")
        finally:
            os.chdir(cwd)
        return [line.split(",", 1)[1] for line in result.output.splitlines() if "," in line]

    assert complete("megaphone show to") == ["town-hall"]
    assert complete("megaphone reschedule ") == ["town-hall", "other"]
    assert complete("megaphone add camp") == ["campaign"]
    assert complete("megaphone list --account ut") == ["utla"]


def test_a_line_per_problem_for_editors_and_grep(project, run) -> None:
    text = "x" * 300
    root = project(q=f"account: utla\nposts:\n  - {{id: a, at: 2029-12-01 09:00, text: {text}}}\n")
    result = run("validate", "--format", "line", cwd=root)
    assert result.exit_code == 1
    assert re.fullmatch(r"posts/q\.yaml:3:\d+: error: text-too-long: .+\n", result.output), (
        result.output
    )


def test_yaml_jargon_gets_a_plain_hint_and_the_caret_sits_right(project, run) -> None:
    long = "x" * 300
    root = project(
        colon="account: utla\nposts:\n  - id: a\n    at: 2026-12-01 09:00\n"
        "    text: Town hall: bring a friend\n",
        tab="account: utla\nposts:\n  - id: b\n    at: 2026-12-01 09:00\n\ttext: tabbed\n",
        wide=f"account: utla\nposts:\n  - {{id: c, at: 2026-12-01 09:00, text: {long} , x: : }}\n",
    )
    result = run("validate", cwd=root)
    out = result.output
    assert "put the text in quotes" in out
    assert "indent with spaces" in out and "⇥" in out
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("5 │") and "Town hall" in line:
            caret = lines[i + 1].index("^")
            assert line[caret] == ":"  # under the ': ' that YAML trips on
    for line in lines:
        assert len(line) < 260  # a long line is shown cut around the column


def test_no_color_and_zone_names(project, run, monkeypatch: pytest.MonkeyPatch, frozen_now) -> None:
    root = project(
        q="account: utla\nposts:\n  - {id: a, at: '2026-11-29T01:00:00-08:00', text: Past.}\n"
    )
    result = run("validate", "--format", "human", cwd=root)
    assert "PST" in result.output and "UTC-08:00" not in result.output
    good = project(q="account: utla\nposts:\n  - {id: b, at: 2026-12-09 09:00, text: Good.}\n")
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in run("validate", cwd=good).output


def _terminal(root: Path, width: int, *args: str) -> str:
    """A command's output on a terminal ``width`` columns wide (a pty)."""
    import pty
    import subprocess

    env = {**os.environ, "COLUMNS": str(width), "LINES": "50", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    main, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "megaphone", *args],
        cwd=root,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(main)
    text = b"".join(chunks).decode("utf-8", "replace")
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b\][^\x07]*\x07", "", text).replace("\r", "")


@pytest.mark.slow
@pytest.mark.parametrize("width", [40, 57, 80, 123])
def test_nothing_drawn_is_wider_than_the_terminal(width: int) -> None:
    from rich.cells import cell_len

    for args in (
        ("preview",),
        ("list",),
        ("calendar",),
        ("calendar", "--month", "--from", "2027-02-01"),
        ("status",),
        ("validate",),
    ):
        out = _terminal(ROOT, width, *args)
        wide = [line for line in out.split("\n") if cell_len(line) > width]
        assert not wide, (args, width, wide[:2])


def test_list_on_a_narrow_terminal_keeps_ids_and_states(project, run, frozen_now) -> None:
    long_id = "a-post-id-that-is-rather-long-to-type-9f3c"
    root = project(
        {"megaphone.yaml": CONFIG},
        q=f"account: utla\nposts:\n  - {{id: {long_id}, at: 2026-12-09 09:00, text: Hi.}}\n",
    )
    for width in (40, 200):
        out = CliRunner(env={"COLUMNS": str(width)}).invoke(cli, ["-C", str(root), "list"]).output
        assert long_id in out and "scheduled" in out, (width, out)


def test_piped_list_is_one_unwrapped_line_a_post(project, frozen_now) -> None:
    text = "word " * 50
    root = project(q=f"account: utla\nposts:\n  - {{id: a, at: 2026-12-09 09:00, text: {text}}}\n")
    env = {"COLUMNS": ""}
    out = CliRunner(env=env).invoke(cli, ["-C", str(root), "list"]).output
    lines = out.splitlines()
    assert len(lines) == 2  # the header and the post
    assert all(line == line.rstrip() for line in lines)
    assert len(lines[1]) > 200
