"""The publishing commands: publish, status, retry, mark, history, cron,
accounts and auth.  Parsing and printing only; the work is in
:mod:`megaphone.publish.runs`, :mod:`megaphone.publish.publisher` and
:mod:`megaphone.store.ledger`."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from megaphone.cli.options import (
    accounts_option,
    complete_accounts,
    complete_post_ids,
    grace_option,
    policy,
    project_option,
)
from megaphone.errors import MegaphoneError, UsageError
from megaphone.store.view import SHOWN_STATES

if TYPE_CHECKING:
    from megaphone.model import Account
    from megaphone.publish.publisher import Outcome
    from megaphone.publish.runs import Context, PostPlan

STATE_COLOURS = {
    "published": "green",
    "scheduled": "cyan",
    "due": "cyan",
    "publishing": "yellow",
    "deferred": "yellow",
    "waiting": "yellow",
    "skipped": "bright_black",
    "draft": "bright_black",
    "expired": "bright_black",
    "missed": "red",
    "failed": "red",
    "unknown": "magenta",
    "blocked": "red",
}
MARKS = {"published": "✓", "failed": "✗", "unknown": "?", "blocked": "✗", "missed": "!"}


def _context(project_dir: Path) -> Context:
    from megaphone.publish.runs import open_project

    return open_project(project_dir.resolve())


def _when(raw: str | None, ctx: Context) -> datetime | None:
    if raw is None:
        return None
    from megaphone.time.timeline import parse_when

    return parse_when(raw, now=ctx.now, tz_name=ctx.project.config.timezone)


def _local(when: datetime | None, tz_name: str) -> str:
    if when is None:
        return "—"
    from megaphone.time.zones import zone

    return when.astimezone(zone(tz_name)).strftime("%Y-%m-%d %H:%M %Z")


def _say(text: str, state: str | None = None, *, err: bool = False) -> None:
    """One line (or several) for a person: text from files and from the
    network may hold control characters, shown as visible stand-ins (␛)."""
    from megaphone.show.output import visible

    colour = STATE_COLOURS.get(state or "")
    click.secho(visible(text, keep_newlines=True), fg=colour, err=err)


def _terminal_width() -> int | None:
    """The terminal's width when output goes to one (None: piped, not cut)."""
    import os
    import shutil

    if not sys.stdout.isatty() and not os.environ.get("COLUMNS"):
        return None
    return max(shutil.get_terminal_size().columns, 20)


def _cut(text: str, width: int | None) -> str:
    """A line cut to ``width`` cells with "…" (ids come before what is cut)."""
    if width is None:
        return text
    from rich.cells import cell_len, set_cell_size

    if cell_len(text) <= width:
        return text
    return set_cell_size(text, width - 1) + "…"


def _echo(text: str, *, nl: bool = True) -> None:
    from megaphone.show.output import visible

    click.echo(visible(text, keep_newlines=True), nl=nl)


def _json(value: Any) -> str:
    """JSON for programs; C1 control characters escaped too (json escapes
    only C0 ones), so that printing it to a terminal is safe."""
    import json
    import re

    text = json.dumps(value, indent=2, ensure_ascii=False, default=_json_value)
    return re.sub("[\x7f-\x9f]", lambda m: f"\\u{ord(m[0]):04x}", text)


# ------------------------------------------------------------------ publish


