"""The publisher's behaviour as contract tests that every adapter passes:
the same scenarios against the in-memory network (tests/fakenet.py) and
against the X adapter talking to the fake X API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pytest

from megaphone.model import Account
from megaphone.networks.contract import Network
from megaphone.store.ledger import Ledger, default_url
from tests.conftest import sign_in
from tests.fakebluesky import FakeBluesky
from tests.fakemastodon import FakeMastodon
from tests.fakenet import Memory
from tests.fakex import FakeX


class World(Protocol):
    #: The project's configuration for this world's account.
    config: str
    #: The network takes idempotency keys: a send in doubt is sent again
    #: with its key rather than left unknown.
    keyed: bool

    def connect(self, account: Account) -> Network: ...
    def fail_create(self, *kinds: str, after: int = 0) -> None: ...
    def fail_reads(self, times: int) -> None: ...
    def posted(self) -> list[tuple[str, str | None]]: ...
    def ids(self) -> list[str]: ...


class MemoryWorld:
    keyed = False

    def __init__(self) -> None:
        self.memory = Memory()
        self.config = CONFIG

    def connect(self, account: Account) -> Network:
        return self.memory.network()

    def fail_create(self, *kinds: str, after: int = 0) -> None:
        self.memory.create_faults.extend(["ok"] * after + list(kinds))

    def fail_reads(self, times: int) -> None:
        self.memory.read_faults.extend(["fail"] * times)

    def posted(self) -> list[tuple[str, str | None]]:
        return [(p.text, p.reply_to) for p in self.memory.posts]

    def ids(self) -> list[str]:
        return [p.id for p in self.memory.posts]


class XWorld:
    KINDS: ClassVar[dict[str, tuple[str, dict[str, Any]]]] = {
        "server_error": ("status", {"status": 503}),
        "server_error_after": ("after", {"status": 503}),
        "rate_limited": ("status", {"status": 429, "reset_in": 1}),
        "unknown": ("drop", {}),
        "unknown_after": ("drop_after", {}),
    }

    keyed = False

    def __init__(self, fakex: FakeX, monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
        self.config = CONFIG
        self.fakex = fakex
        fakex.reject_duplicates = False  # X's own check must not hide a double post
        sign_in(fakex, monkeypatch)
        self.root = root

    def connect(self, account: Account) -> Network:
        import os

        from megaphone.project.loader import load
        from megaphone.publish.publisher import connector

        project = load((), cwd=self.root, allow_empty=True).project
        return connector(project, os.environ)(account)

    def fail_create(self, *kinds: str, after: int = 0) -> None:
        for i, kind in enumerate(kinds):
            fault, options = self.KINDS[kind]
            self.fakex.fault("POST", "/2/tweets", fault, skip=after if i == 0 else 0, **options)

    def fail_reads(self, times: int) -> None:
        self.fakex.fault("GET", r"/2/users/\d+/tweets", "status", status=503, times=times)

    def posted(self) -> list[tuple[str, str | None]]:
        return [(t.sent_text, t.reply_to) for t in self.fakex.posted()]

    def ids(self) -> list[str]:
        return [t.id for t in self.fakex.posted()]


class MastodonWorld:
    KINDS: ClassVar[dict[str, tuple[str, dict[str, Any]]]] = XWorld.KINDS
    keyed = True

    def __init__(self, fake: FakeMastodon, monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
        self.fake = fake
        account = fake.add_account("utlanow")
        for key, value in fake.env("utla", account).items():
            monkeypatch.setenv(key, value)
        self.root = root
        self.config = (
            "timezone: UTC\naccounts:\n  - name: utla\n    network: mastodon\n"
            f"    instance: {fake.url}\n    daily_cap: 17\n"
        )

    def connect(self, account: Account) -> Network:
        import os

        from megaphone.project.loader import load
        from megaphone.publish.publisher import connector

        project = load((), cwd=self.root, allow_empty=True).project
        return connector(project, os.environ)(account)

    def fail_create(self, *kinds: str, after: int = 0) -> None:
        for i, kind in enumerate(kinds):
            fault, options = self.KINDS[kind]
            self.fake.fault(
                "POST", "/api/v1/statuses", fault, skip=after if i == 0 else 0, **options
            )

    def fail_reads(self, times: int) -> None:
        self.fake.fault("GET", r"/api/v1/accounts/\d+/statuses", "status", status=503, times=times)

    def posted(self) -> list[tuple[str, str | None]]:
        return [(s.text, s.in_reply_to_id) for s in self.fake.posted()]

    def ids(self) -> list[str]:
        return [s.id for s in self.fake.posted()]


class BlueskyWorld(MastodonWorld):
    keyed = True
    PATH = "/xrpc/com.atproto.repo.putRecord"

    def __init__(self, fake: FakeBluesky, monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
        self.fake = fake  # type: ignore[assignment]
        account = fake.add_account("utlanow.bsky.social")
        for key, value in fake.env("utla", account).items():
            monkeypatch.setenv(key, value)
        self.root = root
        self.config = (
            "timezone: UTC\naccounts:\n  - name: utla\n    network: bluesky\n"
            "    handle: utlanow.bsky.social\n    daily_cap: 17\n"
        )

    def fail_create(self, *kinds: str, after: int = 0) -> None:
        for i, kind in enumerate(kinds):
            fault, options = self.KINDS[kind]
            self.fake.fault("POST", self.PATH, fault, skip=after if i == 0 else 0, **options)

    def fail_reads(self, times: int) -> None:
        self.fake.fault(
            "GET", "/xrpc/com.atproto.repo.getRecord", "status", status=503, times=times
        )

    def posted(self) -> list[tuple[str, str | None]]:
        fake: FakeBluesky = self.fake  # type: ignore[assignment]
        return [
            (record["text"], (record.get("reply") or {}).get("parent", {}).get("uri"))
            for _, record in fake.posts()
        ]

    def ids(self) -> list[str]:
        fake: FakeBluesky = self.fake  # type: ignore[assignment]
        return [uri for uri, _ in fake.posts()]


CONFIG = "timezone: UTC\naccounts:\n  - name: utla\n    network: x\n    daily_cap: 17\n"
THREAD = (
    "account: utla\nposts:\n  - id: story\n    at: 2026-11-29 11:58\n"
    "    thread: ['One (1/3)', 'Two (2/3)', 'Three (3/3)']\n"
)


@pytest.fixture(params=["memory", "x", "mastodon", "bluesky"])
def world(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch) -> World:
    if request.param == "memory":
        return MemoryWorld()
    if request.param == "bluesky":
        return BlueskyWorld(request.getfixturevalue("fakebluesky"), monkeypatch, tmp_path)
    if request.param == "mastodon":
        return MastodonWorld(request.getfixturevalue("fakemastodon"), monkeypatch, tmp_path)
    fakex = request.getfixturevalue("fakex")
    return XWorld(fakex, monkeypatch, tmp_path)


@pytest.fixture
def publish_with(tmp_path: Path, world: World, clock, no_wait) -> Callable[..., list[Any]]:
    (tmp_path / "megaphone.yaml").write_text(world.config)
    (tmp_path / "posts").mkdir()

    def run(queue: str) -> list[Any]:
        (tmp_path / "posts" / "q.yaml").write_text(queue)
        from megaphone.cli.options import policy
        from megaphone.publish.runs import open_project, publish, select_jobs

        ctx = open_project(tmp_path)
        jobs, invalid = select_jobs(ctx, ids=(), until=None, account_names=())
        assert not invalid
        return publish(
            ctx,
            jobs,
            force=False,
            policy=policy(ctx.project.config, None),
            connect=world.connect,
            skip_settled=True,
        )

    return run


def states(root: Path) -> dict[str, str]:
    return {d.post_id: d.state for d in Ledger(default_url(root)).all()}


def test_a_thread_goes_out_as_a_reply_chain(world: World, publish_with, tmp_path) -> None:
    publish_with(THREAD)
    posted = world.posted()
    ids = world.ids()
    assert [t for t, _ in posted] == ["One (1/3)", "Two (2/3)", "Three (3/3)"]
    assert [r for _, r in posted] == [None, ids[0], ids[1]]
    assert states(tmp_path) == {"story": "published"}


def test_a_threads_posts_take_the_sessions_plain_path(
    world: World, publish_with, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each post is a plain request (see networks/http.py): none goes
    # through requests' general preparation, which costs the sending thread
    # about 0.3 ms more a post.
    if isinstance(world, MemoryWorld):
        pytest.skip("the in-memory network sends no HTTP")
    import requests

    general: list[str] = []
    real = requests.Session.request

    def spy(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        general.append(f"{method} {url}")
        return real(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    publish_with(THREAD)
    assert len(world.posted()) == 3
    creating = ("/2/tweets", "/api/v1/statuses", "com.atproto.repo.putRecord")
    assert [call for call in general if call.endswith(creating)] == []


def test_a_5xx_not_acted_on_is_sent_again(world: World, publish_with, tmp_path) -> None:
    world.fail_create("server_error")
    publish_with(THREAD)
    assert [t for t, _ in world.posted()] == ["One (1/3)", "Two (2/3)", "Three (3/3)"]


def test_a_5xx_acted_on_is_never_sent_twice(world: World, publish_with, tmp_path) -> None:
    world.fail_create("server_error_after")
    publish_with(THREAD)
    assert [t for t, _ in world.posted()] == ["One (1/3)", "Two (2/3)", "Three (3/3)"]
    assert states(tmp_path) == {"story": "published"}


def test_a_rate_limit_is_waited_for(world: World, publish_with, tmp_path, no_wait) -> None:
    world.fail_create("rate_limited")
    publish_with(THREAD)
    assert len(world.posted()) == 3 and no_wait  # it waited (in time travel)


def test_no_answer_after_the_post_was_made_is_recorded_not_resent(
    world: World, publish_with, tmp_path
) -> None:
    world.fail_create("unknown_after")
    publish_with(THREAD)
    assert [t for t, _ in world.posted()] == ["One (1/3)", "Two (2/3)", "Three (3/3)"]
    assert states(tmp_path) == {"story": "published"}


def test_a_thread_stopped_at_part_two_resumes_there_once_settled(
    world: World, publish_with, tmp_path, clock
) -> None:
    # Part 2 never arrives: unknown until a full look, long enough after,
    # settles it; then the thread goes on from part 2.
    world.fail_create("unknown", after=1)
    publish_with(THREAD)
    if world.keyed:
        # Sent again at once with the part's key: no doubt to settle.
        assert [t for t, _ in world.posted()] == ["One (1/3)", "Two (2/3)", "Three (3/3)"]
        return
    assert [t for t, _ in world.posted()] == ["One (1/3)"]
    assert states(tmp_path)["story"] == "unknown"
    clock.shift(timedelta(minutes=3))
    publish_with(THREAD)
    texts = [t for t, _ in world.posted()]
    assert texts == ["One (1/3)", "Two (2/3)", "Three (3/3)"]
    assert states(tmp_path) == {"story": "published"}


def test_the_daily_cap_is_kept(world: World, publish_with, tmp_path) -> None:
    posts = "".join(
        f"  - {{id: p{i}, at: 2026-11-29 11:5{i}, text: Post {i}.}}\n" for i in range(4)
    )
    (tmp_path / "megaphone.yaml").write_text(world.config.replace("17", "3"))
    outcomes = publish_with("account: utla\nposts:\n" + posts)
    assert len(world.posted()) == 3
    assert sorted(o.state for o in outcomes) == ["deferred", "published", "published", "published"]


def answers(world: World) -> tuple[dict[str, str | None], dict[str, str]]:
    """What each text posted answers, and each text's id."""
    posted = dict(world.posted())
    return posted, dict(zip([t for t, _ in world.posted()], world.ids(), strict=True))


