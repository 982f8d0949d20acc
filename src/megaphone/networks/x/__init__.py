"""X: its rules (``rules``, pure), its client through tweepy (``client``)
and its sign-in (``auth``).  Importing this package loads only the rules."""

from megaphone.networks.x.rules import RULES

__all__ = ["RULES"]