@click.command(short_help="Publish due posts (for cron), or the posts named.")
@click.argument("ids", nargs=-1, shell_complete=complete_post_ids)
@click.option("--due", is_flag=True, help="Publish everything due, for every account.")
@click.option("--now", "force", is_flag=True, help="Publish the posts named now, due or not.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and record nothing.")
@click.option(
    "--until",
    help="With --dry-run: everything due by then, each as it will go out (e.g. 7d, 2026-12-31).",
)
@accounts_option
@grace_option
@click.option(
    "--no-lock",
    is_flag=True,
    help="Do not take the project's publishing lock (claims in the ledger still keep "
    "every post from going out twice).",
)
@click.option("-v", "--verbose", is_flag=True, help="A line per post even when not on a terminal.")
@project_option
def publish(
    ids: tuple[str, ...],
    due: bool,
    force: bool,
    dry_run: bool,
    until: str | None,
    accounts: tuple[str, ...],
    grace: str | None,
    no_lock: bool,
    verbose: bool,
    project_dir: Path,
) -> None:
    """Publish due posts (for cron), or the posts named.

    Every post is claimed in the ledger before it is sent, so two runs (or a
    run and a worker) never send one post twice.  A post more late than the
    grace period is marked missed, one past its expiry expired; a post whose
    outcome is unknown after a crash or timeout is looked up on the network
    before anything is sent again.

    Exit status: 0 all went well; 1 something failed, is unknown, was
    missed, was invalid or had no credentials; 75 only waits remain (a rate
    limit, a retry later) or another run holds the lock.

    \b
    Example:
        megaphone publish --due
        megaphone publish --due --dry-run --until 7d
        megaphone publish caravan-why --now
    """
    from megaphone.publish.runs import RunSummary, select_jobs

    if not due and not ids:
        raise UsageError("say what to publish: --due, or the ids of posts")
    if due and ids:
        raise UsageError("give either --due or ids, not both")
    if until and not dry_run:
        raise UsageError("--until goes with --dry-run")
    if force and not ids:
        raise UsageError("--now goes with the ids of posts")
    ctx = _context(project_dir)
    rules = policy(ctx.project.config, grace)
    jobs, invalid = select_jobs(ctx, ids=ids, until=_when(until, ctx), account_names=accounts)
    if ids and not force:
        early = [j for j in jobs if j.post.at is not None and j.post.at > ctx.now]
        if early:
            tz = ctx.project.config.timezone
            raise UsageError(
                f"{early[0].post.id} is not due until {_local(early[0].post.at, tz)}: "
                "add --now to publish it now"
            )
    broken = ctx.broken()
    for problem in broken:
        _say(f"✗ {problem} — its posts are not seen; see megaphone validate", "failed", err=True)
    for post_id, account in invalid:
        _say(
            f"✗ {post_id} ({account}): has errors, not sent — see megaphone validate",
            "failed",
            err=True,
        )
    if dry_run:
        from megaphone.publish.runs import rehearse

        plans = rehearse(ctx, jobs, policy=rules, force=force)
        _print_plans(plans, ctx)
        if invalid or broken:
            sys.exit(1)
        return
    loud = verbose or sys.stdout.isatty()
    summary = RunSummary(invalid=invalid, broken=broken)

    def report(outcome: Outcome) -> None:
        if loud or outcome.state in ("failed", "unknown", "blocked", "missed"):
            _say(_outcome_line(outcome), outcome.state, err=not loud)

    from megaphone.publish.runs import publish as run_publish

    lock = None
    if not no_lock:
        from megaphone.store.lock import ProjectLock

        lock = ProjectLock(ctx.project.root / ".megaphone" / "publish.lock", "megaphone publish")
        lock.acquire()
    try:
        summary.outcomes = run_publish(
            ctx,
            jobs,
            force=force,
            policy=rules,
            report=report,
            warn=lambda message: _say(f"! {message}", "deferred", err=True),
            skip_settled=due,
        )
    finally:
        if lock is not None:
            lock.release()
    _echo(f"publish: {summary.line()}")
    sys.exit(summary.exit_code)


def _outcome_line(o: Outcome) -> str:
    mark = MARKS.get(o.state, "·")
    text = f"{mark} {o.state:<9} {o.account:<18} {o.post_id}"
    if o.url:
        text += f"  {o.url}"
    if o.parts > 1:
        text += f"  ({o.parts} parts)"
    if o.late is not None and o.late.total_seconds() >= 60:
        text += f"  {int(o.late.total_seconds() // 60)} min late"
    if o.message and o.state != "published":
        text += f"  — {o.message}"
    return text


