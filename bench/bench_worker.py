"""Benchmarks of `megaphone worker`: lateness, and its footprint when idle.

Run from the project root after ``pip install -e '.[test]'`` (Linux: reads
/proc)::

    python bench/bench_worker.py             # 200 posts over 2 minutes; 60 idle seconds
    python bench/bench_worker.py --quick     # 40 posts over 20 s; 10 idle seconds

* lateness: POSTS posts spread evenly over SPAN seconds across 4 accounts,
  published by a real ``megaphone worker`` process against the fake X API
  (tests/fakex.py; LATENCY seconds an answer): the time each post is created
  on the fake X minus its scheduled time — p50, p95 and max (goal: p95 under
  1 s).
* idle: 5,000 posts over the coming year in 50 files; after start-up, the
  worker's CPU time over IDLE seconds (goal: under 1 %), its resident memory
  (goal: under 100 MB), and the time from editing one file to the worker
  having rescheduled the post (goal: under 2 s).
* idle, repeating: the same with 5,000 posts that each repeat every week for a
  year, with two rotating texts (the worker holds the occurrences of its
  week ahead): CPU over IDLE seconds and resident memory, same goals.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakex import FakeX  # noqa: E402

ACCOUNTS = ["utla", "reclaim-la", "alliance", "coalition"]


def write_project(
    root: Path, posts: list[tuple[str, str, datetime]], files: int, *, repeat: bool = False
) -> None:
    (root / "megaphone.yaml").write_text(
        "timezone: UTC\naccounts:\n" + "".join(f"  - {{name: {a}, network: x}}\n" for a in ACCOUNTS)
    )
    folder = root / "posts"
    folder.mkdir(exist_ok=True)
    per_file = -(-len(posts) // files)
    for f in range(files):
        chunk = posts[f * per_file : (f + 1) * per_file]
        lines = ["posts:"]
        for post_id, account, when in chunk:
            lines += [
                f"  - id: {post_id}",
                f"    accounts: [{account}]",
                f"    at: '{when.isoformat()}'",
                f"    text: Update {post_id} from the coalition - town hall on school funding.",
            ]
            if repeat:
                until = (when + timedelta(days=365)).isoformat()
                lines += [
                    f"    repeat: {{every: week, until: '{until}'}}",
                    "    rotate:",
                    f'      - "Reminder {post_id}: the coalition town hall on school funding."',
                    f'      - "Don\'t miss it ({post_id}): our town hall on school funding."',
                ]
        (folder / f"queue-{f:03d}.yaml").write_text("\n".join(lines) + "\n")


class Worker:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.started: dict[str, Any] = {}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "megaphone", "worker", str(root), "--log-format", "json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def wait(self, event: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                e = self.events.get(timeout=0.05)
            except queue.Empty:
                continue
            if e["event"] == event:
                if event == "started":
                    self.started = e
                return e
        raise SystemExit(f"the worker never said {event!r}")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def pending(self) -> str:
        """How many posts the worker has scheduled, as it said at start-up."""
        return str(self.started.get("message", "")).split(", ", 1)[-1]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def environment(fake: FakeX) -> dict[str, str]:
    env = dict(os.environ)
    for account in ACCOUNTS:
        env.update(fake.env(account, fake.add_user(account.replace("-", ""))))
    return env


def lateness(n: int, span: float, latency: float) -> None:
    fake = FakeX().start()
    fake.latency = latency
    env = environment(fake)
    start = datetime.now(UTC) + timedelta(seconds=8)  # after the worker has started
    posts = [
        (f"p{i:04d}", ACCOUNTS[i % len(ACCOUNTS)], start + timedelta(seconds=span * i / n))
        for i in range(n)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_project(root, posts, files=4)
        worker = Worker(root, env)
        worker.wait("started")
        deadline = time.monotonic() + span + 60
        while len(fake.posted()) < n and time.monotonic() < deadline:
            time.sleep(0.2)
        worker.stop()
    fake.stop()
    due = {
        f"Update {p} from the coalition - town hall on school funding.": at for p, _, at in posts
    }
    late = sorted((t.created_at - due[t.sent_text]).total_seconds() for t in fake.posted())
    p95 = late[min(len(late) - 1, int(0.95 * len(late)))]
    print(
        f"lateness: {len(late)}/{n} posts over {span:.0f} s, {latency * 1000:.0f} ms a request: "
        f"p50 {statistics.median(late):.3f} s, p95 {p95:.3f} s, max {late[-1]:.3f} s "
        f"(goal: p95 under 1 s)"
    )


def idle(seconds: float, *, repeat: bool = False) -> None:
    fake = FakeX().start()
    env = environment(fake)
    now = datetime.now(UTC)
    # Repeating posts start within their first week; the others spread over a year.
    spread = 6 if repeat else 364
    posts = [
        (f"p{i:05d}", ACCOUNTS[i % len(ACCOUNTS)], now + timedelta(days=1 + spread * i / 5000))
        for i in range(5000)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_project(root, posts, files=50, repeat=repeat)
        started = time.monotonic()
        worker = Worker(root, env)
        worker.wait("started")
        kind = "repeating weekly for a year" if repeat else "over the coming year"
        print(
            f"idle: 5,000 posts {kind} in 50 files; started in "
            f"{time.monotonic() - started:.2f} s, {worker.pending()} jobs"
        )
        time.sleep(3)  # settle: the first sweep
        cpu0, t0 = worker.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        cpu = worker.cpu_seconds() - cpu0
        wall = time.monotonic() - t0
        print(
            f"  CPU over {wall:.0f} idle seconds: {cpu:.2f} s = {100 * cpu / wall:.2f} % "
            f"(goal: under 1 %); resident memory {worker.rss_mb():.0f} MB (goal: under 100 MB)"
        )
        if repeat:
            worker.stop()
            fake.stop()
            return
        # Pick-up of an edit: move the first post of one file a day later.
        target = root / "posts" / "queue-007.yaml"
        text = target.read_text()
        first = text.split("at: '", 1)[1].split("'", 1)[0]
        moved = (datetime.fromisoformat(first) + timedelta(days=1)).isoformat()
        edited = time.monotonic()
        target.write_text(text.replace(first, moved, 1))
        worker.wait("rescheduled", timeout=30)
        print(f"  edit picked up in {time.monotonic() - edited:.2f} s (goal: under 2 s)")
        worker.stop()
    fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    # Up-to-date bytecode, as an installed megaphone has (where
    # PYTHONDONTWRITEBYTECODE is set, the worker would compile its source).
    import compileall

    compileall.compile_dir(ROOT / "src" / "megaphone", quiet=1)
    if args.quick:
        lateness(40, 20, args.latency)
        idle(10)
        idle(10, repeat=True)
    else:
        lateness(200, 120, args.latency)
        idle(60)
        idle(60, repeat=True)


if __name__ == "__main__":
    main()
