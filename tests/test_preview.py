"""`megaphone preview`, `list` and `calendar`: what people read before posts go out."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from megaphone.cli.main import cli
from megaphone.errors import UsageError
from megaphone.networks.x.rules import RULES as X_RULES
from megaphone.time.timeline import parse_when, relative
from tests.conftest import GOOD, NOW, Write, png_bytes

SNAPSHOTS = Path(__file__).parent / "snapshots"

CONFIG = """\
timezone: America/Los_Angeles
accounts:
  - {name: utla, network: x, handle: UTLAnow, daily_cap: 2}
  - {name: reclaim-la, network: x, handle: ReclaimLASchls}
"""

QUEUE = """\
account: utla
timezone: America/Los_Angeles
defaults:
  hashtags: [WeArePublicSchools]
posts:
  - id: town-hall
    at: 2026-12-01 18:00
    expires: 2026-12-02 20:00
    lang: en
    quote: https://x.com/ReclaimLASchls/status/1234567890
    thread:
      - text: >-
          Join @ReclaimLASchls for our Town Hall on school funding:
          https://example.org/events/town-hall-on-student-centered-funding (1/2)
        media:
          - {path: flyer.png, alt: "Flyer: Town Hall, Wednesday 6 pm, online and in person."}
      - "Bring your questions. #FundOurSchools (2/2)"
  - id: reminder
    at: 2026-12-01 18:05
    reply_to: town-hall
    accounts: [utla, reclaim-la]
    text: "Starting soon! Spanish interpretation available · interpretación en español."
  - id: third
    at: 2026-12-01 19:00
    text: "A third post the same day: over utla's cap of two."
  - id: too-long
    at: 2026-12-03 09:00
    text: "%s"
  - id: idea
    draft: true
    text: Something for later.