def _print_plans(plans: list[PostPlan], ctx: Context) -> None:
    tz = ctx.project.config.timezone
    sending = 0
    for plan in plans:
        job = plan.job
        head = f"{_local(job.due, tz)}  {job.account.name}  {job.post.id}"
        if plan.action != "send":
            _say(f"{head}  — {plan.action}: {plan.reason}", plan.action)
            continue
        sending += 1
        click.secho(head, bold=True)
        if plan.quote:
            _echo(f"  quotes {plan.quote}")
        for i, part in enumerate(plan.parts, 1):
            label = f"part {i}/{len(job.post.parts)}" if len(job.post.parts) > 1 else "post"
            reply = f", in reply to {part.reply_to}" if part.reply_to else ""
            over = part.weighted > part.limit
            _echo(f"  {label} ({part.weighted}/{part.limit}{reply})")
            for line in part.text.splitlines() or [""]:
                _echo(f"    │ {line}")
            for path, alt, what in part.media:
                _echo(f"    + {path} ({what}) alt: {alt or '(none)'}")
            if over:
                _say(f"    over the limit by {part.weighted - part.limit}", "failed")
        if plan.cap:
            _echo(f"  daily cap: {plan.cap}")
        if plan.idempotency:
            _echo(f"  idempotency: {plan.idempotency}")
    s = "s" if sending != 1 else ""
    _echo(f"dry run: {sending} post{s} would be sent; nothing was sent or recorded")


# ------------------------------------------------------------------- status


@click.command(short_help="Each post per account: state, time, URL, what went wrong.")
@accounts_option
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(SHOWN_STATES),
    help="Only posts in this state (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
@click.option(
    "--check",
    is_flag=True,
    help="For monitoring: one line; exit 1 when a post failed, is unknown or was missed in "
    "the last --hours, or a worker's heartbeat is stale.",
)
@click.option(
    "--hours",
    type=click.FloatRange(min=0, min_open=True),
    default=24.0,
    show_default=True,
    help="With --check: how far back a post's trouble counts.",
)
@project_option
def status(
    accounts: tuple[str, ...],
    states: tuple[str, ...],
    as_json: bool,
    check: bool,
    hours: float,
    project_dir: Path,
) -> None:
    """Every post per account: its state, time, URL and what went wrong.

    States (the same in every command): scheduled, due (within the grace
    period: the next run sends it), missed, expired, draft; from the ledger:
    publishing, published, failed, unknown, blocked (held until a person
    acts), skipped.  A published post edited since is flagged: the change is
    never sent.

    \b
    Example:
        megaphone status
        megaphone status --state failed --state unknown
        megaphone status --json
    """
    from megaphone.publish.runs import status_rows

    ctx = _context(project_dir)
    if check:
        from megaphone.publish.runs import health

        healthy, line = health(ctx, hours=hours, accounts=accounts)
        _echo(f"megaphone {'OK' if healthy else 'PROBLEM'}: {line}")
        sys.exit(0 if healthy else 1)
    ledger = ctx.open_ledger(create=False)
    worker_line = None
    try:
        rows = status_rows(ctx, ledger=ledger)
        if ledger is not None:
            worker_line = _worker_line(ledger, ctx)
    finally:
        if ledger is not None:
            ledger.close()
    rows = [
        r
        for r in rows
        if (not accounts or r.account in accounts) and (not states or r.state in states)
    ]
    if as_json:
        _echo(
            _json(
                [
                    {
                        "id": r.post_id,
                        "account": r.account,
                        "state": r.state,
                        "at": r.at.isoformat() if r.at else None,
                        "queue": r.queue,
                        "url": r.url,
                        "note": r.note or None,
                        "attempts": r.attempts,
                        "edited_since_published": r.edited,
                    }
                    for r in rows
                ]
            )
        )
        return
    tz = ctx.project.config.timezone
    if worker_line:
        _echo(worker_line)
    width = max((len(r.post_id) for r in rows), default=2)
    terminal = _terminal_width()
    for r in rows:
        extra = r.url or ""
        if r.note:
            extra = f"{extra}  {r.note}".strip()
        line = f"{_local(r.at, tz):<22} {r.state:<10} {r.account:<18} {r.post_id:<{width}}  {extra}"
        _say(_cut(line.rstrip(), terminal), r.state)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    _echo(", ".join(f"{n} {s}" for s, n in counts.items()) or "no posts")


