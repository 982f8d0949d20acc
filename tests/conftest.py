from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from click.testing import CliRunner, Result
from hypothesis import settings

from megaphone.cli.main import cli
from tests.fakebluesky import FakeBluesky
from tests.fakemastodon import FakeMastodon
from tests.fakex import FakeX, User

# No per-example deadline: a busy CI machine must not turn a slow example into
# a failure (the properties are what is tested, not the speed).
settings.register_profile("megaphone", deadline=None, print_blob=True)
settings.load_profile("megaphone")

ROOT = Path(__file__).resolve().parents[1]
#: A fixed "now" for every test that depends on it: before every example post.
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

#: A queue with one good post.
GOOD = """\
account: utla
posts:
  - id: hello
    at: 2026-12-01 09:00
    text: Hello, world.
"""

CONFIG = """\
timezone: America/Los_Angeles
accounts:
  - name: utla
    network: x
  - name: reclaim-la
    network: x
"""


@pytest.fixture
def frozen_now() -> Iterator[datetime]:
    with time_machine.travel(NOW, tick=False):
        yield NOW


Write = Callable[..., Path]


@pytest.fixture
def project(tmp_path: Path) -> Write:
    """Write files into a fresh project folder (with a megaphone.yaml unless
    one is given) and return the folder."""
    (tmp_path / "megaphone.yaml").write_text(CONFIG, encoding="utf-8")

    def write(files: dict[str, str | bytes] | None = None, **queues: str) -> Path:
        for name, content in {
            **(files or {}),
            **{f"posts/{k}.yaml": v for k, v in queues.items()},
        }.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(textwrap.dedent(content), encoding="utf-8")
        return tmp_path

    return write


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run the command line in a folder, as a user would."""

    def invoke(*args: str, cwd: Path) -> Result:
        monkeypatch.chdir(cwd)
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def png_bytes(width: int = 8, height: int = 8) -> bytes:
    import struct
    import zlib

    raw = zlib.compress(b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height)))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """Time stands at NOW; waiting moves it on, instantly."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def no_wait(clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait of the publisher travels in time instead of sleeping."""
    waits: list[float] = []

    def travel(_self: object, seconds: float) -> None:
        waits.append(seconds)
        clock.shift(timedelta(seconds=seconds))

    monkeypatch.setattr("megaphone.publish.publisher.Clock.sleep", travel)
    monkeypatch.setattr(
        "megaphone.networks.mastodon.client._wait", lambda seconds: travel(None, seconds)
    )
    return waits


def sign_in(
    fakex: FakeX, monkeypatch: pytest.MonkeyPatch, account: str = "utla", username: str = "utlanow"
) -> User:
    """A user on the fake X whose credentials are ``account``'s variables."""
    made = fakex.add_user(username)
    for key, value in fakex.env(account, made).items():
        monkeypatch.setenv(key, value)
    return made


@pytest.fixture
def fakemastodon() -> Iterator[FakeMastodon]:
    """A fake Mastodon instance on 127.0.0.1 (see tests/fakemastodon.py)."""
    server = FakeMastodon().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """One throw-away PostgreSQL cluster for the test run (tests/pgserver.py)."""
    from tests.pgserver import Cluster, binaries

    if binaries() is None:
        pytest.skip("PostgreSQL is not installed here (no initdb); .ci/run installs it")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install -e '.[postgres]'")
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def postgres_url(pg_cluster: Any, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the test cluster."""
    import re

    name = "t_" + re.sub(r"[^a-z0-9]", "_", request.node.name.lower())[:50]
    url: str = pg_cluster.new_database(name)
    return url


@pytest.fixture
def fakebluesky() -> Iterator[FakeBluesky]:
    """A fake Bluesky PDS on 127.0.0.1 (see tests/fakebluesky.py)."""
    server = FakeBluesky().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fakex() -> Iterator[FakeX]:
    """A fake X API on 127.0.0.1 (see tests/fakex.py)."""
    server = FakeX().start()
    try:
        yield server
    finally:
        server.stop()
