"""Mastodon, on any instance: its rules (``rules``, pure), its client on
megaphone's own HTTP session (``client``) and its sign-in (``auth``).
Importing this package loads only the rules."""

from megaphone.networks.mastodon.rules import RULES

__all__ = ["RULES"]
