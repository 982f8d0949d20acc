"""Options and small helpers shared by the command modules (click only)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from megaphone.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from megaphone.model import Config
    from megaphone.publish.publisher import Policy


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
    from megaphone.publish.publisher import Policy
    from megaphone.time.timeline import parse_duration

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


# ------------------------------------------------------- shell completion


def _project_for_completion(ctx: click.Context) -> Any:
    """The project around the folder the command would run in (quietly:
    completion must never print, fail or be slow)."""
    from megaphone.project.loader import find_root, load

    folder = Path.cwd()
    for value in (
        ctx.params.get("project_dir"),
        (ctx.parent.params if ctx.parent else {}).get("project"),
    ):
        if value:
            folder = Path(value)
    root, config = find_root(folder.resolve())
    if config is None:
        return None
    return load((), cwd=root, allow_empty=True).project


def _complete(
    ctx: click.Context, incomplete: str, names: Callable[[Any], list[tuple[str, str | None]]]
) -> list[Any]:
    """What completes ``incomplete``: ``names(project)`` as (value, help)."""
    from click.shell_completion import CompletionItem

    try:
        project = _project_for_completion(ctx)
        found = names(project) if project is not None else []
    except Exception:
        return []
    return [CompletionItem(v, help=h) for v, h in found if v.startswith(incomplete)]


def complete_post_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return _complete(
        ctx,
        incomplete,
        lambda project: [(p.id, " ".join(p.texts()[0].split())[:50]) for p in project.posts()],
    )


def complete_queues(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return _complete(
        ctx,
        incomplete,
        lambda project: [(n, None) for n in sorted({q.path.stem for q in project.queues})],
    )


def complete_accounts(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    def names(project: Any) -> list[tuple[str, str | None]]:
        found = {a.name for a in project.config.accounts}
        found |= {a for p in project.posts() for a in p.accounts}
        return [(n, None) for n in sorted(found)]

    return _complete(ctx, incomplete, names)


def accounts_option(f: Any) -> Any:
    """--account, repeatable, completed with the project's accounts."""
    return click.option(
        "--account",
        "accounts",
        shell_complete=complete_accounts,
        multiple=True,
        help="Only this account (repeatable).",
    )(f)
