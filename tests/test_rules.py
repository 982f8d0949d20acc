"""Every validation rule: one input that breaks it, with its position, and
the nearest input that does not."""

from __future__ import annotations

import pytest

from tests.conftest import GOOD, Write, png_bytes
from tests.helpers import codes, only, problems_in


def test_a_good_queue_has_no_problem(project: Write) -> None:
    assert problems_in(project(q=GOOD)) == []


# ----------------------------------------------------------------- structure


def test_unknown_key_suggests_the_right_one(project: Write) -> None:
    root = project(q=GOOD.replace("    text:", "    txet:"))
    p = only(root, "unknown-key")
    assert "'txet'" in p.message and "did you mean 'text'?" in p.message
    assert (p.loc.file, p.loc.line, p.loc.column) == ("posts/q.yaml", 5, 5)
    assert p.post_id == "hello"


def test_account_on_a_post_suggests_accounts(project: Write) -> None:
    root = project(q=GOOD + "    account: utla\n")
    assert "did you mean 'accounts'?" in only(root, "unknown-key").message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("    text: [a, b]", "text should be text, not a list"),
        ("    text:", "text should be text, not empty"),
        ("    draft: maybe", "draft should be true or false"),
        ("    media: photo.png", "media should be a list"),
    ],
)
def test_wrong_types(project: Write, line: str, message: str) -> None:
    root = project(q=GOOD.replace("    text: Hello, world.", line))
    assert message in only(root, "wrong-type").message


def test_missing_fields(project: Write) -> None:
    root = project(
        q="""\
        account: utla
        posts:
          - text: no id
            at: 2026-12-01 09:00
          - id: no-text
            at: 2026-12-01 09:00
          - id: no-time
            text: hi
          - id: a-draft-needs-no-time
            draft: true
            text: hi
        """
    )
    found = [(p.code, p.loc.line, p.message) for p in problems_in(root)]
    assert [(c, line) for c, line, _ in found] == [
        ("missing-field", 3),
        ("missing-field", 5),
        ("missing-field", 7),
    ]
    assert "needs an 'id'" in found[0][2]
    assert "needs 'text'" in found[1][2]
    assert "needs 'at'" in found[2][2]


def test_duplicate_ids_across_files(project: Write) -> None:
    root = project(a=GOOD, b=GOOD.replace("Hello", "Goodbye"))
    p = only(root, "duplicate-id")
    assert p.loc.file == "posts/b.yaml"
    assert "posts/a.yaml:3:9" in p.message


def test_duplicate_keys(project: Write) -> None:
    root = project(q=GOOD + "    text: again\n")
    p = only(root, "duplicate-key")
    assert p.loc.line == 6 and "first on line 5" in p.message


def test_text_and_thread_together(project: Write) -> None:
    root = project(q=GOOD + "    thread: [a, b]\n")
    assert "both 'text' and 'thread'" in only(root, "wrong-type").message


def test_merge_keys_are_applied(project: Write) -> None:
    root = project(
        q="""\
        account: utla
        common: &common
        posts: []
        """
    )
    assert codes(root) == ["unknown-key"]
    root = project(
        q="""\
        account: utla
        posts:
          - &base
            id: one
            at: 2026-12-01 09:00
            text: first
          - <<: *base
            id: two
            text: second
        """
    )
    assert problems_in(root) == []


# ---------------------------------------------------------------------- text


def test_text_over_the_limit_says_by_how_much(project: Write) -> None:
    root = project(q=GOOD.replace("Hello, world.", "x" * 281))
    p = only(root, "text-too-long")
    assert "weighs 281/280, 1 over" in p.message
    assert (p.loc.line, p.loc.column) == (5, 11)


def test_text_at_the_limit_is_fine(project: Write) -> None:
    assert problems_in(project(q=GOOD.replace("Hello, world.", "x" * 280))) == []


