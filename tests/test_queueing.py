"""Queueing from the command line: init, add, slots, natural times,
reschedule, remove and move — files kept as they were but for the change."""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from megaphone.errors import MegaphoneError, UsageError
from megaphone.project.edit import NewPost, QueueText, render
from megaphone.project.loader import Reader, load_config
from megaphone.project.yamldoc import read
from megaphone.time.natural import resolve
from megaphone.time.slots import parse_slot
from tests.conftest import NOW, png_bytes

CONFIG = (
    "timezone: America/Los_Angeles\n"
    "accounts:\n"
    "  - name: utla\n"
    "    network: x\n"
    "  - name: reclaim-la\n"
    "    network: x\n"
)

ODD = """\
# Campaign queue — kept by hand.
account: utla
slots: [mon-fri 09:00, "sat 10:00"]
defaults: &defaults
  hashtags: [WeArePublicSchools]   # every post

posts:

    -   id: first   # odd indentation, on purpose
        at: &t 2026-12-01 09:00
        text: "Quoted, with a # hash"

    # About the second post.
    -   id: second
        at: 2026-12-02 09:00
        text: |
          A literal block
          # that is not a comment

# The end.
"""


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    (tmp_path / "megaphone.yaml").write_text(CONFIG)
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "campaign.yaml").write_text(ODD)
    return tmp_path


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def inserted(before: str, after: str) -> str:
    """What ``after`` adds to ``before``, if it only adds one run of text."""
    p = 0
    while p < len(before) and before[p] == after[p]:
        p += 1
    assert after.endswith(before[p:]), "more than an insertion"
    return after[p : len(after) - (len(before) - p)]


def cli(run, root: Path, *args: str):
    return run(*args, cwd=root)


# ------------------------------------------------------------------- init


