"""The ``megaphone`` command line: parses, hands off to the core, renders.

Only click is imported at start-up; each command imports what it needs, so
``megaphone --help`` and ``megaphone validate`` stay fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from megaphone import __version__
from megaphone.errors import MegaphoneError

CONTEXT_SETTINGS: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "auto_envvar_prefix": "MEGAPHONE",
    "show_default": True,
    "max_content_width": 100,
}

EXIT_INTERNAL = 70


class MegaphoneGroup(click.Group):
    """Turns megaphone's own errors into a one-line message and an exit code,
    in this one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MegaphoneError as e:
            click.echo(f"megaphone: error: {e}", err=True)
            ctx.exit(e.exit_code)


def paths_argument(f: Any) -> Any:
    return click.argument("paths", nargs=-1, type=click.Path(path_type=Path))(f)


def _console(*, stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


@click.group(cls=MegaphoneGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="megaphone")
def cli() -> None:
    """Schedule social-media posts kept as YAML queue files.

    \b
    Validate them exactly as the network will judge them:
        megaphone validate posts/
    """


@cli.command()
@paths_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["human", "json", "github"]),
    default="human",
    help="human: grouped by file; json: a list of problems; github: workflow annotations.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...], fmt: str, strict: bool) -> None:
    """Check queue files as the network will judge them.

    PATHS are queue files or folders (default: the project's posts folder).
    Exits 0 when there is no error, 1 when there is (or a warning, with
    --strict), 2 when the command itself is wrong.

    \b
    Example:
        megaphone validate posts/
        megaphone validate --format github posts/campaign.yaml
    """
    import gc

    from megaphone.loader import load
    from megaphone.validate import validate as check

    # Reading builds many small objects and no cycles worth collecting: the
    # cyclic collector would only walk them again and again.
    gc.disable()
    loaded = load(paths)
    report = check(loaded)
    if fmt == "json":
        from megaphone.output import problems_json

        click.echo(problems_json(report), nl=False)
    elif fmt == "github":
        from megaphone.output import problems_github

        click.echo(problems_github(report), nl=False)
    else:
        from megaphone.output import print_problems, summary_line

        if report.problems:
            print_problems(_console(), report, loaded.documents)
        else:
            # Nothing to lay out: one line, without loading rich.
            click.secho(f"✓ {summary_line(report)}", fg="green", bold=True)
    if report.errors or (strict and report.warnings):
        ctx.exit(1)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of queue files (for editor completion).

    \b
    Example:
        megaphone schema > queue.schema.json
    """
    from megaphone.schema import schema_json

    click.echo(schema_json(), nl=False)


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point of the ``megaphone`` command: no traceback ever reaches the
    user unless MEGAPHONE_DEBUG is set."""
    try:
        cli.main(args=argv, prog_name="megaphone")
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
