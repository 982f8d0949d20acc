"""Queueing from the command line: add, reschedule, remove and move posts,
free slots, and new projects.  Each change is checked with the same rules as
``validate`` before it is written, read back, and written atomically."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from megaphone.errors import MegaphoneError, UsageError
from megaphone.problems import Loc
from megaphone.project.edit import NewPost, QueueText, edit_lock, read_text, render, write_atomic

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from megaphone.model import Post, Queue, Text
    from megaphone.problems import Problem
    from megaphone.project.loader import Loaded


@dataclass
class Change:
    """What a change did: the post, its file and time, as shown to the user."""

    post_id: str
    file: str
    at: datetime | None
    timezone: str
    warnings: list[Problem]


# ----------------------------------------------------------------- finding


def load_project(root: Path) -> Loaded:
    from megaphone.project.loader import load

    return load((), cwd=root, allow_empty=True)


def find_queue(loaded: Loaded, name: str) -> Queue:
    """A queue by its file (``posts/campaign.yaml``) or name (``campaign``)."""
    root = loaded.project.root
    wanted = name.removesuffix(".yaml").removesuffix(".yml")
    for queue in loaded.project.queues:
        path = queue.path
        names = {
            queue.name,
            str(path),
            path.stem,
            str(path.relative_to(root)) if path.is_relative_to(root) else "",
        }
        if name in names or wanted in names or str(Path(name).resolve()) == str(path.resolve()):
            doc = loaded.documents.get(queue.name)
            trouble = [
                p
                for p in (doc.problems if doc else [])
                if p.severity == "error" and p.post_id is None
            ]
            if trouble:
                first = trouble[0]
                raise MegaphoneError(
                    f"{first.loc}: {first.message} — fix {queue.name} first (megaphone validate)"
                )
            return queue
    broken = [d for d in loaded.documents.values() if Path(d.path).stem == wanted]
    if broken:
        raise MegaphoneError(f"{broken[0].name} cannot be read: fix it first (megaphone validate)")
    known = ", ".join(q.path.stem for q in loaded.project.queues) or "none"
    raise UsageError(f"no queue {name!r} (queues: {known}; or give the file's path)")


def find_post(loaded: Loaded, post_id: str) -> tuple[Queue, Post]:
    for queue in loaded.project.queues:
        for post in queue.posts:
            if post.id == post_id:
                return queue, post
    from megaphone.model import split_id

    entry, variant, occurrence = split_id(post_id)
    if entry != post_id and any(p.id == entry for p in loaded.project.posts()):
        which = "a time of a repeating post" if occurrence else f"the {variant} text of a post"
        raise UsageError(f"{post_id!r} is {which}: change the post itself, {entry!r}, in its file")
    raise UsageError(f"no post has the id {post_id!r}")


def new_id(text: str, taken: set[str]) -> str:
    """A readable, unique id: the text's first words, and a short suffix."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    words = [w for w in words if w not in {"http", "https", "www", "com", "org"}][:5]
    slug = "-".join(words)[:40].strip("-") or "post"
    while True:
        candidate = f"{slug}-{secrets.token_hex(2)}"
        if candidate not in taken:
            return candidate


# ---------------------------------------------------------------- checking


def _essence(post: Post) -> tuple[Any, ...]:
    """What a post says, without where it is written."""
    return (
        post.id,
        post.accounts,
        tuple(post.texts()),
        post.at,
        post.expires,
        tuple((m.path, m.alt) for part in post.parts for m in part.media),
        post.reply_to,
        post.quote,
        post.draft,
        post.lang,
        tuple(
            (v.lang, _said(v.text), tuple((k, _said(t)) for k, t in v.networks.items()))
            for v in post.variants
        ),
        tuple((k, _said(t)) for k, t in post.networks.items()),
        post.repeat._replace(loc=_NOWHERE) if post.repeat else None,  # its rule, not its place
        tuple(_said(t) for t in post.rotate),
        post.variants_as,
        post.evergreen,
    )


#: Where nothing is: what a comparison of content puts in place of a position.
_NOWHERE = Loc("", 0, 0)


def _said(text: Text) -> tuple[Any, ...]:
    return tuple((p.text, tuple((m.path, m.alt) for m in p.media)) for p in text.parts)


def _problem_key(p: Problem) -> tuple[str, str | None, str]:
    return (p.code, p.post_id, p.message)