def test_init_makes_a_project_and_never_overwrites(tmp_path: Path, run) -> None:
    result = run("init", "new", "--timezone", "Europe/Paris", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    root = tmp_path / "new"
    ignored = (root / ".gitignore").read_text().split()
    assert ".env" in ignored and ".megaphone/" in ignored
    assert "$schema=../schema/queue.schema.json" in (root / "posts" / "example.yaml").read_text()
    assert "MEGAPHONE_MAIN_API_KEY=" in (root / ".env.example").read_text()
    assert run("validate", cwd=root).exit_code == 0
    again = run("init", "new", cwd=tmp_path)
    assert again.exit_code == 2 and "never overwrites" in again.output


# -------------------------------------------------------------------- add


def test_add_keeps_the_file_but_for_the_new_post(proj: Path, run, frozen_now) -> None:
    before = (proj / "posts" / "campaign.yaml").read_text()
    result = cli(
        run,
        proj,
        "add",
        "campaign",
        "Town hall: bring a friend & your questions",
        "--at",
        "tomorrow 9am",
        "--hashtag",
        "#FundOurSchools",
    )
    assert result.exit_code == 0, result.output
    assert "at Mon 2026-11-30 09:00 PST" in result.output
    after = (proj / "posts" / "campaign.yaml").read_text()
    post_id = result.output.split()[1]
    assert inserted(before, after).splitlines() == [
        f"    -   id: {post_id}",
        "        at: 2026-11-30 09:00",
        "        text: 'Town hall: bring a friend & your questions'",
        "        hashtags: [FundOurSchools]",
        "",
    ]
    assert after.endswith("# that is not a comment\n\n" + inserted(before, after) + "# The end.\n")
    assert run("validate", cwd=proj).exit_code == 0
    assert post_id.startswith("town-hall-bring-a-friend-")


def test_add_a_thread_with_media_in_the_next_free_slot(proj: Path, run, frozen_now) -> None:
    (proj / "posts" / "car.png").write_bytes(png_bytes())
    first = cli(
        run,
        proj,
        "add",
        "campaign",
        "One (1/2)",
        "--thread",
        "Two,\nover two lines (2/2)",
        "--media",
        "posts/car.png",  # from where the person is; written relative to the queue
        "--alt",
        "A car",
        "--next-slot",
        "--id",
        "slotted",
    )
    assert first.exit_code == 0, first.output
    # Mon 30 Nov 09:00 is the first weekday slot after Sunday noon.
    assert "at Mon 2026-11-30 09:00 PST" in first.output
    # Tuesday's and Wednesday's 09:00 are taken by the queue's posts.
    second = cli(run, proj, "add", "campaign", "Next", "--next-slot", "--id", "next")
    assert "at Thu 2026-12-03 09:00 PST" in second.output
    slots = cli(run, proj, "slots", "campaign", "--count", "2")
    assert slots.output.splitlines() == [
        "Fri 2026-12-04 09:00 PST (in 5 days)",
        "Sat 2026-12-05 10:00 PST (in 6 days)",
    ]
    from megaphone.project.loader import load

    thread = next(p for p in load((), cwd=proj).project.posts() if p.id == "slotted")
    assert [p.text for p in thread.parts] == ["One (1/2)", "Two,\nover two lines (2/2)"]
    assert [(m.path, m.alt) for m in thread.parts[0].media] == [("car.png", "A car")]


def test_add_refuses_what_validate_would_refuse(proj: Path, run, frozen_now) -> None:
    path = proj / "posts" / "campaign.yaml"
    before = path.read_text()
    long = cli(run, proj, "add", "campaign", "x" * 300, "--at", "tomorrow 9am")
    assert long.exit_code == 1 and "not written" in long.output and "280" in long.output
    taken = cli(run, proj, "add", "campaign", "Hi", "--at", "tomorrow 9am", "--id", "first")
    assert taken.exit_code == 2 and "taken" in taken.output
    vague = cli(run, proj, "add", "campaign", "Hi", "--at", "when the cows come home")
    assert vague.exit_code == 2 and "cannot read" in vague.output
    past = cli(run, proj, "add", "campaign", "Hi", "--at", "yesterday 9am")
    assert past.exit_code == 2 and "has passed" in past.output
    assert path.read_text() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["campaign.yaml"]  # no temp files


def test_concurrent_adds_lose_no_post(proj: Path) -> None:
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "megaphone",
                "add",
                "campaign",
                f"Concurrent post {i}",
                "--at",
                "2027-01-05 10:00",
                "--id",
                f"c{i}",
                "-C",
                str(proj),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(6)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in runs]
    assert all(p.returncode == 0 for p in runs), outputs
    config, _ = load_config(proj / "megaphone.yaml", proj, proj)
    doc = read(proj / "posts" / "campaign.yaml", "campaign.yaml")
    queue = Reader(doc, config=config).read_queue()
    assert queue is not None
    assert {p.id for p in queue.posts} == {"first", "second"} | {f"c{i}" for i in range(6)}


# ------------------------------------------------- reschedule, remove, move


def test_reschedule_changes_one_value_and_keeps_its_anchor(proj: Path, run, frozen_now) -> None:
    before = (proj / "posts" / "campaign.yaml").read_text()
    result = cli(run, proj, "reschedule", "first", "2026-12-03 17:30")
    assert result.exit_code == 0, result.output
    removed, added = changed_lines(before, (proj / "posts" / "campaign.yaml").read_text())
    assert removed == ["        at: &t 2026-12-01 09:00"]
    assert added == ["        at: &t 2026-12-03 17:30"]


def test_remove_takes_only_the_post_away(proj: Path, run, frozen_now) -> None:
    before = (proj / "posts" / "campaign.yaml").read_text()
    assert cli(run, proj, "remove", "second").exit_code == 0
    removed, added = changed_lines(before, (proj / "posts" / "campaign.yaml").read_text())
    assert added == []
    assert removed == [
        "    -   id: second",
        "        at: 2026-12-02 09:00",
        "        text: |",
        "          A literal block",
        "          # that is not a comment",
    ]
    assert cli(run, proj, "remove", "first").exit_code == 0
    text = (proj / "posts" / "campaign.yaml").read_text()
    assert "posts: []" in text and "# The end." in text
    assert run("validate", cwd=proj).exit_code == 0


