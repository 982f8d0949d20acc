"""Turning results into text: for people (rich), for programs (JSON) and for
GitHub Actions (workflow annotations).  Builders return strings; the command
line decides where they go."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from rich.console import Console

    from megaphone.checks.validate import Report
    from megaphone.project.yamldoc import Document

# C0 and C1 control characters (but tab), shown as visible symbols so that no
# text read from a file can move the cursor, retitle the terminal or recolour it.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _stand_in(m: re.Match[str]) -> str:
    return chr(0x2400 + ord(m[0])) if ord(m[0]) < 0x20 else "\ufffd"


def visible(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character (but tab, and newline if asked)
    replaced, one for one, by a visible stand-in such as ␛."""
    return (_CONTROL_BUT_NEWLINE if keep_newlines else _CONTROL).sub(_stand_in, text)


def problems_json(report: Report) -> str:
    return json.dumps([p.as_dict() for p in report.problems], indent=2, ensure_ascii=False) + "\n"


def problems_lines(report: Report) -> str:
    """One line a problem, as compilers write them: ``file:line:col:
    severity: code: message`` (vim's quickfix, Emacs' compile mode, VS
    Code's terminal links and grep read it)."""
    lines = [
        f"{visible(p.loc.file)}:{p.loc.line}:{p.loc.column}: {p.severity}: {p.code}: "
        f"{visible(p.message)}"
        for p in report.problems
    ]
    return "".join(line + "\n" for line in lines)


def source_excerpt(line: str, column: int, width: int = 200) -> tuple[str, int]:
    """A line of a file as shown under a problem, and the cell where the
    caret goes: tabs shown as ``⇥``, control characters as stand-ins, a long
    line cut around the column (with ``…``), wide characters counted as two."""
    from rich.cells import cell_len

    shown = visible(line.replace("\t", "⇥"))
    at = max(0, min(column - 1, len(shown)))
    start = max(0, at - width // 2) if len(shown) > width else 0
    piece = shown[start : start + width]
    prefix = "…" if start else ""
    suffix = "…" if start + width < len(shown) else ""
    return prefix + piece + suffix, cell_len(prefix + shown[start:at])


def _gh_escape(value: str, *, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def problems_github(report: Report) -> str:
    """One workflow command per problem: GitHub shows them on the pull request."""
    lines = []
    for p in report.problems:
        level = "error" if p.severity == "error" else "warning"
        props = (
            f"file={_gh_escape(p.loc.file, prop=True)},line={p.loc.line},col={p.loc.column},"
            f"title={_gh_escape('megaphone ' + p.code, prop=True)}"
        )
        lines.append(f"::{level} {props}::{_gh_escape(p.message)}")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def summary_line(report: Report) -> str:
    files = f"{report.files:,} file{'s' if report.files != 1 else ''}"
    posts = f"{report.posts:,} post{'s' if report.posts != 1 else ''}"
    if not report.problems:
        return f"{posts} in {files}: no problems"
    parts = []
    if report.errors:
        parts.append(f"{report.errors} error{'s' if report.errors != 1 else ''}")
    if report.warnings:
        parts.append(f"{report.warnings} warning{'s' if report.warnings != 1 else ''}")
    return f"{' and '.join(parts)} in {posts}, {files}"


def print_problems(console: Console, report: Report, documents: Mapping[str, Document]) -> None:
    """Problems grouped by file, each with the line it is about."""
    from rich.markup import escape
    from rich.text import Text

    current = None
    for p in report.problems:
        if p.loc.file != current:
            current = p.loc.file
            console.print()
            console.print(Text(visible(current), style="bold underline"))
        colour = "red" if p.severity == "error" else "yellow"
        head = Text.assemble(
            (f"{p.loc.line}:{p.loc.column}".rjust(8), "dim"),
            " ",
            (f"{p.severity:<7}", colour),
            " ",
            (p.code, "bold"),
            "  ",
            visible(p.message),
        )
        console.print(head)
        doc = documents.get(p.loc.file)
        lines = doc.source_lines if doc is not None else []
        if doc is not None and p.loc.line in doc.secret_lines:
            console.print(Text(" " * 8 + "(the line holds a secret: not shown)", style="dim"))
        elif 0 < p.loc.line <= len(lines):
            source, caret = source_excerpt(lines[p.loc.line - 1], p.loc.column)
            gutter = f"{p.loc.line} │ "
            console.print(Text(" " * 8 + gutter, style="dim") + Text(source))
            console.print(" " * (8 + len(gutter) + caret) + escape("^"), style=colour)
    console.print()
    ok = not report.errors
    mark = "✓" if not report.problems else ("!" if ok else "✗")
    style = "green" if not report.problems else ("yellow" if ok else "red")
    console.print(Text(f"{mark} {summary_line(report)}", style=f"bold {style}"))