def check_change(
    loaded: Loaded,
    changes: Mapping[Path, str | None],
    *,
    now: datetime,
    touched: str,
    expect_gone: set[str] = frozenset(),  # type: ignore[assignment]
) -> tuple[list[Problem], dict[str, Post]]:
    """Validate the project as it would be with ``changes`` (file → new
    text; None: unchanged).  Refuses (MegaphoneError) a change that brings
    an error, or that alters any post but ``touched``.  Returns the warnings
    of ``touched`` and the new posts by id."""
    import os
    import tempfile

    from megaphone.checks.validate import validate
    from megaphone.model import Project
    from megaphone.project.loader import Loaded as LoadedType
    from megaphone.project.loader import Reader, display
    from megaphone.project.yamldoc import read

    project = loaded.project
    before = validate(loaded, now=now)
    queues = list(project.queues)
    problems = list(loaded.problems)
    for path, text in changes.items():
        if text is None:
            continue
        fd, tmp = tempfile.mkstemp(prefix=".megaphone-check-", suffix=".yaml", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            doc = read(Path(tmp), display(path, project.root))
            queue = Reader(doc, config=project.config).read_queue()
        finally:
            os.unlink(tmp)
        if any(p.severity == "error" and p.post_id is None for p in doc.problems):
            first = next(p for p in doc.problems if p.severity == "error")
            raise MegaphoneError(
                f"the change would break {doc.name}: {first.loc}: {first.message}; nothing written"
            )
        problems = [p for p in problems if p.loc.file != doc.name] + doc.problems
        queues = [q for q in queues if q.path != path]
        if queue is not None:
            queues.append(queue._replace(path=path))
    order = {q.path: i for i, q in enumerate(project.queues)}
    queues.sort(key=lambda q: order.get(q.path, len(order)))
    after_loaded = LoadedType(
        Project(project.root, project.config, tuple(queues)),
        problems,
        loaded.documents,
        len(queues),
    )
    after = validate(after_loaded, now=now)
    old_errors = {_problem_key(p) for p in before.problems if p.severity == "error"}
    new_errors = [
        p
        for p in after.problems
        if p.severity == "error" and (p.post_id == touched or _problem_key(p) not in old_errors)
    ]
    if new_errors:
        shown = "; ".join(f"{p.loc}: {p.message}" for p in new_errors[:3])
        raise MegaphoneError(f"not written: {shown}")
    old_posts = {p.id: p for p in project.posts()}
    new_posts = {p.id: p for p in after_loaded.project.posts()}
    for post_id, post in old_posts.items():
        if post_id == touched or post_id in expect_gone:
            continue
        if post_id not in new_posts or _essence(new_posts[post_id]) != _essence(post):
            raise MegaphoneError(
                f"internal check failed: the change would alter post {post_id!r}; nothing written"
            )
    warnings = [p for p in after.problems if p.post_id == touched and p.severity == "warning"]
    return warnings, new_posts


# ------------------------------------------------------------------- add


def add(
    root: Path,
    queue_name: str,
    *,
    text: str | None,
    thread: list[str],
    when: str | None,
    next_slot: bool,
    now_flag: bool,
    media: list[tuple[str, str | None]],
    hashtags: list[str],
    account: str | list[str] | None,
    post_id: str | None,
    now: datetime | None = None,
    cwd: Path | None = None,
    lang: str | None = None,
    reply_to: str | None = None,
    quote: str | None = None,
    expires: str | None = None,
    draft: bool = False,
) -> Change:
    """Add a post to the queue ``queue_name`` (its name or file; a new
    ``.yaml`` file in the posts folder is made).  Media paths are relative
    to ``cwd`` (where the person is), written relative to the queue file."""
    import os

    from megaphone.time.natural import resolve

    now = now or datetime.now(UTC)
    cwd = cwd or Path.cwd()
    if sum(bool(x) for x in (when, next_slot, now_flag)) > 1:
        raise UsageError("give one of --at, --next-slot and --now")
    if any(not p.strip() for p in thread):
        raise UsageError("--thread: a thread part needs text (an empty --thread was given)")
    # Surrounding spaces are not part of a post (the loader, and X, drop them).
    parts = [p.strip() for p in ([text] if text else []) + list(thread) if p.strip()]
    if not parts:
        raise UsageError("a post needs text (or --thread parts)")
    given = [account] if isinstance(account, str) else list(account or [])
    with edit_lock(root):
        loaded = load_project(root)
        queue, fresh = _queue_or_new(loaded, queue_name, cwd=cwd, accounts=given)
        tz = queue.timezone or loaded.project.config.timezone
        # The post names its accounts only when they are not the queue's.
        accounts = given if given and set(given) != set(queue.accounts) else []
        names = accounts or list(queue.accounts)
        if not names:
            raise UsageError(f"{queue.name} names no account: give --account")
        if when:
            at: datetime | None = resolve(when, now=now, tz_name=tz)
        elif now_flag:
            at = now.replace(microsecond=0)
        elif next_slot:
            at = _next_slot(loaded, queue, names, now, tz)
        elif draft:
            at = None
        else:
            raise UsageError("say when: --at WHEN, --next-slot or --now (or --draft)")
        until = resolve(expires, now=now, tz_name=tz) if expires else None
        taken = {p.id for p in loaded.project.posts()}
        if post_id is not None and post_id in taken:
            raise UsageError(f"the id {post_id!r} is taken")
        written_media = []
        for path, alt in media:
            found = (cwd / path).resolve()
            if not found.is_file():
                raise UsageError(f"--media: no file {path} (looked for {found})")
            written_media.append((os.path.relpath(found, queue.path.parent), alt))
        new = NewPost(
            id=post_id or new_id(parts[0], taken),
            text=parts[0] if len(parts) == 1 else None,
            thread=parts if len(parts) > 1 else [],
            at=at,
            media=written_media,
            hashtags=[h.lstrip("#") for h in hashtags],
            accounts=accounts,
            lang=lang,
            reply_to=reply_to,
            quote=quote,
            expires=until,
            draft=draft,
        )
        if fresh:
            old, bom = "", False
            new_text = _new_queue_text(new, queue, tz)
        else:
            old, bom = read_text(queue.path)
            doc = QueueText(old, queue.name)
            dash, indent = doc.layout()
            new_text = doc.add(
                render(new, tz_name=tz, dash=dash, indent=indent, newline=doc.newline)
            )
        warnings, posts = check_change(loaded, {queue.path: new_text}, now=now, touched=new.id)
        written = posts.get(new.id)
        if written is None or written.at != at or [p.text for p in written.parts] != parts:
            raise MegaphoneError("internal check failed: the post would not read back; not written")
        if fresh:
            _create_new(queue.path, new_text)
        else:
            write_atomic(queue.path, new_text, bom=bom, expect=old)
    if now_flag:  # due now by design: "past due" would only confuse
        warnings = [w for w in warnings if w.code != "past-due"]
    return Change(new.id, queue.name, at, tz, warnings)


def _queue_or_new(
    loaded: Loaded, name: str, *, cwd: Path, accounts: list[str]
) -> tuple[Queue, bool]:
    """The queue named, or a new queue file to make (True): a ``.yaml``
    path, in the project's posts folder, that does not exist yet."""
    try:
        return find_queue(loaded, name), False
    except UsageError:
        if not name.endswith((".yaml", ".yml")):
            raise
    from megaphone.project.files import inside

    path = (cwd / name).absolute()
    posts_dir = loaded.project.root / loaded.project.config.posts_dir
    if path.exists():
        raise UsageError(
            f"{name} exists but is not a queue megaphone can read (megaphone validate)"
        )
    if not inside(path.parent, posts_dir) and path.parent.resolve() != posts_dir.resolve():
        raise UsageError(
            f"a new queue file goes in the posts folder ({loaded.project.config.posts_dir}/), "
            f"so that megaphone finds it: {name} is not there"
        )
    if not accounts:
        raise UsageError(f"{name} is a new queue: give its account with --account")
    from megaphone.model import Queue as NewQueue
    from megaphone.project.loader import display

    queue = NewQueue(path, display(path, loaded.project.root), (), "", tuple(accounts))
    return queue, True


def _new_queue_text(post: NewPost, queue: Queue, tz: str) -> str:
    """A new queue file holding ``post``: the queue's account(s), the
    project's time zone, the editor's schema hint."""
    first = queue.accounts
    head = f"account: {first[0]}\n" if len(first) == 1 else f"account: [{', '.join(first)}]\n"
    body = render(post, tz_name=tz, dash=2, indent=2, newline="\n")
    return f"{head}timezone: {tz}\nposts:\n{body}"


def _create_new(path: Path, text: str) -> None:
    """Write a new file, refusing one that appeared meanwhile."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise MegaphoneError(
            f"{path.name} appeared meanwhile: nothing written; run again"
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _next_slot(loaded: Loaded, queue: Queue, names: list[str], now: datetime, tz: str) -> datetime:
    found = free_slots(loaded, queue, names, now=now, count=1)
    if not queue.slots:
        raise UsageError(f"{queue.name} has no slots: add e.g. `slots: [mon-fri 09:00]` to it")
    if not found:
        raise UsageError(f"no free slot in {queue.name} in the coming year")
    return found[0]


def free_slots(
    loaded: Loaded, queue: Queue, accounts: list[str], *, now: datetime, count: int
) -> list[datetime]:
    """The next ``count`` slots of ``queue`` where none of ``accounts`` has a post."""
    from megaphone.time.slots import free

    taken = {
        p.at.astimezone(UTC)
        for p in loaded.project.posts()
        if p.at is not None and not p.draft and set(p.accounts) & set(accounts)
    }
    tz = queue.timezone or loaded.project.config.timezone
    return [
        w.astimezone(UTC)
        for w in free(queue.slots, after=now, tz_name=tz, taken=taken, count=count)
    ]


def add_variant(
    root: Path,
    post_id: str,
    *,
    lang: str,
    text: str | None,
    thread: list[str],
    alts: list[str],
    now: datetime | None = None,
) -> Change:
    """Add a language to the post ``post_id``: its text (or thread) and the
    alt text of its media in that language, checked, the file's layout kept."""
    now = now or datetime.now(UTC)
    parts = [p.strip() for p in ([text] if text else []) + list(thread) if p.strip()]
    if not parts:
        raise UsageError("the new language needs its text (or --thread parts)")
    lang = lang.strip()
    with edit_lock(root):
        loaded = load_project(root)
        queue, post = find_post(loaded, post_id)
        if post.lang and post.lang.lower() == lang.lower():
            raise UsageError(f"{post_id} is in {lang} already (its lang)")
        if any(v.lang.lower() == lang.lower() for v in post.variants):
            raise UsageError(f"{post_id} has a {lang} text already: megaphone edit {post_id}")
        media = sum(len(p.media) for p in post.parts)
        if alts and len(alts) != media:
            raise UsageError(f"--alt: {post_id} has {media} media, {len(alts)} alt texts given")
        if media and not alts:
            raise UsageError(
                f"{post_id} has {media} media: give their alt text in {lang} (--alt, in order)"
            )
        old, bom = read_text(queue.path)
        new_text = QueueText(old, queue.name).add_variant(post_id, lang, parts, alts)
        warnings, posts = check_change(loaded, {queue.path: new_text}, now=now, touched=post_id)
        written = posts.get(post_id)
        got = next((v for v in written.variants if v.lang == lang), None) if written else None
        if got is None or [p.text for p in got.text.parts] != parts:
            raise MegaphoneError("internal check failed: the post would not read back; not written")
        write_atomic(queue.path, new_text, bom=bom, expect=old)
    at = written.at if written else None
    if at is not None and written is not None and written.variants_as is not None:
        at += written.variants_as * (written.variants.index(got) + 1)
    return Change(f"{post_id}/{lang}", queue.name, at, post.timezone, warnings)


def evergreen_slots(
    loaded: Loaded, queue: Queue, *, now: datetime, count: int
) -> list[tuple[datetime, str | None]]:
    """The next ``count`` slots of an evergreen queue, each with the post
    that takes it: a dated post of its accounts, the pool's post (as the
    ledger has it, or as the next runs will choose), or None."""
    import os

    from megaphone.project.deliveries import deliveries, history_of
    from megaphone.store.view import peek_project, seen_states
    from megaphone.time.slots import upcoming

    project = loaded.project
    seen = peek_project(project.root, project.config, os.environ) or {}
    history = history_of(seen_states(seen), project)
    tz = queue.timezone or project.config.timezone
    coming = list(upcoming(queue.slots, after=now, tz_name=tz))[:count]
    if not coming:
        return []
    made = deliveries(project, start=now, end=coming[-1], history=history, fill_from=now)
    accounts = set(queue.accounts) | {a for p in queue.posts for a in p.accounts}
    by_time: dict[datetime, str] = {}
    for p in made:
        if p.at is not None and set(p.accounts) & accounts:
            by_time.setdefault(p.at.astimezone(UTC), p.id)
    return [(w.astimezone(UTC), by_time.get(w.astimezone(UTC))) for w in coming]


# ------------------------------------------------- reschedule, remove, move


def reschedule(root: Path, post_id: str, when: str, *, now: datetime | None = None) -> Change:
    from megaphone.project.edit import time_text
    from megaphone.time.natural import resolve

    now = now or datetime.now(UTC)
    with edit_lock(root):
        loaded = load_project(root)
        queue, post = find_post(loaded, post_id)
        _refuse_if_sent(loaded, post_id, "rescheduled")
        tz = post.timezone or queue.timezone or loaded.project.config.timezone
        at = resolve(when, now=now, tz_name=tz)
        old, bom = read_text(queue.path)
        new_text = QueueText(old, queue.name).set_value(post_id, "at", time_text(at, tz))
        warnings, posts = check_change(loaded, {queue.path: new_text}, now=now, touched=post_id)
        if posts[post_id].at != at or _rest(posts[post_id]) != _rest(post):
            raise MegaphoneError("internal check failed: the new time would not read back")
        write_atomic(queue.path, new_text, bom=bom, expect=old)
    return Change(post_id, queue.name, at, tz, warnings)


def _rest(post: Post) -> tuple[Any, ...]:
    essence = _essence(post)
    return essence[:3] + essence[4:]


def remove(root: Path, post_id: str, *, now: datetime | None = None) -> Change:
    now = now or datetime.now(UTC)
    with edit_lock(root):
        loaded = load_project(root)
        queue, post = find_post(loaded, post_id)
        _refuse_if_sent(loaded, post_id, "removed")
        old, bom = read_text(queue.path)
        new_text = QueueText(old, queue.name).remove(post_id)
        _, posts = check_change(
            loaded, {queue.path: new_text}, now=now, touched=post_id, expect_gone={post_id}
        )
        if post_id in posts:
            raise MegaphoneError("internal check failed: the post would still be there")
        write_atomic(queue.path, new_text, bom=bom, expect=old)
    return Change(post_id, queue.name, post.at, post.timezone, [])


def move(root: Path, post_id: str, queue_name: str, *, now: datetime | None = None) -> Change:
    now = now or datetime.now(UTC)
    with edit_lock(root):
        loaded = load_project(root)
        source, post = find_post(loaded, post_id)
        target = find_queue(loaded, queue_name)
        if target.path == source.path:
            raise UsageError(f"{post_id} is in {target.name} already")
        _refuse_if_sent(loaded, post_id, "moved")
        old_source, source_bom = read_text(source.path)
        old_target, target_bom = read_text(target.path)
        source_text = QueueText(old_source, source.name)
        target_text = QueueText(old_target, target.name)
        dash, _ = target_text.layout()
        block = source_text.item_block(post_id, dash=dash)
        if source_text.newline != target_text.newline:
            block = block.replace(source_text.newline, target_text.newline)
        new_target = target_text.add(block)
        new_source = source_text.remove(post_id)
        warnings, posts = check_change(
            loaded,
            {target.path: new_target, source.path: new_source},
            now=now,
            touched=post_id,
        )
        moved = posts.get(post_id)
        if moved is None or [p.text for p in moved.parts] != [p.text for p in post.parts]:
            raise MegaphoneError("internal check failed: the post would not read back")
        # The destination first: a crash in between leaves the post twice
        # (which validate reports), never nowhere.
        write_atomic(target.path, new_target, bom=target_bom, expect=old_target)
        write_atomic(source.path, new_source, bom=source_bom, expect=old_source)
    return Change(post_id, target.name, moved.at, moved.timezone, warnings)


def edit_post(
    root: Path,
    post_id: str,
    editor: Callable[[str], str | None],
    *,
    now: datetime | None = None,
) -> Change | None:
    """Let a person edit the lines of one post (``editor`` takes them and
    gives back the new ones, None when left unsaved), check the result as
    `add` would, and write it back atomically.  None when nothing changed.
    The lock is not held while the editor is open; the file is read again
    before writing, and a save made meanwhile is never overwritten."""
    now = now or datetime.now(UTC)
    loaded = load_project(root)
    queue, _ = find_post(loaded, post_id)
    _refuse_if_sent(loaded, post_id, "edited")
    old, _ = read_text(queue.path)
    start, end, _ = QueueText(old, queue.name).span(post_id)
    lines = old.splitlines(keepends=True)
    block = "".join(lines[start:end])
    edited = editor(block)
    if edited is None or edited == block:
        return None
    if not edited.strip():
        raise UsageError(
            f"the post was emptied: nothing written (to delete it: megaphone remove {post_id})"
        )
    if not edited.endswith(("\n", "\r")):
        edited += "\n"
    with edit_lock(root):
        loaded = load_project(root)
        queue, _ = find_post(loaded, post_id)
        _refuse_if_sent(loaded, post_id, "edited")
        current, bom = read_text(queue.path)
        if current != old:
            raise MegaphoneError(
                f"{queue.name} changed while the post was being edited: nothing written; "
                "run megaphone edit again"
            )
        new_text = "".join(lines[:start]) + edited + "".join(lines[end:])
        new_id = _edited_id(new_text, queue.name, start) or post_id
        warnings, posts = check_change(loaded, {queue.path: new_text}, now=now, touched=new_id)
        if new_id not in posts:
            raise MegaphoneError("internal check failed: the edited post would not read back")
        write_atomic(queue.path, new_text, bom=bom, expect=old)
    written = posts[new_id]
    return Change(new_id, queue.name, written.at, written.timezone, warnings)


def _edited_id(text: str, name: str, line: int) -> str | None:
    """The id of the post whose item starts at ``line`` of ``text``."""
    import yaml

    from megaphone.project.yamldoc import pairs

    try:
        doc = QueueText(text, name)
        items = doc.items()
    except (MegaphoneError, yaml.YAMLError):
        return None
    for item in items:
        if isinstance(item, yaml.MappingNode) and doc._dash(item)[0] == line:
            for k, v in pairs(item):
                if getattr(k, "value", None) == "id" and isinstance(v, yaml.ScalarNode):
                    return str(v.value)
    return None


def _refuse_if_sent(loaded: Loaded, post_id: str, what: str) -> None:
    """A post already (or being) published is not changed: the ledger keeps
    what went out, and the file says what it was."""
    import os

    from megaphone.store.view import peek_project

    config = loaded.project.config
    states = peek_project(loaded.project.root, config, os.environ) or {}
    for account, state, _ in states.get(post_id, ()):
        if state in ("published", "publishing"):
            raise MegaphoneError(
                f"{post_id} is {state} on {account}: it cannot be {what} "
                "(edit the file by hand to keep a record of what went out)"
            )


# -------------------------------------------------------------------- init


def init(folder: Path, *, timezone: str, network: str = "x") -> list[Path]:
    """A new project in ``folder`` whose first account is on ``network``;
    refuses to overwrite anything."""
    from megaphone.networks import rules

    found = rules(network)
    cap = found.caps.default_daily_cap
    variables = "".join(f"MEGAPHONE_MAIN_{field}=\n" for field in found.credential_fields)
    files = {
        "megaphone.yaml": _CONFIG.format(
            timezone=timezone,
            network=network,
            server=found.init_server,
            handle=found.handle_example,
            cap=f"    daily_cap: {cap}           # posts a day at most ({found.title}'s default)\n"
            if cap
            else "",
        ),
        "posts/example.yaml": _QUEUE,
        ".env.example": _ENV.format(help=found.credentials_help) + variables,
        ".gitignore": _GITIGNORE,
        "schema/queue.schema.json": None,
    }
    existing = [name for name in files if (folder / name).exists()]
    if existing:
        raise UsageError(
            f"{folder} already has {', '.join(existing)}: megaphone init never overwrites"
        )
    from megaphone.project.schema import schema_json

    written = []
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if content is not None else schema_json(), encoding="utf-8")
        written.append(path)
    return written


_CONFIG = """\
# megaphone project configuration.  Credentials are never written here:
# copy .env.example to .env and fill it in (or set the variables elsewhere).
timezone: {timezone}
posts: posts
accounts:
  - name: main
    network: {network}
{server}    handle: {handle}      # the account's @name, checked by `megaphone accounts check`
{cap}grace: 1h                   # a post later than this is marked missed, never sent late
"""

_QUEUE = """\
# yaml-language-server: $schema=../schema/queue.schema.json
# A queue: posts published by its account(s), at their times.
account: main
slots:                      # for `megaphone add example "…" --next-slot`
  - mon-fri 09:00, 12:30
defaults:
  hashtags: []

posts:
  - id: hello-world
    draft: true             # drafts are checked, never published
    text: Hello from megaphone! Check me with `megaphone validate`.
"""

_ENV = """\
# Credentials of the account named `main` in megaphone.yaml ({help}).
# Copy to .env; .env is kept out of git by .gitignore.
"""

_GITIGNORE = """\
# Credentials, and what megaphone keeps of what it published (the ledger).
.env
.megaphone/
"""
