"""What megaphone asks of a social network, whatever the network.

One adapter module per network implements :class:`Network` (``x`` for X);
the rest of megaphone sees only these types and the errors of
:mod:`megaphone.errors`, never a network library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from megaphone.credentials import Credentials

#: Seconds to wait to connect, and for an answer, before giving up.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0


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


@dataclass(frozen=True)
class Timeouts:
    connect: float = CONNECT_TIMEOUT
    read: float = READ_TIMEOUT


class Network(Protocol):
    """One account on one network."""

    def whoami(self) -> RemoteUser: ...

    def clock_skew(self) -> float | None:
        """The network's clock minus this machine's, in seconds, as last seen
        (None before any answer)."""
        ...

    def upload_media(self, path: Path, *, mime: str, kind: str, alt: str | None) -> str:
        """Upload a file (with its alt text) and return the media id."""
        ...

    def create_post(
        self,
        text: str,
        *,
        media_ids: tuple[str, ...] = (),
        reply_to: str | None = None,
        quote: str | None = None,
    ) -> RemotePost: ...

    def recent_posts(self, *, since: datetime) -> list[RemotePost]:
        """The account's own posts since ``since``, newest first."""
        ...

    def close(self) -> None: ...


def post_id_from_url(network: str, url: str) -> str | None:
    """The id of the post at ``url`` on ``network``, or None."""
    if network == "x":
        from megaphone.networks.x import post_id_from_url as x_post_id

        return x_post_id(url)
    return None


def connect(
    network: str,
    credentials: Credentials,
    *,
    timeouts: Timeouts | None = None,
) -> Network:
    """An adapter for one account.  Imports the network's library only now."""
    if network == "x":
        from megaphone.networks.x import XNetwork

        return XNetwork(credentials, timeouts=timeouts or Timeouts())
    from megaphone.errors import MegaphoneError

    raise MegaphoneError(f"network {network!r} is not supported yet (supported: x)")