def _worker_line(ledger: Any, ctx: Context) -> str | None:
    """Every worker's state: alive since when (and its next jobs), stopped,
    or silent."""
    from megaphone.store.heartbeat import read_heartbeats

    beats = read_heartbeats(ledger)
    if not beats:
        return None
    tz = ctx.project.config.timezone
    now = datetime.now(UTC)
    lines = []
    for beat in beats:
        where = f"pid {beat.pid} on {beat.host}"
        if beat.stopped:
            lines.append(f"worker: stopped at {_local(beat.beat_at, tz)} ({where})")
            continue
        if not beat.alive(now):
            lines.append(f"worker: not running (last seen {_local(beat.beat_at, tz)}, {where})")
            continue
        dry = ", dry run" if beat.dry_run else ""
        lines.append(f"worker: running since {_local(beat.started_at, tz)} ({where}{dry})")
        for post_id, account, at in beat.next:
            lines.append(f"  next: {_local(at, tz)}  {account}  {post_id}")
    return "\n".join(lines)


# -------------------------------------------------------------- retry, mark


def _post_accounts(f: Any) -> Any:
    """--account of retry and mark: which of the post's accounts."""
    return click.option(
        "--account",
        "accounts",
        multiple=True,
        shell_complete=complete_accounts,
        help="Only for this account (repeatable; default: every account of the post).",
    )(f)


@click.command(short_help="Send a failed, unknown or missed post again.")
@click.argument("post_id", shell_complete=complete_post_ids)
@_post_accounts
@project_option
def retry(post_id: str, accounts: tuple[str, ...], project_dir: Path) -> None:
    """Send a failed, unknown, missed, expired or skipped post again at the
    next run (late or not).  Thread parts already live are not sent again.

    For an unknown post, first check on the network that it did not go out.

    \b
    Example:
        megaphone retry petition-thread
    """
    from megaphone.publish.runs import accounts_of, require_project_ledger

    ctx = _context(project_dir)
    names = accounts_of(ctx, post_id, accounts)
    ledger = require_project_ledger(ctx)
    now = datetime.now(UTC)
    errors = []
    try:
        for name in names:
            try:
                ledger.retry(post_id, name, now=now)
                _echo(f"{post_id} ({name}): scheduled again; the next run sends it")
            except MegaphoneError as e:
                errors.append(str(e))
    finally:
        ledger.close()
    if errors and (len(errors) == len(names) or accounts):
        raise MegaphoneError("; ".join(errors))


@click.command(short_help="Record by hand what became of a post.")
@click.argument("post_id", shell_complete=complete_post_ids)
@click.argument("state", type=click.Choice(["published", "skipped", "failed", "scheduled"]))
@click.option("--url", help="The post's URL on the network (with: published).")
@_post_accounts
@project_option
def mark(
    post_id: str, state: str, url: str | None, accounts: tuple[str, ...], project_dir: Path
) -> None:
    """Record by hand what became of a post: published (with its --url),
    skipped (never to be sent), failed, or scheduled.

    \b
    Example:
        megaphone mark petition-thread published --url https://x.com/UTLAnow/status/1
        megaphone mark stay-in-the-know skipped
    """
    from megaphone.networks import REGISTRY
    from megaphone.networks import rules as network_rules
    from megaphone.publish.publisher import digest

    ctx = _context(project_dir)
    from megaphone.publish.runs import accounts_of

    names = accounts_of(ctx, post_id, accounts)
    if url and state != "published":
        raise UsageError("--url goes with: published")
    post = ctx.posts().get(post_id)
    ledger = ctx.open_ledger()
    assert ledger is not None
    now = datetime.now(UTC)
    from megaphone.store.lease import Owner, claim_abandoned

    me = Owner.new()
    try:
        for name in names:
            configured = ctx.project.config.account(name)
            if configured is None or configured.network not in REGISTRY:
                raise UsageError(f"account {name!r} is not configured in megaphone.yaml")
            network = configured.network
            known = network_rules(network)
            remote_id = known.parse_post_url(url) if url else None
            if url and remote_id is None:
                raise UsageError(
                    f"--url: {url} is not the URL of a post on {known.title} "
                    f"({known.post_url_example})"
                )
            owner = known.post_author(url) if url else None
            handle = configured.handle
            if owner and handle and owner.lower() != handle.lower():
                raise UsageError(f"--url: {url} is a post of @{owner}, not of {name} (@{handle})")
            ledger.mark(
                post_id,
                name,
                state=state,
                now=now,
                abandoned=lambda row: claim_abandoned(row.claimed_by, row.lease_until, now, me),
                url=url,
                remote_id=remote_id,
                network=network,
                queue=post.queue if post else None,
                scheduled_at=post.at if post else None,
                digest=digest(post.for_network(network)) if post else None,
            )
            _echo(f"{post_id} ({name}): marked {state}")
    finally:
        ledger.close()


