"""Bluesky (AT Protocol): its rules and rich text (``rules``, ``facets``,
``tid``: pure), its client on megaphone's own HTTP session (``client``) and
its sign-in check (``auth``).  Importing this package loads only the rules."""

from megaphone.networks.bluesky.rules import RULES

__all__ = ["RULES"]
