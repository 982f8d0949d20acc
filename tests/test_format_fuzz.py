"""Whatever is written under the keys of languages, networks, repeats and
evergreen queues, reading and checking a project ends in problems with their
place, never in an exception."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from megaphone.checks.validate import validate
from megaphone.project.deliveries import deliveries
from megaphone.project.loader import load
from tests.conftest import NOW

CONFIG = (
    "timezone: America/Los_Angeles\naccounts:\n  - {name: utla, network: x, langs: [en]}\n"
    "  - {name: social, network: mastodon, instance: https://mastodon.social}\n"
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from(
        [
            "",
            "es",
            "en-US",
            "x",
            "mastodon",
            "week",
            "2 weeks",
            "fortnight",
            "mon, thu",
            "mon-fri 09:00",
            "25:00",
            "09:00",
            "reply",
            "+30m",
            "30d",
            "2027-01-01 00:00",
            "@UTLAnow hello",
            "Hola https://example.org",
            "text",
            "thread",
        ]
    ),
)
keys = st.sampled_from(
    [
        "text",
        "thread",
        "alt",
        "networks",
        "rotate",
        "every",
        "on",
        "times",
        "until",
        "count",
        "es",
        "x",
        "bluesky",
        "mastodon",
    ]
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    variants=values,
    networks=values,
    repeat=values,
    rotate=values,
    variants_as=values,
    evergreen=st.sampled_from([None, True, "yes", 3]),
)
def test_the_new_keys_never_break_reading_or_checking(
    tmp_path: Path, variants, networks, repeat, rotate, variants_as, evergreen
) -> None:
    post: dict[str, object] = {"id": "p", "at": "2026-12-07 09:00", "text": "Hello"}
    for key, value in (
        ("variants", variants),
        ("networks", networks),
        ("repeat", repeat),
        ("rotate", rotate),
        ("variants_as", variants_as),
    ):
        if value is not None:
            post[key] = value
    queue: dict[str, object] = {"account": ["utla", "social"], "posts": [post]}
    if evergreen is not None:
        queue.update(evergreen=evergreen, slots="mon 12:00")
    (tmp_path / "megaphone.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "posts").mkdir(exist_ok=True)
    (tmp_path / "posts" / "q.yaml").write_text(
        yaml.safe_dump(queue, allow_unicode=True), encoding="utf-8"
    )
    loaded = load((), cwd=tmp_path)
    report = validate(loaded, now=NOW)
    for problem in report.problems:
        assert problem.loc.file == "posts/q.yaml" and problem.loc.line >= 1
        assert "\n" not in problem.message
    made = deliveries(loaded.project, start=NOW, end=NOW + timedelta(days=60))
    assert all(p.entry_id == "p" for p in made)