def test_links_count_23_and_the_message_says_why(project: Write) -> None:
    text = "y" * 250 + " example.org"  # 250 + 1 + 23 = 274
    # Fits; the bare domain is said to be a link (it may surprise).
    [bare] = problems_in(project(q=GOOD.replace("Hello, world.", text)))
    assert bare.code == "bare-domain" and "counts 23" in bare.message
    text = "y" * 257 + " example.org"  # 257 + 1 + 23 = 281
    p = only(project(q=GOOD.replace("Hello, world.", text)), "text-too-long")
    assert "'example.org' counts as a 23-character link" in p.message


def test_heavy_characters_are_named(project: Write) -> None:
    text = "z" * 270 + " €€€€€"  # 270 + 1 + 10
    p = only(project(q=GOOD.replace("Hello, world.", text)), "text-too-long")
    assert "weigh 2 each: €" in p.message


def test_default_hashtags_count(project: Write) -> None:
    queue = GOOD.replace("account: utla", "account: utla\ndefaults:\n  hashtags: [Twenty]")
    assert problems_in(project(q=queue.replace("Hello, world.", "w" * 272))) == []
    p = only(project(q=queue.replace("Hello, world.", "w" * 273)), "text-too-long")
    assert "hashtags added to the post count too" in p.message


def test_each_thread_part_is_weighed(project: Write) -> None:
    root = project(
        q=f"""\
        account: utla
        posts:
          - id: t
            at: 2026-12-01 09:00
            thread:
              - short
              - {"v" * 300}
        """
    )
    p = only(root, "text-too-long")
    assert p.loc.line == 7 and "part 2 of thread 't'" in p.message


def test_empty_text(project: Write) -> None:
    assert codes(project(q=GOOD.replace("Hello, world.", "'  '"))) == ["empty-text"]


def test_invalid_characters(project: Write) -> None:
    root = project(q=GOOD.replace("Hello, world.", '"Hello\\uFFFE"'))
    assert "U+FFFE" in only(root, "invalid-characters").message


def test_invalid_hashtag_field(project: Write) -> None:
    root = project(q=GOOD + "    hashtags: ['2026', good]\n")
    p = only(root, "invalid-hashtag")
    assert "#2026" in p.message and p.loc.line == 6


def test_too_many_hashtags(project: Write) -> None:
    tags = " ".join(f"#tag{c}" for c in "abcdef")
    assert codes(project(q=GOOD.replace("Hello, world.", f"'Hi {tags}'"))) == ["too-many-hashtags"]


def test_hashtag_case_across_the_project(project: Write) -> None:
    root = project(
        a=GOOD.replace("Hello, world.", "'One #WeArePublicSchools'"),
        b=GOOD.replace("hello", "b1").replace("Hello, world.", "'Two #WeArePublicSchools'"),
        c=GOOD.replace("hello", "c1").replace("Hello, world.", "'Three #weArePublicSchools'"),
    )
    p = only(root, "hashtag-case")
    assert p.loc.file == "posts/c.yaml"
    assert "#weArePublicSchools is written #WeArePublicSchools in 2 other" in p.message


def test_a_hashtag_lost_to_a_yaml_comment(project: Write) -> None:
    # Unquoted, " #tag" starts a YAML comment: the hashtag would silently vanish.
    root = project(q=GOOD.replace("Hello, world.", "Join us #WeArePublicSchools"))
    p = only(root, "text-comment")
    assert "#WeArePublicSchools" in p.message and "quote the text" in p.message
    assert codes(project(q=GOOD.replace("Hello, world.", '"Join us #WeArePublicSchools"'))) == []
    assert codes(project(q=GOOD.replace("Hello, world.", "Join us  # a note for the team"))) == []


def test_mentions(project: Write) -> None:
    assert codes(project(q=GOOD.replace("Hello, world.", "Hi @UTLAnow"))) == []
    root = project(q=GOOD.replace("Hello, world.", "Hi @a_name_far_too_long"))
    assert "at most 15 characters" in only(root, "invalid-mention").message
    many = " ".join(f"@user{i}" for i in range(11))
    assert codes(project(q=GOOD.replace("Hello, world.", f"'{many}'"))) == ["too-many-mentions"]


def test_links_must_be_http(project: Write) -> None:
    root = project(q=GOOD.replace("Hello, world.", "Files at ftp://files.example.org/a"))
    assert "ftp:// links are not linked" in only(root, "bad-link").message