# ------------------------------------------------------------------ history


@click.command()
@accounts_option
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="As CSV.")
@project_option
def history(accounts: tuple[str, ...], as_json: bool, as_csv: bool, project_dir: Path) -> None:
    """Published posts, newest first, with their URLs.

    \b
    Example:
        megaphone history
        megaphone history --csv > published.csv
    """
    from megaphone.publish.runs import require_project_ledger

    if as_json and as_csv:
        raise UsageError("give --json or --csv, not both")
    fmt = "json" if as_json else "csv" if as_csv else None
    ctx = _context(project_dir)
    ledger = require_project_ledger(ctx)
    try:
        rows = [
            d
            for d in ledger.all()
            if d.state == "published" and (not accounts or d.account in accounts)
        ]
    finally:
        ledger.close()
    epoch = datetime.min.replace(tzinfo=UTC)
    rows.sort(key=lambda d: d.published_at or epoch, reverse=True)
    records = [
        {
            "id": d.post_id,
            "account": d.account,
            "published_at": d.published_at.isoformat() if d.published_at else None,
            "url": d.url,
            "queue": d.queue,
        }
        for d in rows
    ]
    if fmt == "json":
        click.echo(_json(records))
    elif fmt == "csv":
        import csv
        import io

        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["id", "account", "published_at", "url", "queue"])
        writer.writeheader()
        writer.writerows(records)
        _echo(out.getvalue(), nl=False)
    else:
        tz = ctx.project.config.timezone
        for d in rows:
            _echo(f"{_local(d.published_at, tz):<22} {d.account:<18} {d.post_id}  {d.url or '—'}")
        _echo(f"{len(rows)} published")


# --------------------------------------------------------------------- cron


@click.command(short_help="Print the crontab line for this project.")
@click.option("--every", default=5, show_default=True, help="Minutes between runs.")
@project_option
def cron(every: int, project_dir: Path) -> None:
    """Print the crontab line that publishes this project's due posts.

    Add it with `crontab -e`.  Credentials come from the project's .env (or
    the environment cron gives); output goes to .megaphone/cron.log.

    \b
    Example:
        megaphone cron
        (crontab -l; megaphone cron) | crontab -
    """
    import shlex
    import shutil

    from megaphone.project.loader import require_root

    if not 1 <= every <= 59:
        raise UsageError("--every: between 1 and 59 minutes")
    root = require_root(project_dir.resolve())
    found = shutil.which("megaphone")
    exe = [found] if found else [sys.executable, "-m", "megaphone"]
    for part in (str(root), *exe):
        if "\n" in part or "\r" in part:
            raise UsageError(
                f"{part!r} holds a line break, which a crontab line cannot carry: "
                "move the project (or megaphone) to a plain path"
            )
    schedule = "*" if every == 1 else f"*/{every}"
    command = (
        f"cd {shlex.quote(str(root))} && {shlex.join(exe)} publish --due "
        ">> .megaphone/cron.log 2>&1"
    )
    # cron turns an unescaped % into a line break.
    click.echo(f"{schedule} * * * * " + command.replace("%", "\\%"))


