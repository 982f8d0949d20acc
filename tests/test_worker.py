"""`megaphone worker` as a real process against the fake X API."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from megaphone.store.ledger import Ledger, default_url
from tests.fakex import FakeX

CONFIG = (
    "timezone: UTC\n"
    "accounts:\n"
    "  - name: utla\n"
    "    network: x\n"
    "  - name: reclaim-la\n"
    "    network: x\n"
)


def at(seconds: float) -> str:
    """A time ``seconds`` from now, as a queue file writes it."""
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def queue_file(*posts: tuple[str, str, str], account: str = "utla") -> str:
    lines = [f"account: {account}", "posts:"]
    for post_id, when, text in posts:
        lines += [f"  - id: {post_id}", f"    at: '{when}'", f"    text: {text}"]
    return "\n".join(lines) + "\n"


class WorkerProcess:
    def __init__(self, root: Path, env: dict[str, str], *extra: str) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "megaphone",
                "worker",
                str(root),
                "--log-format",
                "json",
                "--poll",
                "0.2",
                "--sweep",
                "1",
                *extra,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                self.events.put({"event": "unparsed", "message": line})

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15
    ) -> dict[str, Any]:
        for event in self.seen:
            if predicate(event):
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(event)
            if predicate(event):
                return event
        stderr = self.stop() if self.process.poll() is None else ""
        raise AssertionError(f"no such event; seen {self.seen}; {stderr}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> str:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        assert self.process.stderr is not None
        err = self.process.stderr.read()
        self._reader.join(timeout=5)  # stdout is the reader's alone
        while not self.events.empty():
            self.seen.append(self.events.get())
        return err


@pytest.fixture
def env(fakex: FakeX) -> dict[str, str]:
    values = dict(os.environ)
    values.update(fakex.env("utla", fakex.add_user("utlanow")))
    values.update(fakex.env("reclaim-la", fakex.add_user("reclaimla")))
    return values


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "megaphone.yaml").write_text(CONFIG)
    (tmp_path / "posts").mkdir()
    return tmp_path


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        if w.process.poll() is None:
            w.stop(signal.SIGKILL)


def wait_until(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_publishes_on_time_and_follows_edits(
    fakex: FakeX, env: dict[str, str], root: Path, workers: list[WorkerProcess]
) -> None:
    posts = root / "posts"
    soon = at(2)
    (posts / "a.yaml").write_text(
        queue_file(("soon", soon, "Out in two seconds."), ("later", at(3600), "Out in an hour."))
    )
    w = WorkerProcess(root, env)
    workers.append(w)
    w.wait_for(lambda e: e["event"] == "started")
    published = w.wait_for(lambda e: e["event"] == "published" and e["post"] == "soon")
    [tweet] = fakex.posted()
    assert tweet.sent_text == "Out in two seconds."
    lateness = (tweet.created_at - datetime.fromisoformat(soon)).total_seconds()
    assert -0.1 <= lateness < 1.5, lateness
    assert published["url"].endswith(tweet.id)
    # Edit: the hour-later post moves to two seconds from now.
    (posts / "a.yaml").write_text(
        queue_file(("soon", soon, "Out in two seconds."), ("later", at(2), "Out in an hour."))
    )
    w.wait_for(lambda e: e["event"] == "rescheduled" and e["post"] == "later")
    w.wait_for(lambda e: e["event"] == "published" and e["post"] == "later")
    # A new post, then removed before its time: never sent.
    (posts / "b.yaml").write_text(queue_file(("gone", at(3), "Never sent.")))
    w.wait_for(lambda e: e["event"] == "scheduled" and e["post"] == "gone")
    (posts / "b.yaml").unlink()
    w.wait_for(lambda e: e["event"] == "cancelled" and e["post"] == "gone")
    # A broken file is reported; a good one still publishes; the broken
    # file's last good version keeps its schedule.
    (posts / "c.yaml").write_text(queue_file(("kept", at(4), "From the last good version.")))
    w.wait_for(lambda e: e["event"] == "scheduled" and e["post"] == "kept")
    (posts / "c.yaml").write_text("account: utla\nposts:\n  - id: kept\n    text: [broken\n")
    (posts / "d.yaml").write_text(queue_file(("fine", at(2), "A good file publishes.")))
    w.wait_for(lambda e: e["event"] == "file-error" and e.get("file") == "posts/c.yaml")
    w.wait_for(lambda e: e["event"] == "published" and e["post"] == "fine")
    w.wait_for(lambda e: e["event"] == "published" and e["post"] == "kept")
    time.sleep(1.5)  # past the removed post's time (real time: a real process)
    assert "Never sent." not in {t.sent_text for t in fakex.posted()}
    assert w.stop() is not None and w.process.returncode == 0
    assert w.seen[-1]["event"] == "stopped"


def test_one_worker_per_project_and_status_shows_it(
    fakex: FakeX, env: dict[str, str], root: Path, workers: list[WorkerProcess], run
) -> None:
    (root / "posts" / "a.yaml").write_text(queue_file(("later", at(3600), "Later.")))
    w = WorkerProcess(root, env)
    workers.append(w)
    w.wait_for(lambda e: e["event"] == "started")
    second = subprocess.run(
        [sys.executable, "-m", "megaphone", "worker", str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 75
    assert f"already running (pid {w.process.pid})" in second.stderr
    wait_until(lambda: (root / ".megaphone" / "ledger.db").exists())
    time.sleep(1.2)  # one sweep: the heartbeat
    status = run("status", cwd=root)
    assert "worker: running since" in status.output
    assert f"pid {w.process.pid}" in status.output and "later" in status.output
    w.stop()
    assert w.process.returncode == 0
    assert "worker: stopped at" in run("status", cwd=root).output


def test_sigterm_lets_a_thread_finish(
    fakex: FakeX, env: dict[str, str], root: Path, workers: list[WorkerProcess]
) -> None:
    fakex.latency = 0.4
    (root / "posts" / "t.yaml").write_text(
        "account: utla\nposts:\n  - id: thread\n"
        f"    at: '{at(1)}'\n    thread: [one, two, three, four]\n"
    )
    w = WorkerProcess(root, env)
    workers.append(w)
    wait_until(lambda: len(fakex.posted()) >= 1)
    w.stop(signal.SIGTERM)
    assert w.process.returncode == 0
    assert [t.sent_text for t in fakex.posted()] == ["one", "two", "three", "four"]
    ledger = Ledger(default_url(root), create=False)
    assert ledger.get("thread", "utla").state == "published"  # type: ignore[union-attr]


def test_dry_run_sends_nothing(
    fakex: FakeX, env: dict[str, str], root: Path, workers: list[WorkerProcess]
) -> None:
    (root / "posts" / "a.yaml").write_text(queue_file(("soon", at(1), "Would go out.")))
    w = WorkerProcess(root, env, "--dry-run")
    workers.append(w)
    w.wait_for(lambda e: e["event"] == "would-send" and e["post"] == "soon")
    w.stop()
    assert fakex.requests == [] and not (root / ".megaphone" / "ledger.db").exists()


def _burst(root: Path, n: int, start: float) -> dict[str, str]:
    texts = {}
    for account in ("utla", "reclaim-la"):
        posts = [(f"{account}-{i}", at(start), f"{account} burst post {i}") for i in range(n)]
        (root / "posts" / f"{account}.yaml").write_text(queue_file(*posts, account=account))
        texts.update({p: t for p, _, t in posts})
    return texts


def test_worker_and_cron_runs_together_never_double_post(
    fakex: FakeX, env: dict[str, str], root: Path, workers: list[WorkerProcess]
) -> None:
    fakex.reject_duplicates = False
    fakex.latency = 0.01
    texts = _burst(root, 12, -5)  # due already: the worker and cron race for them
    w = WorkerProcess(root, env)
    workers.append(w)
    crons = [
        subprocess.Popen(
            [sys.executable, "-m", "megaphone", "publish", "--due", "--no-lock", "-C", str(root)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    for c in crons:
        c.communicate(timeout=60)
    wait_until(lambda: len(fakex.posted()) >= len(texts), timeout=30)
    time.sleep(1.5)  # a sweep more: nothing else goes out
    counts = Counter(t.sent_text for t in fakex.posted())
    assert all(counts[t] == 1 for t in texts.values()), counts
    assert sum(counts.values()) == len(texts)
    w.stop()


def test_killed_worker_restarts_without_doubles_or_losses(
    fakex: FakeX, env: dict[str, str], root: Path, workers: list[WorkerProcess]
) -> None:
    import random

    fakex.reject_duplicates = False
    fakex.latency = 0.05
    texts = _burst(root, 15, 1.5)
    w = WorkerProcess(root, env)
    workers.append(w)
    wait_until(lambda: len(fakex.posted()) >= 1, timeout=20)
    time.sleep(random.uniform(0.1, 0.8))
    w.stop(signal.SIGKILL)
    again = WorkerProcess(root, env)
    workers.append(again)
    ledger = Ledger(default_url(root), create=False)

    def settled() -> bool:
        rows = ledger.all()
        return len(rows) == len(texts) and all(
            r.state not in ("scheduled", "publishing") for r in rows
        )

    wait_until(settled, timeout=40)
    again.stop()
    counts = Counter(t.sent_text for t in fakex.posted())
    for row in ledger.all():
        text = texts[row.post_id]
        assert counts[text] <= 1, f"sent twice: {text}"
        if row.state == "published":
            assert counts[text] == 1
        else:
            assert row.state == "unknown", (row.post_id, row.state, row.error)


def test_after_downtime_due_posts_go_out_and_old_ones_are_missed(
    fakex: FakeX, env: dict[str, str], root: Path, workers: list[WorkerProcess]
) -> None:
    (root / "posts" / "a.yaml").write_text(
        queue_file(
            ("recent", at(-600), "Due ten minutes ago, still within the grace period."),
            ("old", at(-7200), "Due two hours ago, missed."),
        )
    )
    w = WorkerProcess(root, env)
    workers.append(w)
    published = w.wait_for(lambda e: e["event"] == "published")
    assert published["post"] == "recent" and 590 < published["late"] < 700
    missed = w.wait_for(lambda e: e["event"] == "missed")
    assert missed["post"] == "old"
    w.stop()
    assert [t.sent_text for t in fakex.posted()] == [
        "Due ten minutes ago, still within the grace period."
    ]


def test_a_post_a_person_retries_goes_out_from_the_worker(
    fakex: FakeX, env: dict[str, str], root: Path, workers: list[WorkerProcess]
) -> None:
    """`megaphone retry` makes a failed post "retry" in the ledger: the
    running worker must see it as still to publish, like every command."""
    from click.testing import CliRunner

    from megaphone.cli.main import cli

    (root / "posts" / "a.yaml").write_text(queue_file(("refused", at(1), "Refused once.")))
    fakex.fault("POST", "/2/tweets", "status", status=400, times=1)
    w = WorkerProcess(root, env)
    workers.append(w)
    w.wait_for(lambda e: e["event"] == "failed" and e["post"] == "refused")
    result = CliRunner().invoke(cli, ["-C", str(root), "retry", "refused"])
    assert result.exit_code == 0, result.output
    w.wait_for(lambda e: e["event"] == "published" and e["post"] == "refused", timeout=20)
    assert [t.sent_text for t in fakex.posted()] == ["Refused once."]
    w.stop()


def test_every_worker_has_its_own_heartbeat_and_status_lists_them(
    fakex: FakeX, env: dict[str, str], root: Path, workers: list[WorkerProcess]
) -> None:
    """Two workers on one ledger (two machines' worth): each beats under its
    own key, and status shows both, not one of them."""
    import shutil

    (root / "posts" / "a.yaml").write_text(queue_file(("later", at(3600), "Later.")))
    shared = f"sqlite:///{root / 'shared.db'}"
    other = root.parent / (root.name + "-b")
    shutil.copytree(root, other)
    (root / "megaphone.yaml").write_text(CONFIG + "project: union\n")
    (other / "megaphone.yaml").write_text(CONFIG + "project: union\n")
    env = {**env, "MEGAPHONE_LEDGER_URL": shared}
    for folder in (root, other):
        w = WorkerProcess(folder, env)
        workers.append(w)
        w.wait_for(lambda e: e["event"] == "started")
    from click.testing import CliRunner

    from megaphone.cli.main import cli

    def status() -> str:
        os.environ["MEGAPHONE_LEDGER_URL"] = shared
        try:
            return CliRunner().invoke(cli, ["-C", str(root), "status"]).output
        finally:
            del os.environ["MEGAPHONE_LEDGER_URL"]

    wait_until(lambda: status().count("worker: running since") == 2)
    pids = {str(w.process.pid) for w in workers}
    out = status()
    assert all(f"pid {pid}" in out for pid in pids), out
    workers[1].stop()
    wait_until(lambda: "stopped at" in status())
    assert status().count("worker: running since") == 1
