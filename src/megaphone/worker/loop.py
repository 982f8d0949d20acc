"""The worker: a long-running process that publishes each post at its minute.

- The queue files and the ledger are the truth: at start, and whenever a file
  changes, the schedule is rebuilt from them (APScheduler keeps it in memory
  only: one date job per post and account).
- The folder is polled for changes (a ``stat`` of each file every second: it
  works on every filesystem, network mounts and container volumes included).
  A file with errors is reported, and its last good version keeps its
  schedule: one bad file never stops the others.
- Each job goes through the same publisher as ``publish --due``, claims
  included, so cron and a worker (or two workers) never send a post twice.
- A sweep every few seconds does what ``publish --due`` does — posts due and
  not sent (after downtime, a rate limit, a retry, a reply waiting for its
  post), runs interrupted by a crash — and writes a heartbeat to the ledger.
- Stopping (SIGTERM, Ctrl-C) lets the post in flight finish; a second Ctrl-C
  aborts (whatever was in flight is reconciled by the next run).
"""

from __future__ import annotations

import contextlib
import heapq
import os
import signal
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from megaphone.errors import MegaphoneError
from megaphone.model import Account, Project, Queue
from megaphone.publish.decide import still_open
from megaphone.publish.values import Job, order, post_order
from megaphone.store.heartbeat import (
    SWEEP_SECONDS,
    Heartbeat,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from megaphone.checks.validate import Facts
    from megaphone.model import Config, Post
    from megaphone.problems import Problem
    from megaphone.project.yamldoc import Document
    from megaphone.publish.batches import AccountRun
    from megaphone.publish.publisher import Outcome, Policy, Publisher
    from megaphone.store.ledger import Ledger

#: A post due this long and still not sent is told to the team ("stuck").
STUCK_AFTER = timedelta(minutes=15)
#: How often the worker makes its deliveries again, so that the occurrences of
#: repeating posts and the slots of evergreen queues come into its window.
EXPAND_EVERY = timedelta(hours=1)
#: How long before an account's next post the worker signs in to it (once
#: in its life: the adapter stays open), so that the post does not wait for it.
WARM_AHEAD = timedelta(minutes=1)
#: Accounts signed in to at once ahead of their posts.
SIGN_IN_THREADS = 8


@dataclass
class _File:
    """What the worker knows of one queue file."""

    path: Path
    stamp: tuple[int, int, int]
    doc: Document
    queue: Queue | None
    facts: list[Facts]
    #: The stamp whose errors were last reported (each is told once).
    told: tuple[int, int, int] | None = None


POLL_SECONDS = 1.0


class Worker:
    """Publishes a project's posts at their time until told to stop."""

    def __init__(
        self,
        root: Path,
        *,
        environ: Mapping[str, str],
        log: Callable[[dict[str, Any]], None],
        policy: Policy | None = None,
        dry_run: bool = False,
        poll: float = POLL_SECONDS,
        sweep: float = SWEEP_SECONDS,
        connect: Callable[[Account], Any] | None = None,
    ) -> None:
        from megaphone.publish.publisher import Policy as PolicyType

        self.root = root
        self.environ = environ
        self.log = log
        self.policy = policy or PolicyType()
        self.dry_run = dry_run
        self.poll = poll
        self.sweep_every = sweep
        self._connect = connect
        self.stop_event = threading.Event()
        self.stopping = False
        self._lock = threading.RLock()  # guards the snapshot below
        self._files: dict[Path, _File] = {}
        self._good: dict[Path, Queue] = {}
        self._config: Config | None = None
        self._active: tuple[Queue, ...] = ()
        self._config_stamp: tuple[int, int, int] | None = None
        #: The configuration file as last read, by its path and stamp: read
        #: again only when it changed (the folder is polled every second).
        self._config_read: tuple[tuple[Path | None, Any], tuple[Config, Any]] | None = None
        self._posts: dict[str, Post] = {}
        #: When the deliveries were last made (the window of repeating and
        #: evergreen posts moves on with time).
        self._expanded_at = datetime.min.replace(tzinfo=UTC)
        self._accounts: dict[str, Account] = {}
        #: The posts to publish, each account's, and when (the scheduler
        #: has a job for each moment: every post due by then goes out).
        self._scheduled: dict[str, datetime] = {}
        #: The run sending posts now, which takes the posts that come due
        #: while it goes (one at a time: an account's posts stay in order).
        self._run: AccountRun | None = None
        self._run_lock = threading.Lock()
        self._joined = False
        self._held: dict[str, datetime] = {}  # account -> until (rate limit, credentials)
        #: Accounts signed in to ahead of their posts (or tried once).
        self._warmed: set[str] = set()
        self._ledger: Ledger | None = None
        self._publisher: Publisher | None = None
        self._scheduler: Any = None
        self._started_at = datetime.now(UTC)
        self._interrupts = 0
        #: Outcomes not told to the team yet (sent at the next sweep).
        self._to_tell: list[Outcome] = []
        self._previous_stop: Any = None
        #: Jobs of the scheduler's running now.
        self._busy = 0
        self._running = threading.Condition()
        #: The notification destinations, for the configuration they came from.
        self._targets: tuple[Config, list[Any]] | None = None

    # --------------------------------------------------------------- run

    def run(self) -> int:
        """Start, publish until told to stop, and stop cleanly.  Exit status."""
        from megaphone.store.lock import ProjectLock

        lock = ProjectLock(self.root / ".megaphone" / "worker.lock", "megaphone worker")
        lock.acquire()
        try:
            self._install_signals()
            self.start()
            while not self.stop_event.wait(self.poll):
                self.check_files()
            self.stop()
        finally:
            lock.release()
        return 0

    def start(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(16)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        self.check_files(force=True)
        if not self.dry_run:
            self._open_publisher()
            self._load_clients()
        self._scheduler.start()
        if self._previous_stop is not None:
            notice, self._previous_stop = self._previous_stop, None
            self._tell(datetime.now(UTC), [notice])
        self._scheduler.add_job(
            self.sweep,
            "interval",
            seconds=self.sweep_every,
            id="sweep",
            next_run_time=datetime.now(UTC),
        )
        self._say(
            "started",
            message=(
                f"{len(self._posts)} posts, {self.pending()} to publish"
                + (" (dry run: nothing is sent)" if self.dry_run else "")
            ),
        )

    def stop(self) -> None:
        self.stopping = True
        self._say("stopping", message="finishing the post in flight")
        if self._scheduler is not None:
            # No job starts any more; the ones running finish first.  Only
            # then the scheduler is shut down: its shutdown holds the job
            # store's lock while it waits, and a running job that reads the
            # schedule (the heartbeat's next jobs) would wait for ever.
            self._scheduler.pause()
            with self._run_lock:
                if self._run is not None:
                    self._run.stop()  # after the post in hand on each account
            with self._running:
                self._running.wait_for(lambda: self._busy == 0)
            self._scheduler.shutdown(wait=True)
        if self._ledger is not None:
            self._heartbeat(stopped=True)
        if self._publisher is not None:
            if self._joined:
                self._publisher.claims.leave()
            self._publisher.close()
        if self._ledger is not None:
            self._ledger.close()
        self._say("stopped")

    def _install_signals(self) -> None:
        def terminate(signum: int, frame: object) -> None:
            self.stop_event.set()

        def interrupt(signum: int, frame: object) -> None:
            self._interrupts += 1
            if self._interrupts > 1:
                self._say("aborted", message="the post in flight is reconciled by the next run")
                os._exit(130)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, terminate)
        signal.signal(signal.SIGINT, interrupt)

    def _project(self) -> Project:
        assert self._config is not None
        return Project(self.root, self._config, self._active)

    def _load_clients(self) -> None:
        """The adapters of the project's networks, with their libraries,
        imported now: a post due as the worker starts, or the first of a
        burst, does not wait for the import (tweepy's takes a good part of
        a second).  One that cannot be imported is said by the posts that
        need it, when they are due."""
        from megaphone.networks import load_client

        config = self._config
        for network in dict.fromkeys(a.network for a in (config.accounts if config else ())):
            with contextlib.suppress(ImportError, MegaphoneError):
                load_client(network)

    def _open_publisher(self) -> None:
        from megaphone.publish.publisher import Publisher, connector
        from megaphone.store.ledger import Ledger

        project = self._project()
        self._ledger = Ledger.for_project(self.root, project.config, self.environ)
        assert self._ledger is not None
        from megaphone.store.heartbeat import forget_old, read_heartbeats

        forget_old(self._ledger, datetime.now(UTC))
        host = socket.gethostname()
        # A worker of this machine that was not stopped cleanly, and is silent.
        gone = [
            b
            for b in read_heartbeats(self._ledger)
            if b.host == host and not b.stopped and not b.dry_run and not b.alive(datetime.now(UTC))
        ]
        if gone:
            from megaphone.publish.notify import Notice

            beat = gone[0]
            self._previous_stop = Notice(
                "worker-stopped",
                f"the worker (pid {beat.pid} on {beat.host}) stopped without a clean stop; "
                f"it was last seen at {beat.beat_at:%Y-%m-%d %H:%M:%S} UTC, and is running again",
            )
        self._publisher = Publisher(
            project=project,
            ledger=self._ledger,
            connect=self._connect or connector(project, self.environ),
            policy=self.policy,
            warn=lambda message: self._say("warning", message=message),
        )
        # Counted among the runs that share the accounts for as long as it
        # lives, so that several workers share a burst from its first post.
        try:
            self._publisher.claims.join()
            self._joined = True
        except MegaphoneError as e:
            self._say("warning", message=str(e))  # each run joins on its own
        self._write_ahead()

    def _expand(self) -> None:
        """The deliveries of the active queues, from a little before now to
        a little after: each post in its languages, the occurrences of
        repeating posts, the slots of evergreen queues."""
        from megaphone.project.deliveries import AHEAD, BEHIND, deliveries, history_of

        now = datetime.now(UTC)
        with self._lock:
            project = self._project()
        history = None
        if self._ledger is not None and any(q.evergreen for q in project.queues):
            history = history_of(((d.post_id, d.state) for d in self._ledger.all()), project)
        made = deliveries(
            project,
            start=now - BEHIND,
            end=now + AHEAD,
            history=history,
            fill_from=now - timedelta(minutes=1),
        )
        with self._lock:
            self._posts = {p.id: p for p in made}
            self._expanded_at = now

    def _write_ahead(self) -> None:
        """Every dated post's deliveries are rows before they are due."""
        from megaphone.publish.publisher import FOREVER, plan

        assert self._publisher is not None
        with self._lock:
            posts = list(self._posts.values())
            accounts = dict(self._accounts)
        try:
            self._publisher.write_ahead(plan(posts, accounts, now=datetime.now(UTC), until=FOREVER))
        except MegaphoneError as e:
            self._say("error", message=str(e))
        _give_back_memory()

    # ------------------------------------------------------------ files

    def _stamp(self, path: Path) -> tuple[int, int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _read_config(self, path: Path | None, cwd: Path, root: Path) -> tuple[Config, Any]:
        """The project configuration: the last one read while its file has
        the same stamp (stamped before it is read, so that a change made
        while it is read is read at the next poll)."""
        from megaphone.project.loader import load_config

        key = (path, self._stamp(path) if path is not None else None)
        if self._config_read is not None and self._config_read[0] == key:
            return self._config_read[1]
        read = load_config(path, cwd, root)
        self._config_read = (key, read)
        return read

    def check_files(self, *, force: bool = False) -> bool:
        """Look for changed, new and removed files; rebuild the schedule
        when there are.  Whether anything changed."""
        from megaphone.project.loader import locate

        try:
            inputs = locate((), cwd=self.root, allow_empty=True, read_config=self._read_config)
        except MegaphoneError as e:
            self._say("file-error", message=str(e))
            return False
        # The stamp the configuration was read at (see _read_config).
        config_stamp = self._config_read[0][1] if self._config_read else None
        stamps = {p: self._stamp(p) for p in inputs.files}
        changed = (
            force
            or config_stamp != self._config_stamp
            or set(stamps) != set(self._files)
            or any(self._files[p].stamp != s for p, s in stamps.items() if p in self._files)
        )
        if not changed:
            return False
        config_changed = force or config_stamp != self._config_stamp
        self._config_stamp = config_stamp
        self.reload(inputs, stamps, config_changed=config_changed)
        return True

    def reload(
        self, inputs: Any, stamps: dict[Path, tuple[int, int, int] | None], *, config_changed: bool
    ) -> None:
        from megaphone.checks.validate import PostChecker, report
        from megaphone.project.loader import read_queue_file

        config = inputs.config
        if inputs.config_doc is not None and any(
            p.severity == "error" for p in inputs.config_doc.problems
        ):
            if config_changed:  # told once per version of the file
                for p in inputs.config_doc.problems:
                    self._say("file-error", message=f"{p.loc}: {p.message}", file=str(p.loc.file))
            if self._config is not None:
                config = self._config  # the last good configuration stays
        first = self._config is None
        if self._config is not None and config != self._config:
            self._files.clear()  # every file is judged again under the new configuration
            self._say("reloaded", message="project configuration changed")
        self._config = config
        queue_paths = {f.queue.name: f.path for f in self._files.values() if f.queue}
        checker = PostChecker(config, self.root, queue_paths, datetime.now(UTC))
        new_files: dict[Path, _File] = {}
        changed_names: list[str] = []
        for path, stamp in stamps.items():
            if stamp is None:
                continue
            known = self._files.get(path)
            if known is not None and known.stamp == stamp:
                new_files[path] = known
                continue
            doc, queue = read_queue_file(path, cwd=self.root, config=config, root=self.root)
            if queue is not None:
                queue_paths[queue.name] = queue.path
            facts = [checker.check(post) for post in queue.posts] if queue else []
            # Kept for its name and problems only: its nodes and text go (its
            # lines are read again should a problem be shown with them).
            doc.root = None
            doc.text = None
            doc.__dict__.pop("source_lines", None)
            new_files[path] = _File(path, stamp, doc, queue, facts, None)
            changed_names.append(doc.name)
        removed = [f.doc.name for p, f in self._files.items() if p not in new_files]
        for path in list(self._good):
            if path not in new_files:
                del self._good[path]
        file_problems = [p for f in new_files.values() for p in f.doc.problems]
        whole = report(
            file_problems, [x for f in new_files.values() for x in f.facts], len(new_files)
        )
        errors: dict[str, list[Problem]] = {}
        for p in whole.problems:
            if p.severity == "error":
                errors.setdefault(p.loc.file, []).append(p)
        active: list[Queue] = []
        for path, f in new_files.items():
            bad = errors.get(f.doc.name, [])
            if not bad:
                if f.queue is not None:
                    self._good[path] = f.queue
                    active.append(f.queue)
                continue
            if f.told != f.stamp:  # each version's problems are told once
                f.told = f.stamp
                for p in bad[:5]:
                    self._say("file-error", message=f"{p.loc}: {p.message}", file=f.doc.name)
                if len(bad) > 5:
                    self._say("file-error", message=f"… and {len(bad) - 5} more", file=f.doc.name)
                if path in self._good:
                    self._say(
                        "file-error",
                        message="its last good version keeps its schedule until it is fixed",
                        file=f.doc.name,
                    )
            if path in self._good:
                active.append(self._good[path])
            elif f.queue is not None:
                invalid = {p.post_id for p in bad if p.post_id}
                if None in {p.post_id for p in bad}:
                    continue  # the file itself is unreadable: nothing of it is trusted
                kept = tuple(p for p in f.queue.posts if p.id not in invalid)
                active.append(f.queue._replace(posts=kept))
        with self._lock:
            self._files = new_files
            self._active = tuple(active)
            self._accounts = {a.name: a for a in config.accounts}
        self._expand()
        if self._publisher is not None:
            self._publisher.use(self._project())
            self._write_ahead()
        if not first and (changed_names or removed or config_changed):
            self._say(
                "reloaded",
                message=", ".join(
                    [f"changed {n}" for n in changed_names] + [f"removed {n}" for n in removed]
                )
                or "configuration",
            )
        self._schedule()
        if self._publisher is None:
            _give_back_memory()  # else done after the write-ahead above

    # --------------------------------------------------------- schedule

    def _schedule(self) -> None:
        """Make the schedule match the posts to publish: each post and
        account due at its time, and a job of the scheduler's for each
        moment that has posts (posts due together go out together)."""
        from megaphone.store.view import peek_project

        assert self._config is not None
        states = peek_project(self.root, self._config, self.environ) or {}
        desired: dict[str, datetime] = {}
        with self._lock:
            for post in self._posts.values():
                if post.draft or post.at is None:
                    continue
                rows = {a: s for a, s, _ in states.get(post.id, ())}
                for account in post.accounts:
                    if still_open(rows.get(account)):
                        desired[_job_id(post.id, account)] = post.at
            previous, self._scheduled = self._scheduled, desired
            moments = set(desired.values())
        scheduler = self._scheduler
        for job_id in previous.keys() - desired.keys():
            post_id, account = _split(job_id)
            self._say("cancelled", post=post_id, account=account)
        for job_id, at in desired.items():
            was = previous.get(job_id)
            if was == at:
                continue
            post_id, account = _split(job_id)
            if was is not None:
                self._say("rescheduled", post=post_id, account=account, at=at)
            elif scheduler.running:
                self._say("scheduled", post=post_id, account=account, at=at)
        existing = {job.id for job in scheduler.get_jobs() if job.id.startswith("at:")}
        wanted = {f"at:{at.isoformat()}": at for at in moments}
        for job_id in existing - wanted.keys():
            with contextlib.suppress(LookupError):  # it has just run
                scheduler.remove_job(job_id)
        for job_id, at in wanted.items():
            if job_id not in existing:
                scheduler.add_job(
                    self.fire, "date", run_date=at, args=(at,), id=job_id, replace_existing=True
                )

    def pending(self) -> int:
        with self._lock:
            return len(self._scheduled)

    def next_jobs(self, n: int = 5) -> list[tuple[str, str, datetime]]:
        with self._lock:
            soonest = heapq.nsmallest(n, self._scheduled.items(), key=lambda item: item[::-1])
        return [(*_split(job_id), at.astimezone(UTC)) for job_id, at in soonest]

    # ------------------------------------------------------------- jobs

    def fire(self, at: datetime) -> None:
        """Posts' time has come (a scheduler thread): every post due by now
        is given to the run under way, or to a new one."""
        with self._job():
            try:
                self._fire(at)
            except Exception as e:  # a bug must not kill the worker; say it
                self._say("error", message=_trouble(e))

    @contextlib.contextmanager
    def _job(self) -> Iterator[None]:
        """A job of the scheduler's at work (``stop`` waits for them)."""
        self._begin_job()
        try:
            yield
        finally:
            self._end_job()

    def _begin_job(self) -> None:
        with self._running:
            self._busy += 1

    def _end_job(self) -> None:
        with self._running:
            self._busy -= 1
            self._running.notify_all()

    def _fire(self, at: datetime) -> None:
        # Under the run's lock: posts taken here reach the run before any
        # that a later moment takes (an account's posts stay in order).
        with self._run_lock:
            with self._lock:
                if self.stopping:
                    return
                now = max(datetime.now(UTC), at)
                taken = [job_id for job_id, when in self._scheduled.items() if when <= now]
                due = []
                for job_id in taken:
                    del self._scheduled[job_id]
                    post_id, account_name = _split(job_id)
                    post = self._posts.get(post_id)
                    if post is not None and account_name in post.accounts:
                        account = self._accounts.get(account_name) or Account(account_name)
                        due.append((post, account))
            if self.dry_run:
                due.sort(key=lambda item: post_order(item[0], now))
                for post, account in due:
                    self._would_send(post, account)
                return
            run = self._give(due)
        if run is not None:
            self._drive(run)

    def _publish(self, due: list[tuple[Post, Account]]) -> None:
        """Send posts found due by a sweep: given to the run under way, or
        to a new one, driven by a thread of its own (the sweep goes on with
        its heartbeat meanwhile; ``stop`` waits for the thread)."""
        with self._run_lock:
            run = self._give(due)
        if run is None:
            return
        self._begin_job()  # counted before the thread starts: stop waits for it

        def drive() -> None:
            try:
                self._drive(run)
            except Exception as e:  # a bug must not kill the worker; say it
                self._say("error", message=_trouble(e))
            finally:
                self._end_job()

        threading.Thread(target=drive, name="megaphone-run", daemon=True).start()

    def _give(self, due: list[tuple[Post, Account]]) -> AccountRun | None:
        """Give posts that are due to the run under way; or to a new run,
        returned for the caller to drive (under the run's lock).  An account
        held back by a rate limit or refused credentials waits for the
        sweep."""
        now = datetime.now(UTC)
        jobs = [
            Job(post.for_network(account.network), account, post.at or now)
            for post, account in due
            if not (held := self._held.get(account.name)) or held <= now
        ]
        jobs.sort(key=order)
        if not jobs or self.stopping:
            return None  # (stopping: the next start sends them)
        if self._run is not None and self._run.add(jobs):
            return None  # the run under way sends them
        assert self._publisher is not None
        run = self._run = self._publisher.new_run(report=self._from_run)
        run.add(jobs)
        return run

    def _drive(self, run: AccountRun) -> None:
        """Accounts in parallel, each account's posts in batches under its
        lease (see AccountRun), until the run has no more to send.  Replies
        and quotes whose post was not live yet wait for the sweep."""
        try:
            run.go()
        finally:
            with self._run_lock:
                if self._run is run:
                    self._run = None

    def _from_run(self, outcome: Outcome) -> None:
        if outcome.stop_account:
            self._held[outcome.account] = datetime.now(UTC) + timedelta(
                seconds=max(self.sweep_every, 60)
            )
        self._told(outcome)

    def _told(self, outcome: Outcome) -> None:
        with self._lock:
            self._to_tell.append(outcome)
        if outcome.state == "skipped":
            return
        if outcome.state == "waiting":
            return  # the sweep sends it once the post it answers is live
        self._say(
            outcome.state,
            post=outcome.post_id,
            account=outcome.account,
            url=outcome.url,
            late=outcome.late.total_seconds() if outcome.late is not None else None,
            message=outcome.message or None,
            parts=outcome.parts if outcome.parts > 1 else None,
        )

    def _would_send(self, post: Post, account: Account) -> None:
        post = post.for_network(account.network)
        texts = post.texts()
        for i, text in enumerate(texts):
            media = ", ".join(f"{m.path} (alt: {m.alt or 'none'})" for m in post.parts[i].media)
            self._say(
                "would-send",
                post=post.id,
                account=account.name,
                part=f"{i + 1}/{len(texts)}" if len(texts) > 1 else None,
                message=text.replace("\n", " ") + (f" + {media}" if media else ""),
            )

    def sweep(self) -> None:
        """What ``publish --due`` does, for posts whose job has passed; and
        the heartbeat."""
        with self._job():
            try:
                self._sweep()
            except Exception as e:  # the next sweep tries again
                self._say("error", message=_trouble(e))

    def _sweep(self) -> None:
        if self.stopping:
            return
        now = datetime.now(UTC)
        if now - self._expanded_at >= EXPAND_EVERY and self._config is not None:
            # Occurrences and evergreen slots come into the window.
            self._expand()
            if self._publisher is not None:
                self._write_ahead()
            self._schedule()
        if self._publisher is not None:
            from megaphone.project.deliveries import ByDelivery

            with self._lock:
                posts = ByDelivery(self._project(), self._posts)
            for outcome in self._publisher.reconcile_abandoned(posts):
                self._told(outcome)
            self._heartbeat()
            self._tell(now)
            self._warm(now)
        if self.dry_run:
            return
        from megaphone.store.view import peek_project

        assert self._config is not None
        states = peek_project(self.root, self._config, self.environ) or {}
        with self._lock:
            pending = set(self._scheduled)
            accounts = dict(self._accounts)
        due = []
        for post, account in self._due(now):
            if _job_id(post.id, account) in pending:
                continue
            rows = {a: s for a, s, _ in states.get(post.id, ())}
            if still_open(rows.get(account)):
                due.append((post, accounts.get(account) or Account(account)))
        if due and not self.stopping:
            self._publish(due)

    def _warm(self, now: datetime) -> None:
        """Sign in to the accounts with a post due within WARM_AHEAD that
        are not signed in yet, up to SIGN_IN_THREADS at once, in a thread
        of their own (``stop`` waits for it): the first post of a burst, or
        of a worker just started, does not wait for the account's adapter
        and the network's "who am I".  Once per account: one that fails
        signs in when its post is due, and says there what is wrong."""
        publisher = self._publisher
        config = self._config
        if publisher is None or self.stopping or config is None:
            return
        if self._warmed.issuperset(a.name for a in config.accounts):
            return  # every account: nothing to look for among the posts
        soon = now + WARM_AHEAD
        with self._lock:
            names = {_split(job_id)[1] for job_id, at in self._scheduled.items() if at <= soon}
            cold = [
                self._accounts.get(name) or Account(name)
                for name in sorted(names - self._warmed)
                if not publisher.sessions.signed_in(name)
            ]
            self._warmed.update(a.name for a in cold)
        if not cold:
            return
        self._begin_job()  # counted before the thread starts: stop waits for it

        def warm() -> None:
            from concurrent.futures import ThreadPoolExecutor

            try:
                with ThreadPoolExecutor(min(SIGN_IN_THREADS, len(cold))) as pool:
                    list(pool.map(publisher.sessions.warm, cold))
                # A ledger connection for each account's thread, made now.
                with contextlib.suppress(MegaphoneError):
                    publisher.ledger.keep_ready(len(names))
            except Exception as e:  # a bug must not kill the worker; say it
                self._say("error", message=_trouble(e))
            finally:
                self._end_job()

        threading.Thread(target=warm, name="megaphone-sign-in", daemon=True).start()

    def _due(self, now: datetime) -> Iterator[tuple[Post, str]]:
        with self._lock:
            posts = sorted(
                (p for p in self._posts.values() if not p.draft and p.at and p.at <= now),
                key=lambda p: p.at or now,
            )
        for post in posts:
            for account in post.accounts:
                yield post, account

    def _tell(self, now: datetime, extra: list[Any] | None = None) -> None:
        """Notify the team of what the worker's jobs and sweeps found since
        the last time (each post and state once), and of posts due for
        longer than STUCK_AFTER that are still not sent."""
        from megaphone.publish.notify import Notice, destinations, tell

        config = self._config
        assert config is not None
        with self._lock:
            outcomes, self._to_tell = self._to_tell, []
        if self._targets is None or self._targets[0] is not config:
            # Looked up again only when the configuration changes.
            self._targets = (config, destinations(config, self.environ, self.root))
        targets = self._targets[1]
        if not targets:
            return
        from megaphone.store.view import peek_project

        notices = list(extra or ())
        networks = {a.name: a.network for a in config.accounts}
        states = peek_project(self.root, config, self.environ) or {}
        for post, account in self._due(now - STUCK_AFTER):
            rows = {a: s for a, s, _ in states.get(post.id, ())}
            if still_open(rows.get(account)) and rows.get(account) != "publishing":
                notices.append(
                    Notice(
                        "stuck",
                        f"due since {post.at:%Y-%m-%d %H:%M} UTC and still not sent",
                        post.id,
                        account,
                        networks.get(account, ""),
                    )
                )
        tell(
            targets,
            outcomes,
            config=config,
            ledger=self._ledger,
            project=self.root.name,
            warn=lambda message: self._say("warning", message=message),
            extra=notices,
        )

    def _heartbeat(self, *, stopped: bool = False) -> None:
        if self._ledger is None:
            return
        from megaphone.store.lease import this_machine

        beat = Heartbeat(
            os.getpid(),
            socket.gethostname(),
            self._started_at,
            datetime.now(UTC),
            self.dry_run,
            self.next_jobs() if self._scheduler is not None and not stopped else [],
            stopped,
            self.sweep_every,
            this_machine().boot or "",
        )
        self._ledger.set_meta(beat.key, beat.to_json())

    # -------------------------------------------------------------- log

    def _say(self, event: str, **fields: Any) -> None:
        record: dict[str, Any] = {"time": datetime.now(UTC), "event": event}
        record.update({k: v for k, v in fields.items() if v is not None})
        self.log(record)


_SEP = "\x1f"  # in no account name or post id


def _give_back_memory() -> None:
    """Return to the system what reading the project took and let go of:
    a worker runs for months, and the C library keeps freed memory for the
    process unless asked (glibc's malloc_trim; elsewhere nothing to do)."""
    import gc
    import sys

    gc.collect()
    if sys.platform.startswith("linux"):
        import ctypes
        import ctypes.util

        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            trim = libc.malloc_trim
        except (OSError, AttributeError):
            return  # not glibc (musl has no malloc_trim)
        trim(0)


def _trouble(error: Exception) -> str:
    """What went wrong in a job, in one line: megaphone's own errors as they
    say it (a ledger out of reach: the next sweep tries again), anything
    else as the bug it is."""
    if isinstance(error, MegaphoneError):
        return f"{error}; the next sweep tries again"
    return f"internal error: {type(error).__name__}: {error}"


def _job_id(post_id: str, account: str) -> str:
    return f"post:{account}{_SEP}{post_id}"


def _split(job_id: str) -> tuple[str, str]:
    account, _, post_id = job_id.removeprefix("post:").partition(_SEP)
    return post_id, account
