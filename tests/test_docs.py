"""The documentation keeps up with the code."""

from __future__ import annotations

import re

import click
import pytest

from megaphone.cli.main import cli
from megaphone.problems import CODES
from tests.conftest import ROOT

COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example(name: str) -> None:
    command = cli.commands[name]
    assert command.help and "Example:" in command.help, f"megaphone {name} needs an example"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_the_readme(name: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"megaphone {name}" in readme


def test_every_problem_code_is_documented() -> None:
    doc = (ROOT / "docs" / "queue-format.md").read_text(encoding="utf-8")
    doc = doc.split("\n## Problems\n", 1)[1]
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", doc, re.MULTILINE))
    assert documented == set(CODES)


def test_every_option_has_help() -> None:
    for name, command in cli.commands.items():
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"megaphone {name} {param.opts[0]} needs help text"


def test_every_key_of_the_format_is_documented() -> None:
    from megaphone.project.loader import ACCOUNT_KEYS
    from megaphone.project.schema import POST_KEYS, QUEUE_KEYS, REPEAT_KEYS

    doc = (ROOT / "docs" / "queue-format.md").read_text(encoding="utf-8")
    queue_keys = doc.split("### Queue keys", 1)[1].split("###", 1)[0]
    post_keys = doc.split("### Post keys", 1)[1].split("###", 1)[0]
    for key in QUEUE_KEYS:
        assert f"| `{key}` |" in queue_keys, f"queue key {key!r} is not in the table"
    for key in POST_KEYS:
        assert f"| `{key}` |" in post_keys, f"post key {key!r} is not in the table"
    repeat = doc.split("## Repeating posts", 1)[1].split("\n## ", 1)[0]
    for key in REPEAT_KEYS:
        assert f"{key}:" in repeat, f"repeat key {key!r} is not shown"
    config = doc.split("## The project configuration", 1)[1]
    for key in ACCOUNT_KEYS:
        assert f"{key}:" in config, f"account key {key!r} is not shown"
