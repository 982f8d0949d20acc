"""Changing queue files from the command line, leaving the rest of each file
exactly as it was: comments, order, quoting, indentation, anchors.

Every change is made to the text, at the lines and columns PyYAML gives for
the nodes concerned; nothing is re-emitted.  A changed file is read back and
checked (the change is there, every other post is as it was) before it
replaces the old one, atomically, under a lock that makes concurrent edits of
a project take turns.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from megaphone.errors import MegaphoneError, UsageError
from megaphone.project.yamldoc import compose, pairs

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime
    from pathlib import Path

EDIT_LOCK = ".megaphone/edit.lock"


@dataclass
class NewPost:
    """A post to write into a queue file."""

    id: str
    text: str | None = None
    thread: list[str] = field(default_factory=list)
    at: datetime | None = None
    media: list[tuple[str, str | None]] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    lang: str | None = None
    reply_to: str | None = None
    quote: str | None = None
    expires: datetime | None = None
    draft: bool = False


# ------------------------------------------------------------------ writing


def render(post: NewPost, *, tz_name: str, dash: int, indent: int, newline: str) -> str:
    """A block-sequence item for ``post``: the dash at column ``dash``, its
    keys ``indent`` columns further in."""
    pad = " " * (dash + indent)
    lines = [f"id: {_scalar(post.id, dash + indent)}"]
    if post.at is not None:
        lines.append(f"at: {time_text(post.at, tz_name)}")
    if post.accounts:
        lines.append(f"accounts: [{', '.join(_scalar(a, 0) for a in post.accounts)}]")
    if post.thread:
        lines.append("thread:")
        for part in post.thread:
            lines.append(f"  - {_scalar(part, dash + indent + 2)}")
    else:
        lines.append(f"text: {_scalar(post.text or '', dash + indent)}")
    if post.media:
        lines.append("media:")
        for path, alt in post.media:
            lines.append(f"  - path: {_scalar(path, 0)}")
            if alt is not None:
                lines.append(f"    alt: {_scalar(alt, dash + indent + 4)}")
    if post.hashtags:
        lines.append(f"hashtags: [{', '.join(_scalar(h, 0) for h in post.hashtags)}]")
    if post.lang:
        lines.append(f"lang: {_scalar(post.lang, 0)}")
    if post.reply_to:
        lines.append(f"reply_to: {_scalar(post.reply_to, 0)}")
    if post.quote:
        lines.append(f"quote: {_scalar(post.quote, 0)}")
    if post.expires is not None:
        lines.append(f"expires: {time_text(post.expires, tz_name)}")
    if post.draft:
        lines.append("draft: true")
    head = " " * dash + "-" + " " * (indent - 1)
    out = [head + lines[0]] + [pad + line for line in lines[1:]]
    return newline.join(out) + newline


def _scalar(value: str, indent: int) -> str:
    """``value`` as a YAML scalar that reads back as exactly this string."""
    if "\n" in value and _literal_ok(value):
        chomp = "" if value.endswith("\n") and not value.endswith("\n\n") else "-"
        body = value[:-1] if chomp == "" else value
        pad = " " * (indent + 2)
        return f"|{chomp}\n" + "\n".join(pad + line if line else "" for line in body.split("\n"))
    dumped = yaml.safe_dump(
        value, allow_unicode=True, width=1_000_000, default_style=None, explicit_end=False
    )
    text = dumped.removesuffix("\n...\n").removesuffix("\n")
    if "\n" in text:  # a long or odd string PyYAML folded: say it on one line
        text = yaml.safe_dump(value, allow_unicode=True, width=1_000_000, default_style='"')
        text = text.removesuffix("\n")
    return text


def _literal_ok(value: str) -> bool:
    """Whether a literal block (``|``) can carry ``value`` as it is."""
    if value.startswith((" ", "\n")) or value.endswith("\n\n"):
        return False
    return all(
        line == line.rstrip() and "\t" not in line and line.isprintable()
        for line in value.split("\n")
    )


def time_text(when: datetime, tz_name: str) -> str:
    """A post time as queue files write it: local wall-clock time when that
    says it alone, else with its offset."""
    from megaphone.time.natural import ambiguous
    from megaphone.time.zones import zone

    tz = zone(tz_name)
    local = when.astimezone(tz)
    if local.second or local.microsecond or ambiguous(when, tz):
        return local.isoformat(timespec="seconds")
    return local.strftime("%Y-%m-%d %H:%M")


# ------------------------------------------------------------- a queue file


class QueueText:
    """One queue file's text, and where its posts are in it."""

    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        self.newline = "\r\n" if "\r\n" in text else "\n"
        try:
            self.root = compose(text)
        except yaml.YAMLError as e:
            raise MegaphoneError(f"{name}: cannot be changed, it is not valid YAML ({e})") from None
        if not isinstance(self.root, yaml.MappingNode):
            raise MegaphoneError(f"{name}: not a queue file (no mapping with 'posts')")
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    # ---------------------------------------------------------- locating

    def offset(self, mark: yaml.Mark) -> int:
        if mark.line >= len(self.lines):
            return len(self.text)
        return self.starts[mark.line] + mark.column

    def _posts(self) -> tuple[yaml.Node | None, yaml.Node | None]:
        """The ``posts`` key and its value."""
        assert isinstance(self.root, yaml.MappingNode)
        for key, value in pairs(self.root):
            if isinstance(key, yaml.ScalarNode) and key.value == "posts":
                return key, value
        return None, None

    def items(self) -> list[yaml.Node]:
        _, value = self._posts()
        if not isinstance(value, yaml.SequenceNode):
            return []
        if value.flow_style and value.value:
            raise MegaphoneError(
                f"{self.name}: its posts are written as a [flow, list]; megaphone changes "
                "block lists only (a '- ' line per post): rewrite it so, then try again"
            )
        return list(value.value)

    def find(self, post_id: str) -> yaml.MappingNode:
        for item in self.items():
            if isinstance(item, yaml.MappingNode):
                for key, value in pairs(item):
                    if (
                        isinstance(key, yaml.ScalarNode)
                        and key.value == "id"
                        and isinstance(value, yaml.ScalarNode)
                        and value.value == post_id
                    ):
                        return item
        raise UsageError(f"{self.name}: no post has the id {post_id!r}")

    def _dash(self, item: yaml.Node) -> tuple[int, int]:
        """The line and column of the ``-`` that starts ``item``."""
        line, col = item.start_mark.line, item.start_mark.column
        while line >= 0:
            before = self.lines[line][:col].rstrip()
            if before.endswith("-"):
                return line, len(before) - 1
            if before:
                break
            line -= 1
            col = len(self.lines[line].rstrip("\r\n")) if line >= 0 else 0
        raise MegaphoneError(f"{self.name}: a post is not written as a list item")

    def _end_line(self, item: yaml.Node, dash_line: int, dash_col: int) -> int:
        """The line after the last line of ``item``: its lines are those
        indented past its dash; blank lines and comments that follow it at
        or left of its dash belong to what comes next."""
        items = self.items()
        index = next(i for i, node in enumerate(items) if node is item)
        limit = self._dash(items[index + 1])[0] if index + 1 < len(items) else len(self.lines)
        return self._indented_end(dash_line + 1, limit, dash_col)

    def _indented_end(self, start: int, limit: int, col: int) -> int:
        """The line after the last of those from ``start`` indented past
        column ``col`` (blank lines and comments at or left of it belong to
        what follows)."""
        end = start
        for line in range(start, limit):
            content = self.lines[line].rstrip("\r\n")
            stripped = content.lstrip(" ")
            if not stripped:
                continue
            if len(content) - len(stripped) <= col:
                break
            end = line + 1
        return end

    def span(self, post_id: str) -> tuple[int, int, int]:
        """The lines (start, end) of a post, and the column of its dash."""
        item = self.find(post_id)
        dash_line, dash_col = self._dash(item)
        return dash_line, self._end_line(item, dash_line, dash_col), dash_col

    def layout(self) -> tuple[int, int]:
        """The column of the items' dash, and their keys' distance from it."""
        items = self.items()
        if items:
            last = items[-1]
            _, col = self._dash(last)
            if isinstance(last, yaml.MappingNode) and not last.flow_style:
                return col, max(2, last.start_mark.column - col)
            return col, 2
        key, _ = self._posts()
        return (key.start_mark.column if key else 0) + 2, 2

    # ----------------------------------------------------------- changing

    def add(self, block: str) -> str:
        """The text with ``block`` (one item, laid out for :meth:`layout`)
        appended to the posts."""
        key, value = self._posts()
        if key is None:
            raise MegaphoneError(f"{self.name}: has no 'posts' list to add to")
        items = self.items()
        if items:
            last = items[-1]
            dash_line, dash_col = self._dash(last)
            end = self._end_line(last, dash_line, dash_col)
            gap = ""
            if len(items) > 1:
                prev_line, prev_col = self._dash(items[-2])
                prev_end = self._end_line(items[-2], prev_line, prev_col)
                if any(not self.lines[i].strip() for i in range(prev_end, dash_line)):
                    gap = self.newline  # the posts are set apart by blank lines
            return self._insert_lines(end, gap + block)
        # No item yet: `posts:` with nothing, or `posts: []`.
        if isinstance(value, yaml.SequenceNode) and value.flow_style:
            start, stop = self.offset(value.start_mark), self.offset(value.end_mark)
            text = self.text[:start].rstrip(" ") + self.text[stop:]
            return QueueText(text, self.name)._after_key_line(key, block)
        if isinstance(value, yaml.ScalarNode) and value.tag.endswith(":null"):
            return self._after_key_line(key, block)
        raise MegaphoneError(f"{self.name}: 'posts' is not a list")

    def _after_key_line(self, key: yaml.Node, block: str) -> str:
        return self._insert_lines(key.start_mark.line + 1, block)

    def _insert_lines(self, line: int, block: str) -> str:
        at = self.starts[line] if line < len(self.starts) else len(self.text)
        before = self.text[:at]
        if before and not before.endswith("\n"):
            before += self.newline
        return before + block + self.text[at:]

    def remove(self, post_id: str) -> str:
        start, end, _ = self.span(post_id)
        kept = self.text[: self.starts[start]] + self.text[self.starts[end] :]
        if len(self.items()) > 1:
            return kept
        # The only post: `posts:` stays, with an empty list.
        key, _ = self._posts()
        assert key is not None
        colon = self.text.index(":", self.offset(key.end_mark))
        return kept[: colon + 1] + " []" + kept[colon + 1 :]

    def item_block(self, post_id: str, *, dash: int) -> str:
        """A post's own lines, moved so its dash is at column ``dash``."""
        start, end, col = self.span(post_id)
        out = []
        for line in self.lines[start:end]:
            body = line.rstrip("\r\n")
            if body.strip():
                lead = len(body) - len(body.lstrip(" "))
                body = " " * dash + body[min(lead, col) :] if lead >= col else body
            out.append(body)
        return self.newline.join(out) + self.newline

    def add_variant(self, post_id: str, lang: str, parts: list[str], alts: list[str]) -> str:
        """The text with the post in one more language: an entry of its
        ``variants`` (made after the post's last line when it has none)."""
        item = self.find(post_id)
        if item.flow_style:
            raise MegaphoneError(f"{self.name}: {post_id!r} is written on one line: edit it")
        id_key = next(
            k for k, _ in pairs(item) if isinstance(k, yaml.ScalarNode) and k.value == "id"
        )
        col = id_key.start_mark.column
        found = next(
            (
                (k, v)
                for k, v in pairs(item)
                if isinstance(k, yaml.ScalarNode) and k.value == "variants"
            ),
            None,
        )
        variants = found[1] if found else None
        if variants is not None and not (
            isinstance(variants, yaml.MappingNode) and not variants.flow_style and variants.value
        ):
            raise MegaphoneError(
                f"{self.name}: the variants of {post_id!r} are not a block: edit it"
            )
        inner = variants.value[0][0].start_mark.column if variants is not None else col + 2
        body = [f"{_scalar(lang, 0)}:"]
        if len(parts) == 1:
            body.append(f"  text: {_scalar(parts[0], inner + 2)}")
        else:
            body.append("  thread:")
            body.extend(f"    - {_scalar(p, inner + 4)}" for p in parts)
        if len(alts) == 1:
            body.append(f"  alt: {_scalar(alts[0], inner + 2)}")
        elif alts:
            body.append("  alt:")
            body.extend(f"    - {_scalar(a, inner + 4)}" for a in alts)
        block = self.newline.join(" " * inner + line for line in body) + self.newline
        if found is not None:
            return self._insert_lines(self._block_end(found[0]), block)
        _, end, _ = self.span(post_id)
        return self._insert_lines(end, " " * col + "variants:" + self.newline + block)

    def _block_end(self, key: yaml.Node) -> int:
        """The line after the block value of ``key``: the lines after it
        indented past the key (blank lines and comments left of it belong to
        what follows)."""
        return self._indented_end(key.start_mark.line + 1, len(self.lines), key.start_mark.column)

    def set_value(self, post_id: str, key: str, value: str) -> str:
        """The text with ``key: value`` in the post: its value replaced, or
        the key added after ``id``."""
        item = self.find(post_id)
        for k, v in pairs(item):
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                if not isinstance(v, yaml.ScalarNode) or v.start_mark.line != v.end_mark.line:
                    raise MegaphoneError(f"{self.name}: {key} of {post_id!r} is not one value")
                start, stop = self.offset(v.start_mark), self.offset(v.end_mark)
                # An anchor or tag before the value stays (`at: &start 2026-…`).
                props = re.match(r"(?:[&!][^\s]*\s+)*", self.text[start:stop])
                start += props.end() if props else 0
                return self.text[:start] + value + self.text[stop:]
        id_key, id_value = next(
            (k, v) for k, v in pairs(item) if isinstance(k, yaml.ScalarNode) and k.value == "id"
        )
        if item.flow_style:
            stop = self.offset(id_value.end_mark)
            return self.text[:stop] + f", {key}: {value}" + self.text[stop:]
        indent = " " * id_key.start_mark.column
        line = id_value.end_mark.line + 1
        return self._insert_lines(line, f"{indent}{key}: {value}{self.newline}")