""" % ("x" * 290)


@pytest.fixture
def example(project: Write) -> Path:
    return project(
        {"megaphone.yaml": CONFIG, "posts/flyer.png": png_bytes(600, 315)}, campaign=QUEUE
    )


@pytest.fixture
def show(monkeypatch: pytest.MonkeyPatch, frozen_now: datetime) -> Callable[..., Result]:
    """Run a command at a fixed width, without colour, in a folder."""

    def run(*args: str, cwd: Path, width: int = 80) -> Result:
        monkeypatch.chdir(cwd)
        env = {"COLUMNS": str(width), "NO_COLOR": "1", "TERM": "dumb"}
        return CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)

    return run


def snapshot(name: str, text: str) -> None:
    """Compare with tests/snapshots/NAME (rewritten when UPDATE_SNAPSHOTS=1)."""
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(text, encoding="utf-8")
        if not os.environ.get("UPDATE_SNAPSHOTS"):
            pytest.fail(f"snapshot {name} was missing and has been written: check it in")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [80, 40])
def test_preview_cards(example: Path, show: Callable[..., Result], width: int) -> None:
    result = show("preview", cwd=example, width=width)
    assert result.exit_code == 0, result.stdout
    snapshot(f"preview-{width}.txt", result.stdout)
    assert max(len(line) for line in result.stdout.splitlines()) <= width


def test_preview_shows_what_matters(example: Path, show: Callable[..., Result]) -> None:
    out = show("preview", "--id", "town-hall", "--id", "too-long", cwd=example, width=120).stdout
    assert "utla @UTLAnow" in out
    assert "Tue 01 Dec 2026 18:00 PST · in 3 days" in out
    assert "example.org/events/tow…" in out  # links as X shortens them
    assert "https://example.org" not in out
    assert "PNG 600×315" in out and "alt: Flyer: Town Hall" in out
    assert "2/2" in out and "│" in out  # a thread is a chain of cards
    assert "310/280" in out and "text-too-long" in out  # the problem on its card
    assert "⟫" in out  # where the text goes over, even without colour
    assert "❝ quotes https://x.com/ReclaimLASchls/status/1234567890" in out
    assert "expires Wed 02 Dec 2026 20:00 PST" in out


def test_preview_markdown(example: Path, show: Callable[..., Result]) -> None:
    result = show("preview", "--format", "markdown", cwd=example)
    snapshot("preview.md", result.stdout)
    assert "### `town-hall` — thread of 2" in result.stdout


def test_preview_filters(example: Path, show: Callable[..., Result]) -> None:
    out = show("preview", "--account", "reclaim-la", cwd=example).stdout
    assert "reminder" in out and "town-hall" not in out.split("reply to")[0].split("\n", 1)[1]
    out = show("list", "--from", "2026-12-02", cwd=example).stdout
    assert "too-long" in out and "reminder" not in out
    out = show("list", "--until", "2d", cwd=example).stdout  # now is 2026-11-29 04:00 PST
    assert "reminder" not in out
    result = show("preview", "--id", "nope", cwd=example)
    assert result.exit_code == 2 and "no post has the id 'nope'" in result.stderr


def test_markup_and_escapes_in_posts_are_shown_as_text(
    project: Write, show: Callable[..., Result]
) -> None:
    evil = '"[bold red]not bold[/] \\e]0;pwned\\a \\e[2J \\e[31mred [link=http://x.y]z[/link]"'
    root = project(
        {"megaphone.yaml": CONFIG},
        q=f"account: utla\nposts:\n  - id: evil\n    at: 2026-12-01 09:00\n    text: {evil}\n",
    )
    for command in (["preview"], ["list"], ["preview", "--format", "markdown"]):
        out = show(*command, cwd=root, width=100).stdout
        assert "\x1b" not in out and "\x07" not in out
    out = show("preview", cwd=root, width=100).stdout
    assert "[bold red]not bold[/]" in out
    assert "␛]0;pwned␇" in out


def test_list(example: Path, show: Callable[..., Result]) -> None:
    snapshot("list-120.txt", show("list", cwd=example, width=120).stdout)
    snapshot("list-50.txt", show("list", cwd=example, width=50).stdout)
    rows = json.loads(show("list", "--json", "--sort", "id", cwd=example).stdout)
    assert [r["id"] for r in rows] == ["idea", "reminder", "third", "too-long", "town-hall"]
    assert rows[4]["state"] == "scheduled" and rows[0]["state"] == "draft"
    assert rows[4]["at"] == "2026-12-01T18:00:00-08:00"
    assert rows[1]["accounts"] == ["utla", "reclaim-la"]


def test_calendar_week(example: Path, show: Callable[..., Result]) -> None:
    result = show("calendar", "--from", "2026-11-30", cwd=example, width=100)
    snapshot("calendar-week-100.txt", result.stdout)
    assert "town-hall and reminder are within minutes" in result.stdout
    assert "over the daily cap" in result.stdout
    snapshot(
        "calendar-week-40.txt",
        show("calendar", "--from", "2026-11-30", cwd=example, width=40).stdout,
    )


def test_calendar_month(example: Path, show: Callable[..., Result]) -> None:
    result = show("calendar", "--month", "--from", "2026-12-01", cwd=example, width=80)
    snapshot("calendar-month.txt", result.stdout)
    assert "December 2026" in result.stdout


def test_display_url() -> None:
    display_url = X_RULES.display_link
    assert display_url("https://www.example.org/a") == "example.org/a"
    assert (
        display_url("https://example.org/events/town-hall-on-funding") == "example.org/events/tow…"
    )
    assert len(display_url("http://" + "a" * 100 + ".com")) == 23


def test_parse_when() -> None:
    tz = "America/Los_Angeles"
    assert parse_when("now", now=NOW, tz_name=tz) == NOW
    assert parse_when("3d", now=NOW, tz_name=tz) == datetime(2026, 12, 2, 12, tzinfo=UTC)
    assert parse_when("-12h", now=NOW, tz_name=tz) == datetime(2026, 11, 29, 0, tzinfo=UTC)
    assert parse_when("tomorrow", now=NOW, tz_name=tz).isoformat() == "2026-11-30T00:00:00-08:00"
    assert parse_when("2026-12-01", now=NOW, tz_name=tz).isoformat() == "2026-12-01T00:00:00-08:00"
    assert (
        parse_when("2026-12-01T09:00Z", now=NOW, tz_name=tz).isoformat()
        == "2026-12-01T09:00:00+00:00"
    )
    with pytest.raises(UsageError, match="cannot read 'next week'"):
        parse_when("next week", now=NOW, tz_name=tz)


@pytest.mark.parametrize(
    ("hours", "said"),
    [(3, "in 3 h"), (-50, "2 days ago"), (0.5, "in 30 min"), (0, "now"), (72, "in 3 days")],
)
def test_relative(hours: float, said: str) -> None:
    from datetime import timedelta

    assert relative(NOW + timedelta(hours=hours), NOW) == said


def test_colour_output_still_cannot_be_hijacked(
    project: Write, monkeypatch: pytest.MonkeyPatch, frozen_now: datetime
) -> None:
    evil = '"[bold]x[/bold] \\e]0;pwned\\a \\e[2J end"'
    root = project(
        {"megaphone.yaml": CONFIG},
        q=f"account: utla\nposts:\n  - id: evil\n    at: 2026-12-01 09:00\n    text: {evil}\n",
    )
    monkeypatch.chdir(root)
    env = {"COLUMNS": "80", "FORCE_COLOR": "1", "TERM": "xterm-256color"}
    out = CliRunner(env=env).invoke(cli, ["preview"], catch_exceptions=False).stdout
    assert "\x1b[" in out  # coloured...
    assert "\x1b]0;" not in out and "\x1b[2J" not in out and "\x07" not in out  # ...but harmless
    assert "[bold]x[/bold]" in out


@pytest.mark.parametrize(
    ("text", "width", "lines"),
    [
        ("one two three four", 9, ["one two", "three", "four"]),
        ("a" * 25, 10, ["a" * 10, "a" * 10, "a" * 5]),
        ("short " + "b" * 12, 10, ["short", "b" * 10, "bb"]),
        ("日本語のテキストです", 8, ["日本語の", "テキスト", "です"]),
        ("keep\n\nblank lines", 20, ["keep", "", "blank lines"]),
    ],
)
def test_wrap(text: str, width: int, lines: list[str]) -> None:
    from megaphone.show.render import Styled, wrap

    got = [line.plain for line in wrap(Styled(text, "bold"), width)]
    assert got == lines


def test_problems_of_no_post_are_shown(project: Write, show: Callable[..., Result]) -> None:
    root = project({"megaphone.yaml": CONFIG, "posts/broken.yaml": "posts: [unclosed\n"}, good=GOOD)
    result = show("preview", cwd=root, width=100)
    assert result.exit_code == 0
    assert "posts/broken.yaml:2:1" in result.stdout and "yaml-syntax" in result.stdout
    assert "1 error in the queue files" in result.stderr
    assert "1 post" in result.stdout
