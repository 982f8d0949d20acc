"""The ``megaphone`` command line: parses, hands off to the core, renders.

Only click is imported at start-up; each command imports what it needs, so
``megaphone --help`` and ``megaphone validate`` stay fast.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from megaphone import __version__
from megaphone.cli.options import accounts_option, complete_accounts
from megaphone.errors import MegaphoneError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from megaphone.checks.validate import Report
    from megaphone.model import Post, Project
    from megaphone.project.loader import Loaded
    from megaphone.time.timeline import Filter

CONTEXT_SETTINGS: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "auto_envvar_prefix": "MEGAPHONE",
    "show_default": True,
    "max_content_width": 100,
}

EXIT_INTERNAL = 70
#: How far ahead a listing shows the occurrences of repeating posts, unless
#: asked (``--until``).
LISTED_AHEAD = timedelta(days=28)

#: Set by a command that only reads (validate): its process may end without
#: taking apart, one by one, the objects it made — some hundred thousand for
#: a large project, tens of milliseconds.
_quick_exit = False


class MegaphoneGroup(click.Group):
    """Turns megaphone's own errors into a one-line message and an exit code,
    in this one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MegaphoneError as e:
            click.echo(f"megaphone: error: {e}", err=True)
            ctx.exit(e.exit_code)
        except Exception as e:
            # The ledger's database failing (locked too long, disk full, not
            # a database): said in one line, not as a crash.
            if not type(e).__module__.startswith(("sqlalchemy", "sqlite3")):
                raise
            reason = str(getattr(e, "orig", None) or e).splitlines()[0]
            click.echo(f"megaphone: error: the ledger: {reason}", err=True)
            ctx.exit(1)


def paths_argument(f: Any) -> Any:
    return click.argument("paths", nargs=-1, type=click.Path(path_type=Path))(f)


def _console(*, wrap: bool = False) -> Any:
    """A rich console.  Without ``wrap`` long lines run on (problem lines stay
    whole for grep); with it, text wraps to the terminal (cards, tables)."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=not wrap)
    # Measured once: rich would otherwise look the size up for every line.
    console.width = max(console.width, 20)
    return console


def _show(console: Any, plain: str, styled: Callable[[], Any]) -> None:
    """Print laid-out text: as plain text without colour (a pipe, NO_COLOR),
    else rich's ``styled()``, without another wrapping pass."""
    if console.color_system is None:
        click.echo(plain)
    else:
        console.print(styled(), soft_wrap=True)