# ---------------------------------------------------------------- the file


@contextlib.contextmanager
def edit_lock(root: Path) -> Iterator[None]:
    """Edits of one project take turns (another `megaphone add` waits)."""
    import fcntl

    path = root / EDIT_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_text(path: Path) -> tuple[str, bool]:
    """A queue file's text, and whether it starts with a byte-order mark."""
    data = path.read_bytes()
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8-sig"), bom
    except UnicodeDecodeError:
        raise MegaphoneError(f"{path.name}: not UTF-8; it cannot be changed safely") from None


def write_atomic(
    path: Path,
    text: str,
    *,
    bom: bool = False,
    mode: int | None = None,
    expect: str | None = None,
) -> None:
    """Replace ``path`` whole: a crash leaves the old file or the new one,
    never half of one.  Its permissions are kept (or set to ``mode``).  A
    symbolic link is followed: its target is replaced, the link stays.

    ``expect``: the text the change was made from.  The file is read again
    just before it is replaced, and when someone saved it meanwhile (an
    editor takes no lock), nothing is written and the change is refused —
    their save is never lost."""
    path = path.resolve() if path.is_symlink() else path
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        if expect is not None:
            try:
                now_text, now_bom = read_text(path)
            except (OSError, MegaphoneError):
                now_text, now_bom = None, bom
            if now_text != expect or now_bom != bom:
                raise MegaphoneError(
                    f"{path.name} changed while megaphone was editing it (someone saved "
                    "it meanwhile): nothing was written; run the command again"
                )
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# ------------------------------------------------------------- megaphone.yaml