def test_a_published_post_is_not_changed(proj: Path, run, frozen_now) -> None:
    from megaphone.store.ledger import Ledger, default_url

    (proj / "posts" / "other.yaml").write_text("account: utla\nposts: []\n")
    ledger = Ledger(default_url(proj))
    ledger.mark(
        "first",
        "utla",
        state="published",
        now=NOW,
        abandoned=lambda row: True,
        url="https://x.com/u/status/1",
        remote_id="1",
    )
    for args in (
        ("remove", "first"),
        ("reschedule", "first", "tomorrow 9am"),
        ("move", "first", "other"),
    ):
        result = cli(run, proj, *args)
        assert result.exit_code != 0 and "published" in result.output, args


def test_move_carries_the_post_as_written(proj: Path, run, frozen_now) -> None:
    other = proj / "posts" / "other.yaml"
    other.write_text(
        "account: reclaim-la\nposts:\n  - id: theirs\n    at: 2026-12-05 10:00\n    text: Theirs.\n"
    )
    result = cli(run, proj, "move", "second", "other")
    assert result.exit_code == 0, result.output
    # Its own lines, the dash moved to the target's column.
    assert other.read_text().endswith(
        "    text: Theirs.\n  -   id: second\n      at: 2026-12-02 09:00\n      text: |\n"
        "        A literal block\n        # that is not a comment\n"
    )
    assert "id: second" not in (proj / "posts" / "campaign.yaml").read_text()
    assert run("validate", cwd=proj).exit_code == 0


# ---------------------------------------------------------- natural times

DST_NOW = datetime(2026, 3, 7, 20, 0, tzinfo=UTC)  # Sat 12:00 in Los Angeles, PST


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("tomorrow 9am", "2026-03-08T09:00:00-07:00"),  # after the change: PDT
        ("in 24 hours", "2026-03-08T13:00:00-07:00"),  # real hours
        ("in 1 day", "2026-03-08T12:00:00-07:00"),  # calendar days
        ("monday 14:00", "2026-03-09T14:00:00-07:00"),
        ("fri noon", "2026-03-13T12:00:00-07:00"),
        ("2026-03-10 08:15", "2026-03-10T08:15:00-07:00"),
        ("2026-03-10T08:15:00Z", "2026-03-10T08:15:00+00:00"),
    ],
)
def test_natural_times_across_a_clock_change(phrase: str, expected: str) -> None:
    when = resolve(phrase, now=DST_NOW, tz_name="America/Los_Angeles")
    assert when == datetime.fromisoformat(expected)


