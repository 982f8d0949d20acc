"""Benchmark: publishing through a hostile network, exactly once.

Run from the project root after ``pip install -e '.[test]'``::

    python bench/bench_faults.py                      # 30 posts, 30 % faults
    python bench/bench_faults.py --posts 60 --faults 0.5 --every 2 --settle 3m

A generated project has POSTS due posts for one account.  The fake X API
(tests/fakex.py) fails a share FAULTS of the posting and reading requests at
random — a 429 (reset a second away), a 503, a dropped connection, or a post
made and then its answer dropped — shows a new post in the timeline only
after half a second, and has its own duplicate check **off**, so that it
cannot hide a double post.  A real ``megaphone publish --due`` runs every
EVERY seconds until every post is recorded as published (or TIMEOUT passes).

Reported: how many posts were published, sent twice (must be 0) and lost
(never on X; must be 0), how many runs it took, and the wall time.  The
unknown outcomes are settled SETTLE after their attempt (``unknown_after``).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakex import FakeX  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=30)
    parser.add_argument("--faults", type=float, default=0.3)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between runs")
    parser.add_argument("--settle", default="30s", help="unknown_after (e.g. 30s, 3m)")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    fake = FakeX().start()
    fake.reject_duplicates = False
    fake.chaos = args.faults
    fake.chaos_rng = random.Random(args.seed)
    fake.visible_after = 0.5
    user = fake.add_user("utlanow")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        (root / "megaphone.yaml").write_text(
            "timezone: UTC\naccounts:\n  - name: utla\n    network: x\n"
            f"unknown_after: {args.settle}\n"
        )
        (root / "posts").mkdir()
        line = "Update {}: the caravan, the petition, the town hall."
        texts = [line.format(i) for i in range(args.posts)]
        entries = [f"  - id: p{i}\n    at: '{at}'\n    text: '{t}'\n" for i, t in enumerate(texts)]
        (root / "posts" / "q.yaml").write_text("account: utla\nposts:\n" + "".join(entries))
        env = {**os.environ, **fake.env("utla", user)}
        started = time.monotonic()
        runs = 0
        states: Counter[str] = Counter()
        history: dict[str, list[dict[str, object]]] = {}
        while time.monotonic() - started < args.timeout:
            runs += 1
            subprocess.run(
                [sys.executable, "-m", "megaphone", "publish", "--due"],
                cwd=root,
                env=env,
                capture_output=True,
                timeout=args.timeout,
            )
            from megaphone.store.ledger import Ledger, default_url

            ledger = Ledger(default_url(root))
            states = Counter(d.state for d in ledger.all())
            stuck = [d for d in ledger.all() if d.state != "published"]
            history = {d.post_id: ledger.events(d.post_id) for d in stuck}
            ledger.close()
            if states.get("published", 0) == args.posts:
                break
            time.sleep(args.every)
        wall = time.monotonic() - started
        sent = Counter(t.sent_text for t in fake.posted())
    fake.stop()
    for post_id, events in history.items():
        print(f"  {post_id} is not published; its history:")
        for e in events:
            print(f"    {e['at']:%H:%M:%S} {e['state']}: {e['detail']}")
    twice = sum(1 for t in texts if sent[t] > 1)
    lost = sum(1 for t in texts if sent[t] == 0)
    requests = len(fake.requests)
    failed = sum(1 for _, _, status in fake.requests if status in (0, 429, 503))
    print(f"posts {args.posts}, faults {args.faults:.0%} of posting and reading requests")
    print(f"  requests: {requests}, of which failed on purpose: {failed}")
    print(f"  published: {states.get('published', 0)}, sent twice: {twice}, lost: {lost}")
    print(f"  ledger states: {dict(states)}")
    print(f"  runs of publish --due: {runs}, wall time {wall:.1f} s (unknown_after {args.settle})")
    return 0 if twice == 0 and lost == 0 and states.get("published", 0) == args.posts else 1


if __name__ == "__main__":
    raise SystemExit(main())
