from __future__ import annotations

from pathlib import Path

from megaphone.checks.validate import validate
from megaphone.problems import Problem
from megaphone.project.loader import load
from tests.conftest import NOW


def problems_in(root: Path, *paths: str) -> list[Problem]:
    loaded = load([root / p for p in paths] or [root / "posts"], cwd=root)
    return validate(loaded, now=NOW).problems


def codes(root: Path, *paths: str) -> list[str]:
    return [p.code for p in problems_in(root, *paths)]


def only(root: Path, code: str) -> Problem:
    found = [p for p in problems_in(root) if p.code == code]
    assert len(found) == 1, problems_in(root)
    return found[0]
