"""Notifications through apprise to a fake webhook receiver on 127.0.0.1,
and `status --check` for monitoring."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from megaphone.store.ledger import Ledger, default_url
from tests.conftest import sign_in
from tests.fakex import FakeX, User
from tests.test_publish import publish

CONFIG = (
    "timezone: UTC\n"
    "accounts:\n"
    "  - name: utla\n"
    "    network: x\n"
    "  - name: reclaim-la\n"
    "    network: x\n"
)
TOKEN = "s3cr3t-webhook-token"


class Receiver:
    """A webhook receiver: keeps what it is sent; can hang or refuse."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.hang = 0.0
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.hang:
                    time.sleep(receiver.hang)
                receiver.paths.append(self.path)
                try:
                    receiver.messages.append(json.loads(body or b"{}"))
                except ValueError:
                    receiver.messages.append({"raw": body.decode("utf-8", "replace")})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "hook") -> str:
        host, port = self.server.server_address[:2]
        return f"json://{host!s}:{port}/{path}?token={TOKEN}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def user(fakex: FakeX, monkeypatch: pytest.MonkeyPatch) -> User:
    return sign_in(fakex, monkeypatch, "utla", "utlanow")


def failing(n: int) -> str:
    posts = "".join(
        f"  - {{id: post-{i}, at: 2026-11-29 11:5{i % 10}, text: Post number {i}.}}\n"
        for i in range(n)
    )
    return "account: utla\nposts:\n" + posts


def test_a_failed_post_sends_one_message_with_what_to_do(
    fakex: FakeX, user: User, project, run, clock, receiver: Receiver, monkeypatch
) -> None:
    monkeypatch.setenv("MEGAPHONE_NOTIFY", receiver.url())
    root = project({"megaphone.yaml": CONFIG}, q=failing(1))
    fakex.fault("POST", "/2/tweets", "status", status=400, body={"detail": "Bad request"})
    result = publish(run, root, "--due")
    assert result.exit_code == 1
    [message] = receiver.messages
    assert "post-0" in message["message"] and "utla" in message["message"]
    assert "x" in message["message"] and "megaphone retry post-0" in message["message"]
    assert "failed" in message["title"]
    assert TOKEN not in result.output
    # The next run does not tell the same post and state again.
    publish(run, root, "--due")
    assert len(receiver.messages) == 1


def test_forty_failures_are_one_message_per_destination(
    fakex: FakeX, user: User, project, run, clock, receiver: Receiver, monkeypatch
) -> None:
    config = CONFIG + f"notify:\n  - {receiver.url('one')}\n  - url: {receiver.url('two')}\n"
    config += "    events: [failed]\n    accounts: [utla]\n"
    root = project({"megaphone.yaml": config}, q=failing(40))
    fakex.fault("POST", "/2/tweets", "status", status=400, times=40, body={"detail": "No"})
    result = publish(run, root, "--due")
    assert "40 failed" in result.output
    assert sorted(p.split("?")[0] for p in receiver.paths) == ["/one", "/two"]
    for message in receiver.messages:
        assert message["message"].count("\n") == 39  # forty lines, one message
        assert "40 posts need attention" in message["title"]


def test_a_destination_that_hangs_or_refuses_changes_nothing(
    fakex: FakeX, user: User, project, run, clock, receiver: Receiver, monkeypatch
) -> None:
    import megaphone.publish.notify

    monkeypatch.setattr(megaphone.publish.notify, "DEADLINE", 1.0)
    receiver.hang = 5.0
    monkeypatch.setenv("MEGAPHONE_NOTIFY", f"{receiver.url()} json://127.0.0.1:9/refused")
    root = project({"megaphone.yaml": CONFIG}, q=failing(1))
    fakex.fault("POST", "/2/tweets", "status", status=400, body={"detail": "No"})
    started = time.monotonic()
    result = publish(run, root, "--due")
    assert time.monotonic() - started < 4
    assert result.exit_code == 1  # the post's failure, not the notifications'
    assert result.output.count("notification to json destination") == 2
    assert TOKEN not in result.output and "127.0.0.1:9" not in result.output
    ledger_file = (root / ".megaphone" / "ledger.db").read_bytes()
    assert TOKEN.encode() not in ledger_file


