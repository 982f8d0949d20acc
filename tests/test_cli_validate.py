"""`megaphone validate` as a user and a CI job meet it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from megaphone.cli.main import cli
from tests.conftest import GOOD, Write

Run = Callable[..., Result]

TOO_LONG = GOOD.replace("Hello, world.", "x" * 290)
PAST = GOOD.replace("2026-12-01", "2026-11-01")


def test_clean_project_exits_0(project: Write, run: Run, frozen_now: object) -> None:
    result = run("validate", cwd=project(q=GOOD))
    assert result.exit_code == 0, result.output
    assert "1 post in 1 file: no problems" in result.output


def test_errors_exit_1_and_show_the_line(project: Write, run: Run, frozen_now: object) -> None:
    result = run("validate", "posts", cwd=project(q=TOO_LONG))
    assert result.exit_code == 1
    assert "posts/q.yaml" in result.output
    assert "5:11" in result.output and "text-too-long" in result.output
    assert "5 │     text: xxxx" in result.output
    assert "1 error in 1 post, 1 file" in result.output


def test_warnings_pass_unless_strict(project: Write, run: Run, frozen_now: object) -> None:
    root = project(q=PAST)
    assert run("validate", cwd=root).exit_code == 0
    assert run("validate", "--strict", cwd=root).exit_code == 1


def test_json_format(project: Write, run: Run, frozen_now: object) -> None:
    result = run("validate", "--format", "json", cwd=project(q=TOO_LONG))
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)
    assert problem == {
        "code": "text-too-long",
        "severity": "error",
        "message": problem["message"],
        "file": "posts/q.yaml",
        "line": 5,
        "column": 11,
        "post_id": "hello",
        "network": "x",
    }


def test_options_from_the_environment(
    project: Write, monkeypatch: pytest.MonkeyPatch, frozen_now: object
) -> None:
    monkeypatch.chdir(project(q=TOO_LONG))
    env = {"MEGAPHONE_VALIDATE_FORMAT": "json"}
    result = CliRunner(env=env).invoke(cli, ["validate"], catch_exceptions=False)
    assert json.loads(result.stdout)[0]["code"] == "text-too-long"


def test_github_format(project: Write, run: Run, frozen_now: object) -> None:
    result = run("validate", "--format", "github", cwd=project(q=TOO_LONG))
    first = result.stdout.splitlines()[0]
    assert first.startswith(
        "::error file=posts/q.yaml,line=5,col=11,title=megaphone text-too-long::"
    )


def test_usage_errors_exit_2(project: Write, run: Run) -> None:
    root = project(q=GOOD)
    result = run("validate", "missing.yaml", cwd=root)
    assert result.exit_code == 2
    assert result.stderr == "megaphone: error: no such file or folder: missing.yaml\n"
    assert run("validate", "--format", "xml", cwd=root).exit_code == 2


def test_default_folder_comes_from_the_config(project: Write, run: Run, frozen_now: object) -> None:
    config = "timezone: UTC\nposts: queues\naccounts: [{name: utla, network: x}]\n"
    root = project({"megaphone.yaml": config, "queues/a.yaml": GOOD})
    result = run("validate", cwd=root / "queues")
    assert result.exit_code == 0
    assert "1 post in 1 file" in result.output


def test_no_posts_folder_is_a_usage_error(tmp_path: Path, run: Run) -> None:
    result = run("validate", cwd=tmp_path)
    assert result.exit_code == 2
    assert "no queue folder" in result.stderr


def test_terminal_escapes_in_a_post_are_shown_harmlessly(
    project: Write, run: Run, frozen_now: object
) -> None:
    evil = GOOD.replace("Hello, world.", '"\\e]0;owned\\a\\e[2J[bold]x[/bold]' + "y" * 280 + '"')
    result = run("validate", cwd=project(q=evil))
    assert "\x1b" not in result.output and "\x07" not in result.output


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_never_a_traceback(project: Write, run: Run, data: bytes) -> None:
    result = run("validate", cwd=project({"posts/q.yaml": data}))
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output


def python_m_megaphone(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m megaphone ARGS`` in a real process."""
    return subprocess.run(
        [sys.executable, "-m", "megaphone", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_python_dash_m_and_the_console_script(project: Write) -> None:
    out = python_m_megaphone("validate", "--format", "json", cwd=project(q=GOOD))
    assert out.returncode in (0, 1), out.stderr
    assert json.loads(out.stdout) is not None
    version = subprocess.run(
        [sys.executable, "-m", "megaphone", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("megaphone, version ")


def test_internal_errors_are_one_line(project: Write) -> None:
    # An unexpected failure still ends in one line and exit code 70.
    code = (
        "import megaphone.checks.validate as v\n"
        "def boom(*a, **k): raise RuntimeError('kaput')\n"
        "v.validate = boom\n"
        "from megaphone.cli.main import main\n"
        "main(['validate'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project(q=GOOD),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MEGAPHONE_DEBUG": ""},
    )
    assert out.returncode == 70
    assert out.stderr.count("\n") == 1 and "internal error: RuntimeError: kaput" in out.stderr


def test_the_process_ends_with_its_whole_report_and_status(project: Write) -> None:
    # `validate` ends its process without tearing its objects down: the report
    # must still be written whole, and the exit status kept.
    items = "".join(
        f'  - {{id: p{i}, at: 2026-12-01 10:00, text: "{"x" * 290}"}}\n' for i in range(200)
    )
    out = python_m_megaphone(
        "validate", "--format", "json", cwd=project(q="account: utla\nposts:\n" + items)
    )
    assert out.returncode == 1
    problems = json.loads(out.stdout)
    assert len([p for p in problems if p["code"] == "text-too-long"]) == 200
