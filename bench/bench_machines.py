"""Benchmark: several publishers ("machines") on one PostgreSQL ledger.

Run from the project root after ``pip install -e '.[test,postgres]'``, where
PostgreSQL is installed (``initdb``)::

    python bench/bench_machines.py                  # 2,000 posts, 20 accounts, 50 ms
    python bench/bench_machines.py --posts 400 --accounts 8 --mode worker

For 1, 2 and 4 publishers: a fresh database on a throw-away cluster, one
checkout of the project per publisher (the same ``project:``), and the fake
X API (LATENCY seconds an answer; in ``--fakes`` processes, the accounts
dealt out among them).  A publisher is either

- a running ``megaphone worker`` (``--mode worker``), started and loaded
  before the posts are due, as one runs on each machine: the time is from
  the posts' time until the last one is in; or
- a ``megaphone publish --due`` process (``--mode cron``) started the moment
  the posts are due, after a run before them wrote their rows (cron's
  previous minute): the time is until every process has ended, its start
  (imports, the project read) included.

Reports the wall time against the ideal (the busiest account's requests one
after another, accounts in parallel), the publishers' CPU time a post (user
and system, every publisher's process together, over the timed span: less
noisy than the wall time on a shared machine), posts sent twice, and posts
of one account that went out of their order.  The first row is a bare client's:
the same requests, signed and sent a thread per account with nothing else
done, which is what the fake server and the machine allow at best.

On one box every publisher shares the same cores with the fake server and
PostgreSQL, so their sum cannot go past the box.  ``--machine-cpu 0.25``
(as root, with the cgroup CPU controller) gives each publisher's process a
CPU group of its own limited to that many cores, from the moment it has
loaded: a machine of that size each, as separate machines bring their own
CPU.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakex import FakeX, User  # noqa: E402

#: Seconds from making the checkouts to the posts' time (the run before
#: them writes their rows meanwhile; the workers start and load them).
PRELOAD = 8
from tests.pgserver import Cluster  # noqa: E402


class Machines:
    """A CPU cgroup per publisher ("machine"), limited to ``cpu`` cores
    (a 10 ms period, so the limit holds within a post's time); none when
    ``cpu`` is None."""

    PERIOD_US = 10_000

    def __init__(self, cpu: float | None) -> None:
        self.cpu = cpu
        self.made: list[Path] = []
        self.v2 = Path("/sys/fs/cgroup/cgroup.controllers")
        self.v1 = Path("/sys/fs/cgroup/cpu")
        if cpu is None:
            return
        if os.geteuid() != 0:
            raise SystemExit("--machine-cpu needs root (it makes a CPU cgroup per publisher)")
        if not (self._is_v2() or (self.v1 / "cgroup.procs").exists()):
            raise SystemExit("--machine-cpu needs the cgroup CPU controller (v1 or v2)")

    def _is_v2(self) -> bool:
        return self.v2.exists() and "cpu" in self.v2.read_text().split()

    def put(self, n: int, pid: int) -> None:
        """Move process ``pid`` (every thread of it) into machine ``n``'s group."""
        if self.cpu is None:
            return
        quota = max(1000, int(self.cpu * self.PERIOD_US))
        if self._is_v2():
            root = self.v2.parent
            (root / "cgroup.subtree_control").write_text("+cpu")
            group = root / f"megaphone-bench-{os.getpid()}-{n}"
            group.mkdir(exist_ok=True)
            (group / "cpu.max").write_text(f"{quota} {self.PERIOD_US}")
        else:
            group = self.v1 / f"megaphone-bench-{os.getpid()}-{n}"
            group.mkdir(exist_ok=True)
            (group / "cpu.cfs_period_us").write_text(str(self.PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        if group not in self.made:
            self.made.append(group)
        (group / "cgroup.procs").write_text(str(pid))

    def close(self) -> None:
        """Remove the groups (their processes have ended)."""
        for group in self.made:
            for _ in range(50):
                try:
                    group.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
        self.made = []


def make_checkout(
    root: Path, posts: int, accounts: list[str], due: datetime
) -> dict[str, list[str]]:
    """One checkout, every post due at ``due``; returns each account's texts
    in the order they go out."""
    lines = ["timezone: UTC", "project: union", "accounts:"]
    for a in accounts:
        lines += [f"  - name: {a}", "    network: x"]
    (root / "posts").mkdir(parents=True)
    (root / "megaphone.yaml").write_text("\n".join(lines) + "\n")
    order: dict[str, list[str]] = {}
    at = due.strftime("%Y-%m-%dT%H:%M:%SZ")
    for k, account in enumerate(accounts):
        queue = [f"account: {account}", "posts:"]
        for i in range(posts // len(accounts)):
            text = f"Update {k}-{i}, town hall on school funding, join us."
            queue += [f"  - id: {account}-{i:04d}", f"    at: '{at}'", f"    text: {text}"]
            order.setdefault(account, []).append(text)
        (root / "posts" / f"{account}.yaml").write_text("\n".join(queue) + "\n")
    return order


class Farm:
    """The fake X API in ``n`` processes, the accounts dealt out among them:
    each process answers its accounts' requests (LATENCY seconds each) with
    its own interpreter, so the fake server's own work does not queue behind
    one lock for every account, and the time measured is the publishers'."""

    def __init__(self, n: int, accounts: list[str], latency: float) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.pipes = []
        self.procs = []
        self.env: dict[str, str] = {}
        self.account_of: dict[tuple[int, str], str] = {}
        dealt = [accounts[i::n] for i in range(n)]
        for mine in dealt:
            here, there = spawn.Pipe()
            proc = spawn.Process(target=_serve, args=(there, mine, latency), daemon=True)
            proc.start()
            self.pipes.append(here)
            self.procs.append(proc)
        self.users: dict[str, User] = {}
        for i, here in enumerate(self.pipes):
            users, env = here.recv()
            for account, user in users.items():
                self.users[account] = user
                self.account_of[(i, user.id)] = account
            self.env.update(env)
        self.urls = {a: self.env[_url_key(a)] for a in accounts}

    def posted(self) -> list[tuple[str, str, datetime]]:
        """Every post (its text as sent, its account, when), from every process."""
        out = []
        for i, here in enumerate(self.pipes):
            here.send("posted")
            out += [(text, self.account_of[(i, author)], at) for text, author, at in here.recv()]
        return out

    def count(self) -> int:
        """How many posts every process has."""
        total = 0
        for here in self.pipes:
            here.send("count")
            total += here.recv()
        return total

    def stop(self) -> None:
        for here in self.pipes:
            here.send("stop")
        for proc in self.procs:
            proc.join(10)


def _url_key(account: str) -> str:
    from megaphone.project.credentials import env_prefix

    return env_prefix(account) + "API_URL"


def _serve(pipe: Any, accounts: list[str], latency: float) -> None:
    fake = FakeX().start()
    fake.latency = latency
    fake.reject_duplicates = False
    users = {a: fake.add_user(a.replace("-", "")) for a in accounts}
    env: dict[str, str] = {}
    for account, user in users.items():
        env.update(fake.env(account, user))
    pipe.send((users, env))
    while (asked := pipe.recv()) != "stop":
        if asked == "count":
            pipe.send(len(fake.posted()))
            continue
        assert asked == "posted"
        pipe.send([(t.sent_text, t.author_id, t.created_at) for t in fake.posted()])
    fake.stop()


def run(
    publishers: int,
    posts: int,
    accounts: list[str],
    latency: float,
    cluster: Cluster,
    fakes: int,
    mode: str,
    machines: Machines,
) -> str:
    farm = Farm(fakes, accounts, latency)
    url = cluster.new_database(f"bench_{mode}_{publishers}")
    env = {**os.environ, "MEGAPHONE_LEDGER_URL": url, "PYTHONPATH": str(ROOT / "src"), **farm.env}
    with tempfile.TemporaryDirectory() as tmp:
        roots = [Path(tmp) / f"machine-{n}" for n in range(publishers)]
        order = {}
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=PRELOAD)
        for root in roots:
            order = make_checkout(root, posts, accounts, due)
        try:
            if mode == "worker":
                wall, cpu = _workers(roots, env, due, farm, posts, machines)
            else:
                wall, cpu = _cron(roots, env, due, machines)
        finally:
            machines.close()
    label = f"{publishers} {_NAMES[mode]}"
    return _report(label, farm, order, posts, accounts, latency, wall, cpu)


def _cpu(pid: int) -> float:
    """A live process's CPU seconds so far (user and system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _workers(
    roots: list[Path],
    env: dict[str, str],
    due: datetime,
    farm: Farm,
    posts: int,
    machines: Machines,
) -> tuple[float, float]:
    """A worker per checkout, started (and loaded) before the posts are due;
    the time from then until the last post is in, and the workers' CPU
    seconds meanwhile."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "megaphone", "worker", str(root), "--log-format", "json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for root in roots
    ]
    try:
        for n, p in enumerate(procs):
            assert p.stdout is not None
            for line in p.stdout:  # until it says it started
                if '"started"' in line:
                    break
            machines.put(n, p.pid)
            # The rest of its log, unread, must not fill the pipe.
            threading.Thread(target=p.stdout.read, daemon=True).start()
        left = (due - datetime.now(UTC)).total_seconds()
        if left < 0.5:
            raise SystemExit(f"the workers took longer than {PRELOAD} s to start")
        time.sleep(left)
        started = time.perf_counter()
        cpu_before = sum(_cpu(p.pid) for p in procs)
        deadline = started + 600
        while farm.count() < posts and time.perf_counter() < deadline:
            time.sleep(0.02)
        wall = time.perf_counter() - started
        cpu = sum(_cpu(p.pid) for p in procs) - cpu_before
        time.sleep(1.0)  # anything sent twice shows now
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)
    return wall, cpu


def _cron(
    roots: list[Path], env: dict[str, str], due: datetime, machines: Machines
) -> tuple[float, float]:
    """``publish --due`` in a process per checkout, started the moment the
    posts are due (as cron would); the time until every one has ended, and
    their CPU seconds (their start included)."""
    # The run before the posts are due: it writes their rows.
    subprocess.run(
        [sys.executable, "-m", "megaphone", "publish", "--due", "-C", str(roots[0])],
        env=env,
        capture_output=True,
        check=False,
    )
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() + 0.2))
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "megaphone",
                "publish",
                "--due",
                "--grace",
                "2h",
                "-C",
                str(root),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for root in roots
    ]
    for n, p in enumerate(procs):
        machines.put(n, p.pid)
    cpu = 0.0
    for p in procs:
        _pid, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, cpu


