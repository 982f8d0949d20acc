"""An in-memory network that keeps megaphone's network contract
(megaphone.networks.Network), with faults on demand — for the publisher's
contract tests, which every adapter runs too (tests/test_contract.py).

Its own small rules (tests/memorynet/rules.py) are registered as the network
``memory`` by the tests that use it, to show that a network is one folder and
one registry line away."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from megaphone.errors import OutcomeUnknown, RateLimited, ReadFailed, ServerError
from megaphone.networks.contract import PostRequest, RemotePost, RemoteUser

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

URL = "https://memory.example/{user}/posts/{id}"


@dataclass
class Stored:
    id: str
    text: str
    reply_to: str | None
    quote: str | None
    media: tuple[str, ...]
    at: datetime


@dataclass
class Memory:
    """The network's side: the posts of one account, and the faults to come."""

    username: str = "utlanow"
    posts: list[Stored] = field(default_factory=list)
    #: Faults for the next create calls, in order: "unavailable",
    #: "server_error" (not made), "server_error_after" (made), "rate_limited",
    #: "unknown" (not made), "unknown_after" (made).
    create_faults: list[str] = field(default_factory=list)
    #: Faults for the next lookups: "fail".
    read_faults: list[str] = field(default_factory=list)
    creates: int = 0
    #: Every create request, as it came (its key included).
    requests: list[PostRequest] = field(default_factory=list)
    #: Idempotency keys seen -> the post made with it: a request with a key
    #: seen before is answered with that post, and nothing new is made.
    keys: dict[str, Stored] = field(default_factory=dict)
    #: Called with each create request before anything is made (a test's
    #: look at the ledger at that moment).
    on_create: Callable[[PostRequest], None] | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def network(self) -> MemoryNetwork:
        return MemoryNetwork(self)


class MemoryNetwork:
    def __init__(self, memory: Memory) -> None:
        self.memory = memory

    def whoami(self) -> RemoteUser:
        return RemoteUser("1", self.memory.username, self.memory.username)

    def clock_skew(self) -> float | None:
        return 0.0

    def upload_media(
        self,
        path: Path,
        *,
        mime: str,
        kind: str,
        alt: str | None,
        size: tuple[int, int] | None = None,
    ) -> str:
        return f"media-{path.name}"

    def create_post(self, request: PostRequest) -> RemotePost:
        m = self.memory
        if m.on_create is not None:
            m.on_create(request)
        with m._lock:
            m.creates += 1
            m.requests.append(request)
            fault = m.create_faults.pop(0) if m.create_faults else None
            if request.key is not None and request.key in m.keys:
                known = m.keys[request.key]
                return RemotePost(known.id, URL.format(user=m.username, id=known.id), known.text)
            if fault == "unavailable":
                from megaphone.errors import Unavailable

                raise Unavailable("posting: cannot reach memory")
            if fault == "rate_limited":
                import time

                raise RateLimited("posting: slow down", reset_at=time.time() + 1)
            if fault in ("server_error", "unknown"):
                raise (ServerError if fault == "server_error" else OutcomeUnknown)(
                    f"posting: {fault}"
                )
            stored = Stored(
                str(next(m._ids)),
                request.text,
                request.reply_to,
                request.quote,
                request.media_ids,
                datetime.now(UTC),
            )
            m.posts.append(stored)
            if request.key is not None:
                m.keys[request.key] = stored
            if fault == "server_error_after":
                raise ServerError("posting: 503 after making it")
            if fault == "unknown_after":
                raise OutcomeUnknown("posting: no answer after making it")
        return RemotePost(stored.id, URL.format(user=m.username, id=stored.id), stored.text)

    def find_sent(self, request: PostRequest, *, since: datetime) -> RemotePost | None:
        m = self.memory
        with m._lock:
            if m.read_faults:
                m.read_faults.pop(0)
                raise ReadFailed("reading posts: failed")
            for p in m.posts:
                if p.text == request.text and p.reply_to == request.reply_to:
                    return RemotePost(p.id, URL.format(user=m.username, id=p.id), p.text)
        return None

    def close(self) -> None:
        pass
