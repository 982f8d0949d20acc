"""Options and small helpers shared by the command modules (click only)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from megaphone.errors import UsageError

if TYPE_CHECKING:
    from megaphone.model import Config
    from megaphone.publish import Policy


def project_option(f: Any) -> Any:
    """-C/--project: the project folder (default: the current one)."""
    return click.option(
        "-C",
        "--project",
        "project_dir",
        type=click.Path(path_type=Path, file_okay=False, exists=True),
        default=Path(),
        show_default=False,
        help="The project folder (default: the current one).",
    )(f)


def grace_option(f: Any) -> Any:
    return click.option(
        "--grace",
        help="How late a post may still go out (default: grace in megaphone.yaml, else 1h).",
    )(f)


def policy(config: Config, grace: str | None) -> Policy:
    """The publishing policy: the project's grace period, or --grace."""
    from megaphone.publish import Policy
    from megaphone.timeline import parse_duration

    rules = Policy(grace=config.grace, unknown=config.unknown, unknown_after=config.unknown_after)
    if config.lease is not None:
        from dataclasses import replace

        rules = replace(rules, lease=config.lease)
    if grace is None:
        return rules
    parsed = parse_duration(grace)
    if parsed is None or parsed.total_seconds() < 0:
        raise UsageError(f"--grace: {grace!r} is not a duration (e.g. 30m, 1h, 2d)")
    from dataclasses import replace

    return replace(rules, grace=parsed)