# ----------------------------------------------------------------- accounts


@click.group(
    invoke_without_command=True, short_help="The accounts, and whether their credentials are set."
)
@project_option
@click.pass_context
def accounts(click_ctx: click.Context, project_dir: Path) -> None:
    """List the project's accounts and whether their credentials are set.

    Credentials of account NAME: MEGAPHONE_<NAME>_API_KEY, _API_SECRET,
    _ACCESS_TOKEN and _ACCESS_SECRET (NAME upper-cased, '-' as '_'), from
    the environment or the project's .env; _API_URL sends requests elsewhere.
    Exits 1 when an account's credentials are missing.

    \b
    Example:
        megaphone accounts
        megaphone accounts check
    """
    click_ctx.obj = project_dir
    if click_ctx.invoked_subcommand is not None:
        return
    from megaphone.project.credentials import CredentialStore

    ctx = _context(project_dir)
    store = CredentialStore(ctx.project.root, ctx.environ)
    missing = 0
    for account in ctx.project.config.accounts:
        handle = f"@{account.handle}" if account.handle else ""
        try:
            from megaphone.networks import rules

            found = store.lookup(account.name, rules(account.network).credential_fields)
        except MegaphoneError as e:
            missing += 1
            _say(f"✗ {account.name:<18} {account.network:<4} {handle:<18} {e}", "failed")
            continue
        if found.credentials is not None:
            where = f"credentials from {found.source}"
            if found.api_url or account.api_url:
                from megaphone.networks import redact_url

                where += f", API at {redact_url(found.api_url or account.api_url or '')}"
            _say(f"✓ {account.name:<18} {account.network:<4} {handle:<18} {where}", "published")
        else:
            missing += 1
            _say(
                f"✗ {account.name:<18} {account.network:<4} {handle:<18} "
                f"missing {', '.join(found.missing)}",
                "failed",
            )
    if not ctx.project.config.accounts:
        _echo("no accounts: name them under accounts: in megaphone.yaml")
    if missing:
        sys.exit(1)


@accounts.command()
@click.argument("names", nargs=-1)
@click.pass_obj
@click.option(
    "--save",
    is_flag=True,
    help="Write each server's own limits (a Mastodon instance's) under the account's "
    "limits: in megaphone.yaml, so that validate stays offline and exact.",
)
def check(project_dir: Path, names: tuple[str, ...], save: bool) -> None:
    """Ask the network who each account's credentials belong to, and, for a
    network of many servers (Mastodon), what the account's server allows.

    \b
    Example:
        megaphone accounts check utla
        megaphone accounts check utla-social --save
    """
    from megaphone.publish.publisher import connector

    ctx = _context(project_dir)
    chosen = [a for a in ctx.project.config.accounts if not names or a.name in names]
    unknown = set(names) - {a.name for a in chosen}
    if unknown:
        raise UsageError(f"no account is named {', '.join(sorted(unknown))}")
    open_account = connector(ctx.project, ctx.environ)
    failed = 0
    for account in chosen:
        limits: dict[str, int] = {}
        try:
            net = open_account(account)
            try:
                me = net.whoami()
                read_limits = getattr(net, "instance", None)
                if read_limits is not None:
                    limits = read_limits()
                unresolved = getattr(net, "unresolved", None)
                mentioned = _mentioned(ctx, account) if unresolved is not None else {}
                missing = unresolved(sorted(mentioned)) if unresolved and mentioned else []
            finally:
                net.close()
        except MegaphoneError as e:
            failed += 1
            _say(f"✗ {account.name}: {e}", "failed")
            continue
        if account.handle and account.handle.lower() != me.username.lower():
            failed += 1
            _say(
                f"✗ {account.name}: signs in as @{me.username}, but megaphone.yaml says "
                f"@{account.handle}: its posts are held until the two agree",
                "failed",
            )
            continue
        _say(f"✓ {account.name}: signs in as @{me.username}", "published")
        for handle in missing:
            failed += 1
            _say(
                f"✗ {account.name}: @{handle} (in {', '.join(mentioned[handle])}) resolves to no "
                "account: those posts would be held",
                "failed",
            )
        if limits:
            shown = ", ".join(f"{k} {v}" for k, v in limits.items())
            _echo(f"  its server's limits: {shown}")
            if save:
                from megaphone.project.edit import edit_lock, set_account_limits

                with edit_lock(ctx.project.root):
                    set_account_limits(ctx.project.root / "megaphone.yaml", account.name, limits)
                _echo("  saved under its limits: in megaphone.yaml")
    if failed:
        sys.exit(1)


