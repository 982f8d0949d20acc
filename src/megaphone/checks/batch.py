"""Validating a project from its files, on several processor cores when it is
big enough to gain from them.

Each queue file is read and its posts checked on their own; only the checks
across posts (duplicate ids, references, hashtag spellings, repeated text)
need all of them, and they work on small facts.  So a large project is split
into runs of files, each checked in a forked worker process, and the facts
come back to be put together in file order: the report is the same, to the
letter, as the one the single-process path gives.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from megaphone.checks.validate import Facts, PostChecker, Report, report
from megaphone.errors import UsageError
from megaphone.problems import Loc, Problem, Severity
from megaphone.project.loader import Inputs, load, locate, read_queue_file
from megaphone.project.yamldoc import Document

if TYPE_CHECKING:
    from collections.abc import Iterable

    from megaphone.model import Config
    from megaphone.store.view import Deliveries

#: Below this much YAML, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 512 * 1024
PARALLEL_MIN_FILES = 4


@dataclass
class Checked:
    report: Report
    #: the files read, by the name problems give them (for showing lines)
    documents: dict[str, Document]


def validate_paths(
    paths: Iterable[Path],
    *,
    cwd: Path | None = None,
    now: datetime | None = None,
    jobs: int | None = None,
    min_bytes: int = PARALLEL_MIN_BYTES,
    min_files: int = PARALLEL_MIN_FILES,
) -> Checked:
    """Read and check the queues at ``paths`` (as :func:`megaphone.project.loader.load`
    finds them), in ``jobs`` processes (default: one per core) when the
    project has at least ``min_files`` files and ``min_bytes`` of YAML and
    the system can fork; else in this process."""
    now = now or datetime.now(UTC)
    paths = list(paths)
    cwd = (cwd or Path.cwd()).resolve()
    plan = _plan(paths, cwd, jobs, min_bytes, min_files)
    if plan is not None:
        try:
            return _in_parallel(*plan, cwd=cwd, now=now)
        except _WorkerFailed:
            pass  # no worker could be had, or one died: do it all here
    from megaphone.checks.validate import validate

    loaded = load(paths, cwd=cwd)
    ledger = _ledger(loaded.project.root, loaded.project.config)
    return Checked(validate(loaded, now=now, ledger=ledger), loaded.documents)


def _ledger(root: Path, config: Config) -> Deliveries | None:
    """What the project's ledger says of each post, if it has one."""
    from megaphone.store.view import peek_project

    return peek_project(root, config, os.environ)


class _WorkerFailed(Exception):
    """A worker process could not be started, or did not finish its work."""


def _in_parallel(inputs: Inputs, chunks: list[list[Path]], *, cwd: Path, now: datetime) -> Checked:
    ledger = _ledger(inputs.root, inputs.config)
    work = [(chunk, inputs.config, inputs.root, cwd, now, ledger) for chunk in chunks]
    # The first run of files is checked here while forked workers check the
    # rest.  (Plain fork and a pipe each: a process pool would cost more to
    # import and start than the work it shares out saves on a small project.)
    children = [_fork(w) for w in work[1:]]
    results = [_check_files(work[0])]
    results.extend(_unpack(_collect(child)) for child in children)
    file_problems: list[Problem] = []
    documents: dict[str, Document] = {}
    if inputs.config_doc is not None:
        file_problems.extend(inputs.config_doc.problems)
        documents[inputs.config_doc.name] = inputs.config_doc
    facts: list[Facts] = []
    for problems, chunk_facts, names in results:
        file_problems.extend(problems)
        facts.extend(chunk_facts)
        for name, path in names:
            documents[name] = Document(
                path, name, project=inputs.root
            )  # its lines are read again if shown
    return Checked(report(file_problems, facts, len(inputs.files)), documents)