def _change_folder(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is None or ctx.resilient_parsing:
        return
    try:
        os.chdir(value)
    except OSError as e:
        raise click.BadParameter(f"{value}: {e.strerror or e}") from None


@click.group(cls=MegaphoneGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="megaphone")
@click.option(
    "-C",
    "--project",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    callback=_change_folder,
    expose_value=False,
    is_eager=True,
    help="Run as if megaphone was started in this folder (the project, or a folder in it).",
)
def cli() -> None:
    """Schedule social-media posts kept as YAML queue files: validate them
    exactly as the network will judge them, queue them from the command
    line, and publish them on time, never twice.

    \b
    Example:
        megaphone validate posts/
        megaphone add campaign "Town hall tonight at 6!" --at "today 16:00"
        megaphone publish --due --dry-run
        megaphone worker
    """


@cli.command()
@paths_argument
@click.option(
    "--format",
    type=click.Choice(["human", "line", "json", "github"]),
    default="human",
    help="human: grouped by file; line: file:line:col: severity: code: message, one a line "
    "(vim's quickfix, Emacs, grep); json: a list of problems; github: workflow annotations.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Processes to check a large project with (default: one per core).",
)
@click.option(
    "--texts",
    "show_texts",
    is_flag=True,
    help="Also say which text each account gets, for posts with languages or network texts.",
)
@click.pass_context
def validate(
    ctx: click.Context,
    paths: tuple[Path, ...],
    format: str,
    strict: bool,
    jobs: int | None,
    show_texts: bool,
) -> None:
    """Check queue files as the network will judge them.

    PATHS are queue files or folders (default: the project's posts folder).
    Exits 0 when there is no error, 1 when there is (or a warning, with
    --strict), 2 when the command itself is wrong.

    \b
    Example:
        megaphone validate posts/
        megaphone validate --format line      # for editors and grep
        megaphone validate --format github posts/campaign.yaml
        megaphone validate --texts            # which account gets which text
    """
    import gc

    from megaphone.checks.batch import validate_paths

    global _quick_exit
    _quick_exit = True
    # Reading builds many small objects and no cycles worth collecting: the
    # cyclic collector would only walk them again and again.
    gc.disable()
    checked = validate_paths(paths, jobs=jobs)
    report = checked.report
    if format == "json":
        from megaphone.show.output import problems_json

        click.echo(problems_json(report), nl=False)
    elif format == "github":
        from megaphone.show.output import problems_github

        click.echo(problems_github(report), nl=False)
    elif format == "line":
        from megaphone.show.output import problems_lines

        click.echo(problems_lines(report), nl=False)
    else:
        from megaphone.show.output import print_problems, summary_line

        if report.problems:
            print_problems(_console(), report, checked.documents)
        elif os.environ.get("NO_COLOR"):
            click.echo(f"✓ {summary_line(report)}")
        else:
            # Nothing to lay out: one line, without loading rich.
            click.secho(f"✓ {summary_line(report)}", fg="green", bold=True)
    if show_texts:
        from megaphone.project.deliveries import texts_by_account
        from megaphone.project.loader import load

        for post_id, routes in texts_by_account(load(paths).project):
            click.echo(f"{post_id}: " + "; ".join(f"{t} → {', '.join(a)}" for t, a in routes))
    if report.errors or (strict and report.warnings):
        ctx.exit(1)


def selection_options(f: Any) -> Any:
    """--id, --account, --from and --until, shared by the commands that show posts."""
    options = [
        click.option("--id", "ids", multiple=True, help="Only this post (repeatable)."),
        click.option(
            "--account",
            "accounts",
            multiple=True,
            shell_complete=complete_accounts,
            help="Only this account (repeatable).",
        ),
        click.option(
            "--from",
            "start",
            help="Only posts at or after: now, today, tomorrow, 3d, -12h, 2026-12-01, "
            "'2026-12-01 09:00'.",
        ),
        click.option("--until", "end", help="Only posts before (same forms as --from)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _select(
    paths: tuple[Path, ...],
    ids: tuple[str, ...],
    accounts: tuple[str, ...],
    start: str | None,
    end: str | None,
) -> tuple[Loaded, list[Post], Report, datetime]:
    """Load the project, validate it, and pick the posts asked for."""
    import gc

    from megaphone.checks.validate import validate as check
    from megaphone.project.loader import load
    from megaphone.time.timeline import Filter, ordered, parse_when

    gc.disable()
    now = datetime.now(UTC)
    loaded = load(paths)
    report = check(loaded, now=now)
    tz = loaded.project.config.timezone
    chosen = Filter(
        ids=ids,
        accounts=accounts,
        start=parse_when(start, now=now, tz_name=tz) if start else None,
        end=parse_when(end, now=now, tz_name=tz) if end else None,
    )
    known = {a.name for a in loaded.project.config.accounts} | {
        a for p in loaded.project.posts() for a in p.accounts
    }
    unknown = [a for a in accounts if a not in known]
    if unknown:
        raise UsageError(
            f"--account: no account is named {', '.join(map(repr, unknown))} "
            f"(the accounts: {', '.join(sorted(known)) or 'none'})"
        )
    posts = ordered(p for p in _deliveries(loaded.project, chosen, now) if chosen.keep(p))
    if ids and not posts:
        raise UsageError(f"no post has the id {', '.join(map(repr, ids))}")
    if report.errors:
        s = "s" if report.errors != 1 else ""
        click.echo(
            f"megaphone: {report.errors} error{s} in the queue files: "
            "'megaphone validate' tells them all",
            err=True,
        )
    return loaded, posts, report, now


def _deliveries(project: Project, chosen: Filter, now: datetime) -> list[Post]:
    """The deliveries a listing shows: every post that goes out once, in
    each of its languages; the occurrences of repeating posts and the slots
    of evergreen queues in the span asked for (by default from a week ago to
    four weeks ahead)."""
    from megaphone.project.deliveries import BEHIND, deliveries, expands

    if not any(expands(p) for p in project.posts()):
        return project.posts()
    history = None
    if any(q.evergreen for q in project.queues):
        from megaphone.project.deliveries import history_of
        from megaphone.store.view import peek_project, seen_states

        seen = peek_project(project.root, project.config, os.environ) or {}
        history = history_of(seen_states(seen), project)
    return deliveries(
        project,
        start=chosen.start or now - BEHIND,
        end=chosen.end or now + LISTED_AHEAD,
        history=history,
        fill_from=now,
    )


@cli.command(short_help="Posts as readers will see them, and what is wrong.")
@paths_argument
@selection_options
@click.option(
    "--format",
    type=click.Choice(["terminal", "markdown"]),
    default="terminal",
    help="terminal: cards; markdown: for a pull request comment.",
)
def preview(
    paths: tuple[Path, ...],
    ids: tuple[str, ...],
    accounts: tuple[str, ...],
    start: str | None,
    end: str | None,
    format: str,
) -> None:
    """Show posts as readers will see them, with what is wrong with them.

    Each post is a card: accounts, time (and how far from now), the text
    with links shortened as the network shows them, hashtags and mentions
    highlighted, media with alt text, the weighted length against the limit,
    and any problem on the card it belongs to.  A thread is a chain of cards.

    \b
    Example:
        megaphone preview --from today --until 7d
        megaphone preview --id caravan-why
        megaphone preview --format markdown > preview.md
    """
    from megaphone.show.views import build
    from megaphone.time.timeline import side_by_side

    loaded, posts, report, now = _select(paths, ids, accounts, start, end)
    views = build(loaded.project, side_by_side(posts), report.problems)
    if format == "markdown":
        from megaphone.show.render import markdown

        click.echo(markdown(views, now), nl=False)
        return
    from rich.text import Text

    from megaphone.show.render import Styled, card, describe_problem

    console = _console(wrap=True)
    lines: list[Styled] = []
    for view in views:
        lines.extend(card(view, now, console.width))
        lines.append(Styled())
    # Problems of no post (a file that cannot be read, the configuration).
    for problem in report.problems:
        if problem.post_id is None:
            lines.append(Styled(f"{problem.loc}  ", "dim").extend(describe_problem(problem)))
    lines.append(Styled(f"{len(views)} post{'s' if len(views) != 1 else ''}", "dim"))
    _show(
        console,
        "\n".join(line.plain for line in lines),
        lambda: Text("\n").join(line.to_text() for line in lines),
    )


@cli.command("list")
@paths_argument
@selection_options
@click.option(
    "--sort",
    type=click.Choice(["time", "id", "account", "queue"]),
    default="time",
    help="Order of the lines.",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
def list_(
    paths: tuple[Path, ...],
    ids: tuple[str, ...],
    accounts: tuple[str, ...],
    start: str | None,
    end: str | None,
    sort: str,
    as_json: bool,
) -> None:
    """One line per post: time, account, id, state and first words.

    States (the same in every command): scheduled, due (its time has come,
    within the grace period), missed (later than that), expired, draft; once
    the ledger has handled a post, its state there (published, failed,
    unknown, blocked...).  Ids are never cut; piped, a post is one line.

    \b
    Example:
        megaphone list --account utla --from today
        megaphone list --sort id --json
    """
    from megaphone.show.render import list_json, list_rows, list_view

    loaded, posts, _, now = _select(paths, ids, accounts, start, end)
    from megaphone.store.view import peek_project

    project = loaded.project
    ledger = peek_project(project.root, project.config, os.environ)
    keys = {
        "id": lambda p: p.id,
        "account": lambda p: (",".join(p.accounts), p.at is None, p.at or now),
        "queue": lambda p: (p.queue, p.at is None, p.at or now),
    }
    if sort in keys:
        posts.sort(key=keys[sort])
    if as_json:
        click.echo(list_json(list_rows(posts, now, ledger, grace=project.config.grace)), nl=False)
    else:
        console = _console(wrap=True)
        # Piped: one whole line a post, for grep and cut; never wrapped
        # (unless COLUMNS asks for a width).
        width = console.width if sys.stdout.isatty() or os.environ.get("COLUMNS") else 0
        listing = list_view(posts, now, width, ledger, grace=project.config.grace)
        _show(console, listing.plain, lambda: listing)


@cli.command(short_help="What goes out when, per account, day by day.")
@paths_argument
@click.option("--week", "span", flag_value="week", default=True, help="Seven days, by account.")
@click.option("--month", "span", flag_value="month", help="A month, day by day.")
@click.option("--from", "start", help="The first day shown (default: today).")
@accounts_option
@click.option(
    "--gap",
    type=click.IntRange(min=1, max=1440),
    default=10,
    show_default=True,
    help="Minutes under which two posts of one account collide.",
)
def calendar(
    paths: tuple[Path, ...], span: str, start: str | None, accounts: tuple[str, ...], gap: int
) -> None:
    """What goes out when, per account: busy days, empty days, collisions
    (two posts of one account within --gap minutes) and days over an
    account's daily cap (daily_cap in megaphone.yaml).

    \b
    Example:
        megaphone calendar
        megaphone calendar --month --from 2027-02-01
    """
    from megaphone.project.loader import find_root, load_config
    from megaphone.show.render import calendar_notes, month_table, week_view
    from megaphone.time.timeline import by_day, parse_when
    from megaphone.time.zones import zone

    now = datetime.now(UTC)
    root, config_path = find_root(paths[0] if paths else Path.cwd())
    tz = load_config(config_path, Path.cwd(), root)[0].timezone
    first = (parse_when(start, now=now, tz_name=tz) if start else now).astimezone(zone(tz)).date()
    if span == "month":
        shown = (first.replace(day=1), (first.replace(day=1) + timedelta(days=32)).replace(day=1))
    else:
        shown = (first, first + timedelta(days=7))
    # The span shown, a day more each side (the project's zone is not UTC):
    # the occurrences and evergreen slots of those days are listed.
    loaded, posts, _, now = _select(
        paths,
        (),
        accounts,
        (shown[0] - timedelta(days=1)).isoformat(),
        (shown[1] + timedelta(days=1)).isoformat(),
    )
    config = loaded.project.config
    caps = {a.name: a.daily_cap for a in config.accounts}
    table = by_day(posts, tz_name=tz, caps=caps, gap=timedelta(minutes=gap))
    names = list(accounts) or sorted({a for p in posts for a in p.accounts})
    console = _console(wrap=True)
    lo, hi = shown
    if span == "month":
        console.print(month_table(table, names, lo, console.width))
    else:
        console.print(week_view(table, names, first, console.width))
    for note in calendar_notes(table, lo, hi):
        console.print(note)
    for post in posts:
        local = post.at.astimezone(zone(tz)) if post.at else None
        if post.evergreen and local is not None and lo <= local.date() < hi:
            console.print(
                f"{local:%a %d %b %H:%M}  evergreen {post.entry_id} ({', '.join(post.accounts)})",
                markup=False,
                highlight=False,
            )
    console.print(f"times in {tz}", style="dim")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of queue files (for editor completion).

    \b
    Example:
        megaphone schema > queue.schema.json
    """
    from megaphone.project.schema import schema_json

    click.echo(schema_json(), nl=False)


def _register() -> None:
    from megaphone.cli import post, publish, queue

    for command in publish.COMMANDS + queue.COMMANDS + post.COMMANDS:
        cli.add_command(command)


_register()


def _end_now(code: object) -> NoReturn:
    """End the process at once, its output written (see ``_quick_exit``)."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass  # a reader that went away (`| head`) or a closed stream: nothing to write to
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point of the ``megaphone`` command: no traceback ever reaches the
    user unless MEGAPHONE_DEBUG is set."""
    try:
        cli.main(args=argv, prog_name="megaphone")
    except SystemExit as e:
        if _quick_exit:
            _end_now(e.code)
        raise
    except Exception as e:
        if os.environ.get("MEGAPHONE_DEBUG"):
            raise
        click.echo(
            f"megaphone: internal error: {type(e).__name__}: {e} "
            "(set MEGAPHONE_DEBUG=1 to see where, and please report it)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(0)
