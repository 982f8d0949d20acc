"""Where the official twitter-text conformance data lives, if it is there.

The data is not part of megaphone: it sits beside the project, in
``../shared/conformance/twitter-text/`` (or wherever ``MEGAPHONE_TWITTER_TEXT``
points).  Tests that need it skip, saying why, when it is absent.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(
    os.environ.get(
        "MEGAPHONE_TWITTER_TEXT", ROOT.parent / "shared" / "conformance" / "twitter-text"
    )
)
SKIP_REASON = (
    f"twitter-text conformance data not found in {DATA_DIR} "
    "(set MEGAPHONE_TWITTER_TEXT to the folder holding validate.yml and extract.yml)"
)


@cache
def load(name: str) -> dict[str, list[dict[str, Any]]] | None:
    path = DATA_DIR / name
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as f:
        data = yaml.load(f, Loader=yaml.CSafeLoader)
    tests: dict[str, list[dict[str, Any]]] = data["tests"]
    return tests


def cases(name: str, group: str, *extra: Any) -> list[Any]:
    """pytest parameters for one group of a conformance file, each the case
    followed by ``extra`` (one skipped parameter when the file is absent)."""
    import pytest

    tests = load(name)
    if tests is None:
        absent = (None, *extra)
        return [pytest.param(*absent, marks=pytest.mark.skip(reason=SKIP_REASON), id="absent")]
    return [
        pytest.param(case, *extra, id=f"{group}: {case['description'][:70]}")
        for case in tests[group]
    ]