def _mentioned(ctx: Context, account: Account) -> dict[str, list[str]]:
    """The handles the account's posts mention, as its network reads them
    (to be resolved), and which posts."""
    from megaphone.networks import rules as network_rules

    rules = network_rules(account.network)
    found: dict[str, list[str]] = {}
    for post in ctx.posts().values():
        if account.name not in post.accounts:
            continue
        for text in post.texts():
            for handle in rules.mentions(text):
                found.setdefault(handle, []).append(post.id)
    return found


@click.command(short_help="Sign an account in (X's PIN flow) and save its tokens.")
@click.argument("name")
@project_option
def auth(name: str, project_dir: Path) -> None:
    """Sign an account in on its network and save its tokens to .env.

    X: needs the app's MEGAPHONE_<NAME>_API_KEY and _API_SECRET (environment
    or .env); visit the link shown, sign in as the account, and type the PIN
    X shows.  Opens nothing by itself.  .env is written with mode 0600.

    \b
    Example:
        megaphone auth utla
    """
    from megaphone.networks import sign_in
    from megaphone.networks.contract import Timeouts
    from megaphone.project.credentials import CredentialStore, env_prefix, write_env_values

    ctx = _context(project_dir)
    account = ctx.project.config.account(name)
    if account is None:
        raise UsageError(f"no account is named {name!r} in megaphone.yaml")
    store = CredentialStore(ctx.project.root, ctx.environ)
    prefix = env_prefix(name)
    flow = sign_in(account, lambda f: store.get(prefix + f)[0], prefix, timeouts=Timeouts())
    _echo(flow.instructions)
    answer = click.prompt(flow.prompt, hide_input=bool(getattr(flow, "secret", False))).strip()
    signed = flow.finish(answer)
    path = write_env_values(
        ctx.project.root, {prefix + field: value for field, value in signed.values.items()}
    )
    who = f" as @{signed.username}" if signed.username else ""
    _echo(f"signed in{who}; tokens saved to {path.name} (readable by you only)")


# ------------------------------------------------------------------- worker


@click.command(short_help="Publish each post at its time: a long-running process.")
@click.argument(
    "project_dir",
    metavar="[PROJECT]",
    required=False,
    default=Path(),
    type=click.Path(path_type=Path, file_okay=False, exists=True),
)
@click.option("--dry-run", is_flag=True, help="Run the whole schedule, sending nothing.")
@click.option(
    "--log-format",
    type=click.Choice(["auto", "plain", "json"]),
    default="auto",
    help="auto: coloured on a terminal, plain lines otherwise; json: one object a line.",
)
@grace_option
@click.option(
    "--poll",
    type=click.FloatRange(min=0.05),
    default=1.0,
    help="Seconds between looks at the queue files for changes.",
)
@click.option(
    "--sweep",
    type=click.FloatRange(min=0.2),
    default=10.0,
    help="Seconds between sweeps (due posts not yet sent, interrupted runs, the heartbeat).",
)
def worker(
    project_dir: Path,
    dry_run: bool,
    log_format: str,
    grace: str | None,
    poll: float,
    sweep: float,
) -> None:
    """Publish each post at its time, until stopped: a long-running process.

    Picks up new, edited, rescheduled and removed posts within seconds; a
    file with errors is reported and its last good version keeps its
    schedule.  Uses the same ledger and claims as `publish --due`, so cron
    and a worker never send a post twice.  SIGTERM or Ctrl-C let the post in
    flight finish, then exit 0; a second Ctrl-C aborts.  One worker per
    project (exit 75 when another runs).

    \b
    Example:
        megaphone worker
        megaphone worker ~/campaigns --log-format json
        megaphone worker --dry-run
    """
    from megaphone.project.loader import find_root, load_config, require_root
    from megaphone.worker.loop import Worker

    # The configuration only: the worker reads (and watches) the queues itself.
    root = require_root(project_dir.resolve())
    config, _ = load_config(find_root(root)[1], root, root)
    rules = policy(config, grace)
    if log_format == "auto":
        log_format = "rich" if sys.stdout.isatty() else "plain"
    tz = config.timezone
    w = Worker(
        root,
        environ=os.environ,
        log=lambda record: _log(record, log_format, tz),
        policy=rules,
        dry_run=dry_run,
        poll=poll,
        sweep=sweep,
    )
    sys.exit(w.run())