def _plan(
    paths: list[Path], cwd: Path, jobs: int | None, min_bytes: int, min_files: int
) -> tuple[Inputs, list[list[Path]]] | None:
    """How to split the work, or None for the single-process path."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    jobs = jobs if jobs is not None else (cores or 1)
    if jobs < 2 or sys.platform != "linux":  # forking elsewhere is not safe enough
        return None
    try:
        inputs = locate(paths, cwd=cwd)
    except UsageError:
        return None  # the single-process path says what is missing
    files = inputs.files
    sizes = [f.stat().st_size for f in files]
    if len(files) < max(min_files, 2) or sum(sizes) < min_bytes:
        return None
    # Runs of consecutive files of about equal size, one per worker.
    share = sum(sizes) / jobs
    chunks: list[list[Path]] = [[]]
    filled = 0.0
    for path, size in zip(files, sizes, strict=True):
        if filled >= share * len(chunks) and len(chunks) < jobs:
            chunks.append([])
        chunks[-1].append(path)
        filled += size
    return inputs, [c for c in chunks if c]


# What a worker sends back, as nested tuples of plain values: pickled in C,
# several times faster than the named tuples and dataclasses they stand for.
_Packed = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[str, Path]]]


_Work = tuple[list[Path], "Config", Path, Path, datetime, "Deliveries | None"]


def _fork(work: _Work) -> tuple[int, int]:
    """A child process checking ``work``, and the pipe its result comes by."""
    import pickle

    try:
        read_end, write_end = os.pipe()
        pid = os.fork()
    except OSError as e:
        raise _WorkerFailed(str(e)) from None
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(read_end)
            data = pickle.dumps(_check_files_packed(work), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _collect(child: tuple[int, int]) -> _Packed:
    """What a child sent; :class:`_WorkerFailed` when it failed."""
    import pickle

    pid, read_end = child
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        raise _WorkerFailed(f"worker {pid} ended with status {status}")
    packed: _Packed = pickle.loads(data)
    return packed


def _check_files_packed(work: _Work) -> _Packed:
    problems, facts, names = _check_files(work)
    return [_pack_problem(p) for p in problems], [_pack_facts(f) for f in facts], names


def _pack_problem(p: Problem) -> tuple[Any, ...]:
    return (p.code, str(p.severity), p.message, tuple(p.loc), p.post_id, p.network)


def _pack_facts(f: Facts) -> tuple[Any, ...]:
    return (
        f.id,
        tuple(f.id_loc),
        f.at,
        f.timezone,
        f.draft,
        [_pack_problem(p) for p in f.problems],
        [(name, ref, tuple(loc)) for name, ref, loc in f.refs],
        [(a, digest, tuple(loc), index, title) for a, digest, loc, index, title in f.texts],
        [(spelling, tuple(loc)) for spelling, loc in f.tags],
        f.is_thread,
        f.comes_back,
    )


def _unpack(packed: _Packed) -> tuple[list[Problem], list[Facts], list[tuple[str, Path]]]:
    problems, facts, names = packed
    return [_unpack_problem(p) for p in problems], [_unpack_facts(f) for f in facts], names


def _unpack_problem(p: tuple[Any, ...]) -> Problem:
    code, severity, message, loc, post_id, network = p
    return Problem(code, Severity(severity), message, Loc(*loc), post_id, network)


def _unpack_facts(f: tuple[Any, ...]) -> Facts:
    post_id, id_loc, at, timezone, draft, problems, refs, texts, tags, is_thread, back = f
    return Facts(
        post_id,
        Loc(*id_loc),
        at,
        timezone,
        draft,
        [_unpack_problem(p) for p in problems],
        [(name, ref, Loc(*loc)) for name, ref, loc in refs],
        [(a, digest, Loc(*loc), index, title) for a, digest, loc, index, title in texts],
        [(spelling, Loc(*loc)) for spelling, loc in tags],
        is_thread,
        back,
    )


def _check_files(
    work: _Work,
) -> tuple[list[Problem], list[Facts], list[tuple[str, Path]]]:
    """In a worker: read and check one run of files."""
    paths, config, root, cwd, now, ledger = work
    problems: list[Problem] = []
    facts: list[Facts] = []
    names = []
    queue_paths: dict[str, Path] = {}
    checker = PostChecker(config, root, queue_paths, now, ledger)
    for path in paths:
        doc, queue = read_queue_file(path, cwd=cwd, config=config, root=root)
        problems.extend(doc.problems)
        names.append((doc.name, path))
        if queue is not None:
            queue_paths[queue.name] = queue.path
            facts.extend(checker.check(post) for post in queue.posts)
    return problems, facts, names
