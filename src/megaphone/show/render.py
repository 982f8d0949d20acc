"""Posts for people to read: cards in the terminal (rich), Markdown for a pull
request, one-line listings and calendars.

Every piece of text from a queue file goes through :func:`visible` and into
rich ``Text`` objects, never into markup: a post that holds ``[bold]`` or a
terminal escape sequence shows it literally and cannot change the terminal.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich import box
from rich.cells import cell_len, set_cell_size
from rich.console import Group
from rich.table import Table
from rich.text import Text

from megaphone.publish.decide import state
from megaphone.show.output import visible as _visible
from megaphone.time.timeline import relative
from megaphone.time.zones import zone

if TYPE_CHECKING:
    from rich.console import RenderableType

    from megaphone.model import Account, Post
    from megaphone.problems import Problem
    from megaphone.show.views import Count, MediaView, PartView, PostView
    from megaphone.store.view import Deliveries
    from megaphone.time.timeline import Day


def visible(text: str) -> str:
    """``text`` with control characters (but newline and tab) replaced by
    visible stand-ins, one for one."""
    return _visible(text, keep_newlines=True)


def when(post: Post, now: datetime) -> str:
    """The post's time in its queue's time zone, and how far from now."""
    if post.at is None:
        return "draft, unscheduled"
    local = post.at.astimezone(zone(post.timezone))
    shown = f"{local:%a %d %b %Y %H:%M} {local.tzname()}"
    label = relative(post.at, now)
    current = state(post, now)
    if current in ("missed", "expired", "due"):
        label += f" — {current}"
    elif current == "draft":
        label += " — draft"
    return f"{shown} · {label}"


def who(accounts: tuple[Account, ...]) -> str:
    return (
        " + ".join(f"{a.name} @{a.handle}" if a.handle else a.name for a in accounts)
        or "no account"
    )


# --------------------------------------------------------------------- cards


class Styled:
    """A line of text as (text, style) pieces: the little of rich's ``Text``
    that cards need, at a fraction of the cost.  ``to_text`` makes the rich
    ``Text`` when there is colour to show; without colour ``plain`` is all."""

    __slots__ = ("pieces",)

    def __init__(self, text: str = "", style: str = "") -> None:
        self.pieces: list[tuple[str, str]] = [(text, style)] if text else []

    def append(self, text: str, style: str = "") -> Styled:
        if text:
            self.pieces.append((text, style))
        return self

    def extend(self, other: Styled) -> Styled:
        self.pieces.extend(other.pieces)
        return self

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.pieces)

    def lines(self) -> list[Styled]:
        """Split at newlines."""
        out = [Styled()]
        for text, style in self.pieces:
            first, *rest = text.split("\n")
            out[-1].append(first, style)
            for more in rest:
                out.append(Styled(more, style))
        return out

    def divide(self, offsets: list[int]) -> list[Styled]:
        """Cut at the given character offsets."""
        out = [Styled()]
        pos, cuts = 0, iter(offsets)
        cut = next(cuts, None)
        for text, style in self.pieces:
            start = 0
            while cut is not None and cut < pos + len(text):
                out[-1].append(text[start : cut - pos], style)
                out.append(Styled())
                start = cut - pos
                cut = next(cuts, None)
            out[-1].append(text[start:], style)
            pos += len(text)
        return out

    def rstrip(self) -> Styled:
        while self.pieces and not self.pieces[-1][0].rstrip():
            self.pieces.pop()
        if self.pieces:
            text, style = self.pieces[-1]
            self.pieces[-1] = (text.rstrip(), style)
        return self

    def to_text(self) -> Text:
        return Text.assemble(*self.pieces)


def length_style(count: int, limit: int) -> str:
    if count > limit:
        return "bold red"
    if count > limit * 0.9:
        return "yellow"
    return "green"


def counters(part: PartView, room: int = 1000) -> Styled:
    """A part's length on each network it goes to: ``233/280`` for one,
    ``X 291/280 ✗ · Mastodon 268/500`` for several — or, when that is wider
    than ``room``, the networks nearest their limits that fit (the
    strictest first)."""
    counts = list(part.counts)
    while len(counts) > 1 and len(_counters(counts).plain) > room:
        # Drop the network with the most room left.
        counts.remove(min(counts, key=lambda c: c.measure.length / max(c.measure.limit, 1)))
    return _counters(counts, many=len(part.counts) > 1)


def _counters(counts: list[Count], *, many: bool | None = None) -> Styled:
    out = Styled()
    many = len(counts) > 1 if many is None else many
    for i, c in enumerate(counts):
        m = c.measure
        if i:
            out.append(" · ", "dim")
        label = f"{c.rules.title} {m.length}/{m.limit}" if many else f"{m.length}/{m.limit}"
        if many and m.over_by:
            label += " ✗"
        out.append(label, length_style(m.length, m.limit))
    return out


def styled_text(part: PartView) -> Styled:
    """The text of a part as a reader sees it: links shortened, entities
    coloured, and whatever is over the limit struck through in red, after a
    ⟫ that shows where, colour or not."""
    text = part.text
    out = Styled()
    cut = part.cut
    pos = 0
    marked = False

    def mark() -> None:
        nonlocal marked
        if not marked:
            out.append("⟫", "bold red reverse")
            marked = True

    def plain(start: int, end: int) -> None:
        if start >= end:
            return
        if start < cut:
            out.append(visible(text[start : min(end, cut)]))
        if end > cut:
            mark()
            out.append(visible(text[max(start, cut) : end]), "red strike")

    styles = {"url": "underline blue", "hashtag": "bold cyan", "mention": "bold magenta"}
    for entity in part.entities:
        if entity.start < pos:
            continue
        plain(pos, entity.start)
        over = ""
        if entity.start >= cut:
            mark()
            over = " red strike"
        shown = (
            part.display_link(entity.text)
            if entity.kind == "url"
            else text[entity.start : entity.end]
        )
        out.append(visible(shown), styles[entity.kind] + over)
        pos = entity.end
    plain(pos, len(text))
    return out


def describe_media(view: MediaView) -> Styled:
    line = Styled("▣ ", "dim").append(visible(view.media.path), "bold")
    info = view.info
    if info is None:
        line.append("  (cannot be read)", "red")
    else:
        kind = info.mime.split("/")[1].upper()
        size = (
            f"{info.size / 1024:.1f} KB"
            if info.size < 1024 * 1024
            else f"{info.size / 1048576:.1f} MB"
        )
        dims = f" {info.width}×{info.height}" if info.width and info.height else ""
        line.append(f"  {kind}{dims}, {size}", "dim")
    if view.media.alt:
        line.append("\n  alt: ", "dim").append(visible(view.media.alt), "italic")
    else:
        line.append("\n  no alt text", "yellow")
    return line


def describe_problem(problem: Problem) -> Styled:
    colour = "red" if problem.severity == "error" else "yellow"
    line = Styled("✗ " if problem.severity == "error" else "! ", colour)
    line.append(problem.code, f"bold {colour}")
    line.append(f" {visible(problem.message)}  ")
    return line.append(f"({problem.loc.line}:{problem.loc.column})", "dim")


def card(view: PostView, now: datetime, width: int) -> list[Styled]:
    """A post as boxes, one per part of a thread, joined by a line; who posts
    and when head the first box, so they wrap, never crop.  Drawn line by line
    (rich panels cost a millisecond each, and a month of posts is many)."""
    post = view.post
    out: list[Styled] = []
    n = len(view.parts)
    width = max(width, 20)
    for i, part in enumerate(view.parts):
        body = Styled()
        if i == 0:
            body.append(who(view.accounts), "bold").append("\n")
            body.append(when(post, now), _when_style(post, now)).append("\n")
        body.extend(styled_text(part))
        extra = [describe_media(m) for m in part.media]
        extra += [describe_problem(p) for p in part.problems]
        if i == n - 1:
            extra += post_details(post)
            extra += [describe_problem(p) for p in view.problems]
        for line in extra:
            body.append("\n").extend(line)
        title = Styled(visible(post.id), "bold") if i == 0 else Styled(f"{i + 1}/{n}")
        counter = counters(part, room=max(width - len(title.plain) - 10, 10))
        out.extend(box_lines(body, title, counter, width, border=_border(view, part, now)))
        if i < n - 1:
            out.append(Styled("  │", "dim"))
    return out


_WORD = re.compile(r"\S+\s*")


def wrap(text: Styled, width: int) -> list[Styled]:
    """``text`` broken into lines of at most ``width`` cells: at spaces, and
    inside a word only when the word alone is wider."""
    out: list[Styled] = []
    for line in text.lines():
        plain = line.plain
        if cell_len(plain) <= width:
            out.append(line)
            continue
        breaks: list[int] = []
        # An indented line (the media's "  alt: …") starts that far in.
        used = cell_len(plain[: len(plain) - len(plain.lstrip(" "))])
        for m in _WORD.finditer(plain):
            start, end = m.start(), m.end()
            bare = cell_len(m.group().rstrip())
            if used and used + bare > width:
                breaks.append(start)
                used = 0
            while bare > width - used:  # fold a word wider than the line
                cut = start + len(set_cell_size(plain[start:end], width - used).rstrip())
                if cut <= start:
                    break
                breaks.append(cut)
                bare -= cell_len(plain[start:cut])
                start, used = cut, 0
            used += cell_len(plain[start:end])
        out.extend(piece.rstrip() for piece in line.divide(breaks))
    return out


def box_lines(
    body: Styled, title: Styled, subtitle: Styled, width: int, *, border: str
) -> list[Styled]:
    """``body`` wrapped in a rounded box of ``width`` cells, ``title`` in the
    top edge, ``subtitle`` in the bottom one."""
    inner = width - 4
    title_text = title.plain
    if cell_len(title_text) > inner - 2:
        title = Styled(set_cell_size(title_text, inner - 3) + "…", "bold")
        title_text = title.plain
    rows = [
        Styled("╭─ ", border)
        .extend(title)
        .append(" " + "─" * max(width - cell_len(title_text) - 5, 0) + "╮", border)
    ]
    for line in wrap(body, inner):
        row = Styled("│ ", border).extend(line)
        row.append(" " * max(inner - cell_len(line.plain), 0)).append(" │", border)
        rows.append(row)
    rule = "─" * max(width - cell_len(subtitle.plain) - 5, 0)
    rows.append(Styled("╰" + rule + " ", border).extend(subtitle).append(" ─╯", border))
    return rows


#: How each state of a post is coloured.
STATE_STYLES = {
    "scheduled": "green",
    "draft": "dim",
    "missed": "red",
    "expired": "yellow",
    "published": "blue",
    "publishing": "yellow",
    "failed": "red",
    "unknown": "magenta",
    "skipped": "dim",
    "due": "cyan",
    "blocked": "red",
}


def _when_style(post: Post, now: datetime) -> str:
    current = state(post, now)
    return "cyan" if current == "scheduled" else STATE_STYLES.get(current, "yellow")


def _border(view: PostView, part: PartView, now: datetime) -> str:
    severities = {p.severity for p in (*part.problems, *view.problems)}
    if "error" in severities:
        return "red"
    if "warning" in severities or state(view.post, now) not in ("scheduled", "due"):
        return "yellow"
    return "blue"


def post_details(post: Post) -> list[Styled]:
    lines = []
    if post.reply_to:
        lines.append(Styled(f"↩ reply to {visible(post.reply_to)}", "dim"))
    if post.quote:
        lines.append(Styled(f"❝ quotes {visible(post.quote)}", "dim"))
    if post.expires:
        local = post.expires.astimezone(zone(post.timezone))
        lines.append(Styled(f"⌛ expires {local:%a %d %b %Y %H:%M} {local.tzname()}", "dim"))
    if post.lang:
        lines.append(Styled(f"lang: {visible(post.lang)}", "dim"))
    return lines


# ------------------------------------------------------------------ markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_MD_LINE_START = re.compile(r"^(\s*)([#>+-]|\d+[.)])", re.MULTILINE)


def md_escape(text: str) -> str:
    """``text`` as literal Markdown: nothing in it can format, link or start
    a heading, list or quote."""
    escaped = _MD_SPECIAL.sub(r"\\\1", visible(text))
    return _MD_LINE_START.sub(r"\1\\\2", escaped)


def md_text(part: PartView) -> str:
    """A part's text in Markdown: escaped, links left as links, mentions and
    hashtags in code (so that @name does not notify a GitHub user, nor #12
    link an issue)."""
    out, pos = [], 0
    for entity in part.entities:
        if entity.start < pos:
            continue
        out.append(md_escape(part.text[pos : entity.start]))
        if entity.kind == "url":
            url = entity.text if "://" in entity.text else "https://" + entity.text
            out.append(f"<{visible(url)}>")
        else:
            out.append(f"`{_code(part.text[entity.start : entity.end])}`")
        pos = entity.end
    out.append(md_escape(part.text[pos:]))
    return "".join(out)


def markdown(views: list[PostView], now: datetime) -> str:
    """The preview as Markdown, for a pull request comment."""
    out = []
    for view in views:
        post = view.post
        kind = f"thread of {len(view.parts)}" if len(view.parts) > 1 else "post"
        out.append(f"### `{_code(post.id)}` — {kind} · `{_code(who(view.accounts))}`")
        out.append(f"*{md_escape(when(post, now))}*\n")
        for i, part in enumerate(view.parts, 1):
            prefix = f"**{i}/{len(view.parts)}** " if len(view.parts) > 1 else ""
            lines = md_text(part).split("\n")
            out.append("> " + prefix + "\n> ".join(lines))
            status = " · ".join(
                (f"{c.rules.title} " if len(part.counts) > 1 else "")
                + f"{c.measure.length}/{c.measure.limit}"
                + (f" — **{c.measure.over_by} over**" if c.measure.over_by else "")
                for c in part.counts
            )
            out.append(f">\n> `{status}`\n")
            for m in part.media:
                out.append(
                    f"- 🖼 `{_code(m.media.path)}`"
                    + (f" — alt: {md_escape(m.media.alt)}" if m.media.alt else " — **no alt text**")
                )
            for p in part.problems:
                out.append(_md_problem(p))
            if part.media or part.problems:
                out.append("")
        details = [md_escape(t.plain) for t in post_details(post)]
        out.extend(f"- {d}" for d in details)
        out.extend(_md_problem(p) for p in view.problems)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _code(text: str) -> str:
    return visible(text).replace("`", "'")


def _md_problem(p: Problem) -> str:
    mark = "❌" if p.severity == "error" else "⚠️"
    return f"- {mark} **{p.severity}** `{p.code}` ({p.loc}): {md_escape(p.message)}"


# ---------------------------------------------------------------------- list


def first_words(text: str, width: int = 60) -> str:
    flat = " ".join(visible(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def list_rows(
    posts: list[Post],
    now: datetime,
    ledger: Deliveries | None = None,
    *,
    grace: timedelta = timedelta(hours=1),
) -> list[dict[str, Any]]:
    rows = []
    for post in posts:
        local = post.at.astimezone(zone(post.timezone)) if post.at else None
        rows.append(
            {
                "id": post.id,
                "at": local.isoformat() if local else None,
                "accounts": list(post.accounts),
                "state": state(post, now, ledger, grace=grace),
                "parts": len(post.parts),
                "queue": post.queue,
                "text": post.texts()[0],
            }
        )
    return rows


def list_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def list_view(
    posts: list[Post],
    now: datetime,
    width: int,
    ledger: Deliveries | None = None,
    *,
    grace: timedelta = timedelta(hours=1),
) -> Text:
    """One line per post, in columns, when the terminal is wide enough for the
    text to show; else each post on two lines, the text under its time.
    (Laid out by hand: a rich Table of thousands of rows is slow.)"""
    colours = STATE_STYLES
    rows = []
    for post in posts:
        local = post.at.astimezone(zone(post.timezone)) if post.at else None
        parts = f"[{len(post.parts)}] " if len(post.parts) > 1 else ""
        rows.append(
            (
                f"{local:%Y-%m-%d %H:%M %Z}" if local else "—",
                visible(", ".join(post.accounts)),
                visible(post.id),
                state(post, now, ledger, grace=grace),
                parts + first_words(post.texts()[0], 300),
            )
        )
    names = ("time", "account", "id", "state")
    # Ids are never cut (they are what other commands take); accounts are,
    # past 24 cells.
    caps = (None, 24, None, None)
    widths = [
        min(max([cell_len(r[i]) for r in rows] + [len(n)]), cap or 10_000)
        for i, (n, cap) in enumerate(zip(names, caps, strict=True))
    ]
    piped = width <= 0  # not a terminal: nothing is cut or wrapped
    room = 10_000 if piped else width - sum(widths) - 2 * len(widths)
    out = Text(no_wrap=True, overflow="ellipsis")
    if room >= 20:
        header = "  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)) + "  text"
        out.append(header + "\n", style="bold")
    for time_, account, post_id, current, text in rows:
        style = colours.get(current, "yellow")
        if room >= 20:
            cells = [_fit(c, w) for c, w in zip((time_, account, post_id), widths, strict=False)]
            out.append(f"{cells[0]}  {cells[1]}  ")
            out.append(cells[2], style="bold")
            out.append("  ")
            out.append(_fit(current, widths[3]), style=style)
            shown = text if piped else _fit(text, room).rstrip()
            out.append(f"  {shown}".rstrip() + "\n")
        else:
            # Narrow: the time and the state, then the whole id, then who
            # and the first words, cut to the width.
            out.append(f"{time_}  ")
            out.append(current, style=style)
            out.append("\n  ")
            out.append(post_id, style="bold")
            out.append(f"\n    {_fit(account + ': ' + text, width - 4).rstrip()}\n")
    out.rstrip()
    return out


def _fit(text: str, width: int) -> str:
    """``text`` cut (with "…") or padded to ``width`` cells."""
    if cell_len(text) > width:
        return set_cell_size(text, max(width - 1, 0)) + "…"
    return set_cell_size(text, width)


# ------------------------------------------------------------------ calendar


def week_view(
    table: dict[str, dict[date, Day]], accounts: list[str], start: date, width: int
) -> RenderableType:
    """Accounts down, days across, each cell the times of that day's posts;
    on a narrow terminal, day after day instead."""
    if width >= 72:
        return week_table(table, accounts, start)
    lines = []
    for i in range(7):
        d = start + timedelta(days=i)
        lines.append(Text(f"{d:%a %d %b}", style="bold"))
        busy = False
        for account in accounts:
            day = table.get(account, {}).get(d)
            if day and day.times:
                busy = True
                cell = _cell(day)
                lines.append(Text.assemble("  ", (visible(account), "cyan"), "  ", _one_line(cell)))
        if not busy:
            lines.append(Text("  ·", style="dim"))
    return Group(*lines)


def _one_line(cell: Text) -> Text:
    joined = Text()
    for i, piece in enumerate(cell.split("\n")):
        if i:
            joined.append(" ")
        joined.append_text(piece)
    return joined


def week_table(
    table: dict[str, dict[date, Day]], accounts: list[str], start: date, days: int = 7
) -> Table:
    """Accounts down, days across; each cell the times of that day's posts."""
    grid = Table(box=box.SQUARE, show_lines=True, expand=False)
    grid.add_column("account", no_wrap=True, style="bold", overflow="fold")
    span = [start + timedelta(days=i) for i in range(days)]
    for d in span:
        grid.add_column(f"{d:%a}\n{d:%d}", justify="center", no_wrap=True, min_width=5)
    for account in accounts:
        cells: list[Text] = []
        for d in span:
            day = table.get(account, {}).get(d)
            cells.append(_cell(day))
        grid.add_row(Text(visible(account)), *cells)
    return grid