def test_a_published_post_is_announced_only_when_asked(
    fakex: FakeX, user: User, project, run, clock, receiver: Receiver
) -> None:
    config = CONFIG + f"notify:\n  - url: {receiver.url()}\n    events: [published]\n"
    root = project({"megaphone.yaml": config}, q=failing(1))
    assert publish(run, root, "--due").exit_code == 0
    [message] = receiver.messages
    assert (
        "published" in message["message"] and "https://x.com/utlanow/status/" in message["message"]
    )


def test_notify_test_says_which_destinations_work(
    project, run, receiver: Receiver, monkeypatch
) -> None:
    monkeypatch.setenv("MEGAPHONE_NOTIFY", f"{receiver.url()} json://127.0.0.1:9/refused")
    root = project({"megaphone.yaml": CONFIG})
    result = run("notify", "test", cwd=root)
    assert result.exit_code == 1
    assert "✓ json destination 1" in result.output and "✗ json destination 2" in result.output
    assert TOKEN not in result.output
    assert len(receiver.messages) == 1


def test_a_notify_url_in_the_configuration_is_never_quoted(project, run) -> None:
    config = (
        CONFIG + f"notify:\n  - url: not-a-url-{TOKEN}\n  - url: json://h\n    events: [nonsense]\n"
    )
    root = project({"megaphone.yaml": config}, q=failing(1))
    result = run("validate", cwd=root)
    assert result.exit_code == 1 and TOKEN not in result.output
    assert "nonsense" in result.output


def test_status_check_for_monitoring(
    fakex: FakeX, user: User, project, run, clock, receiver: Receiver
) -> None:
    root = project({"megaphone.yaml": CONFIG}, q=failing(1))
    fresh = run("status", "--check", cwd=root)
    assert fresh.exit_code == 0 and fresh.output.startswith("megaphone OK")
    fakex.fault("POST", "/2/tweets", "status", status=400, body={"detail": "No"})
    publish(run, root, "--due")
    bad = run("status", "--check", cwd=root)
    assert bad.exit_code == 1 and "1 failed" in bad.output and "post-0" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
    assert run("status", "--check", "--hours", "0", cwd=root).exit_code == 2
    # A worker whose heartbeat stopped without a clean stop.
    from datetime import timedelta

    clock.shift(timedelta(days=2))
    assert run("status", "--check", cwd=root).exit_code == 0  # the failure is old now
    from megaphone.store.heartbeat import HEARTBEAT_KEY, Heartbeat

    ledger = Ledger(default_url(root))
    old = Heartbeat(1, "host", clock_now(), clock_now() - timedelta(minutes=5), False)
    ledger.set_meta(HEARTBEAT_KEY, old.to_json())
    stale = run("status", "--check", cwd=root)
    assert stale.exit_code == 1 and "heartbeat is stale" in stale.output


def clock_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.mark.slow
def test_the_worker_tells_of_an_unclean_stop(
    project, receiver: Receiver, tmp_path, monkeypatch
) -> None:
    import os
    import signal
    import subprocess
    import sys
    from datetime import UTC, datetime, timedelta

    from megaphone.store.heartbeat import HEARTBEAT_KEY, Heartbeat

    root = project({"megaphone.yaml": CONFIG}, q="account: utla\nposts: []\n")
    ledger = Ledger(default_url(root))
    now = datetime.now(UTC)
    import socket

    # A worker of this machine that crashed (another machine's would be its own).
    crashed = Heartbeat(
        4_194_000, socket.gethostname(), now - timedelta(hours=1), now - timedelta(minutes=9), False
    )
    ledger.set_meta(HEARTBEAT_KEY, crashed.to_json())
    ledger.close()
    env = {**os.environ, "MEGAPHONE_NOTIFY": receiver.url(), "PYTHONFAULTHANDLER": "1"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "megaphone", "worker", str(root), "--sweep", "0.5"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not receiver.messages and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.send_signal(signal.SIGABRT)
            output, _ = worker.communicate()
            raise AssertionError(f"the worker did not stop:\n{output}") from None
    assert receiver.messages, output
    assert "worker-stopped" in receiver.messages[0]["message"]
    assert TOKEN not in output


def test_destinations_may_come_from_the_projects_env_file(
    project, run, receiver: Receiver, monkeypatch
) -> None:
    monkeypatch.delenv("MEGAPHONE_NOTIFY", raising=False)
    root = project({"megaphone.yaml": CONFIG, ".env": f"MEGAPHONE_NOTIFY='{receiver.url()}'\n"})
    result = run("notify", "test", cwd=root)
    assert result.exit_code == 0 and "(from MEGAPHONE_NOTIFY)" in result.output
    assert len(receiver.messages) == 1
