"""Benchmark: `megaphone publish --due` against the fake X API and a fake
Mastodon instance, with latency.

Run from the project root after ``pip install -e '.[test]'``::

    python bench/bench_publish.py                     # 500 posts, 10 accounts, 100 ms
    python bench/bench_publish.py --posts 100 --latency 0.05

A generated project has POSTS due posts spread evenly over ACCOUNTS accounts,
the first of them on Mastodon, the others on X (every tenth post a thread of
three parts; every fifth with an image).  The fake X API (tests/fakex.py)
and the fake instance (tests/fakemastodon.py) answer every request after
LATENCY seconds; X's checks every signature, the instance every token and
Idempotency-Key.  One real ``megaphone publish --due`` process publishes them
all; its wall time is compared with the ideal: accounts in parallel, each
account's requests one after another, and nothing but the network's latency
(the requests of the busiest account times the latency).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import png_bytes  # noqa: E402
from tests.fakemastodon import FakeMastodon  # noqa: E402
from tests.fakex import FakeX  # noqa: E402


def make_project(root: Path, posts: int, accounts: list[str], instance: str) -> Counter[str]:
    """The project (its first account on Mastodon); returns the requests each
    account needs at the least."""
    at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    lines = ["timezone: UTC", "accounts:"]
    for i, a in enumerate(accounts):
        if i == 0:
            lines += [f"  - name: {a}", "    network: mastodon", f"    instance: {instance}"]
        else:
            lines += [f"  - name: {a}", "    network: x"]
    (root / "megaphone.yaml").write_text("\n".join(lines) + "\n")
    (root / "posts").mkdir()
    (root / "posts" / "poster.png").write_bytes(png_bytes(64, 64))
    needed: Counter[str] = Counter(dict.fromkeys(accounts, 1))  # who am I, once
    for k, account in enumerate(accounts):
        lines = [f"account: {account}", "posts:"]
        for i in range(posts // len(accounts)):
            n = k * 10_000 + i
            lines += [f"  - id: {account}-{i}", f"    at: '{at}'"]
            media = i % 5 == 0
            if i % 10 == 3:
                lines += ["    thread:"] + [
                    f"      - Update {n}, part {p} of 3 - the coalition's plan for schools."
                    for p in (1, 2, 3)
                ]
                needed[account] += 3
            else:
                lines.append(f"    text: Update {n} - town hall on school funding, join us.")
                needed[account] += 1
            if media:
                lines.append("    media: [{path: poster.png, alt: The town hall poster.}]")
                needed[account] += 1 if k == 0 else 2  # upload (X: and its alt text)
        (root / "posts" / f"{account}.yaml").write_text("\n".join(lines) + "\n")
    return needed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()

    fake = FakeX().start()
    fake.latency = args.latency
    social = FakeMastodon(latency=args.latency, processing_polls=0).start()
    accounts = [f"account-{i:02d}" for i in range(args.accounts)]
    env = dict(os.environ)
    for i, account in enumerate(accounts):
        if i == 0:
            env.update(social.env(account, social.add_account(account.replace("-", ""))))
        else:
            env.update(fake.env(account, fake.add_user(account.replace("-", ""))))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        needed = make_project(root, args.posts, accounts, social.url)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "megaphone", "publish", "--due", "-C", str(root)],
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
    fake.stop()
    social.stop()
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip())
    ideal = max(needed.values()) * args.latency
    requests = len(fake.requests) + len(social.requests)
    print(
        f"{args.posts} posts ({len(fake.posted())} on X, {len(social.posted())} on Mastodon; "
        f"{requests} requests) for {args.accounts} accounts, {args.latency * 1000:.0f} ms a request"
    )
    print(f"wall time {wall:.2f} s; ideal {ideal:.2f} s; {wall / ideal:.2f}× the ideal")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