def _report(
    label: str,
    farm: Farm,
    order: dict[str, list[str]],
    posts: int,
    accounts: list[str],
    latency: float,
    wall: float,
    cpu: float,
) -> str:
    sent = farm.posted()
    farm.stop()
    twice = sum(n - 1 for n in Counter(text for text, _, _ in sent).values() if n > 1)
    out_of_order = 0
    for account, texts in order.items():
        mine = [text for text, by, _ in sorted(sent, key=lambda s: s[2]) if by == account]
        rank = {text: i for i, text in enumerate(texts)}
        ranks = [rank[t] for t in dict.fromkeys(mine) if t in rank]
        out_of_order += sum(1 for x, y in itertools.pairwise(ranks) if y < x)
    per_account = posts // len(accounts)
    ideal = (per_account + 1) * latency
    return (
        f"| {label} | {len(sent)} | {wall:.2f} s | {ideal:.2f} s | {wall / ideal:.2f}× | "
        f"{cpu / posts * 1000:.2f} ms | {twice} | {out_of_order} |"
    )


def floor(posts: int, accounts: list[str], latency: float, fakes: int) -> str:
    """The same requests from a bare client (a thread per account, each
    post signed and sent in turn, no ledger, no project): what the fake
    server and this machine allow at best, against the same ideal."""
    import threading

    import requests
    from requests_oauthlib import OAuth1

    farm = Farm(fakes, accounts, latency)
    per_account = posts // len(accounts)

    def send(account: str) -> None:
        user = farm.users[account]
        auth = OAuth1(FakeX.API_KEY, FakeX.API_SECRET, user.access_token, user.access_secret)
        with requests.Session() as session:
            for i in range(per_account):
                text = f"Update {account}-{i}, town hall on school funding, join us."
                session.post(
                    f"{farm.urls[account]}/2/tweets", json={"text": text}, auth=auth, timeout=30
                )

    threads = [threading.Thread(target=send, args=(a,)) for a in accounts]
    started = time.perf_counter()
    cpu_before = time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    sent = len(farm.posted())
    farm.stop()
    ideal = (per_account + 1) * latency
    return (
        f"| bare client | {sent} | {wall:.2f} s | {ideal:.2f} s | {wall / ideal:.2f}× | "
        f"{cpu / posts * 1000:.2f} ms | – | – |"
    )