def test_a_reply_waits_for_its_post_and_answers_it(world: World, publish_with, tmp_path) -> None:
    queue = (
        "account: utla\nposts:\n"
        "  - {id: answer, at: 2026-11-29 11:58, text: The answer., reply_to: question}\n"
        "  - {id: question, at: 2026-11-29 11:59, text: The question?}\n"
    )
    publish_with(queue)
    posted, ids = answers(world)
    assert posted["The answer."] == ids["The question?"]


def test_a_translation_answers_its_original(world: World, publish_with, tmp_path) -> None:
    queue = (
        "account: utla\nposts:\n"
        "  - id: hub\n    at: 2026-11-29 11:58\n    lang: en\n    variants_as: reply\n"
        "    text: Community schools.\n"
        "    variants:\n      es: {text: Escuelas comunitarias.}\n"
    )
    publish_with(queue)
    posted, ids = answers(world)
    assert posted == {
        "Community schools.": None,
        "Escuelas comunitarias.": ids["Community schools."],
    }
    assert states(tmp_path) == {"hub": "published", "hub/es": "published"}


def test_each_occurrence_goes_out_once(world: World, publish_with, tmp_path, clock) -> None:
    queue = (
        "account: utla\nposts:\n"
        "  - id: stay\n    at: 2026-11-29 11:58\n    repeat: {every: day, count: 2}\n"
        "    text: Stay in the know.\n    rotate: [Follow us for updates.]\n"
    )
    publish_with(queue)
    publish_with(queue)
    clock.shift(timedelta(days=1))
    publish_with(queue)
    publish_with(queue)
    assert [t for t, _ in world.posted()] == ["Stay in the know.", "Follow us for updates."]
    assert states(tmp_path) == {
        "stay@2026-11-29T11:58Z": "published",
        "stay@2026-11-30T11:58Z": "published",
    }


