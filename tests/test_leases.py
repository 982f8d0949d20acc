"""Claims are leases: a sender that lost its claim sends nothing, a paused
sender is fenced out when it wakes, and a pid says something only on the
machine (boot, namespace) that made it."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from megaphone.store.lease import Machine, Owner, claim_abandoned, this_machine
from megaphone.store.ledger import Ledger, default_url
from tests.conftest import png_bytes, sign_in
from tests.fakex import FakeX, User


def _due() -> str:
    return (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def make(root: Path, *, lease: str | None = None, media: bool = True) -> Path:
    config = "timezone: UTC\naccounts:\n  - name: utla\n    network: x\n"
    if lease:
        config += f"lease: {lease}\n"
    (root / "megaphone.yaml").write_text(config)
    (root / "posts").mkdir()
    (root / "posts" / "car.png").write_bytes(png_bytes())
    picture = "    media: [{path: car.png, alt: A car.}]\n" if media else ""
    (root / "posts" / "q.yaml").write_text(
        f"account: utla\nposts:\n  - id: caravan\n    at: '{_due()}'\n"
        f"    text: The caravan rolls at noon.\n{picture}"
    )
    return root


@pytest.fixture
def user(fakex: FakeX, monkeypatch: pytest.MonkeyPatch) -> User:
    return sign_in(fakex, monkeypatch, "utla", "utlanow")


def token_of(machine: Machine, pid: int, started: str | None = "1") -> str:
    """An owner token as a process ``pid`` on ``machine`` makes it."""
    fields = Owner.new(machine).token.split("|")
    fields[3], fields[4] = str(pid), started or "-"
    return "|".join(fields)


def hold(root: Path, token: str, *, lease_for: float = 60.0) -> None:
    """The post ``caravan`` claimed by ``token``, its lease running."""
    ledger = Ledger(default_url(root))
    now = datetime.now(UTC)
    claimed = ledger.claim(
        "caravan",
        "utla",
        token=token,
        now=now,
        lease_until=now + timedelta(seconds=lease_for),
        create={"network": "x", "queue": "posts/q.yaml", "scheduled_at": now, "digest": "d"},
    )
    assert claimed is not None
    ledger.close()


def state(root: Path) -> str:
    row = Ledger(default_url(root), create=False).get("caravan", "utla")
    assert row is not None
    return row.state


def test_the_lease_alone_decides_across_machines() -> None:
    me = Owner.new()
    now = datetime.now(UTC)
    live, gone = now + timedelta(seconds=30), now - timedelta(seconds=1)
    here = this_machine()
    dead_pid = 4_194_000  # above any pid in use here
    twin = replace(here, boot="another-boot-id")  # a cloned VM: same host name
    other_ns = replace(here, namespace="4026531999")  # another container
    # Another machine's claim: its pid means nothing here.
    assert not claim_abandoned(token_of(twin, dead_pid), live, now, me)
    assert not claim_abandoned(token_of(other_ns, dead_pid), live, now, me)
    assert claim_abandoned(token_of(twin, dead_pid), gone, now, me)
    # This machine's: a process that is gone frees it at once...
    assert claim_abandoned(token_of(here, dead_pid), live, now, me)
    # ...and so does this very pid under another token (pid 1, restarted).
    assert claim_abandoned(token_of(here, os.getpid()), live, now, me)
    # A live process with the same start time keeps it; one started since
    # (the pid reused) does not.
    parent = os.getppid()
    from megaphone.store.lease import process_start

    assert not claim_abandoned(token_of(here, parent, process_start(parent)), live, now, me)
    assert claim_abandoned(token_of(here, parent, "12"), live, now, me)
    assert not claim_abandoned(me.token, live, now, me)
    # A token of an older megaphone: only the lease.
    assert not claim_abandoned(f"{socket.gethostname()}:{dead_pid}:abcd", live, now, me)


def test_a_twin_machines_live_claim_is_left_alone(
    fakex: FakeX, user: User, tmp_path: Path, run
) -> None:
    root = make(tmp_path, media=False)
    twin = replace(this_machine(), boot="another-boot-id")
    hold(root, token_of(twin, 4_194_000))
    result = run("publish", "--due", "-v", cwd=root)
    assert "another run is publishing it" in result.output, result.output
    assert fakex.posted() == [] and state(root) == "publishing"


def test_a_claim_of_a_process_gone_from_this_machine_is_reconciled_at_once(
    fakex: FakeX, user: User, tmp_path: Path, run
) -> None:
    root = make(tmp_path, media=False)
    hold(root, token_of(this_machine(), 4_194_000))
    result = run("publish", "--due", "-v", cwd=root)
    assert result.exit_code == 0, result.output
    assert len(fakex.posted()) == 1 and state(root) == "published"


def test_a_restarted_pid1_worker_reconciles_its_own_stale_claim(
    fakex: FakeX, user: User, tmp_path: Path, run
) -> None:
    # The claim was made by this pid in an earlier life (a container's pid 1).
    root = make(tmp_path, media=False)
    hold(root, token_of(this_machine(), os.getpid()))
    result = run("publish", "--due", "-v", cwd=root)
    assert result.exit_code == 0, result.output
    assert len(fakex.posted()) == 1 and state(root) == "published"


def test_a_sender_whose_claim_is_taken_over_mid_upload_sends_nothing(
    fakex: FakeX, user: User, tmp_path: Path
) -> None:
    from megaphone.publish.runs import open_project, publish, select_jobs

    root = make(tmp_path)
    fakex.fault("POST", "/2/media/upload", "slow", delay=1.5)
    ctx = open_project(root)
    jobs, _ = select_jobs(ctx, ids=(), until=None, account_names=())
    from megaphone.cli.options import policy

    outcomes: list[Any] = []
    rules = policy(ctx.project.config, None)
    sender = threading.Thread(
        target=lambda: outcomes.extend(publish(ctx, jobs, force=False, policy=rules))
    )
    sender.start()
    deadline = time.monotonic() + 10
    while ("POST", "/2/media/upload") not in fakex.arrived:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # Another machine takes the claim over (say, its clock runs ahead).
    twin = replace(this_machine(), boot="another-boot-id")
    with sqlite3.connect(root / ".megaphone" / "ledger.db") as db:
        db.execute("UPDATE deliveries SET claimed_by = ?", (token_of(twin, 4_194_000),))
    sender.join(20)
    assert fakex.count("POST", "/2/tweets") == 0 and fakex.posted() == []
    [outcome] = outcomes
    assert outcome.state == "skipped" and "taken over" in outcome.message


def _publish_paused_before_sending(
    root: Path, monkeypatch: pytest.MonkeyPatch, *, meanwhile: Any = None
) -> list[Any]:
    """Publish ``root``'s post with the sender paused, once, between the
    part's fence and its request, for longer than the fence allows (as a
    frozen process would be); ``meanwhile`` runs during the pause."""
    from megaphone.cli.options import policy
    from megaphone.publish.runs import open_project, publish, select_jobs
    from megaphone.publish.send import Sender

    real = Sender._send_by
    paused: list[float] = []

    def send_by(self: Sender, fenced_at: float) -> float:
        if paused:
            return real(self, fenced_at)
        paused.append(fenced_at)
        if meanwhile is not None:
            meanwhile()
        return fenced_at - 1.0  # woken past it

    monkeypatch.setattr(Sender, "_send_by", send_by)
    ctx = open_project(root)
    jobs, _ = select_jobs(ctx, ids=(), until=None, account_names=())
    outcomes = publish(ctx, jobs, force=False, policy=policy(ctx.project.config, None))
    assert paused, "the sender never came to send"
    return outcomes


@pytest.mark.parametrize("media", [True, False])
def test_a_sender_paused_after_its_fence_sends_nothing_once_taken_over(
    fakex: FakeX, user: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, media: bool
) -> None:
    # The fence passed, then the process froze; another machine took the
    # post over meanwhile.  Awake, the request must not leave: X has no key
    # to tell the two sends apart.
    root = make(tmp_path, media=media)
    twin = replace(this_machine(), boot="another-boot-id")

    def take_over() -> None:
        with sqlite3.connect(root / ".megaphone" / "ledger.db") as db:
            db.execute("UPDATE deliveries SET claimed_by = ?", (token_of(twin, 4_194_000),))

    [outcome] = _publish_paused_before_sending(root, monkeypatch, meanwhile=take_over)
    assert fakex.count("POST", "/2/tweets") == 0 and fakex.posted() == []
    assert outcome.state == "skipped" and "taken over" in outcome.message


def test_a_sender_paused_after_its_fence_fences_again_and_sends_once(
    fakex: FakeX, user: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nobody took the post over: fenced again, it goes out, once.
    root = make(tmp_path, media=False)
    [outcome] = _publish_paused_before_sending(root, monkeypatch)
    assert outcome.state == "published"
    assert [t.sent_text for t in fakex.posted()] == ["The caravan rolls at noon."]
    assert state(root) == "published"


def freeze_between_writes(pid: int, db: Path) -> None:
    """Stop process ``pid`` at a moment it holds no write on the SQLite
    ledger ``db``.  Its lease renewals write every quarter lease: one frozen
    inside a write holds the database until it wakes, and the other runs
    wait for it (30 s) and then stop, saying the ledger is locked, their
    posts left as they were.  That is SQLite's way, not this test's case."""
    for _ in range(200):
        os.kill(pid, signal.SIGSTOP)
        stat = Path(f"/proc/{pid}/stat")
        while stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] not in "Tt":
            time.sleep(0.001)
        probe = sqlite3.connect(db, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:  # frozen inside a write: try again
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.01)
        finally:
            probe.close()
    raise AssertionError("the run never stopped between two writes")


@pytest.mark.slow
def test_a_paused_sender_resumed_after_its_lease_sends_nothing(
    fakex: FakeX, user: User, tmp_path: Path
) -> None:
    root = make(tmp_path, lease="1s")
    fakex.reject_duplicates = False  # X's own check must not be what saves us
    fakex.fault("POST", "/2/media/upload", "slow", delay=2.0)
    env = {k: v for k, v in os.environ.items() if k != "MEGAPHONE_DEBUG"}
    command = [sys.executable, "-m", "megaphone", "publish", "--due", "--no-lock", "-v"]
    first = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while ("POST", "/2/media/upload") not in fakex.arrived:
            assert time.monotonic() < deadline, "the first run never uploaded"
            time.sleep(0.01)
        freeze_between_writes(first.pid, root / ".megaphone" / "ledger.db")  # a frozen VM
        time.sleep(2.5)  # past its lease
        second = subprocess.run(
            command, cwd=root, env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 0, second.stdout + second.stderr
        assert len(fakex.posted()) == 1
    finally:
        os.kill(first.pid, signal.SIGCONT)
    output, _ = first.communicate(timeout=60)
    assert len(fakex.posted()) == 1, output
    assert "taken over" in output, output
    assert state(root) == "published"
