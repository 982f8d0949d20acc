"""megaphone's one family of exceptions.

Every expected failure is a :class:`MegaphoneError`; the command line turns it
into a one-line message and an exit code in one place (``cli.main``).
"""

from __future__ import annotations


class MegaphoneError(Exception):
    """An expected failure, told to the user in one line.  Exit code 1."""

    exit_code = 1


class UsageError(MegaphoneError):
    """The command was given something it cannot work with.  Exit code 2."""

    exit_code = 2
