"""The contract between megaphone and a network's adapter: the values that
cross it and the protocols an adapter keeps (see docs/networks.md).  Only
publishing and signing in import this; validate and preview never do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

#: Seconds to wait to connect, and for an answer, before giving up.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
#: The longest one request may take in all (connect, send, headers, body).
DEADLINE = 60.0


@dataclass(frozen=True)
class RemoteUser:
    id: str
    username: str
    name: str = ""


@dataclass(frozen=True)
class RemotePost:
    id: str
    url: str
    text: str = ""
    created_at: datetime | None = None
    #: The post it replies to, as the network says (None: not a reply, or
    #: not said).
    reply_to: str | None = None
    #: What the network needs of the post later, beyond its id (a Bluesky
    #: cid, to reply to it), as text; kept in the ledger.
    extra: str | None = None


@dataclass(frozen=True)
class PostRequest:
    """One post (a thread part) to create."""

    text: str
    media_ids: tuple[str, ...] = ()
    reply_to: str | None = None
    quote: str | None = None
    #: The language of the text (a BCP 47 tag), for networks that take it.
    lang: str | None = None
    #: Fields of the network's own (Mastodon: visibility, spoiler_text,
    #: sensitive, poll), as the network's API names them.
    options: tuple[tuple[str, object], ...] = ()
    #: The exact payload to send, as the adapter's ``prepare`` made it (and
    #: the ledger kept): sent as it is on every retry.
    prepared: str | None = None
    #: The idempotency key of this part: made and stored in the ledger
    #: before its first send, the same on every retry (None: the network
    #: takes none; see Capabilities.idempotency).
    key: str | None = None


@dataclass(frozen=True)
class Timeouts:
    connect: float = CONNECT_TIMEOUT
    read: float = READ_TIMEOUT
    deadline: float = DEADLINE


class Network(Protocol):
    """One account on one network."""

    def whoami(self) -> RemoteUser: ...

    def clock_skew(self) -> float | None:
        """The network's clock minus this machine's, in seconds, as last seen
        (None before any answer)."""
        ...

    def upload_media(
        self,
        path: Path,
        *,
        mime: str,
        kind: str,
        alt: str | None,
        size: tuple[int, int] | None = None,
    ) -> str:
        """Upload a file (with its alt text; ``size``: its width and height
        when known) and return an opaque media handle."""
        ...

    def create_post(self, request: PostRequest) -> RemotePost:
        """Create the post; raises a :class:`~megaphone.errors.PublishError`
        that says whether the request may have been acted on."""
        ...

    def find_sent(self, request: PostRequest, *, since: datetime) -> RemotePost | None:
        """The account's post made from ``request`` since ``since`` — the
        same whole content (links compared in full) and the same reply
        target — or None when the account's posts since then were **all**
        read and it is not among them.  Raises
        :class:`~megaphone.errors.LookupFailed` when they could not all be
        read: then nothing is known."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SignedIn:
    """What a sign-in gives back: credential fields (``ACCESS_TOKEN``…) and
    their values, for ``.env``, and who signed in."""

    values: dict[str, str]
    username: str | None = None


class AuthFlow(Protocol):
    """A network's sign-in, for ``megaphone auth NAME``: show
    :attr:`instructions`, ask for :attr:`prompt`, then :meth:`finish`."""

    instructions: str
    prompt: str

    def finish(self, answer: str) -> SignedIn: ...