def _cell(day: Day | None) -> Text:
    if day is None or not day.times:
        return Text("·", style="dim")
    clashing = {i for pair in day.collisions for i in pair}
    cell = Text()
    for t, post_id in zip(day.times, day.ids, strict=True):
        if cell:
            cell.append("\n")
        if post_id in clashing:
            cell.append(f"{t:%H:%M}!", style="red bold")
        else:
            cell.append(f"{t:%H:%M}")
    if day.over_cap:
        cell.append(f"\n{len(day.times)} > cap", style="red bold")
    return cell


def month_table(
    table: dict[str, dict[date, Day]], accounts: list[str], month: date, width: int = 80
) -> Table:
    """A month as weeks of days; each day with its number of posts (all
    accounts) and ! where two posts collide or an account is over its cap.
    Below 60 columns the days are narrower, so that the week stays whole."""
    first = month.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    d = first - timedelta(days=first.weekday())
    narrow = width < 60
    grid = Table(
        box=box.SQUARE,
        title=f"{first:%B %Y}",
        show_lines=True,
        expand=False,
        padding=(0, 0) if narrow else (0, 1),
    )
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    for name in names:
        grid.add_column(
            name[:2] if narrow else name,
            justify="center",
            no_wrap=True,
            min_width=4 if narrow else 5,
        )
    while d <= last:
        row = [_month_cell(table, accounts, d + timedelta(days=i), first.month) for i in range(7)]
        grid.add_row(*row)
        d += timedelta(days=7)
    return grid


def _month_cell(
    table: dict[str, dict[date, Day]], accounts: list[str], d: date, month: int
) -> Text:
    if d.month != month:
        return Text(f"{d.day}", style="dim")
    days = [table.get(a, {}).get(d) for a in accounts]
    total = sum(len(day.times) for day in days if day)
    trouble = any(day and (day.collisions or day.over_cap) for day in days)
    cell = Text(f"{d.day}\n", style="bold")
    if total:
        cell.append(f"{total}", style="red bold" if trouble else "green")
        if trouble:
            cell.append("!", style="red bold")
    else:
        cell.append("·", style="dim")
    return cell


def calendar_notes(table: dict[str, dict[date, Day]], start: date, end: date) -> list[Text]:
    notes = []
    for account, days in sorted(table.items()):
        for d, day in sorted(days.items()):
            if not start <= d < end:
                continue
            for a, b in day.collisions:
                notes.append(Text(f"! {account} {d}: {a} and {b} are within minutes", style="red"))
            if day.over_cap:
                notes.append(
                    Text(
                        f"! {account} {d}: {len(day.times)} posts, over the daily cap", style="red"
                    )
                )
    return notes
