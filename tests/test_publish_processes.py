"""Real `megaphone publish` processes against the fake X API: two at once,
and processes killed with SIGKILL at random moments.  Whatever happens, every
post is on X exactly once, or visibly `unknown` — never twice, never lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from megaphone.store.ledger import Ledger, default_url
from tests.conftest import png_bytes
from tests.fakex import FakeX

ACCOUNTS = ("utla", "reclaim-la", "alliance")


def make_project(root: Path, *, posts_per_account: int) -> dict[tuple[str, str], list[str]]:
    """A project with due posts (one a thread with an image) for three
    accounts; returns the texts of each (post id, account)."""
    at = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    (root / "megaphone.yaml").write_text(
        "timezone: UTC\naccounts:\n" + "".join(f"  - name: {a}\n    network: x\n" for a in ACCOUNTS)
    )
    (root / "posts").mkdir()
    (root / "posts" / "car.png").write_bytes(png_bytes())
    expected: dict[tuple[str, str], list[str]] = {}
    for account in ACCOUNTS:
        lines = [f"account: {account}", "posts:"]
        for i in range(posts_per_account):
            post_id = f"{account}-{i}"
            if i == 1:
                texts = [f"{post_id} thread part {n}" for n in (1, 2, 3)]
                lines += [
                    f"  - id: {post_id}",
                    f"    at: '{at}'",
                    "    thread:",
                    f"      - text: {texts[0]}",
                    "        media: [{path: car.png, alt: A car.}]",
                    f"      - {texts[1]}",
                    f"      - {texts[2]}",
                ]
            else:
                texts = [f"Post {post_id} - the union's update number {i}."]
                lines += [f"  - id: {post_id}", f"    at: '{at}'", f"    text: {texts[0]}"]
            expected[(post_id, account)] = texts
        (root / "posts" / f"{account}.yaml").write_text("\n".join(lines) + "\n")
    return expected


@pytest.fixture
def env(fakex: FakeX) -> dict[str, str]:
    values = dict(os.environ)
    for account in ACCOUNTS:
        values.update(fakex.env(account, fakex.add_user(account.replace("-", ""))))
    values.pop("MEGAPHONE_DEBUG", None)
    return values


def start(root: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "megaphone", "publish", "--due", "-C", str(root), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def on_x(fakex: FakeX) -> Counter[str]:
    return Counter(t.sent_text for t in fakex.posted())


def test_runs_at_once_publish_each_post_once(
    fakex: FakeX, env: dict[str, str], tmp_path: Path
) -> None:
    expected = make_project(tmp_path, posts_per_account=12)
    fakex.latency = 0.01
    fakex.reject_duplicates = False
    runs = [start(tmp_path, env, "--no-lock") for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0] for p in runs]
    assert all(p.returncode == 0 for p in runs), outputs
    counts = on_x(fakex)
    for texts in expected.values():
        for text in texts:
            assert counts[text] == 1, (text, outputs)
    assert sum(counts.values()) == sum(len(t) for t in expected.values())
    ledger = Ledger(default_url(tmp_path), create=False)
    assert {d.state for d in ledger.all()} == {"published"}


def test_killed_runs_never_double_or_lose_a_post(
    fakex: FakeX, env: dict[str, str], tmp_path: Path
) -> None:
    seed = int(os.environ.get("MEGAPHONE_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    expected = make_project(tmp_path, posts_per_account=10)
    fakex.latency = 0.03
    fakex.reject_duplicates = False
    kills = 0
    for _ in range(5):
        process = start(tmp_path, env)
        time.sleep(rng.uniform(0.4, 1.6))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.communicate(timeout=60)
    # Runs to the end: each looks again for what an interrupted run left.
    for _ in range(2):
        final = start(tmp_path, env)
        output = final.communicate(timeout=120)[0]
        assert final.returncode in (0, 1), output
    counts = on_x(fakex)
    ledger = Ledger(default_url(tmp_path), create=False)
    rows = {(d.post_id, d.account): d for d in ledger.all()}
    for key, texts in expected.items():
        row = rows[key]
        for text in texts:
            assert counts[text] <= 1, f"sent twice: {text!r} (seed {seed})"
        if row.state == "published":
            assert all(counts[t] == 1 for t in texts), f"{key} (seed {seed})"
        else:
            # Visible, and never a lost post: unknown, with what to do.
            assert row.state == "unknown", f"{key} is {row.state} (seed {seed}, {output})"
            assert row.error and "megaphone retry" in row.error
    assert sum(counts.values()) <= sum(len(t) for t in expected.values())
    assert kills >= 1 or sum(counts.values()) == sum(len(t) for t in expected.values())