@pytest.mark.parametrize(
    "link", ["https://example.c", "http://localhost:8000/x", "https://t.co/" + "a" * 41]
)
def test_links_that_will_not_be_links(project: Write, link: str) -> None:
    root = project(q=GOOD.replace("Hello, world.", f"Read {link} today"))
    assert f"{link} will not become a link" in only(root, "bad-link").message


def test_well_formed_links_pass(project: Write) -> None:
    text = "'See https://example.org/a?b=c#d and HTTP://EXAMPLE.COM and http://foo.みんな/'"
    assert codes(project(q=GOOD.replace("Hello, world.", text))) == []


def test_lang(project: Write) -> None:
    assert codes(project(q=GOOD + "    lang: es-MX\n")) == []
    assert codes(project(q=GOOD + "    lang: Spanish!\n")) == ["bad-lang"]


# --------------------------------------------------------------------- media


def with_media(media: str) -> str:
    return GOOD + "    media:\n" + "".join(f"      {line}\n" for line in media.splitlines())


def test_media_with_alt_text(project: Write) -> None:
    root = project(
        {"posts/a.png": png_bytes()}, q=with_media("- {path: a.png, alt: A grey square}")
    )
    assert problems_in(root) == []


def test_media_missing(project: Write) -> None:
    root = project(q=with_media("- {path: nope.png, alt: x}"))
    p = only(root, "media-missing")
    assert p.loc.line == 7 and "nope.png" in p.message


def test_media_outside_the_project(
    project: Write, tmp_path_factory: pytest.TempPathFactory
) -> None:
    secret = tmp_path_factory.mktemp("elsewhere") / "secret.png"
    secret.write_bytes(png_bytes())
    root = project(q=with_media(f"- {{path: {secret}, alt: x}}"))
    assert codes(root) == ["media-outside-project"]
    root = project(q=with_media("- {path: ../../etc/passwd, alt: x}"))
    assert codes(root) == ["media-outside-project"]


def test_media_symlink_escape(project: Write, tmp_path_factory: pytest.TempPathFactory) -> None:
    secret = tmp_path_factory.mktemp("elsewhere") / "secret.png"
    secret.write_bytes(png_bytes())
    root = project(q=with_media("- {path: innocent.png, alt: x}"))
    (root / "posts" / "innocent.png").symlink_to(secret)
    assert codes(root) == ["media-outside-project"]


def test_media_type_is_judged_by_content(project: Write) -> None:
    root = project(
        {"posts/fake.png": b"not an image at all"}, q=with_media("- {path: fake.png, alt: x}")
    )
    assert codes(root) == ["media-type"]
    gif = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 20
    root = project({"posts/photo.jpg": gif}, q=with_media("- {path: photo.jpg, alt: x}"))
    assert codes(root) == []  # a GIF, whatever its name says


def test_media_too_large(project: Write) -> None:
    big = png_bytes() + b"\x00" * (5 * 1024 * 1024)
    root = project({"posts/big.png": big}, q=with_media("- {path: big.png, alt: x}"))
    assert "at most 5 MB" in only(root, "media-too-large").message


def test_media_count(project: Write) -> None:
    files = {f"posts/{i}.png": png_bytes() for i in range(5)}
    five = "\n".join(f"- {{path: {i}.png, alt: x}}" for i in range(5))
    assert codes(project(files, q=with_media(five))) == ["media-count"]
    four = "\n".join(f"- {{path: {i}.png, alt: x}}" for i in range(4))
    assert codes(project(files, q=with_media(four))) == []
    gif = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 20
    mixed = "- {path: a.gif, alt: x}\n- {path: 0.png, alt: y}"
    assert codes(project({**files, "posts/a.gif": gif}, q=with_media(mixed))) == ["media-count"]


