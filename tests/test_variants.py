"""One post, several languages and networks: variants, per-network texts, and
which account gets which (``langs:``)."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from megaphone.model import Post, Project, delivery_id, split_id
from megaphone.project.deliveries import deliveries, find
from megaphone.project.loader import load
from tests.conftest import NOW, png_bytes
from tests.fakemastodon import FakeMastodon
from tests.helpers import problems_in

CONFIG = """\
timezone: America/Los_Angeles
accounts:
  - {name: utla, network: x}
  - {name: reclaim-la, network: x, langs: [es]}
  - {name: alliance, network: x, langs: [en]}
"""

BILINGUAL = """\
account: [utla, reclaim-la, alliance]
posts:
  - id: hub
    at: 2026-12-08 10:00
    lang: en
    text: Community schools are hubs for families. https://example.org/cs
    media:
      - {path: media/a.png, alt: Families in a school courtyard.}
    variants:
      es:
        text: Las escuelas comunitarias son centros para las familias. https://example.org/ec
        alt: Familias en el patio de una escuela.
"""


def _load(root: Path) -> Project:
    return load((), cwd=root).project


def _window(project: Project) -> list[Post]:
    return deliveries(project, start=NOW - timedelta(days=7), end=NOW + timedelta(days=60))


def _gap(first: Post, then: Post) -> timedelta:
    assert first.at is not None and then.at is not None
    return then.at - first.at


def test_each_language_goes_to_the_accounts_that_post_it(project) -> None:
    root = project({"megaphone.yaml": CONFIG, "posts/media/a.png": png_bytes()}, q=BILINGUAL)
    made = {p.id: p for p in _window(_load(root))}
    assert set(made) == {"hub", "hub/es"}
    assert made["hub"].accounts == ("utla", "alliance")
    assert made["hub/es"].accounts == ("utla", "reclaim-la")
    es = made["hub/es"]
    assert es.lang == "es" and es.entry_id == "hub" and es.variant == "es"
    assert es.parts[0].text.startswith("Las escuelas")
    # The media are the post's, with the language's alt text.
    assert [(m.path, m.alt) for m in es.parts[0].media] == [
        ("media/a.png", "Familias en el patio de una escuela.")
    ]
    # An account that takes both gets the translation 30 minutes later.
    assert _gap(made["hub"], es) == timedelta(minutes=30)
    assert es.translation_of is None


def test_a_translation_may_be_a_reply_to_the_original(project) -> None:
    root = project(
        {"megaphone.yaml": CONFIG, "posts/media/a.png": png_bytes()},
        q=BILINGUAL.replace("    lang: en\n", "    lang: en\n    variants_as: reply\n"),
    )
    made = {p.id: p for p in _window(_load(root))}
    assert made["hub/es"].translation_of == "hub"
    assert made["hub/es"].at == made["hub"].at


def test_the_queue_chooses_the_delay_between_languages(project) -> None:
    queue = BILINGUAL.replace(
        "account: [utla, reclaim-la, alliance]\n",
        "account: [utla, reclaim-la, alliance]\ndefaults:\n  variants_as: +2h\n",
    )
    root = project({"megaphone.yaml": CONFIG, "posts/media/a.png": png_bytes()}, q=queue)
    made = {p.id: p for p in _window(_load(root))}
    assert _gap(made["hub"], made["hub/es"]) == timedelta(hours=2)


def test_each_language_is_validated_and_errors_point_into_it(project) -> None:
    long_es = "Las escuelas comunitarias " * 12
    queue = BILINGUAL.replace(
        "        text: Las escuelas comunitarias son centros para las familias. "
        "https://example.org/ec\n",
        f"        text: {long_es}\n",
    )
    root = project({"megaphone.yaml": CONFIG, "posts/media/a.png": png_bytes()}, q=queue)
    found = [p for p in problems_in(root) if p.code == "text-too-long"]
    assert len(found) == 1
    assert found[0].post_id == "hub"
    assert "'hub/es'" in found[0].message
    assert (found[0].loc.line, found[0].loc.column) == (11, 15)


def test_a_language_no_account_posts_is_a_warning(project) -> None:
    queue = BILINGUAL.replace("es:\n", "fr:\n")
    root = project({"megaphone.yaml": CONFIG, "posts/media/a.png": png_bytes()}, q=queue)
    found = [p for p in problems_in(root) if p.code == "no-taker"]
    assert found == []  # utla takes every language
    queue = queue.replace(
        "account: [utla, reclaim-la, alliance]", "account: [reclaim-la, alliance]"
    )
    root = project({"posts/q.yaml": queue})
    found = [p for p in problems_in(root) if p.code == "no-taker"]
    assert len(found) == 1 and "'fr'" in found[0].message and found[0].loc.line == 10


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ("    variants: [es]\n", "variants should be a mapping of language tags"),
        ("    variants:\n      español: {text: hola}\n", "is not a language tag"),
        ("    variants:\n      en: {text: hello again}\n", "is the post's own language"),
        ("    variants:\n      es: {text: hola, alt: [a, b]}\n", "2 alt texts for 1 media"),
        ("    variants:\n      es: {txt: hola}\n", "unknown key 'txt'"),
    ],
)
def test_a_wrong_variant_is_an_error_at_its_place(project, variants, message) -> None:
    queue = BILINGUAL.split("    variants:\n")[0] + variants
    root = project({"megaphone.yaml": CONFIG, "posts/media/a.png": png_bytes()}, q=queue)
    found = [p for p in problems_in(root) if p.severity == "error"]
    assert any(message in p.message for p in found), found
    assert len(found) == 1 or {p.code for p in found} == {"unknown-key", "missing-field"}, found
    assert found[0].loc.file == "posts/q.yaml" and found[0].loc.line >= 8


def test_delivery_ids_name_the_language_and_the_occurrence() -> None:
    when = datetime(2027, 1, 4, 17, 0, tzinfo=UTC)
    made = delivery_id("stay", "es", when)
    assert made == "stay/es@2027-01-04T17:00Z"
    assert split_id(made) == ("stay", "es", "2027-01-04T17:00Z")
    assert split_id("hub") == ("hub", "", "")


def test_an_id_with_a_delivery_mark_is_refused(project) -> None:
    root = project(q="account: utla\nposts:\n  - id: a/b\n    at: 2026-12-08 10:00\n    text: hi\n")
    (problem,) = problems_in(root)
    assert problem.code == "bad-id" and (problem.loc.line, problem.loc.column) == (3, 9)


# ------------------------------------------------------------ per network

CROSS = """\
timezone: America/Los_Angeles
accounts:
  - {name: utla, network: x}
  - {name: utla-social, network: mastodon, instance: https://mastodon.social}
"""


def cross(post_id: str, body: str) -> str:
    """A queue of one post, for an X and a Mastodon account."""
    lines = textwrap.dedent(body).strip("\n").splitlines()
    return f"account: [utla, utla-social]\nposts:\n  - id: {post_id}\n" + "".join(
        f"    {line}\n" for line in lines
    )


def test_a_network_may_have_a_text_of_its_own(project) -> None:
    queue = cross(
        "thread",
        """
        at: 2026-12-08 10:00
        thread:
          - First half of something long enough to need two posts on X.
          - Second half.
        networks:
          mastodon: First half of something long enough to need two posts on X. Second half.
        """,
    )
    root = project({"megaphone.yaml": CROSS}, q=queue)
    (post,) = _window(_load(root))
    assert len(post.parts) == 2
    on_mastodon = post.for_network("mastodon")
    assert len(on_mastodon.parts) == 1 and not on_mastodon.is_thread
    assert post.for_network("x") is post
    assert problems_in(root) == []


def test_a_mention_cross_posted_to_several_networks_is_a_warning(project) -> None:
    queue = cross("thanks", "at: 2026-12-08 10:00\ntext: Thank you @LAUSD for listening.")
    root = project({"megaphone.yaml": CROSS}, q=queue)
    found = [p for p in problems_in(root) if p.code == "cross-network-mention"]
    assert len(found) == 1 and "@LAUSD" in found[0].message
    fixed = queue + "    networks:\n      mastodon: Thank you @LAUSD@social.lausd.net.\n"
    root = project(q=fixed)
    assert [p for p in problems_in(root) if p.code == "cross-network-mention"] == []


# ------------------------------------------------------------ publishing


def mastodon_config(fake: FakeMastodon) -> str:
    return (
        "timezone: UTC\naccounts:\n"
        "  - name: social\n    network: mastodon\n"
        f"    instance: {fake.url}\n    handle: utlanow@127.0.0.1\n"
        "  - name: social-es\n    network: mastodon\n"
        f"    instance: {fake.url}\n    handle: utlaes@127.0.0.1\n    langs: [es]\n"
    )


@pytest.fixture
def two_accounts(fakemastodon: FakeMastodon, monkeypatch: pytest.MonkeyPatch):
    made = {}
    for name, user in (("social", "utlanow"), ("social-es", "utlaes")):
        account = fakemastodon.add_account(user)
        for key, value in fakemastodon.env(name, account).items():
            monkeypatch.setenv(key, value)
        made[name] = account
    return made


REPLY = """\
account: [social, social-es]
posts:
  - id: hub
    at: 2026-11-29 11:58
    lang: en
    variants_as: reply
    text: Community schools are hubs for families.
    variants:
      es:
        text: Las escuelas comunitarias son centros para las familias.
"""


def test_translations_go_out_with_their_language_once_each(
    fakemastodon: FakeMastodon, two_accounts, project, run, no_wait
) -> None:
    root = project({"megaphone.yaml": mastodon_config(fakemastodon)}, q=REPLY)
    result = run("publish", "--due", cwd=root)
    assert result.exit_code == 0, result.output
    posted = fakemastodon.posted()
    by = {(s.account_id, s.language): s for s in posted}
    en = by[(two_accounts["social"].id, "en")]
    es_own = by[(two_accounts["social"].id, "es")]
    es_alone = by[(two_accounts["social-es"].id, "es")]
    assert len(posted) == 3
    # The account that posted the original answers it with the translation;
    # the account that posts only Spanish posts it on its own.
    assert es_own.in_reply_to_id == en.id
    assert es_alone.in_reply_to_id is None
    # A second run sends nothing again.
    again = run("publish", "--due", cwd=root)
    assert again.exit_code == 0, again.output
    assert len(fakemastodon.posted()) == 3
    shown = run("status", "--json", cwd=root)
    rows = {(r["id"], r["account"]): r["state"] for r in json.loads(shown.output)}
    assert rows == {
        ("hub", "social"): "published",
        ("hub/es", "social"): "published",
        ("hub/es", "social-es"): "published",
    }


def test_show_lists_every_language_of_a_post(project, run, frozen_now) -> None:
    root = project({"megaphone.yaml": CONFIG, "posts/media/a.png": png_bytes()}, q=BILINGUAL)
    result = run("show", "hub", cwd=root)
    assert result.exit_code == 0, result.output
    assert "Community schools are hubs" in result.output
    assert "Las escuelas comunitarias" in result.output
    assert "hub/es" in result.output


def test_find_rebuilds_a_delivery_from_its_id(project) -> None:
    root = project({"megaphone.yaml": CONFIG, "posts/media/a.png": png_bytes()}, q=BILINGUAL)
    found = find(_load(root), "hub/es")
    assert found is not None and found.lang == "es"
    assert find(_load(root), "hub/fr") is None
    assert find(_load(root), "nothing") is None


# ------------------------------------------------------------ editing


def test_add_to_gives_a_post_another_language_keeping_the_file(project, run, frozen_now) -> None:
    queue = BILINGUAL.replace("posts:\n", "posts:  # the hub campaign\n")
    root = project({"megaphone.yaml": CONFIG, "posts/media/a.png": png_bytes()}, q=queue)
    before = (root / "posts/q.yaml").read_text(encoding="utf-8")
    result = run(
        "add",
        "--to",
        "hub",
        "--lang",
        "fr",
        "--text",
        "Les écoles communautaires.",
        "--alt",
        "Des familles dans une cour d'école.",
        cwd=root,
    )
    assert result.exit_code == 0, result.output
    assert "added hub/fr" in result.output and "11:00" in result.output
    after = (root / "posts/q.yaml").read_text(encoding="utf-8")
    # Only lines were added, after the post's last variant.
    assert after.startswith(before.rstrip("\n"))
    assert after[len(before.rstrip("\n")) :] == (
        "\n      fr:\n        text: Les écoles communautaires.\n"
        "        alt: Des familles dans une cour d'école.\n"
    )
    made = {p.id: p for p in _window(_load(root))}
    assert made["hub/fr"].parts[0].media[0].alt == "Des familles dans une cour d'école."
    # A post without languages gets its 'variants'.
    plain = "account: utla\nposts:\n  - id: note\n    at: 2026-12-08 10:00\n    text: Hello\n"
    root = project(q=plain)
    result = run("add", "--to", "note", "--lang", "es", "Hola", cwd=root)
    assert result.exit_code == 0, result.output
    assert (root / "posts/q.yaml").read_text(encoding="utf-8") == (
        plain + "    variants:\n      es:\n        text: Hola\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "hub", "--lang", "en", "Again"], "is in en already"),
        (["--to", "hub", "--lang", "es", "Otra vez"], "has a es text already"),
        (["--to", "hub", "--lang", "fr", "Sans alt"], "give their alt text in fr"),
        (["--to", "hub", "--lang", "fr", "x", "--at", "tomorrow"], "leave them out"),
        (["--to", "hub", "Bonjour"], "--lang"),
        (["--to", "hub/es", "--lang", "fr", "x", "--alt", "y"], "the es text of a post"),
    ],
)
def test_add_to_refuses_what_cannot_be(project, run, frozen_now, args, message) -> None:
    root = project({"megaphone.yaml": CONFIG, "posts/media/a.png": png_bytes()}, q=BILINGUAL)
    before = (root / "posts/q.yaml").read_text(encoding="utf-8")
    result = run("add", *args, cwd=root)
    assert result.exit_code != 0
    assert message in result.output
    assert (root / "posts/q.yaml").read_text(encoding="utf-8") == before


def test_edit_round_trips_languages_and_network_texts(
    project, run, frozen_now, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = BILINGUAL + "    networks:\n      x: Community schools, for X. https://example.org/cs\n"
    root = project({"megaphone.yaml": CONFIG, "posts/media/a.png": png_bytes()}, q=queue)
    path = root / "posts" / "q.yaml"
    before = path.read_text(encoding="utf-8")
    monkeypatch.setenv("EDITOR", "true")
    monkeypatch.setattr(
        "click.edit", lambda text, **kw: text.replace("son centros", "son el centro")
    )
    result = run("edit", "hub", cwd=root)
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") == before.replace("son centros", "son el centro")
    made = {p.id: p for p in _window(_load(root))}
    assert "son el centro" in made["hub/es"].parts[0].text
    assert made["hub"].for_network("x").parts[0].text.startswith("Community schools, for X.")
    # An edit that breaks a language is refused, and nothing is written.
    monkeypatch.setattr("click.edit", lambda text, **kw: text.replace("      es:", "      e$:"))
    refused = run("edit", "hub", cwd=root)
    assert refused.exit_code == 1 and "not written" in refused.output


def test_validate_says_which_text_each_account_gets(project, run) -> None:
    queue = BILINGUAL + "    networks:\n      x: Community schools, for X. https://example.org/cs\n"
    root = project({"megaphone.yaml": CONFIG, "posts/media/a.png": png_bytes()}, q=queue)
    result = run("validate", "--texts", cwd=root)
    assert result.exit_code == 0, result.output
    # The post's X text is its own language's: the Spanish text has none.
    assert "hub: en, its x text → utla, alliance; es → utla, reclaim-la" in result.output


def test_a_language_or_network_text_edited_after_it_went_out_is_told_and_only_then(
    fakemastodon: FakeMastodon, two_accounts, project, run, no_wait
) -> None:
    queue = REPLY + "    networks:\n      mastodon: Community schools, as Mastodon has it.\n"
    root = project({"megaphone.yaml": mastodon_config(fakemastodon)}, q=queue)
    assert run("publish", "--due", cwd=root).exit_code == 0
    # As sent: the Mastodon text and the Spanish one are what went out.
    checked = run("validate", "--format", "json", cwd=root)
    assert [p["code"] for p in json.loads(checked.output)] == []
    project(q=queue.replace("son centros", "son el centro"))
    checked = run("validate", "--format", "json", cwd=root)
    found = [p for p in json.loads(checked.output) if p["code"] == "edited-after-publish"]
    assert len(found) == 2  # both accounts that posted the Spanish text
    assert all("hub/es" in p["message"] and p["line"] == 10 for p in found)


def test_a_post_is_past_due_until_each_of_its_languages_went_out(project) -> None:
    from megaphone.checks.validate import validate
    from megaphone.store.view import Deliveries

    late = BILINGUAL.replace("2026-12-08 10:00", "2026-11-20 10:00")
    root = project({"megaphone.yaml": CONFIG, "posts/media/a.png": png_bytes()}, q=late)
    loaded = load((), cwd=root)

    def past_due(ledger: Deliveries) -> int:
        report = validate(loaded, now=NOW, ledger=ledger)
        return sum(1 for p in report.problems if p.code == "past-due")

    english: Deliveries = {"hub": (("utla", "published", None), ("alliance", "published", None))}
    spanish: Deliveries = {"hub/es": (("utla", "published", None), ("reclaim-la", "missed", None))}
    assert past_due({}) == 1
    assert past_due(english) == 1  # the Spanish text has not gone out
    assert past_due({**english, **spanish}) == 0