def test_a_network_is_one_folder_and_one_registry_line(
    project, run, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from megaphone import networks
    from tests.memorynet import client

    monkeypatch.setitem(networks.REGISTRY, "memory", "tests.memorynet")
    client.MEMORY.posts.clear()
    config = "timezone: UTC\naccounts:\n  - name: utla\n    network: memory\n"
    root = project(
        {"megaphone.yaml": config},
        q="account: utla\nposts:\n  - {id: one, at: 2026-11-29 11:59, text: 'Hello, memory.'}\n",
    )
    missing = run("publish", "--due", cwd=root)
    assert "MEGAPHONE_UTLA_TOKEN" in missing.output  # its own credential field
    monkeypatch.setenv("MEGAPHONE_UTLA_TOKEN", "a-token")
    result = run("publish", "--due", "-v", cwd=root)
    assert result.exit_code == 0, result.output
    assert [p.text for p in client.MEMORY.posts] == ["Hello, memory."]
    assert "https://memory.example/utlanow/posts/" in result.output
    assert run("validate", cwd=root).exit_code == 0
    monkeypatch.delitem(networks.REGISTRY, "memory")
    refused = run("validate", cwd=root)
    supported = ", ".join(networks.names())
    assert f"network 'memory' is not supported yet (supported: {supported})" in refused.output