_NAMES = {"worker": "× worker", "cron": "× `publish --due`"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--publishers", default="1,2,4")
    parser.add_argument(
        "--mode",
        choices=("worker", "cron", "both"),
        default="both",
        help="publishers as running workers, as `publish --due` runs, or both",
    )
    parser.add_argument(
        "--fakes", type=int, default=4, help="processes of the fake X API (the accounts dealt out)"
    )
    parser.add_argument(
        "--machine-cpu",
        type=float,
        default=None,
        metavar="CORES",
        help="limit each publisher to this many cores (a CPU cgroup each, as root)",
    )
    args = parser.parse_args()
    accounts = [f"account-{i:02d}" for i in range(args.accounts)]
    machines = Machines(args.machine_cpu)
    cluster = Cluster()
    try:
        limit = "" if args.machine_cpu is None else f", {args.machine_cpu:g} cores a publisher"
        print(
            f"{args.posts} posts, {args.accounts} accounts, {args.latency * 1000:.0f} ms a "
            f"request, the fake X API in {args.fakes} processes{limit}"
        )
        print(
            "| publishers | sent | wall | ideal | against ideal | CPU a post "
            "| sent twice | out of order |"
        )
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        print(floor(args.posts, accounts, args.latency, args.fakes), flush=True)
        modes = ("worker", "cron") if args.mode == "both" else (args.mode,)
        for mode in modes:
            for n in (int(x) for x in args.publishers.split(",")):
                print(
                    run(n, args.posts, accounts, args.latency, cluster, args.fakes, mode, machines)
                )
                sys.stdout.flush()
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
