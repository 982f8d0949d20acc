"""Whatever the file holds, reading it ends in a clear problem, never a hang,
a blow-up or code run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from megaphone.project.yamldoc import compose
from tests.conftest import Write
from tests.helpers import codes, only, problems_in

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
posts: *i
"""


def test_billion_laughs_is_refused_without_expanding(project: Write) -> None:
    p = only(project(q=BILLION_LAUGHS), "alias-bomb")
    assert "refusing to read it" in p.message
    expanded = int(p.message.split(" values")[0].rsplit(" ", 1)[1].replace(",", ""))
    assert expanded > 9**9  # counted, never built


def test_an_alias_that_holds_itself(project: Write) -> None:
    root = project(q="posts: &p [*p]\n")
    assert codes(root) == ["alias-bomb"]


def test_modest_aliases_are_fine(project: Write) -> None:
    root = project(
        q="""\
        account: utla
        posts:
          - id: one
            at: 2026-12-01 09:00
            text: &t Same words, different accounts.
          - id: two
            accounts: reclaim-la
            at: 2026-12-01 09:00
            text: *t
        """
    )
    assert problems_in(root) == []


@pytest.mark.parametrize(
    "value",
    [
        "!!python/object/apply:os.system ['touch pwned']",
        "!!python/name:os.system ''",
        "!custom thing",
        "!!binary aGVsbG8=",
    ],
)
def test_unsafe_tags_are_refused(project: Write, value: str, tmp_path: Path) -> None:
    root = project(
        q=f"account: utla\nposts:\n  - id: x\n    at: 2026-12-01 09:00\n    text: {value}\n"
    )
    p = only(root, "unsafe-tag")
    assert (p.loc.line, p.loc.column) == (5, 11)
    assert not (tmp_path / "pwned").exists()


def test_yaml_syntax_error_has_a_position(project: Write) -> None:
    root = project(q="account: utla\nposts:\n  - id: x\n   text: [unclosed\n")
    p = only(root, "yaml-syntax")
    assert p.loc.line == 4


def test_not_utf8(project: Write) -> None:
    root = project({"posts/q.yaml": b"account: utla\nposts:\n  - id: caf\xe9\n"})
    p = only(root, "encoding")
    assert (p.loc.line, p.loc.column) == (3, 12)
    assert "0xe9" in p.message


def test_utf8_bom_is_accepted(project: Write) -> None:
    root = project({"posts/q.yaml": "\ufeffaccount: utla\nposts: []\n".encode()})
    assert problems_in(root) == []


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("", "missing-field"),
        ("just a string\n", "wrong-type"),
        ("- a\n- list\n", "wrong-type"),
        ("posts: 3\n", "wrong-type"),
        ("posts: [3]\n", "wrong-type"),
        ("posts:\n  - {id: [1, 2], text: x}\n", "wrong-type"),
        ("? [complex, key]\n: value\n", "wrong-type"),
        ("---\na: 1\n---\nb: 2\n", "yaml-syntax"),
    ],
)
def test_odd_shapes_are_reported(project: Write, content: str, code: str) -> None:
    assert code in codes(project({"posts/q.yaml": content.encode()}))


def test_deeply_nested_input(project: Write) -> None:
    root = project({"posts/q.yaml": ("posts: " + "[" * 5000 + "]" * 5000 + "\n").encode()})
    assert codes(root)  # reported, whatever the parser thought of it


@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=12), max_size=6))
@example(["!"])
@example(
    [
        "",
        "~",
        "null",
        "yes",
        "No",
        "on",
        "0x1F",
        "0o17",
        "1_000",
        "+.inf",
        ".NaN",
        "1e3",
        "2026-12-01",
        "2026-12-01 09:00:00",
        "<<",
        "=",
        "post-1",
        "12:30",
        "-",
        "3.14",
    ]
)
def test_tags_are_resolved_as_the_safe_loader_does(values: list[str]) -> None:
    document = "\n".join(f"k{i}: {v}" for i, v in enumerate(values)) + "\nseq: [a, 1]\n"
    # PyYAML's C and pure-Python parsers differ on a few odd inputs (a bare
    # '!' tag on an empty value): the reference is the safe loader on the
    # parser megaphone composes with.
    reference = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        expected = yaml.compose(document, Loader=reference)
    except yaml.YAMLError:
        return
    got = compose(document)
    assert got is not None

    def tags(node: yaml.Node) -> object:
        if isinstance(node, yaml.ScalarNode):
            return (node.tag, node.value)
        if isinstance(node, yaml.SequenceNode):
            return (node.tag, [tags(n) for n in node.value])
        return (node.tag, [(tags(k), tags(v)) for k, v in node.value])

    assert expected is not None
    assert tags(got) == tags(expected)
