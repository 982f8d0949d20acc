"""Checking a project in several processes gives the very report that one
process gives."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from megaphone.checks.batch import validate_paths
from tests.conftest import GOOD, NOW, ROOT, Write

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")

QUEUES = {
    "a": GOOD.replace("Hello, world.", "'First #WeArePublicSchools https://example.org/a'"),
    "b": GOOD.replace("hello", "b1").replace("Hello, world.", "'Second #weArePublicSchools'")
    + "    reply_to: hello\n",
    "c": GOOD.replace("Hello, world.", "'Same id as a'"),  # duplicate id
    "d": GOOD.replace("hello", "d1").replace(
        "Hello, world.", "'First #WeArePublicSchools https://example.org/a'"
    )
    + "    quote: helo\n",  # same text as a, and a reference with a typo
    "e": "posts: [unclosed\n",
    "f": GOOD.replace("hello", "f1").replace("2026-12-01 09:00", "2026-11-01 09:00")
    + "    media:\n      - {path: missing.png, alt: x}\n",
}


def both(root: Path) -> tuple[object, object]:
    one = validate_paths([], cwd=root, now=NOW, jobs=1)
    many = validate_paths([], cwd=root, now=NOW, jobs=3, min_bytes=0, min_files=2)
    return one, many


def test_parallel_report_is_the_same(project: Write) -> None:
    root = project(**QUEUES)
    one, many = both(root)
    assert many.report.problems == one.report.problems  # type: ignore[attr-defined]
    assert (many.report.posts, many.report.files) == (one.report.posts, one.report.files)  # type: ignore[attr-defined]
    codes = {p.code for p in one.report.problems}  # type: ignore[attr-defined]
    assert codes >= {
        "duplicate-id",
        "hashtag-case",
        "duplicate-text",
        "bad-reference",
        "yaml-syntax",
        "past-due",
        "media-missing",
    }


def test_parallel_on_the_examples() -> None:
    one = validate_paths([ROOT / "posts"], cwd=ROOT, now=NOW, jobs=1)
    many = validate_paths([ROOT / "posts"], cwd=ROOT, now=NOW, jobs=2, min_bytes=0, min_files=2)
    assert many.report == one.report


def test_lines_of_files_read_elsewhere_are_shown(project: Write) -> None:
    root = project(**QUEUES)
    many = validate_paths([], cwd=root, now=NOW, jobs=2, min_bytes=0, min_files=2)
    assert many.documents["posts/e.yaml"].source_lines == ["posts: [unclosed"]


def test_a_failing_worker_falls_back_to_one_process(
    project: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    from megaphone.checks import batch

    def dies(work: object) -> None:
        raise MemoryError("the worker ran out of memory")  # in the forked child

    root = project(**QUEUES)
    one = validate_paths([], cwd=root, now=NOW, jobs=1)
    monkeypatch.setattr(batch, "_check_files_packed", dies)
    from megaphone.project.loader import load

    loads: list[object] = []

    def counted_load(*args: object, **kwargs: object) -> object:
        loads.append(args)
        return load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(batch, "load", counted_load)
    many = validate_paths([], cwd=root, now=NOW, jobs=2, min_bytes=0, min_files=2)
    assert loads, "the one-process path did the work"
    assert many.report == one.report