_EVENT_STATES = {"would-send": "scheduled", "file-error": "failed", "error": "failed"}


def _log(record: dict[str, Any], fmt: str, tz: str) -> None:
    """One line per event of the worker."""
    if fmt == "json":
        click.echo(_json_line(record))
        return
    when = record["time"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = record["event"]
    words = [when, event]
    for key in ("account", "post", "part", "file"):
        if key in record:
            words.append(str(record[key]))
    if "at" in record:
        words.append(f"at {_local(record['at'], tz)}")
    if "url" in record:
        words.append(record["url"])
    if "parts" in record:
        words.append(f"({record['parts']} parts)")
    if "late" in record:
        words.append(f"late {record['late']:.1f}s")
    if "message" in record:
        words.append(f"— {record['message']}")
    from megaphone.show.output import visible

    line = visible(" ".join(words))
    if fmt == "rich":
        from rich.text import Text

        colour = STATE_COLOURS.get(_EVENT_STATES.get(event, event))
        _rich_console().print(Text(line, style=colour or ""), soft_wrap=True)
    else:
        _echo(line)
        sys.stdout.flush()


_consoles: list[Any] = []


def _rich_console() -> Any:
    """One rich console for the worker's log on a terminal."""
    if not _consoles:
        from rich.console import Console

        _consoles.append(Console(highlight=False))
    return _consoles[0]


def _json_line(record: dict[str, Any]) -> str:
    import json
    import re

    text = json.dumps(record, default=_json_value, ensure_ascii=False)
    return re.sub("[\x7f-\x9f]", lambda m: f"\\u{ord(m[0]):04x}", text)


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@click.group(short_help="Notifications: where the team hears of trouble.")
def notify() -> None:
    """Notifications through apprise: `notify:` in megaphone.yaml and
    $MEGAPHONE_NOTIFY (apprise URLs: Slack, Matrix, Signal, email, ntfy,
    JSON webhooks...).  The URLs hold tokens and are never shown.

    \b
    Example:
        megaphone notify test
    """


@notify.command("test")
@project_option
def notify_test(project_dir: Path) -> None:
    """Send a test message to each destination and say which took it.
    Exits 1 when one did not.

    \b
    Example:
        MEGAPHONE_NOTIFY='json://127.0.0.1:8080/hook' megaphone notify test
    """
    from megaphone.publish.notify import destinations, send_test

    ctx = _context(project_dir)
    targets = destinations(ctx.project.config, ctx.environ, ctx.project.root)
    if not targets:
        raise UsageError("no destinations: add notify: to megaphone.yaml or set MEGAPHONE_NOTIFY")
    results = send_test(targets, project=ctx.project.root.name)
    for target in targets:
        ok = results.get(target.label, False)
        _say(f"{'✓' if ok else '✗'} {target.label}", "published" if ok else "failed")
    if not all(results.get(t.label, False) for t in targets):
        sys.exit(1)


COMMANDS = [publish, status, retry, mark, history, cron, accounts, auth, worker, notify]
