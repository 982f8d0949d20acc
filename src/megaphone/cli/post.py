"""One post at a time: ``show`` (everything known of it) and ``edit`` (its
lines in $EDITOR, checked before they are written back).  Parsing and
printing only."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from megaphone.cli.options import complete_post_ids, project_option
from megaphone.errors import MegaphoneError, UsageError

if TYPE_CHECKING:
    from pathlib import Path


@click.command(short_help="One post whole: its card, its state per account, its history.")
@click.argument("post_id", shell_complete=complete_post_ids)
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@project_option
def show(post_id: str, as_json: bool, project_dir: Path) -> None:
    """One post whole: its card (as `preview` draws it), every account's
    state in the ledger, each part's URL, and its history of events.

    \b
    Example:
        megaphone show town-hall
        megaphone show town-hall --json
    """
    from megaphone.model import split_id
    from megaphone.publish.runs import open_project, status_rows
    from megaphone.show.output import visible

    ctx = open_project(project_dir.resolve())
    # A post of the queue files stands for its languages and occurrences:
    # each is shown; a delivery's own id shows that one.
    posts = [p for p in ctx.deliveries() if p.id == post_id or p.entry_id == post_id]
    if not posts and (found := ctx.posts().get(post_id)) is not None:
        posts = [found]
    ledger = ctx.open_ledger(create=False)
    try:
        rows = [
            r
            for r in status_rows(ctx, ledger=ledger)
            if r.post_id == post_id or split_id(r.post_id)[0] == post_id
        ]
        parts = (
            {(r.post_id, r.account): ledger.parts(r.post_id, r.account) for r in rows}
            if (ledger)
            else {}
        )
        events = (
            sorted(
                (e for d in dict.fromkeys(r.post_id for r in rows) for e in ledger.events(d)),
                key=lambda e: (e["at"], e["id"]),
            )
            if ledger
            else []
        )
    finally:
        if ledger is not None:
            ledger.close()
    if not posts and not rows:
        raise UsageError(f"no post has the id {post_id!r}")
    several = len({r.post_id for r in rows} | {p.id for p in posts}) > 1
    if as_json:
        import json

        first = posts[0] if posts else None
        record: dict[str, Any] = {
            "id": post_id,
            "queue": first.queue if first else None,
            "at": first.at.isoformat() if first and first.at else None,
            "texts": first.texts() if first else None,
            "deliveries": [
                {
                    "id": p.id,
                    "lang": p.lang,
                    "at": p.at.isoformat() if p.at else None,
                    "accounts": list(p.accounts),
                    "texts": p.texts(),
                }
                for p in posts
            ],
            "accounts": [
                {
                    "id": r.post_id,
                    "account": r.account,
                    "state": r.state,
                    "url": r.url,
                    "note": r.note or None,
                    "attempts": r.attempts,
                    "parts": [
                        {"part": i + 1, "id": p.remote_id, "url": p.url}
                        for i, p in sorted(parts.get((r.post_id, r.account), {}).items())
                    ],
                }
                for r in rows
            ],
            "events": [
                {
                    "at": e["at"].isoformat(),
                    "id": e.get("post_id", post_id),
                    "account": e["account"],
                    "state": e["state"],
                    "detail": e["detail"],
                }
                for e in events
            ],
        }
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    if posts:
        _cards(ctx, posts)
    else:
        click.echo(f"{post_id}: no longer in the queue files")
    tz = ctx.project.config.timezone
    click.echo()
    for r in rows:
        line = f"{r.account:<18} {r.state:<10} {r.url or ''}"
        if several:
            line = f"{r.post_id:<28} {line}"
        if r.note:
            line = f"{line}  {r.note}".rstrip()
        click.echo(visible(line.rstrip()))
        done = parts.get((r.post_id, r.account), {})
        for i, part in sorted(done.items()):
            if len(done) > 1 or i > 0:
                click.echo(visible(f"  part {i + 1}: {part.url or part.remote_id or '—'}"))
    if events:
        from megaphone.time.zones import zone

        click.echo()
        click.echo("history:")
        for e in events:
            when = e["at"].astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M:%S %Z")
            detail = f"  {e['detail']}" if e["detail"] else ""
            which = f"{e.get('post_id', post_id):<28} " if several else ""
            click.echo(visible(f"  {when}  {which}{e['account']:<18} {e['state']:<10}{detail}"))


def _cards(ctx: Any, posts: list[Any]) -> None:
    from rich.console import Console
    from rich.text import Text

    from megaphone.show.render import card
    from megaphone.show.views import build

    console = Console(highlight=False)
    for i, view in enumerate(build(ctx.project, posts, ctx.report.problems)):
        if i:
            click.echo()
        lines = card(view, ctx.now, console.width)
        if console.color_system is None:
            click.echo("\n".join(line.plain for line in lines))
        else:
            console.print(Text("\n").join(line.to_text() for line in lines), soft_wrap=True)


@click.command(short_help="Edit one post's lines in $EDITOR, checked before they are written.")
@click.argument("post_id", shell_complete=complete_post_ids)
@project_option
def edit(post_id: str, project_dir: Path) -> None:
    """Open the lines of one post in $VISUAL or $EDITOR; when the editor
    closes, check them with the same rules as `add`, and write them back
    atomically (only those lines change).  A published post is not edited.

    \b
    Example:
        megaphone edit town-hall
        EDITOR=nano megaphone edit town-hall
    """
    from megaphone.queue.changes import edit_post

    def in_editor(text: str) -> str | None:
        edited: str | None = click.edit(text, extension=".yaml", require_save=True)
        return edited

    change = edit_post(_root(project_dir), post_id, in_editor, now=datetime.now(UTC))
    if change is None:
        click.echo(f"{post_id}: not changed")
        return
    click.echo(f"edited {change.post_id} in {change.file}")
    for p in change.warnings:
        click.secho(f"  warning {p.code}: {p.message}", fg="yellow", err=True)


def _root(project_dir: Path) -> Path:
    from megaphone.project.loader import require_root

    if not (os.environ.get("VISUAL") or os.environ.get("EDITOR")) and not _has_vi():
        raise MegaphoneError("set EDITOR (or VISUAL) to the editor to use, e.g. EDITOR=nano")
    return require_root(project_dir.resolve())


def _has_vi() -> bool:
    import shutil

    return shutil.which("vi") is not None


COMMANDS = [show, edit]
