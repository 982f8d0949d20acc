"""Start-up stays light: heavy libraries are imported only by the commands
that need them.  (What is imported is checked, not how long it takes.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = ("tweepy", "apscheduler", "sqlalchemy", "requests", "urllib3", "jsonschema", "apprise")


def modules_after(code: str) -> set[str]:
    """Every module a fresh Python has imported once ``code`` ran."""
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def imported_after(code: str) -> set[str]:
    return {name.split(".")[0] for name in modules_after(code)}


def test_help_imports_only_click() -> None:
    code = (
        "from megaphone.cli.main import cli\n"
        "try:\n    cli.main(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass"
    )
    modules = imported_after(code)
    assert not modules & {*HEAVY, "yaml", "rich", "regex", "zoneinfo"}


@pytest.mark.parametrize(
    "command", [["validate", "posts"], ["schema"], ["list"], ["preview"], ["calendar"]]
)
def test_commands_leave_heavy_libraries_alone(command: list[str]) -> None:
    code = (
        "from megaphone.cli.main import cli\n"
        f"try:\n    cli.main({command!r}, standalone_mode=False)\nexcept SystemExit:\n    pass"
    )
    assert not imported_after(code) & set(HEAVY)


def test_the_emoji_table_is_loaded_only_for_a_text_that_may_hold_a_sequence() -> None:
    count = "from megaphone.text import count\n"
    lone = count + "count('Vote 😀 🎉, 日本 — Café')"
    assert "megaphone.text._emoji" not in modules_after(lone)
    assert "megaphone.text._emoji" in modules_after(count + "count('Vote 👍🏽')")
