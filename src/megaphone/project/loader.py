"""Read a project: its configuration and queue files, into domain values.

Reading never stops at the first mistake: every problem is recorded with its
position and the rest of the file is still read, so one run shows them all.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import yaml

from megaphone.errors import UsageError
from megaphone.model import (
    OCCURRENCE_MARK,
    VARIANT_MARK,
    VISIBILITIES,
    Account,
    AccountLimits,
    Card,
    Config,
    Limits,
    Media,
    NotifySpec,
    Part,
    Poll,
    Post,
    Project,
    Queue,
    Repeat,
    Text,
    Variant,
)
from megaphone.networks import names as network_names
from megaphone.problems import Loc, Problem, problem
from megaphone.project import schema
from megaphone.project.yamldoc import BOOL, INT, NULL, SAFE_TAGS, STR, Document, pairs, read
from megaphone.time.zones import TimeError, local_zone_name, parse_time, zone

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from datetime import datetime

    from megaphone.time.slots import Slot

CONFIG_NAMES = ("megaphone.yaml", "megaphone.yml")
CONFIG_KEYS = (
    "timezone",
    "posts",
    "accounts",
    "limits",
    "grace",
    "ledger",
    "project",
    "lease",
    "unknown",
    "unknown_after",
    "notify",
)
NOTIFY_KEYS = ("url", "events", "accounts")
#: Account names: what an environment variable's name carries faithfully
#: (``reclaim-la`` → ``MEGAPHONE_RECLAIM_LA_…``), so that no two accounts
#: can ever read each other's credentials.
ACCOUNT_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
ACCOUNT_KEYS = (
    "name",
    "network",
    "handle",
    "daily_cap",
    "api_url",
    "instance",
    "service",
    "limits",
    "langs",
)
#: An account's ``limits:``, named as a Mastodon instance names them.
ACCOUNT_LIMIT_KEYS = (
    "max_characters",
    "characters_reserved_per_url",
    "max_media_attachments",
    "image_size_limit",
    "video_size_limit",
    "description_limit",
)
LIMIT_KEYS = ("max_hashtags", "max_mentions")

_LOST_HASHTAG = re.compile(r"\s+(#[^\s#]+)")
#: An account that takes several languages of a post: each this long after
#: the one before, unless the queue or the post says otherwise.
_AS_DEFAULT = timedelta(minutes=30)
_NO_TEXTS: Mapping[str, Text] = MappingProxyType({})
#: A language tag: en, es, es-MX, zh-Hant.
LANG_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


def _may_hold_tag(text: str) -> bool:
    """Whether ``text`` may hold a YAML tag: a '!' that starts a token.  (A
    loose test: a '!' after a space in some post only costs the slow path.)"""
    i = text.find("!")
    while i >= 0:
        if i == 0 or text[i - 1] in " \t\r\n[{,:?-":
            return True
        i = text.find("!", i + 1)
    return False


@cache
def _known_set(known: tuple[str, ...]) -> frozenset[str]:
    return frozenset(known)


@dataclass
class Loaded:
    """A project as read, with what was wrong in it."""

    project: Project
    problems: list[Problem] = field(default_factory=list)
    documents: dict[str, Document] = field(default_factory=dict)
    queue_files: int = 0


def require_root(start: Path) -> Path:
    """The project folder holding ``start``, for a command that needs a
    project: :class:`UsageError` when no ``megaphone.yaml`` is there or
    above (nothing is created)."""
    root, config = find_root(start)
    if config is None:
        raise UsageError(
            "not a megaphone project (no megaphone.yaml here or above): "
            "run `megaphone init`, or give the project's folder with -C"
        )
    return root


def find_root(start: Path) -> tuple[Path, Path | None]:
    """The project folder holding ``start``: the nearest folder at or above
    it with a ``megaphone.yaml``; else ``start`` itself (or its folder)."""
    start = start.resolve()
    here = start if start.is_dir() else start.parent
    for folder in (here, *here.parents):
        for name in CONFIG_NAMES:
            if (folder / name).is_file():
                return folder, folder / name
    return here, None


@dataclass
class Inputs:
    """What a run reads: the project folder, its configuration and the queue
    files asked for."""

    root: Path
    config_path: Path | None
    config: Config
    config_doc: Document | None
    files: list[Path]


def locate(
    paths: Iterable[Path] = (),
    *,
    cwd: Path,
    allow_empty: bool = False,
    read_config: Callable[[Path | None, Path, Path], tuple[Config, Document | None]] | None = None,
) -> Inputs:
    """The project and queue files for ``paths`` (files or folders; default:
    the project's posts folder).  :class:`UsageError` when one is missing.
    ``read_config`` reads the configuration instead of :func:`load_config`
    (the worker's, which keeps the last one read while its file is the same)."""
    paths = [p if p.is_absolute() else cwd / p for p in paths]
    for p in paths:
        if not p.exists():
            raise UsageError(f"no such file or folder: {display(p, cwd)}")
    root, config_path = find_root(paths[0] if paths else cwd)
    config, config_doc = (read_config or load_config)(config_path, cwd, root)
    if not paths:
        posts_dir = root / config.posts_dir
        if not posts_dir.is_dir() and allow_empty:
            return Inputs(root, config_path, config, config_doc, [])
        if not posts_dir.is_dir():
            raise UsageError(
                f"no queue folder {display(posts_dir, cwd)}: "
                "give the queue files or folders to read"
            )
        paths = [posts_dir]
    return Inputs(root, config_path, config, config_doc, queue_files(paths, skip=config_path))


def read_queue_file(
    path: Path, *, cwd: Path, config: Config, root: Path
) -> tuple[Document, Queue | None]:
    """One queue file of the project in ``root``, read; its problems are in
    the document."""
    doc = read(path, display(path, cwd), root=root)
    queue = Reader(doc, config=config).read_queue()
    doc.root = None  # the values read keep what they need; let the rest go
    return doc, queue


def load(
    paths: Iterable[Path] = (), *, cwd: Path | None = None, allow_empty: bool = False
) -> Loaded:
    """Read the queues at ``paths`` (files or folders; default: the project's
    posts folder) with the project configuration that governs them."""
    cwd = (cwd or Path.cwd()).resolve()
    inputs = locate(paths, cwd=cwd, allow_empty=allow_empty)
    problems: list[Problem] = []
    documents: dict[str, Document] = {}
    if inputs.config_doc is not None:
        documents[inputs.config_doc.name] = inputs.config_doc
        problems.extend(inputs.config_doc.problems)
    queues = []
    for path in inputs.files:
        doc, queue = read_queue_file(path, cwd=cwd, config=inputs.config, root=inputs.root)
        documents[doc.name] = doc
        problems.extend(doc.problems)
        if queue is not None:
            queues.append(queue)
    project = Project(inputs.root, inputs.config, tuple(queues))
    return Loaded(project, problems, documents, len(inputs.files))


def load_config(config_path: Path | None, cwd: Path, root: Path) -> tuple[Config, Document | None]:
    """The project configuration (defaults without a file), and the file read."""
    if config_path is None:
        return Config(path=None, timezone=local_zone_name()), None
    doc = read(config_path, display(config_path, cwd), root=root)
    return Reader(doc).read_config(), doc


def queue_files(paths: Iterable[Path], *, skip: Path | None = None) -> list[Path]:
    """Queue files under ``paths``: YAML files, folders searched recursively
    (hidden folders left out), each file once, in a stable order."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            candidates: Iterable[Path] = sorted(
                p
                for pattern in ("*.yaml", "*.yml")
                for p in path.rglob(pattern)
                if not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            candidates = [path]
        for p in candidates:
            resolved = p.resolve()
            if resolved != skip and resolved.name not in CONFIG_NAMES:
                found.setdefault(p, None)
    return list(found)


def display(path: Path, cwd: Path) -> str:
    """``path`` as the user should see it: relative to where they are."""
    import os

    # Links are not followed: a queue file is named as it is in the project.
    try:
        return str(Path(os.path.normpath(path.absolute())).relative_to(cwd))
    except ValueError:
        return str(path)


class Reader:
    """Walks one composed YAML document, building values and recording
    problems in the document."""

    def __init__(self, doc: Document, *, config: Config | None = None) -> None:
        self.doc = doc
        self.config = config
        # Most files use neither tags nor merge keys: they then take the fast
        # paths below, which skip checks that cannot fail.
        self.plain = not _may_hold_tag(doc.text or "") and "<<" not in (doc.text or "")

    # ------------------------------------------------------------ primitives

    def report(
        self, code: str, message: str, node: yaml.Node | Loc, post_id: str | None = None
    ) -> None:
        loc = node if isinstance(node, Loc) else self.doc.loc(node)
        self.doc.problems.append(problem(code, message, loc, post_id))

    def safe(self, node: yaml.Node) -> bool:
        if node.tag in SAFE_TAGS:
            return True
        self.report(
            "unsafe-tag", f"YAML tag {node.tag!r} is not allowed: only plain YAML values", node
        )
        return False

    def mapping(
        self,
        node: yaml.Node,
        what: str | Callable[[], str],
        known: tuple[str, ...],
        post_id: str | None = None,
    ) -> dict[str, yaml.Node] | None:
        """The entries of a mapping node, checking for unknown and duplicate keys.
        (``what`` names the mapping in messages; a function when naming it costs.)"""
        if self.plain and type(node) is yaml.MappingNode:
            try:
                quick = {key.value: value for key, value in node.value}
            except TypeError:  # a key that is a list or a mapping
                pass
            else:
                if len(quick) == len(node.value) and _known_set(known).issuperset(quick):
                    return quick
        if callable(what):
            what = what()
        if not self.safe(node):
            return None
        if not isinstance(node, yaml.MappingNode):
            self.report(
                "wrong-type", f"{what} should be a mapping of keys to values", node, post_id
            )
            return None
        entries: dict[str, yaml.Node] = {}
        for key, value in pairs(node):
            if not isinstance(key, yaml.ScalarNode) or not self.safe(key):
                self.report("wrong-type", f"{what} has a key that is not plain text", key, post_id)
                continue
            name = key.value
            if name in entries:
                first = self.doc.loc(entries[name])
                self.report(
                    "duplicate-key",
                    f"{name!r} given twice in {what} (first on line {first.line})",
                    key,
                    post_id,
                )
                continue
            if name not in known:
                hint = did_you_mean(name, known, or_list=True)
                self.report("unknown-key", f"unknown key {name!r} in {what}{hint}", key, post_id)
                continue
            entries[name] = value
        return entries

    def string(self, node: yaml.Node, what: str, post_id: str | None = None) -> str | None:
        """A scalar as text.  Numbers are accepted as written ('2026' for an id);
        null, lists and mappings are not."""
        if self.plain and type(node) is yaml.ScalarNode and node.tag == STR:
            return node.value  # type: ignore[no-any-return]
        if not self.safe(node):
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag == NULL or node.tag == BOOL:
            if isinstance(node, yaml.SequenceNode):
                kind = "a list"
            elif isinstance(node, yaml.MappingNode):
                kind = "a mapping"
            else:
                kind = "true/false" if node.tag == BOOL else "empty"
            hint = ""
            if node.tag == BOOL:
                kind = "true/false"
                # YAML reads yes, no, on, off as true/false.
                hint = f" (write it in quotes: '{node.value}')"
            self.report("wrong-type", f"{what} should be text, not {kind}{hint}", node, post_id)
            return None
        return str(node.value)

    def sequence(
        self, node: yaml.Node, what: str, post_id: str | None = None
    ) -> list[yaml.Node] | None:
        if not self.safe(node):
            return None
        if not isinstance(node, yaml.SequenceNode):
            self.report("wrong-type", f"{what} should be a list", node, post_id)
            return None
        return list(node.value)

    def strings(
        self, node: yaml.Node, what: str, post_id: str | None = None
    ) -> list[tuple[str, Loc]]:
        """A string or a list of strings."""
        if isinstance(node, yaml.ScalarNode) and node.tag not in (NULL, BOOL):
            value = self.string(node, what, post_id)
            return [] if value is None else [(value, self.doc.loc(node))]
        items = self.sequence(node, what, post_id)
        out = []
        for item in items or ():
            value = self.string(item, f"each of {what}", post_id)
            if value is not None:
                out.append((value, self.doc.loc(item)))
        return out

    def text(self, node: yaml.Node, what: str, post_id: str) -> str | None:
        """Post text; warns when a hashtag after an unquoted text became a
        YAML comment (``text: Join us #Tag`` loses ``#Tag``)."""
        value = self.string(node, what, post_id)
        if value is not None and isinstance(node, yaml.ScalarNode) and not node.style:
            lines = self.doc.source_lines
            end = node.end_mark
            rest = lines[end.line][end.column :] if end.line < len(lines) else ""
            lost = _LOST_HASHTAG.match(rest)
            if lost:
                self.report(
                    "text-comment",
                    f"{lost[1]} is read as a YAML comment, not as part of the text: "
                    "quote the text to keep it",
                    node,
                    post_id,
                )
        return value

    def boolean(self, node: yaml.Node, what: str, post_id: str | None = None) -> bool | None:
        if not self.safe(node):
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag == BOOL:
            return str(node.value).lower() in ("true", "yes", "on", "y")
        self.report("wrong-type", f"{what} should be true or false", node, post_id)
        return None

    def integer(self, node: yaml.Node, what: str) -> int | None:
        if self.safe(node) and isinstance(node, yaml.ScalarNode) and node.tag == INT:
            try:
                return int(str(node.value).replace("_", ""), 0)
            except ValueError:
                pass
        self.report("wrong-type", f"{what} should be a whole number", node)
        return None

    def timezone(self, entries: dict[str, yaml.Node], default: str) -> str:
        """The time zone named in ``entries`` (``default`` when none is), or ""
        when the name is not a time zone."""
        if "timezone" not in entries:
            return default
        name = self.string(entries["timezone"], "timezone")
        if name is None:
            return ""
        try:
            zone(name)
        except TimeError as e:
            self.report(e.code, str(e), entries["timezone"])
            return ""
        return name

    # --------------------------------------------------------------- config

    def read_config(self) -> Config:
        defaults = Config(path=self.doc.path, timezone=local_zone_name())
        if self.doc.root is None:
            return defaults
        entries = self.mapping(self.doc.root, "the project configuration", CONFIG_KEYS)
        if entries is None:
            return defaults
        timezone = self.timezone(entries, defaults.timezone) or defaults.timezone
        posts_dir = defaults.posts_dir
        if "posts" in entries and (value := self.string(entries["posts"], "posts")) is not None:
            from megaphone.project.files import inside

            root = self.doc.path.parent
            if Path(value).is_absolute() or not inside(root / value, root):
                self.report(
                    "config",
                    f"posts: {value!r} leads outside the project folder; megaphone reads only "
                    "the project's own files",
                    entries["posts"],
                )
            else:
                posts_dir = value
        accounts: list[Account] = []
        for item in (
            self.sequence(entries["accounts"], "accounts") or () if "accounts" in entries else ()
        ):
            account = self.account(item, {a.name for a in accounts})
            if account is not None:
                accounts.append(account)
        limits = Limits()
        if "limits" in entries and (lim := self.mapping(entries["limits"], "limits", LIMIT_KEYS)):
            values = {k: self.integer(v, k) for k, v in lim.items()}
            limits = Limits(**{k: v for k, v in values.items() if v is not None})
        grace = self.duration(entries, "grace") or defaults.grace
        ledger = self.string(entries["ledger"], "ledger") if "ledger" in entries else None
        project_id = None
        if "project" in entries and (raw := self.string(entries["project"], "project")):
            if PROJECT_ID.fullmatch(raw):
                project_id = raw
            else:
                self.report(
                    "config",
                    f"project: {raw!r} is not an id (letters, digits, '.', '_', '-'; at most 100)",
                    entries["project"],
                )
        lease = self.duration(entries, "lease", minimum=1)
        unknown = defaults.unknown
        if "unknown" in entries and (raw := self.string(entries["unknown"], "unknown")):
            if raw in ("resend", "hold"):
                unknown = raw
            else:
                self.report(
                    "config",
                    f"unknown: {raw!r} is neither resend nor hold",
                    entries["unknown"],
                )
        unknown_after = self.duration(entries, "unknown_after") or defaults.unknown_after
        notify = self.notify(entries["notify"]) if "notify" in entries else ()
        return Config(
            self.doc.path,
            timezone,
            posts_dir,
            tuple(accounts),
            limits,
            grace,
            ledger,
            project_id,
            lease,
            unknown,
            unknown_after,
            notify,
        )

    def notify(self, node: yaml.Node) -> tuple[NotifySpec, ...]:
        """``notify:``: apprise URLs, or mappings of ``url``, ``events`` and
        ``accounts``.  A URL holds tokens: no message ever quotes it."""
        from megaphone.model import EVENTS, check_notify_url

        specs = []
        for item in self.sequence(node, "notify") or ():
            events = accounts = None
            if isinstance(item, yaml.MappingNode):
                entries = self.mapping(item, "a notify destination", NOTIFY_KEYS)
                if entries is None:
                    continue
                if "url" not in entries:
                    self.report("missing-field", "a notify destination needs its url", item)
                    continue
                url_node = entries["url"]
                if "events" in entries:
                    names = [
                        self.string(n, "events")
                        for n in self.sequence(entries["events"], "events") or ()
                    ]
                    bad = [n for n in names if n and n not in EVENTS]
                    if bad:
                        self.report(
                            "config",
                            f"notify events: {', '.join(map(repr, bad))} "
                            f"(known: {', '.join(EVENTS)})",
                            entries["events"],
                        )
                    events = frozenset(n for n in names if n in EVENTS)
                if "accounts" in entries:
                    accounts = frozenset(
                        a
                        for n in self.sequence(entries["accounts"], "accounts") or ()
                        if (a := self.string(n, "accounts"))
                    )
            else:
                url_node = item
            self.doc.keep_secret(url_node)
            if not isinstance(url_node, yaml.ScalarNode) or not isinstance(url_node.value, str):
                self.report("wrong-type", "a notify destination's url should be text", url_node)
                continue
            url = url_node.value.strip()
            why = check_notify_url(url)
            if why is not None:
                self.report("config", f"notify: a destination's url is {why}", url_node)
                continue
            specs.append(NotifySpec(url, events, accounts))
        return tuple(specs)

    def duration(
        self, entries: dict[str, yaml.Node], key: str, *, minimum: float = 0
    ) -> timedelta | None:
        """The duration under ``key`` (30s, 1h, 2d), or None (absent, or wrong:
        reported)."""
        if key not in entries or (raw := self.string(entries[key], key)) is None:
            return None
        from megaphone.time.timeline import parse_duration

        parsed = parse_duration(raw)
        if parsed is None or parsed.total_seconds() < minimum:
            at_least = f" of at least {minimum:g} s" if minimum else ""
            self.report(
                "config",
                f"{key}: {raw!r} is not a duration{at_least} (e.g. 30s, 1h, 2d)",
                entries[key],
            )
            return None
        return parsed

    def account(self, node: yaml.Node, taken: set[str]) -> Account | None:
        entries = self.mapping(node, "an account", ACCOUNT_KEYS)
        if entries is None:
            return None
        if "name" not in entries:
            self.report("missing-field", "an account needs a name", node)
            return None
        name = self.string(entries["name"], "name")
        if name is None:
            return None
        if not ACCOUNT_NAME.fullmatch(name):
            self.report(
                "config",
                f"account name {name!r}: use lower-case letters, digits and '-' (at most 64), "
                "so that its credentials' variables (MEGAPHONE_<NAME>_…) are its own",
                entries["name"],
            )
            return None
        if name in taken:
            self.report("config", f"account {name!r} is named twice", entries["name"])
            return None
        network = ""
        supported = ", ".join(network_names())
        if "network" not in entries:
            self.report(
                "config",
                f"account {name!r} needs its network (network: one of {supported})",
                entries["name"],
            )
        elif (value := self.string(entries["network"], "network")) is not None:
            value = value.strip().lower()  # "X" is x
            if value not in network_names():
                self.report(
                    "config",
                    f"network {value!r} is not supported yet (supported: {supported})"
                    + did_you_mean(value, list(network_names())),
                    entries["network"],
                )
            else:
                network = value
        handle = self.string(entries["handle"], "handle") if "handle" in entries else None
        cap = self.integer(entries["daily_cap"], "daily_cap") if "daily_cap" in entries else None
        api_url = self.string(entries["api_url"], "api_url") if "api_url" in entries else None
        if "api_url" in entries:
            self.doc.keep_secret(entries["api_url"])
        if api_url is not None:
            from megaphone.networks import api_url_problem, redact_url

            why = api_url_problem(api_url)
            if why is not None:
                self.report("config", f"api_url {redact_url(api_url)}: {why}", entries["api_url"])
                api_url = None
        instance = self.instance(entries, network, name)
        if network == "bluesky":
            instance = self.service(entries, name, handle)
        elif "service" in entries:
            self.report(
                "config", "service: only a Bluesky account has one (its PDS)", entries["service"]
            )
        limits = self.account_limits(entries["limits"]) if "limits" in entries else AccountLimits()
        langs = (
            tuple(
                dict.fromkeys(lang.strip() for lang, _ in self.strings(entries["langs"], "langs"))
            )
            if "langs" in entries
            else ()
        )
        handle = handle.strip().lstrip("@") if handle else None
        if handle and instance and network == "mastodon" and "@" not in handle:
            # A Mastodon handle is user@instance; the account's own instance
            # when only the user is written.
            from urllib.parse import urlsplit

            handle = f"{handle}@{urlsplit(instance).hostname}"
        return Account(
            name,
            network,
            handle or None,
            cap,
            api_url or instance,
            limits,
            tuple(lang for lang in langs if lang),
        )

    def instance(self, entries: dict[str, yaml.Node], network: str, name: str) -> str | None:
        """``instance:``, the server of an account on a network of many
        (Mastodon); required there, refused elsewhere."""
        from megaphone.networks import REGISTRY, api_url_problem, redact_url
        from megaphone.networks import rules as network_rules

        many = network == "mastodon"
        if "instance" not in entries:
            if many:
                self.report(
                    "config",
                    f"account {name!r} needs its instance (instance: https://mastodon.social)",
                    entries["name"],
                )
            return None
        node = entries["instance"]
        if network in REGISTRY and not many:
            title = network_rules(network).title
            self.report("config", f"instance: {title} has no instances (it is one site)", node)
            return None
        url = self.string(node, "instance")
        if url is None:
            return None
        url = url.strip().rstrip("/")
        if "://" not in url:
            url = "https://" + url
        why = api_url_problem(url)
        if why is not None:
            self.report("config", f"instance {redact_url(url)}: {why}", node)
            return None
        return url

    def service(self, entries: dict[str, yaml.Node], name: str, handle: str | None) -> str | None:
        """A Bluesky account's ``service:`` (its PDS; bsky.social's by
        default); its handle is how it signs in, so it is required."""
        from megaphone.networks import api_url_problem, redact_url

        if not handle:
            self.report(
                "config",
                f"account {name!r} needs its handle (handle: name.bsky.social): "
                "it signs in with it",
                entries["name"],
            )
        if "service" not in entries:
            return None
        url = self.string(entries["service"], "service")
        if url is None:
            return None
        url = url.strip().rstrip("/")
        if "://" not in url:
            url = "https://" + url
        why = api_url_problem(url)
        if why is not None:
            self.report("config", f"service {redact_url(url)}: {why}", entries["service"])
            return None
        return url

    def account_limits(self, node: yaml.Node) -> AccountLimits:
        """``limits:`` of an account: its server's own (``megaphone accounts
        check --save`` writes them), whole numbers above zero."""
        entries = self.mapping(node, "limits", ACCOUNT_LIMIT_KEYS)
        values: dict[str, int] = {}
        for key, value in (entries or {}).items():
            number = self.integer(value, f"limits.{key}")
            if number is None:
                continue
            if number < 1:
                self.report("config", f"limits.{key} must be above zero", value)
                continue
            values[key] = number
        return AccountLimits(**values)

    # ---------------------------------------------------------------- queue

    def read_queue(self) -> Queue | None:
        assert self.config is not None
        if self.doc.root is None:
            if self.doc.text is not None and not self.doc.problems:
                self.report(
                    "missing-field",
                    "the file is empty: a queue needs 'posts'",
                    Loc(self.doc.name, 1, 1),
                )
            return None
        entries = self.mapping(self.doc.root, "the queue", schema.QUEUE_KEYS)
        if entries is None:
            return None
        # An unknown time zone leaves the times of the file unread ("").
        timezone = self.timezone(entries, self.config.timezone)
        accounts = self.strings(entries["account"], "account") if "account" in entries else []
        for name, name_loc in accounts:
            self.check_account(name, name_loc, None)
        hashtags: list[tuple[str, Loc]] = []
        lang = None
        variants_as: timedelta | None = _AS_DEFAULT
        if "defaults" in entries and (
            defaults := self.mapping(entries["defaults"], "defaults", schema.DEFAULTS_KEYS)
        ):
            if "hashtags" in defaults:
                hashtags = self.strings(defaults["hashtags"], "hashtags")
            if "lang" in defaults:
                lang = self.string(defaults["lang"], "lang")
            if "variants_as" in defaults:
                variants_as = self.variants_as(defaults["variants_as"], None, variants_as)
        evergreen = (
            bool(self.boolean(entries["evergreen"], "evergreen"))
            if "evergreen" in entries
            else False
        )
        min_gap = self.span(entries["min_gap"], "min_gap", None) if "min_gap" in entries else None
        if "min_gap" in entries and not evergreen:
            self.report(
                "wrong-type", "min_gap: only an evergreen queue has one", entries["min_gap"]
            )
        if "posts" not in entries:
            self.report(
                "missing-field", "a queue needs 'posts': the list of its posts", self.doc.root
            )
            return Queue(self.doc.path, self.doc.name, ())
        posts = []
        context = _QueueContext(
            timezone, accounts, hashtags, lang, _names(accounts), variants_as, evergreen
        )
        for node in self.sequence(entries["posts"], "posts") or ():
            post = self.post(node, context)
            if post is not None:
                posts.append(post)
        slots = self.slots(entries["slots"]) if "slots" in entries else ()
        if evergreen and not slots:
            self.report(
                "missing-field",
                "an evergreen queue needs 'slots': the times its posts fill",
                entries["evergreen"],
            )
        return Queue(
            self.doc.path,
            self.doc.name,
            tuple(posts),
            timezone,
            _names(accounts),
            slots,
            evergreen,
            min_gap,
        )

    def slots(self, node: yaml.Node) -> tuple[Slot, ...]:
        from megaphone.time.slots import parse_slot

        found: list[Slot] = []
        for text, loc in self.strings(node, "slots"):
            try:
                found.extend(parse_slot(text))
            except ValueError as e:
                self.report("bad-slot", f"slots: {e}", loc)
        return tuple(found)

    def post(self, node: yaml.Node, ctx: _QueueContext) -> Post | None:
        id_node = _value_of(node, "id")
        post_id = str(id_node.value) if isinstance(id_node, yaml.ScalarNode) else None
        entries = self.mapping(
            node, lambda: f"post {post_id!r}" if post_id else "a post", schema.POST_KEYS, post_id
        )
        if entries is None:
            return None
        loc = self.doc.loc(node)
        locs = _Locs(self.doc.name, entries)
        if "id" not in entries:
            self.report("missing-field", "a post needs an 'id', unique across the project", node)
            return None
        post_id = self.string(entries["id"], "id")
        if not post_id or not post_id.strip():
            if post_id is not None:
                self.report("missing-field", "a post's id cannot be empty", entries["id"])
            return None
        post_id = post_id.strip()
        if VARIANT_MARK in post_id or OCCURRENCE_MARK in post_id:
            self.report(
                "bad-id",
                f"post id {post_id!r}: '{VARIANT_MARK}' and '{OCCURRENCE_MARK}' are kept for "
                "the language and the time of a delivery (id/es@2027-01-04T17:00Z)",
                entries["id"],
                post_id,
            )
            return None

        draft = False
        if "draft" in entries:
            draft = bool(self.boolean(entries["draft"], "draft", post_id))

        parts = self.parts(entries, node, post_id)

        at = expires = None
        if "at" in entries:
            at = self.time(entries["at"], "at", ctx.timezone, post_id)
            if ctx.evergreen:
                self.report(
                    "wrong-type",
                    f"post {post_id!r}: a post of an evergreen queue has no 'at' "
                    "(it fills the queue's slots)",
                    entries["at"],
                    post_id,
                )
                at = None
        elif not draft and not ctx.evergreen:
            self.report(
                "missing-field",
                f"post {post_id!r} needs 'at', the time to publish it (or draft: true)",
                node,
                post_id,
            )
        if "expires" in entries:
            expires = self.time(entries["expires"], "expires", ctx.timezone, post_id)

        if "accounts" in entries:
            account_items = self.strings(entries["accounts"], "accounts", post_id)
            for name, name_loc in account_items:
                self.check_account(name, name_loc, post_id)
        else:
            account_items = ctx.accounts  # checked with the queue
        if not account_items:
            self.report(
                "no-account",
                f"post {post_id!r} has no account: "
                "set 'account' on the queue or 'accounts' on the post",
                node,
                post_id,
            )

        hashtags = ctx.hashtags
        if "hashtags" in entries:
            hashtags = hashtags + self.strings(entries["hashtags"], "hashtags", post_id)
        tags: list[str] = []
        if hashtags:
            folded: set[str] = set()
            for tag, tag_loc in hashtags:
                bare = tag.strip().lstrip("#\uff03")
                if bare.casefold() not in folded:
                    folded.add(bare.casefold())
                    tags.append(bare)
                locs.extra.setdefault(f"hashtag:{bare}", tag_loc)

        lang = ctx.lang
        if "lang" in entries:
            lang = self.string(entries["lang"], "lang", post_id)
        reply_to = (
            self.string(entries["reply_to"], "reply_to", post_id) if "reply_to" in entries else None
        )
        quote = self.string(entries["quote"], "quote", post_id) if "quote" in entries else None
        visibility = spoiler = None
        if "visibility" in entries:
            visibility = self.string(entries["visibility"], "visibility", post_id)
            if visibility is not None and visibility not in VISIBILITIES:
                self.report(
                    "wrong-type",
                    f"visibility: {visibility!r} is not one of {', '.join(VISIBILITIES)}",
                    entries["visibility"],
                    post_id,
                )
                visibility = None
        if "spoiler" in entries:
            spoiler = self.string(entries["spoiler"], "spoiler", post_id)
        sensitive = (
            bool(self.boolean(entries["sensitive"], "sensitive", post_id))
            if ("sensitive" in entries)
            else False
        )
        poll = self.poll(entries["poll"], post_id) if "poll" in entries else None
        card = self.card(entries["card"], post_id) if "card" in entries else None

        if parts is None:
            return None
        variants: tuple[Variant, ...] = ()
        networks: Mapping[str, Text] = _NO_TEXTS
        rotate: tuple[Text, ...] = ()
        repeat = None
        variants_as = ctx.variants_as
        if "variants" in entries:
            variants = self.variants(entries["variants"], post_id, parts, lang or ctx.lang)
        if "variants_as" in entries:
            variants_as = self.variants_as(entries["variants_as"], post_id, variants_as)
        if "networks" in entries:
            networks = self.networks(entries["networks"], post_id, parts)
        if "rotate" in entries:
            rotate = self.rotate(entries["rotate"], post_id, parts)
        if "repeat" in entries:
            if ctx.evergreen:
                self.report(
                    "wrong-type",
                    "repeat: an evergreen post comes back by the queue's slots, not a rule",
                    entries["repeat"],
                    post_id,
                )
            elif "at" not in entries:
                self.report(
                    "missing-field",
                    f"post {post_id!r}: a repeating post needs 'at', its first time",
                    entries["repeat"],
                    post_id,
                )
            else:
                repeat = self.repeat(entries["repeat"], post_id, ctx.timezone)
        if rotate and repeat is None and not ctx.evergreen and "repeat" not in entries:
            self.report(
                "wrong-type",
                "rotate: only a repeating or evergreen post takes turns with other texts",
                entries["rotate"],
                post_id,
            )
        accounts = ctx.account_names if account_items is ctx.accounts else _names(account_items)
        return tuple.__new__(  # Post, without its constructor's extra call: once per post
            Post,
            (
                post_id,
                loc,
                self.doc.name,
                accounts,
                parts,
                ctx.timezone,
                at,
                expires,
                tuple(tags),
                reply_to.strip() if reply_to else None,
                quote.strip() if quote else None,
                draft,
                lang.strip() if lang else None,
                "thread" in entries,
                locs,
                visibility,
                spoiler.strip() if spoiler and spoiler.strip() else None,
                sensitive,
                poll,
                card,
                variants,
                networks,
                variants_as,
                repeat,
                rotate,
                ctx.evergreen,
                None,
                "",
                None,
                None,
            ),
        )

    # ----------------------------------------- languages, networks, turns

    def span(self, node: yaml.Node, what: str, post_id: str | None) -> timedelta | None:
        """A positive duration (30m, 2h, 30d) of a queue or a post."""
        from megaphone.time.timeline import parse_duration

        raw = self.string(node, what, post_id)
        if raw is None:
            return None
        parsed = parse_duration(raw.strip().lstrip("+"))
        if parsed is None or parsed <= timedelta(0):
            self.report(
                "wrong-type",
                f"{what}: {raw!r} is not a duration (e.g. 30m, 2h, 30d)",
                node,
                post_id,
            )
            return None
        return parsed

    def variants_as(
        self, node: yaml.Node, post_id: str | None, default: timedelta | None
    ) -> timedelta | None:
        """``variants_as: reply`` (None) or a delay (``+30m``)."""
        from megaphone.time.timeline import parse_duration

        raw = self.string(node, "variants_as", post_id)
        if raw is None:
            return default
        if raw.strip().lower() == "reply":
            return None
        if raw.strip() in ("0", "+0", "0m"):
            return timedelta(0)
        span = parse_duration(raw.strip().lstrip("+"))
        if span is None or span < timedelta(0):
            self.report(
                "wrong-type",
                f"variants_as: {raw!r} is neither 'reply' nor a delay after the original "
                "(e.g. +30m, 2h, 0)",
                node,
                post_id,
            )
            return default
        return span

    def other_text(
        self,
        node: yaml.Node,
        what: str,
        post_id: str,
        own: tuple[Part, ...],
        extra: tuple[str, ...] = (),
    ) -> tuple[Text, dict[str, yaml.Node]] | None:
        """A text or a thread given instead of the post's own (a string, or
        a mapping with ``text`` or ``thread``, and the ``extra`` keys, whose
        nodes come back), with the post's media on its first part unless it
        gives its own."""
        loc = self.doc.loc(node)
        entries: dict[str, yaml.Node]
        if isinstance(node, yaml.ScalarNode):
            entries = {"text": node}
        else:
            found = self.mapping(node, what, schema.OTHER_TEXT_KEYS + extra, post_id)
            if found is None:
                return None
            entries = found
            if "text" not in entries and "thread" not in entries:
                self.report("missing-field", f"{what} needs 'text' (or 'thread')", node, post_id)
                return None
        parts = self.parts(
            {k: v for k, v in entries.items() if k in ("text", "thread")}, node, post_id
        )
        if parts is None:
            return None
        media = own[0].media if own else ()
        if media and not parts[0].media:
            parts = (parts[0]._replace(media=media, media_loc=own[0].media_loc), *parts[1:])
        return Text(parts, "thread" in entries, loc), entries

    def networks(self, node: yaml.Node, post_id: str, own: tuple[Part, ...]) -> Mapping[str, Text]:
        """``networks:`` — a text of its own for some networks."""
        entries = self.mapping(node, "networks", network_names(), post_id)
        out: dict[str, Text] = {}
        for name, value in (entries or {}).items():
            got = self.other_text(value, f"the {name} text", post_id, own)
            if got is not None:
                out[name] = got[0]
        return MappingProxyType(out)

    def rotate(self, node: yaml.Node, post_id: str, own: tuple[Part, ...]) -> tuple[Text, ...]:
        """``rotate:`` — other texts, used in turn."""
        out = []
        for i, item in enumerate(self.sequence(node, "rotate", post_id) or (), 1):
            got = self.other_text(item, f"rotate text {i}", post_id, own)
            if got is not None:
                out.append(got[0])
        return tuple(out)

    def variants(
        self, node: yaml.Node, post_id: str, own: tuple[Part, ...], lang: str | None
    ) -> tuple[Variant, ...]:
        """``variants:`` — the post in other languages, by language tag."""
        if not isinstance(node, yaml.MappingNode) or not self.safe(node):
            self.report(
                "wrong-type",
                "variants should be a mapping of language tags to texts (es: …)",
                node,
                post_id,
            )
            return ()
        out: list[Variant] = []
        seen = {lang.lower()} if lang else set()
        for key, value in pairs(node):
            tag = str(key.value).strip() if isinstance(key, yaml.ScalarNode) else ""
            if not LANG_TAG.fullmatch(tag):
                self.report(
                    "wrong-type",
                    f"variants: {tag!r} is not a language tag (en, es, es-MX)",
                    key,
                    post_id,
                )
                continue
            if tag.lower() in seen:
                which = (
                    "the post's own language"
                    if lang and tag.lower() == lang.lower()
                    else ("given twice")
                )
                self.report("duplicate-key", f"variants: {tag!r} is {which}", key, post_id)
                continue
            seen.add(tag.lower())
            got = self.other_text(
                value, f"the {tag} variant", post_id, own, ("alt", "networks", "rotate")
            )
            if got is None:
                continue
            text, fields = got
            if "alt" in fields:
                text = text._replace(parts=self.translated_alt(fields["alt"], text.parts, post_id))
            networks = (
                self.networks(fields["networks"], post_id, text.parts)
                if "networks" in fields
                else _NO_TEXTS
            )
            rotate = (
                self.rotate(fields["rotate"], post_id, text.parts) if "rotate" in fields else ()
            )
            out.append(Variant(tag, text, self.doc.loc(key), networks, rotate))
        return tuple(out)

    def translated_alt(
        self, node: yaml.Node, parts: tuple[Part, ...], post_id: str
    ) -> tuple[Part, ...]:
        """The media of ``parts`` with the alt texts of a language, in order."""
        alts = self.strings(node, "alt", post_id)
        count = sum(len(p.media) for p in parts)
        if len(alts) != count:
            self.report(
                "wrong-type",
                f"alt: {len(alts)} alt text{'s' if len(alts) != 1 else ''} for {count} media",
                node,
                post_id,
            )
        it = iter(alts)
        out = []
        for part in parts:
            media = []
            for m in part.media:
                alt = next(it, None)
                media.append(m._replace(alt=alt[0].strip(), alt_loc=alt[1]) if alt else m)
            out.append(part._replace(media=tuple(media)))
        return tuple(out)

    def repeat(self, node: yaml.Node, post_id: str, timezone: str) -> Repeat | None:
        """``repeat:`` — when the post comes back."""
        from megaphone.time.repeat import parse_clock, parse_every, parse_on

        entries = self.mapping(node, "repeat", schema.REPEAT_KEYS, post_id)
        if entries is None:
            return None
        loc = self.doc.loc(node)
        freq, interval = "weekly", 1
        weekdays: tuple[int, ...] = ()
        times: list[time] = []
        ok = True
        try:
            if "every" in entries and (raw := self.string(entries["every"], "every", post_id)):
                freq, interval = parse_every(raw)
            if "on" in entries:
                on = ", ".join(t for t, _ in self.strings(entries["on"], "on", post_id))
                weekdays, given = parse_on(on)
                times.extend(given)
                if "every" in entries and freq != "weekly":
                    raise ValueError("on: weekdays go with 'every: week' (or weeks)")
            if "times" in entries:
                for raw, _ in self.strings(entries["times"], "times", post_id):
                    times.extend(parse_clock(t) for t in raw.split(",") if t.strip())
        except ValueError as e:
            self.report("bad-repeat", f"repeat: {e}", node, post_id)
            ok = False
        until = count = None
        if "until" in entries:
            until = self.time(entries["until"], "repeat until", timezone, post_id)
        if "count" in entries:
            count = self.integer(entries["count"], "repeat count")
            if count is not None and count < 1:
                self.report("bad-repeat", "repeat: count must be 1 or more", node, post_id)
                count = None
        if "until" in entries and "count" in entries:
            self.report("bad-repeat", "repeat: give 'until' or 'count', not both", node, post_id)
        if "every" not in entries and "on" not in entries:
            self.report(
                "bad-repeat",
                "repeat: say how often (every: week, every: 2 days, on: mon, thu)",
                node,
                post_id,
            )
            ok = False
        if not ok:
            return None
        return Repeat(freq, interval, loc, weekdays, tuple(sorted(set(times))), until, count)

    def card(self, node: yaml.Node, post_id: str) -> Card | bool | None:
        """``card:`` — false for none, or a card's own title, description
        and image."""
        if isinstance(node, yaml.ScalarNode) and node.tag == BOOL:
            flag = self.boolean(node, "card", post_id)
            return None if flag else False
        entries = self.mapping(node, "card", ("title", "description", "image"), post_id)
        if entries is None:
            return None
        if "title" not in entries:
            self.report("missing-field", "a card needs its title (or card: false)", node, post_id)
            return None
        title = self.string(entries["title"], "card title", post_id)
        description = (
            self.string(entries["description"], "card description", post_id)
            if "description" in entries
            else ""
        )
        image = self.string(entries["image"], "card image", post_id) if "image" in entries else None
        if title is None:
            return None
        return Card(title.strip(), (description or "").strip(), image)

    def poll(self, node: yaml.Node, post_id: str) -> Poll | None:
        """``poll:`` — options, how long it runs, whether several may be chosen."""
        entries = self.mapping(node, "poll", schema.POLL_KEYS, post_id)
        if entries is None:
            return None
        if "options" not in entries or "expires" not in entries:
            self.report(
                "missing-field", "a poll needs its options and when it expires", node, post_id
            )
            return None
        options = [o.strip() for o, _ in self.strings(entries["options"], "poll options", post_id)]
        expires = self.duration(entries, "expires", minimum=1)
        multiple = (
            bool(self.boolean(entries["multiple"], "poll multiple", post_id))
            if ("multiple" in entries)
            else False
        )
        if expires is None:
            return None
        return Poll(tuple(options), int(expires.total_seconds()), multiple)

    def parts(
        self, entries: dict[str, yaml.Node], node: yaml.Node, post_id: str
    ) -> tuple[Part, ...] | None:
        post_media = self.media(entries["media"], post_id) if "media" in entries else ()
        media_loc = self.doc.loc(entries["media"]) if "media" in entries else None
        if "text" in entries and "thread" in entries:
            self.report(
                "wrong-type",
                f"post {post_id!r} has both 'text' and 'thread': keep one",
                entries["thread"],
                post_id,
            )
            return None
        if "text" in entries:
            text = self.text(entries["text"], "text", post_id)
            if text is None:
                return None
            loc = self.doc.loc(entries["text"])
            return (tuple.__new__(Part, (text.strip(), loc, post_media, media_loc)),)
        if "thread" not in entries:
            self.report(
                "missing-field", f"post {post_id!r} needs 'text' (or 'thread')", node, post_id
            )
            return None
        items = self.sequence(entries["thread"], "thread", post_id)
        if items is None:
            return None
        if not items:
            self.report("empty-text", "the thread has no parts", entries["thread"], post_id)
            return None
        parts: list[Part] = []
        for i, item in enumerate(items, 1):
            if isinstance(item, yaml.MappingNode):
                fields = self.mapping(item, f"thread part {i}", schema.PART_KEYS, post_id)
                if fields is None:
                    continue
                if "text" not in fields:
                    self.report("missing-field", f"thread part {i} needs 'text'", item, post_id)
                    continue
                text = self.text(fields["text"], f"thread part {i}", post_id)
                media = self.media(fields["media"], post_id) if "media" in fields else ()
                part_media_loc = self.doc.loc(fields["media"]) if "media" in fields else None
                text_node = fields["text"]
            else:
                text = self.text(item, f"thread part {i}", post_id)
                media, part_media_loc, text_node = (), None, item
            if text is None:
                continue
            if i == 1 and post_media:
                if media:
                    self.report(
                        "wrong-type",
                        "media given both for the post and for its first thread part: keep one",
                        entries["media"],
                        post_id,
                    )
                media, part_media_loc = post_media, media_loc
            parts.append(Part(text.strip(), self.doc.loc(text_node), media, part_media_loc))
        return tuple(parts)

    def media(self, node: yaml.Node, post_id: str) -> tuple[Media, ...]:
        out = []
        for item in self.sequence(node, "media", post_id) or ():
            if isinstance(item, yaml.ScalarNode) and item.tag == STR:
                path = self.string(item, "media", post_id)
                if path is not None:
                    out.append(Media(path, None, self.doc.loc(item)))
                continue
            fields = self.mapping(item, "a media item", schema.MEDIA_KEYS, post_id)
            if fields is None:
                continue
            if "path" not in fields:
                self.report("missing-field", "a media item needs a 'path'", item, post_id)
                continue
            path = self.string(fields["path"], "path", post_id)
            alt = self.string(fields["alt"], "alt", post_id) if "alt" in fields else None
            if path is not None:
                alt_loc = self.doc.loc(fields["alt"]) if "alt" in fields else None
                out.append(Media(path, alt, self.doc.loc(fields["path"]), alt_loc))
        return tuple(out)

    def time(self, node: yaml.Node, what: str, timezone: str, post_id: str) -> datetime | None:
        raw = self.string(node, what, post_id)
        if raw is None or not timezone:
            return None
        try:
            return parse_time(raw, timezone)
        except TimeError as e:
            self.report(e.code, f"{what}: {e}", node, post_id)
            return None

    def check_account(self, name: str, loc: Loc, post_id: str | None) -> None:
        assert self.config is not None
        known = [a.name for a in self.config.accounts]
        if name in known:
            return
        hint = (
            did_you_mean(name, known, or_list=True)
            if known
            else ": it has no accounts yet (add one under 'accounts:', with its network)"
        )
        self.report(
            "unknown-account",
            f"account {name!r} is not in the project configuration{hint}",
            loc,
            post_id,
        )


class _Locs(Mapping[str, Loc]):
    """Where each field of a post is: kept as bare numbers, so that the YAML
    nodes can go, and made into positions only when a message needs one."""

    __slots__ = ("extra", "file", "marks")

    def __init__(self, file: str, entries: dict[str, yaml.Node]) -> None:
        self.file = file
        self.marks = {k: (v.start_mark.line, v.start_mark.column) for k, v in entries.items()}
        self.extra: dict[str, Loc] = {}

    def __getitem__(self, key: str) -> Loc:
        mark = self.marks.get(key)
        return Loc(self.file, mark[0] + 1, mark[1] + 1) if mark else self.extra[key]

    def get(self, key: str, default: Loc | None = None) -> Loc | None:  # type: ignore[override]
        # Mapping.get would go through __getitem__ and a KeyError.
        mark = self.marks.get(key)
        if mark is not None:
            return tuple.__new__(Loc, (self.file, mark[0] + 1, mark[1] + 1))
        return self.extra.get(key, default)

    def __iter__(self) -> Iterator[str]:
        yield from self.marks
        yield from self.extra

    def __len__(self) -> int:
        return len(self.marks) + len(self.extra)


def did_you_mean(name: str, known: Iterable[str], *, or_list: bool = False) -> str:
    """ "; did you mean 'x'?" for the nearest of ``known`` to ``name``; else
    the known names (with ``or_list``) or nothing."""
    known = list(known)
    guess = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if guess:
        return f"; did you mean {guess[0]!r}?"
    return f" (known: {', '.join(known)})" if or_list and known else ""


def _value_of(node: yaml.Node, key: str) -> yaml.Node | None:
    """The value of ``key`` in a mapping node, without any checking."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v  # type: ignore[no-any-return]
    return None


def _names(items: list[tuple[str, Loc]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for name, _ in items))


@dataclass(frozen=True, slots=True)
class _QueueContext:
    timezone: str
    accounts: list[tuple[str, Loc]]
    hashtags: list[tuple[str, Loc]]
    lang: str | None
    account_names: tuple[str, ...]
    variants_as: timedelta | None = _AS_DEFAULT
    evergreen: bool = False
