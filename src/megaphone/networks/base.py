"""What every network declares about itself, as plain values: its
capabilities and the pure rules the rest of megaphone asks of it.  Nothing
here imports a network's client library."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class Capabilities:
    """What a network can do, and how it behaves."""

    quotes: bool = True
    threads: bool = True
    #: The network refuses a post whose text the account posted already.
    rejects_duplicate_text: bool = False
    #: The most posts a day an account should publish by default (None: no cap).
    default_daily_cap: int | None = None
    #: Media a post may carry at most.
    max_media: int = 4


@dataclass(frozen=True)
class NetworkRules:
    """One network's pure rules (see megaphone.networks for the registry)."""

    #: The name in megaphone.yaml (``network: x``).
    name: str
    #: The name people know it by.
    title: str
    caps: Capabilities
    #: The variables an account's credentials are read from
    #: (``MEGAPHONE_<NAME>_<FIELD>``).
    credential_fields: tuple[str, ...]
    #: The id of the post at a URL of this network, or None.
    parse_post_url: Callable[[str], str | None]