@pytest.mark.parametrize(
    ("phrase", "message"),
    [
        ("2026-03-08 02:30", "skip"),
        ("2026-11-01 01:30", "twice"),
        ("the day after the vote", "cannot read"),
        ("yesterday 9am", "has passed"),
        ("today 9am", "has passed"),
    ],
)
def test_times_that_cannot_be_meant_are_refused(phrase: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve(phrase, now=DST_NOW, tz_name="America/Los_Angeles")


# ------------------------------------------------------------------ slots


def test_slot_lines() -> None:
    assert {s.days for s in parse_slot("mon-fri 09:00, 12:30")} == {frozenset(range(5))}
    assert [s.at.hour for s in parse_slot("fri-mon 07:05")] == [7]
    assert parse_slot("fri-mon 07:05")[0].days == frozenset({4, 5, 6, 0})
    assert parse_slot("weekends 10:00")[0].days == frozenset({5, 6})
    for bad, why in (
        ("09:00", "days, then times"),
        ("funday 09:00", "not a day"),
        ("mon 25:00", "not a time"),
        ("mon 9", "not a time"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_slot(bad)


def test_bad_slots_are_reported_where_they_are(tmp_path: Path, run) -> None:
    (tmp_path / "megaphone.yaml").write_text(CONFIG)
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "q.yaml").write_text(
        "account: utla\nslots:\n  - mon-fri 09:00\n  - someday 10:00\nposts: []\n"
    )
    result = run("validate", "--format", "json", cwd=tmp_path)
    [problem] = json.loads(result.output)
    assert (problem["code"], problem["line"], problem["column"]) == ("bad-slot", 4, 5)


# ------------------------------------------------------------- properties

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\n"),
    min_size=1,
    max_size=80,
).filter(lambda t: t.strip() != "")


@given(
    parts=st.lists(_TEXT, min_size=1, max_size=3),
    hashtags=st.lists(
        st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,15}", fullmatch=True),
        max_size=3,
        unique_by=str.casefold,
    ),
    indent=st.sampled_from([(0, 2), (2, 2), (4, 4), (1, 3)]),
)
def test_any_post_written_reads_back_equal(
    parts: list[str], hashtags: list[str], indent: tuple[int, int], tmp_path_factory
) -> None:
    dash, key = indent
    head = "account: utla\nposts:\n"
    existing = (
        " " * dash + "-" + " " * (key - 1) + "id: old\n" + " " * (dash + key) + "text: Old.\n"
    )
    post = NewPost(
        id="new",
        text=parts[0] if len(parts) == 1 else None,
        thread=parts if len(parts) > 1 else [],
        at=datetime(2026, 12, 1, 17, 0, tzinfo=UTC),
        hashtags=hashtags,
    )
    doc = QueueText(head + existing, "q.yaml")
    text = doc.add(render(post, tz_name="America/Los_Angeles", dash=dash, indent=key, newline="\n"))
    assert text.startswith(head + existing)
    folder = tmp_path_factory.mktemp("q")
    (folder / "q.yaml").write_text(text, encoding="utf-8")
    config, _ = load_config(None, folder, folder)
    config = config._replace(timezone="America/Los_Angeles")
    queue = Reader(read(folder / "q.yaml", "q.yaml"), config=config).read_queue()
    assert queue is not None
    old, new = queue.posts
    assert (old.id, [p.text for p in old.parts]) == ("old", ["Old."])
    # Equal as the loader reads any post: without surrounding spaces.
    assert new.id == "new" and [p.text for p in new.parts] == [p.strip() for p in parts]
    assert new.hashtags == tuple(hashtags) and new.at == post.at


def test_edits_refuse_a_file_that_is_not_yaml() -> None:
    with pytest.raises(MegaphoneError, match="not valid YAML"):
        QueueText("posts: [unclosed\n", "q.yaml")


def test_now_is_travel_safe() -> None:
    with time_machine.travel(NOW, tick=False):
        assert resolve("now", now=datetime.now(UTC), tz_name="UTC") == NOW


def test_line_endings_and_byte_order_mark_are_kept(proj: Path, run, frozen_now) -> None:
    path = proj / "posts" / "campaign.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + ODD.replace("\n", "\r\n").encode())
    path.chmod(0o640)
    result = cli(run, proj, "add", "campaign", "Windows too", "--at", "tomorrow 9am")
    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\n" not in data.replace(b"\r\n", b"")
    assert b"text: Windows too\r\n" in data
    assert path.stat().st_mode & 0o777 == 0o640


def test_flow_lists_of_posts_are_refused_clearly(proj: Path, run, frozen_now) -> None:
    path = proj / "posts" / "flow.yaml"
    path.write_text("account: utla\nposts: [{id: c, at: 2026-12-03 10:00, text: In a flow list}]\n")
    before = path.read_text()
    for args in (("add", "flow", "More", "--at", "tomorrow 9am"), ("remove", "c")):
        result = cli(run, proj, *args)
        assert result.exit_code == 1 and "block lists only" in result.output, result.output
    assert path.read_text() == before
    # Flow mappings as items of a block list are fine.
    path.write_text("account: utla\nposts:\n  - {id: c, at: 2026-12-03 10:00, text: Flow item}\n")
    assert cli(run, proj, "reschedule", "c", "2026-12-04 10:00").exit_code == 0
    assert "{id: c, at: 2026-12-04 10:00, text: Flow item}" in path.read_text()
