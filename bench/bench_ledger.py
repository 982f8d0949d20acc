"""Benchmark: the ledger's own cost of publishing one post, on SQLite and on
a throw-away PostgreSQL cluster (where ``initdb`` is installed).

Run from the project root after ``pip install -e '.[test,postgres]'``::

    python bench/bench_ledger.py                  # 2,000 posts, batches of 25
    python bench/bench_ledger.py --posts 500 --rounds 3

One thread plays a publisher's account thread with no network: for each
batch it takes the account's lease (reading the batch's rows), claims the
batch, fences the first post, then records each post as published (which
fences the next one), exactly the calls a run makes.  Reports, per post,
the interpreter's time (this thread's CPU: what every account's thread
competes for in one process) and the wall time (with the database's own
work and the round trips), the median of the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pgserver import Cluster, binaries  # noqa: E402

from megaphone.store.ledger import Ledger, Wanted  # noqa: E402

ACCOUNT = "utla"
TOKEN = "bench-run"


def never(token: str | None, until: datetime | None) -> bool:
    return False


def one_round(url: str, posts: int, batch: int) -> tuple[float, float]:
    """CPU and wall seconds a post, over ``posts`` posts."""
    ledger = Ledger(url, project=f"bench-{time.monotonic_ns()}")
    try:
        now = datetime.now(UTC)
        ids = [f"p{i:05d}" for i in range(posts)]
        ledger.sync([Wanted(i, ACCOUNT, "x", "q", now, "d") for i in ids], now=now)
        cpu, wall = time.thread_time(), time.perf_counter()
        for start in range(0, posts, batch):
            page = ids[start : start + batch]
            now = datetime.now(UTC)
            until = now + timedelta(minutes=1)
            rows = ledger.take_account(
                ACCOUNT, token=TOKEN, now=now, lease_until=until, abandoned=never, read=page
            )
            assert rows is not None
            assert len(rows) == len(page)
            claimed = ledger.claim_batch(ACCOUNT, page, token=TOKEN, now=now, lease_until=until)
            assert len(claimed) == len(page)
            ledger.sending(page[0], ACCOUNT, 0, token=TOKEN, now=now, lease_until=until)
            for k, post_id in enumerate(page):
                following = page[k + 1] if k + 1 < len(page) else None
                now = datetime.now(UTC)
                fenced = ledger.record_part(
                    post_id,
                    ACCOUNT,
                    0,
                    token=TOKEN,
                    remote_id=f"r-{post_id}",
                    url=f"https://example.org/{post_id}",
                    now=now,
                    lease_until=now + timedelta(minutes=1),
                    publish=(f"r-{post_id}", f"https://example.org/{post_id}"),
                    then=(following, None) if following else None,
                )
                assert fenced or following is None
        ledger.release_account(ACCOUNT, token=TOKEN)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        assert sum(d.state == "published" for d in ledger.all()) == posts
        return cpu / posts, wall / posts
    finally:
        ledger.close()


def report(name: str, url: str, posts: int, batch: int, rounds: int) -> str:
    one_round(url, min(posts, 100), batch)  # warm: imports, the tables, the pool
    results = [one_round(url, posts, batch) for _ in range(rounds)]
    cpu = statistics.median(r[0] for r in results) * 1000
    wall = statistics.median(r[1] for r in results) * 1000
    return f"| {name} | {cpu:.3f} ms | {wall:.3f} ms |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{args.posts} posts of one account, batches of {args.batch}, median of {args.rounds}")
    print("| ledger | interpreter a post | wall a post |")
    print("| --- | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        print(report("SQLite", url, args.posts, args.batch, args.rounds), flush=True)
    if binaries() is None:
        print("| PostgreSQL | – | – |  (initdb is not installed)")
        return
    cluster = Cluster()
    try:
        url = cluster.new_database("bench_ledger")
        print(report("PostgreSQL", url, args.posts, args.batch, args.rounds), flush=True)
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
