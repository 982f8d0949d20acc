"""Safe YAML reading that keeps positions.

Files are composed into PyYAML nodes (with the C parser when available) and
never constructed into Python objects by PyYAML: the queue reader walks the
nodes itself, so every value keeps its line and column, only the standard
tags are accepted, duplicate keys are caught, and aliases cannot blow up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import yaml

from megaphone.problems import Loc, Problem, problem

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

try:
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]
except ImportError:  # PyYAML built without libyaml: the pure-Python parser
    from yaml.loader import SafeLoader as _Parser  # type: ignore[assignment]


_new = tuple.__new__


class _Composer(_Parser, yaml.resolver.Resolver):
    """PyYAML's safe loader without its constructor: it only composes nodes.
    Tags are resolved exactly as the safe loader does (YAML 1.1 implicit
    types), with a leaner lookup: path resolvers are never used, and most
    scalars (ids, text) start with a character no implicit type starts with."""

    _implicit: ClassVar[dict[str, tuple[tuple[str, Any], ...]]] = {
        first: tuple(resolvers + yaml.resolver.Resolver.yaml_implicit_resolvers.get(None, []))
        for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
        if first is not None
    }

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            if implicit[0]:
                first = value[:1]
                if first in _WORD_STARTS:
                    # Only booleans and null start so: a set tells them.
                    return _WORDS.get(value, STR)
                for tag, regexp in self._implicit.get(first, ()):
                    if regexp.match(value):
                        return tag
            return STR
        return SEQ if kind is yaml.SequenceNode else MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


assert not yaml.resolver.Resolver.yaml_path_resolvers
assert not yaml.resolver.Resolver.yaml_implicit_resolvers.get(None)

TAG = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (TAG + t for t in ("str", "int", "float", "bool", "null"))
SEQ, MAP, MERGE, TIMESTAMP = (TAG + t for t in ("seq", "map", "merge", "timestamp"))
SAFE_TAGS = frozenset({STR, INT, FLOAT, BOOL, NULL, SEQ, MAP, MERGE, TIMESTAMP})

# The YAML 1.1 words for booleans and null: the only implicit types whose
# text starts with one of these characters.
_BOOLS = "yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF".split()
_WORDS = {
    **dict.fromkeys(_BOOLS, BOOL),
    **dict.fromkeys("~ null Null NULL".split(), NULL),
}
_WORD_STARTS = frozenset("yYnNtTfFoO~")
assert all(
    {t.rsplit(":", 1)[1] for t, _ in yaml.resolver.Resolver.yaml_implicit_resolvers[c]}
    <= {"bool", "null"}
    for c in _WORD_STARTS
)

#: A document may expand (aliases followed) to this many nodes, or to this
#: many times its own size, whichever is larger.
MAX_EXPANDED_NODES = 200_000
MAX_EXPANSION_RATIO = 20


@dataclass
class Document:
    """One YAML file, composed."""

    path: Path
    name: str  # as shown to the user
    text: str | None = None
    root: yaml.Node | None = None
    problems: list[Problem] = field(default_factory=list)
    #: The project folder the file belongs to (its lines are shown only
    #: when it is one of the project's own files).
    project: Path | None = None
    #: The file was not read (a link out of the project, not a regular file…).
    refused: bool = False
    #: Lines that hold a secret (a notification URL, an API URL with a
    #: password): never shown under a problem.
    secret_lines: set[int] = field(default_factory=set)

    def keep_secret(self, node: yaml.Node) -> None:
        self.secret_lines.update(range(node.start_mark.line + 1, node.end_mark.line + 2))

    def loc(self, node: yaml.Node) -> Loc:
        mark = node.start_mark
        # tuple.__new__ directly: a named tuple's own constructor costs a
        # Python call more, and this runs for every value read.
        return _new(Loc, (self.name, mark.line + 1, mark.column + 1))

    @cached_property
    def source_lines(self) -> list[str]:
        """The lines of the file, to show with its problems (read again from
        disk for a document read in another process)."""
        text = self.text
        if self.refused:
            return []
        if text is None:
            from megaphone.project.files import QUEUE_SUFFIXES, FileRefused, read_inside

            # Never a file that was not read as a queue file (a link out of
            # the project, a FIFO): read the same way, or not at all.
            root = self.project if self.project is not None else self.path.parent
            try:
                data = read_inside(self.path, root, suffixes=QUEUE_SUFFIXES)
            except (OSError, FileRefused):
                return []
            text = data.decode("utf-8-sig", errors="replace")
        return text.splitlines()


def read(path: Path, name: str, *, root: Path | None = None) -> Document:
    """Read and compose one file (of the project in ``root``: see
    :func:`megaphone.project.files.read_inside`).  Problems are recorded, never
    raised."""
    from megaphone.project.files import QUEUE_SUFFIXES, FileRefused, read_inside

    doc = Document(path, name, project=root)
    try:
        if root is not None:
            data = read_inside(path, root, suffixes=QUEUE_SUFFIXES)
        else:
            data = path.read_bytes()
    except FileRefused as e:
        doc.problems.append(problem("file-refused", f"not read: {e}", Loc(name, 1, 1)))
        doc.refused = True
        return doc
    except OSError as e:
        doc.problems.append(
            problem("yaml-syntax", f"cannot read the file: {e.strerror}", Loc(name, 1, 1))
        )
        return doc
    try:
        doc.text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        doc.problems.append(
            problem(
                "encoding",
                f"not UTF-8: byte 0x{data[e.start]:02x} cannot start or continue a character; "
                "save the file as UTF-8",
                Loc(name, line, column),
            )
        )
        return doc
    try:
        doc.root = compose(doc.text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = Loc(name, mark.line + 1, mark.column + 1) if mark else Loc(name, 1, 1)
        what = " ".join(part for part in (e.context, e.problem) if part)
        hint = _plain(what)
        message = f"YAML syntax: {what}" + (f" — {hint}" if hint else "")
        doc.problems.append(problem("yaml-syntax", message, loc))
        return doc
    except yaml.YAMLError as e:
        doc.problems.append(problem("yaml-syntax", f"YAML: {e}", Loc(name, 1, 1)))
        return doc
    except RecursionError:
        doc.problems.append(problem("yaml-syntax", "YAML nested too deeply", Loc(name, 1, 1)))
        return doc
    if doc.root is not None and "&" in doc.text:
        _check_aliases(doc)
    return doc


#: PyYAML's words for common slips, and what they mean in plain words.
_HINTS = (
    ("mapping values are not allowed", "a ': ' inside unquoted text: put the text in quotes"),
    ("tab character that violates indentation", "a tab: YAML is indented with spaces only "
     "(indent with spaces)"),
    ("cannot start any token", "a tab or another character YAML does not allow here "
     "(indent with spaces; put text with '@', '`' or a tab in quotes)"),
    ("could not find expected ':'", "a line that is not 'key: value': a missing ':' or an "
     "unclosed quote above?"),
    ("expected <block end>", "this line's indentation does not line up with the lines above"),
    ("found unexpected end of stream", "a quote or bracket is opened and never closed"),
    ("found undefined alias", "a '*name' without an '&name' before it: put the text in quotes"),
    ("found duplicate anchor", "the same '&name' is given twice"),
    ("while scanning a quoted scalar", "a quote is opened and never closed"),
    ("expected ',' or ']'", "a list in [brackets] is not closed, or a ',' is missing"),
    ("expected ',' or '}'", "a mapping in {braces} is not closed, or a ',' is missing"),
)  # fmt: skip


def _plain(what: str) -> str | None:
    for words, hint in _HINTS:
        if words in what:
            return hint
    return None


def compose(text: str) -> yaml.Node | None:
    """The node graph of one YAML document (None when it is empty)."""
    composer = _Composer(text)
    try:
        node: yaml.Node | None = composer.get_single_node()
    finally:
        composer.dispose()
    return node


def _check_aliases(doc: Document) -> None:
    """Refuse documents whose aliases expand enormously ("billion laughs") or
    refer to themselves.  Sizes are computed once per distinct node, so the
    check itself stays cheap whatever the document."""
    assert doc.root is not None
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    distinct = 0

    def size(node: yaml.Node) -> int:
        nonlocal distinct
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:
            raise _Recursive(node)
        distinct += 1
        total = 1
        if isinstance(node, yaml.SequenceNode):
            in_progress.add(key)
            for child in node.value:
                total += size(child)
            in_progress.discard(key)
        elif isinstance(node, yaml.MappingNode):
            in_progress.add(key)
            for k, v in node.value:
                total += size(k) + size(v)
            in_progress.discard(key)
        sizes[key] = total
        return total

    try:
        expanded = size(doc.root)
    except _Recursive as e:
        doc.problems.append(
            problem("alias-bomb", "an alias refers to the node that holds it", doc.loc(e.node))
        )
        doc.root = None
        return
    except RecursionError:
        doc.problems.append(
            problem("alias-bomb", "the document is nested too deeply", Loc(doc.name, 1, 1))
        )
        doc.root = None
        return
    if expanded > max(MAX_EXPANDED_NODES, MAX_EXPANSION_RATIO * distinct):
        doc.problems.append(
            problem(
                "alias-bomb",
                f"aliases expand this file to {expanded:,} values (from {distinct:,}); "
                "refusing to read it",
                doc.loc(doc.root),
            )
        )
        doc.root = None


class _Recursive(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


def pairs(node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    """The key/value pairs of a mapping, with ``<<`` merge keys applied
    (explicit keys win over merged ones, as YAML says)."""
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    own: list[tuple[yaml.Node, yaml.Node]] = []
    for key, value in node.value:
        if key.tag == MERGE:
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in sources:
                if isinstance(source, yaml.MappingNode):
                    merged.extend(pairs(source))
        else:
            own.append((key, value))
    if not merged:
        yield from own
        return
    own_keys = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
    seen: set[str] = set()
    for key, value in merged:
        if key.value not in own_keys and key.value not in seen:
            seen.add(key.value)
            yield key, value
    yield from own