def test_alt_text(project: Write) -> None:
    files = {"posts/a.png": png_bytes()}
    assert codes(project(files, q=with_media("- path: a.png"))) == ["alt-missing"]
    assert codes(project(files, q=with_media("- {path: a.png, alt: '  '}"))) == ["alt-missing"]
    long_alt = "a" * 1001
    p = only(project(files, q=with_media(f"- {{path: a.png, alt: {long_alt}}}")), "alt-too-long")
    assert "1001 characters" in p.message


# ------------------------------------------------------------------ schedule


def test_unknown_timezone(project: Write) -> None:
    root = project(q="timezone: Mars/Olympus\n" + GOOD)
    p = only(root, "unknown-timezone")
    assert p.loc.line == 1 and "Mars/Olympus" in p.message


def test_times_with_offsets_and_local(project: Write) -> None:
    assert codes(project(q=GOOD.replace("2026-12-01 09:00", "2026-12-01T09:00-08:00"))) == []
    assert codes(project(q=GOOD.replace("2026-12-01 09:00", "2026-12-01T17:00Z"))) == []
    assert codes(project(q=GOOD.replace("2026-12-01 09:00", "next tuesday"))) == ["bad-time"]
    assert codes(project(q=GOOD.replace("2026-12-01 09:00", "2026-12-01"))) == ["bad-time"]


def test_dst_gap_and_fold(project: Write) -> None:
    # Los Angeles: clocks go 02:00 -> 03:00 on 2027-03-14, 02:00 -> 01:00 on 2027-11-07.
    gap = only(project(q=GOOD.replace("2026-12-01 09:00", "2027-03-14 02:30")), "nonexistent-time")
    assert "does not exist in America/Los_Angeles" in gap.message
    fold = only(project(q=GOOD.replace("2026-12-01 09:00", "2027-11-07 01:30")), "ambiguous-time")
    assert "2027-11-07T01:30-07:00" in fold.message
    fixed = GOOD.replace("2026-12-01 09:00", "2027-11-07T01:30-08:00")
    assert codes(project(q=fixed)) == []


def test_expires_before_at(project: Write) -> None:
    root = project(q=GOOD + "    expires: 2026-12-01 08:00\n")
    p = only(root, "expires-before-at")
    assert p.loc.line == 6


def test_past_due_and_expired(project: Write) -> None:
    past = GOOD.replace("2026-12-01 09:00", "2026-11-26 09:00")
    p = only(project(q=past), "past-due")
    assert "2 days ago" in p.message
    expired = past + "    expires: 2026-11-27 09:00\n"
    assert codes(project(q=expired)) == ["expired"]
    assert codes(project(q=past + "    draft: true\n")) == []


def test_same_text_twice_for_one_account(project: Write) -> None:
    root = project(a=GOOD, b=GOOD.replace("hello", "again"))
    p = only(root, "duplicate-text")
    assert p.loc.file == "posts/b.yaml" and "'utla'" in p.message
    other = GOOD.replace("hello", "again").replace("account: utla", "account: reclaim-la")
    assert codes(project(a=GOOD, b=other)) == []


def test_accounts(project: Write) -> None:
    root = project(q=GOOD.replace("account: utla", "account: utal"))
    assert "did you mean 'utla'?" in only(root, "unknown-account").message
    root = project(q=GOOD.replace("account: utla\n", ""))
    assert codes(root) == ["no-account"]
    root = project(q=GOOD + "    accounts: [utla, reclaim-la]\n")
    assert codes(root) == []


def test_references(project: Write) -> None:
    base = GOOD + "  - id: second\n    at: 2026-12-01 10:00\n    text: More.\n"
    assert codes(project(q=base + "    reply_to: hello\n")) == []
    assert codes(project(q=base + "    quote: https://x.com/UTLAnow/status/12345\n")) == []
    p = only(project(q=base + "    reply_to: helo\n"), "bad-reference")
    assert "did you mean 'hello'?" in p.message
    bad_url = base + "    quote: https://example.org/not-a-post\n"
    assert codes(project(q=bad_url)) == ["bad-reference"]
    early = GOOD.replace("hello", "early") + "    reply_to: later\n"
    early += "  - id: later\n    at: 2026-12-02 10:00\n    text: Later.\n"
    assert codes(project(q=early)) == ["reply-order"]
