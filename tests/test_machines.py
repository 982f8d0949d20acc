"""Two machines, one PostgreSQL ledger: each worker in its own host name and
process namespace (``unshare --uts --pid`` when the tests run as root; plain
processes otherwise), on its own checkout of the project.  A machine killed
in the middle of a send is taken over by the other within its lease, and
nothing goes out twice."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from megaphone.store.ledger import Ledger
from tests.conftest import ROOT
from tests.fakex import FakeX

pytestmark = pytest.mark.slow

CONFIG = """\
timezone: UTC
project: union
lease: 2s
unknown_after: 10s
accounts:
  - name: utla
    network: x
"""


def machine(name: str, root: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    worker = [
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
        "0.5",
    ]
    if os.geteuid() == 0 and shutil.which("unshare"):
        script = f"hostname {name} && exec " + " ".join(f"'{a}'" for a in worker)
        command = ["unshare", "--uts", "--pid", "--fork", "--mount-proc", "sh", "-c", script]
    else:
        command = worker
    return subprocess.Popen(
        command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


def environment(fakex: FakeX, ledger_url: str) -> dict[str, str]:
    """A machine's environment: the account's keys, the shared ledger."""
    fakex.reject_duplicates = False  # X's own check must not hide a double post
    user = fakex.add_user("utlanow")
    return {
        **os.environ,
        **fakex.env("utla", user),
        "MEGAPHONE_LEDGER_URL": ledger_url,
        "PYTHONPATH": str(ROOT / "src"),
    }


def checkout(root: Path, queue: str) -> Path:
    """One machine's checkout of the project."""
    (root / "posts").mkdir(parents=True)
    (root / "megaphone.yaml").write_text(CONFIG)
    (root / "posts" / "q.yaml").write_text(queue)
    return root


def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_machine_killed_mid_send_is_taken_over_without_a_double(
    fakex: FakeX, postgres_url: str, tmp_path: Path
) -> None:
    env = environment(fakex, postgres_url)
    at = (datetime.now(UTC) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    posts = "".join(f"  - {{id: p{i}, at: '{at}', text: Post {i}.}}\n" for i in range(6))
    checkouts = [
        checkout(tmp_path / name, "account: utla\nposts:\n" + posts) for name in ("a", "b")
    ]
    # Machine A's first post is acted on 4 s after it arrives: A dies in between.
    fakex.fault("POST", "/2/tweets", "slow", delay=4.0)
    a = machine("machine-a", checkouts[0], env, tmp_path / "a.log")
    b: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: ("POST", "/2/tweets") in fakex.arrived, timeout=30)
        os.killpg(a.pid, signal.SIGKILL)
        a.wait(timeout=10)
        killed_at = time.monotonic()
        b = machine("machine-b", checkouts[1], env, tmp_path / "b.log")
        ledger = Ledger(postgres_url, project="union")

        def settled() -> bool:
            rows = ledger.all()
            return len(rows) == 6 and all(r.state == "published" for r in rows)

        wait_until(settled, timeout=90)
        took = time.monotonic() - killed_at
        ledger.close()
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
    counts = Counter(t.sent_text for t in fakex.posted())
    assert counts == Counter(f"Post {i}." for i in range(6)), (
        counts,
        (tmp_path / "b.log").read_text()[-2000:],
    )
    # Within the lease, the lookup's wait (unknown_after) and a few sweeps.
    print(f"taken over and settled {took:.1f} s after the kill")
    assert took < 40, took


def test_a_paused_machine_that_wakes_sends_nothing_twice(
    fakex: FakeX, postgres_url: str, tmp_path: Path
) -> None:
    fakex.latency = 0.3
    env = environment(fakex, postgres_url)
    at = (datetime.now(UTC) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    thread = "".join(f"      - Part {i} of the thread ({i}/8)\n" for i in range(1, 9))
    queue = f"account: utla\nposts:\n  - id: story\n    at: '{at}'\n    thread:\n{thread}"
    checkouts = [checkout(tmp_path / name, queue) for name in ("a", "b")]
    a = machine("machine-a", checkouts[0], env, tmp_path / "a.log")
    b: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: len(fakex.posted()) >= 2, timeout=30)
        os.killpg(a.pid, signal.SIGSTOP)  # paused mid-thread, past its lease
        b = machine("machine-b", checkouts[1], env, tmp_path / "b.log")
        ledger = Ledger(postgres_url, project="union")
        wait_until(lambda: [r.state for r in ledger.all()] == ["published"], timeout=90)
        os.killpg(a.pid, signal.SIGCONT)  # it wakes up, its claim long gone
        time.sleep(3)
        ledger.close()
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
    counts = Counter(t.sent_text for t in fakex.posted())
    assert counts == Counter(f"Part {i} of the thread ({i}/8)" for i in range(1, 9)), counts
    replies = [t.reply_to for t in fakex.posted()]
    ids = [t.id for t in fakex.posted()]
    assert replies == [None, *ids[:-1]]  # one chain, in order


def test_a_database_restart_mid_run_loses_and_doubles_nothing(
    fakex: FakeX, postgres_url: str, pg_cluster: object, tmp_path: Path
) -> None:
    fakex.latency = 0.1
    env = environment(fakex, postgres_url)
    start = datetime.now(UTC) + timedelta(seconds=3)
    posts = "".join(
        f"  - {{id: p{i}, at: '{(start + timedelta(seconds=i)).strftime('%Y-%m-%dT%H:%M:%SZ')}', "
        f"text: Post {i}.}}\n"
        for i in range(8)
    )
    root = checkout(tmp_path / "a", "account: utla\nposts:\n" + posts)
    worker = machine("machine-a", root, env, tmp_path / "a.log")
    try:
        wait_until(lambda: len(fakex.posted()) >= 2, timeout=30)
        pg_cluster.restart()  # type: ignore[attr-defined]
        ledger = Ledger(postgres_url, project="union")

        def settled() -> bool:
            try:
                rows = ledger.all()
            except Exception:
                return False
            return len(rows) == 8 and all(r.state == "published" for r in rows)

        wait_until(settled, timeout=90)
        assert worker.poll() is None, "the worker stopped"
        ledger.close()
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
    counts = Counter(t.sent_text for t in fakex.posted())
    assert counts == Counter(f"Post {i}." for i in range(8)), (
        counts,
        (tmp_path / "a.log").read_text()[-3000:],
    )