def set_account_limits(path: Path, account: str, limits: dict[str, int]) -> None:
    """Write ``limits`` under the account named ``account`` in megaphone.yaml
    (replacing its ``limits:``), leaving every other line as it was."""
    import yaml

    text, bom = read_text(path)
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise MegaphoneError(f"{path.name} cannot be read: {e}") from None
    node = _account_node(root, account)
    if node is None:
        raise MegaphoneError(f"{path.name}: no account named {account!r}")
    if node.flow_style:
        raise MegaphoneError(
            f"{path.name}: account {account!r} is written on one line ({{...}}): write its "
            "limits: by hand, or write it as a block"
        )
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if text.count("\r\n") * 2 > text.count("\n") else "\n"
    indent = node.value[0][0].start_mark.column
    block = [" " * indent + "limits:" + newline] + [
        " " * (indent + 2) + f"{key}: {value}" + newline for key, value in limits.items()
    ]
    existing = next(((k, v) for k, v in node.value if k.value == "limits"), None)
    if existing is not None:
        key, value = existing
        start = key.start_mark.line
        end = value.end_mark.line + (1 if value.end_mark.column > 0 else 0)
        if isinstance(value, yaml.MappingNode) and not value.flow_style:
            end = value.end_mark.line
        lines[start:end] = block
    else:
        last = node.value[-1][1]
        at = last.end_mark.line + (1 if last.end_mark.column > 0 else 0)
        if isinstance(last, yaml.MappingNode | yaml.SequenceNode) and not last.flow_style:
            at = last.end_mark.line
        if lines and at >= len(lines) and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        lines[at:at] = block
    write_atomic(path, "".join(lines), bom=bom, expect=text)


def _account_node(root: object, name: str) -> Any:
    import yaml

    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if key.value == "accounts" and isinstance(value, yaml.SequenceNode):
            for item in value.value:
                if isinstance(item, yaml.MappingNode) and any(
                    k.value == "name" and getattr(v, "value", None) == name for k, v in item.value
                ):
                    return item
    return None
