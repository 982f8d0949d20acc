"""The official twitter-text library (JavaScript), run by node where both
are installed: ``.ci/run`` installs it under ``.cache/twitter-text`` (or set
``MEGAPHONE_TWITTER_TEXT_JS`` to a folder holding ``node_modules/twitter-text``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).with_name("js") / "twitter_text.js"
VERSION = "3.1.0"


def folder() -> Path | None:
    """Where twitter-text is installed, or None."""
    given = os.environ.get("MEGAPHONE_TWITTER_TEXT_JS")
    place = Path(given) if given else ROOT / ".cache" / "twitter-text"
    return place if (place / "node_modules" / "twitter-text").is_dir() else None


def missing() -> str | None:
    """Why the official library cannot be run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if folder() is None:
        return (
            f"twitter-text {VERSION} is not installed "
            f"(npm install --prefix .cache/twitter-text twitter-text@{VERSION})"
        )
    return None


def run(texts: list[str], *args: str) -> list[Any]:
    """What twitter-text makes of each text (see tests/js/twitter_text.js)."""
    place = folder()
    assert place is not None
    done = subprocess.run(
        ["node", str(SCRIPT), *args],
        input="\n".join(json.dumps(t) for t in texts),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TWITTER_TEXT_DIR": str(place)},
        timeout=600,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line]
