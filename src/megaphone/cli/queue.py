"""The queueing commands: init, add, slots, reschedule, remove and move.
Parsing and printing only; the work is in :mod:`megaphone.queue.changes`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from megaphone.cli.options import (
    complete_accounts,
    complete_post_ids,
    complete_queues,
    project_option,
)
from megaphone.errors import UsageError

if TYPE_CHECKING:
    from megaphone.queue.changes import Change


def _root(project_dir: Path) -> Path:
    from megaphone.project.loader import require_root

    return require_root(project_dir.resolve())


def _when(at: datetime | None, tz_name: str) -> str:
    if at is None:
        return "no time"
    from megaphone.time.timeline import relative
    from megaphone.time.zones import zone

    local = at.astimezone(zone(tz_name))
    return f"{local:%a %Y-%m-%d %H:%M %Z} ({relative(at, datetime.now(UTC))})"


def _told(change: Change, verb: str, phrase: str | None = None) -> None:
    said = ""
    if phrase and change.at is not None:
        from megaphone.time.natural import named_zone

        zone_named = named_zone(phrase)
        if zone_named is not None:
            said = f" = {change.at.astimezone(zone_named):%H:%M %Z} as asked"
    click.echo(
        f"{verb} {change.post_id} in {change.file}, at {_when(change.at, change.timezone)}{said}"
    )
    for p in change.warnings:
        click.secho(f"  warning {p.code}: {p.message}", fg="yellow", err=True)


@click.command(short_help="Start a project (never overwrites).")
@click.argument(
    "folder", required=False, default=Path(), type=click.Path(path_type=Path, file_okay=False)
)
@click.option("--timezone", help="The project's time zone (default: this machine's).")
@click.option(
    "--network",
    default="x",
    show_default=True,
    help="The network of the project's first account.",
)
def init(folder: Path, timezone: str | None, network: str) -> None:
    """Start a project: megaphone.yaml with one account, an example queue with
    time slots, a .env template with the account's credential variables, a
    .gitignore that keeps .env and the ledger out of git, and the queue
    schema for editor completion.  Never overwrites a file.

    \b
    Example:
        megaphone init campaigns
        megaphone init --timezone America/Los_Angeles
    """
    from megaphone.networks import REGISTRY

    if network.lower() not in REGISTRY:
        raise UsageError(f"--network: {network!r} is not one of {', '.join(REGISTRY)}")
    from megaphone.queue.changes import init as make
    from megaphone.time.zones import TimeError, local_zone_name, zone

    tz = timezone or local_zone_name()
    try:
        zone(tz)
    except TimeError as e:
        raise UsageError(str(e)) from None
    folder.mkdir(parents=True, exist_ok=True)
    for path in make(folder.resolve(), timezone=tz, network=network.lower()):
        click.echo(f"wrote {path.relative_to(folder.resolve())}")
    click.echo(
        "next: name your account in megaphone.yaml, copy .env.example to .env, "
        "then `megaphone accounts`"
    )


@click.command(short_help="Add a post to a queue, checked, keeping the file's layout.")
@click.argument("queue", required=False, shell_complete=complete_queues)
@click.argument("text", required=False)
@click.option("--text", "text_option", help="The text (instead of the TEXT argument).")
@click.option(
    "--to",
    "variant_of",
    shell_complete=complete_post_ids,
    help="Add --lang's text to this post instead: the same post in another language.",
)
@click.option(
    "--at", "when", help="When: ISO 8601, '2026-12-01 09:00', 'tomorrow 9am', 'fri noon'."
)
@click.option("--next-slot", is_flag=True, help="The queue's first free slot.")
@click.option("--now", "now_flag", is_flag=True, help="Now (the next run publishes it).")
@click.option("--thread", "thread", multiple=True, help="A thread part after TEXT (repeatable).")
@click.option(
    "--media", "media", multiple=True, help="A media file, for the first part (repeatable)."
)
@click.option("--alt", "alts", multiple=True, help="Alt text of each --media, in order.")
@click.option("--hashtag", "hashtags", multiple=True, help="A hashtag to add (repeatable).")
@click.option(
    "--account",
    "accounts",
    shell_complete=complete_accounts,
    multiple=True,
    help="An account to post from (repeatable; default: the queue's).",
)
@click.option("--id", "post_id", help="The post's id (default: from its text).")
@click.option("--lang", help="The post's language (e.g. en, es-MX).")
@click.option("--reply-to", "reply_to", help="The post it replies to: a URL or a post's id.")
@click.option("--quote", help="The post it quotes: a URL or a post's id.")
@click.option("--expires", help="When it is no longer worth sending (same forms as --at).")
@click.option("--draft", is_flag=True, help="A draft: never sent, and it needs no time.")
@project_option
def add(
    queue: str | None,
    text: str | None,
    text_option: str | None,
    variant_of: str | None,
    when: str | None,
    next_slot: bool,
    now_flag: bool,
    thread: tuple[str, ...],
    media: tuple[str, ...],
    alts: tuple[str, ...],
    hashtags: tuple[str, ...],
    accounts: tuple[str, ...],
    post_id: str | None,
    lang: str | None,
    reply_to: str | None,
    quote: str | None,
    expires: str | None,
    draft: bool,
    project_dir: Path,
) -> None:
    """Add a post to QUEUE (its name or file), checked as `validate` would,
    keeping the file's comments, order and layout; written atomically.

    WHEN is read in the queue's time zone and echoed back as an absolute
    time; a phrase that cannot be read is an error, never a guess.  Media
    paths are relative to where you are, and written relative to the queue
    file.  --account is repeated for several accounts (a comma is not a
    separator).  QUEUE may be a new .yaml file in the posts folder: it is
    made, with the project's time zone.

    \b
    Example:
        megaphone add campaign "Town hall tonight at 6!" --at "today 16:00"
        megaphone add campaign "Sign the petition" --next-slot --hashtag RespectUs
        megaphone add campaign "A thread (1/2)" --thread "and more (2/2)" --at "fri noon"
        megaphone add campaign "Our caravan" --media media/car.png --alt "Cars with signs" --now
        megaphone add --to town-hall --lang es --text "Asamblea esta noche a las 6"
    """
    from megaphone.queue.changes import add as add_post

    if text_option is not None:
        if text is not None or (variant_of and queue is not None):
            raise UsageError("give the text once: as TEXT or as --text")
        text = text_option
    if variant_of is not None:
        if queue is not None and text is None:
            queue, text = None, queue  # add --to ID --lang es "texto"
        if queue is not None:
            raise UsageError("--to names the post: give no QUEUE")
        if not lang:
            raise UsageError("--to: say the language of the text (--lang es)")
        given = [
            x
            for x, flag in (
                ("--at", when),
                ("--next-slot", next_slot),
                ("--now", now_flag),
                ("--media", media),
                ("--hashtag", hashtags),
                ("--account", accounts),
                ("--id", post_id),
                ("--reply-to", reply_to),
                ("--quote", quote),
                ("--expires", expires),
                ("--draft", draft),
            )
            if flag
        ]
        if given:
            raise UsageError(
                f"--to: a language takes its post's {', '.join(given)}; leave them out"
            )
        from megaphone.queue.changes import add_variant

        change = add_variant(
            _root(project_dir),
            variant_of,
            lang=lang,
            text=text,
            thread=list(thread),
            alts=list(alts),
        )
        _told(change, "added")
        return
    if queue is None:
        raise UsageError("say which queue to add the post to (QUEUE), or --to a post")

    if len(alts) > len(media):
        raise UsageError("more --alt than --media")
    for name in accounts:
        if "," in name:
            raise UsageError(
                f"--account {name!r}: give one account per --account "
                "(e.g. --account utla --account reclaim-la)"
            )
    pairs = [(m, alts[i] if i < len(alts) else None) for i, m in enumerate(media)]
    change = add_post(
        _root(project_dir),
        queue,
        text=text,
        thread=list(thread),
        when=when,
        next_slot=next_slot,
        now_flag=now_flag,
        media=pairs,
        hashtags=list(hashtags),
        account=list(accounts),
        post_id=post_id,
        cwd=Path.cwd(),
        lang=lang,
        reply_to=reply_to,
        quote=quote,
        expires=expires,
        draft=draft,
    )
    _told(change, "added", when)


@click.command(short_help="The next free time slots of a queue.")
@click.argument("queue", shell_complete=complete_queues)
@click.option(
    "--count",
    type=click.IntRange(1, 500),
    default=5,
    show_default=True,
    help="How many slots to show (1 to 500).",
)
@click.option(
    "--account",
    shell_complete=complete_accounts,
    help="Free for this account (default: the queue's).",
)
@project_option
def slots(queue: str, count: int, account: str | None, project_dir: Path) -> None:
    """The next free slots of QUEUE (free: none of its accounts posts then);
    of an evergreen queue, the next slots and the post that takes each.

    \b
    Example:
        megaphone slots campaign --count 10
    """
    from megaphone.queue.changes import find_queue, free_slots, load_project

    loaded = load_project(_root(project_dir))
    q = find_queue(loaded, queue)
    tz = q.timezone or loaded.project.config.timezone
    if not q.slots:
        raise UsageError(f"{q.name} has no slots: add e.g. `slots: [mon-fri 09:00]` to it")
    if q.evergreen:
        from megaphone.queue.changes import evergreen_slots

        for when, post_id in evergreen_slots(loaded, q, now=datetime.now(UTC), count=count):
            click.echo(f"{_when(when, tz)}  {post_id or '(free: no post keeps its gap)'}")
        return
    names = [account] if account else list(q.accounts)
    for when in free_slots(loaded, q, names, now=datetime.now(UTC), count=count):
        click.echo(_when(when, tz))


@click.command(short_help="Give a post a new time.")
@click.argument("post_id", shell_complete=complete_post_ids)
@click.argument("when")
@project_option
def reschedule(post_id: str, when: str, project_dir: Path) -> None:
    """Give a post a new time (same forms as `add --at`).  A published post
    is not changed.

    \b
    Example:
        megaphone reschedule town-hall "tomorrow 17:00"
    """
    from megaphone.queue.changes import reschedule as move_time

    _told(move_time(_root(project_dir), post_id, when), "rescheduled", when)


@click.command(short_help="Remove a post from its queue file.")
@click.argument("post_id", shell_complete=complete_post_ids)
@project_option
def remove(post_id: str, project_dir: Path) -> None:
    """Remove a post from its queue file (refused once it is published).

    \b
    Example:
        megaphone remove stay-in-the-know
    """
    from megaphone.queue.changes import remove as drop

    change = drop(_root(project_dir), post_id)
    click.echo(f"removed {change.post_id} from {change.file}")


@click.command(short_help="Move a post to another queue file.")
@click.argument("post_id", shell_complete=complete_post_ids)
@click.argument("queue", shell_complete=complete_queues)
@project_option
def move(post_id: str, queue: str, project_dir: Path) -> None:
    """Move a post to another queue file, as it is written (it takes that
    queue's account unless it names its own).

    \b
    Example:
        megaphone move petition-reminder campaign
    """
    from megaphone.queue.changes import move as relocate

    _told(relocate(_root(project_dir), post_id, queue), "moved")


COMMANDS = [init, add, slots, reschedule, remove, move]
