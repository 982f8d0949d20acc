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


class ClockSkewed(MegaphoneError):
    """This machine's clock is too far from the network's to publish on time."""


class PublishError(MegaphoneError):
    """A network refused or failed a request.  Adapters raise only these (and
    their subclasses); the publisher decides what each means for a post.

    ``sent`` says whether the request may have reached the network, so that
    its outcome is unknown; ``retryable`` whether sending it again is safe
    once the outcome is known."""

    retryable = False
    sent = False


class RateLimited(PublishError):
    """Too many requests (429): wait until ``reset_at`` (epoch seconds)."""

    retryable = True

    def __init__(self, message: str, *, reset_at: float | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class DuplicateContent(PublishError):
    """The network already has a post with this text from this account."""


class AuthFailed(PublishError):
    """The credentials were refused (401), or lack a permission."""


class NeedsPerson(PublishError):
    """The post cannot go out until a person acts (a mention that does not
    resolve to anyone): held, as ``blocked``, never failed or sent wrong."""


class Rejected(PublishError):
    """The request itself was refused (400, 403, 404): sending it again would
    be refused again."""


class Unavailable(PublishError):
    """The request never reached the network (connection refused, DNS, a
    connect timeout): safe to send again."""

    retryable = True


class ServerError(PublishError):
    """The network answered 5xx: it may or may not have acted on the request."""

    retryable = True
    sent = True


class OutcomeUnknown(PublishError):
    """The request may have been sent and acted on, but no answer came (a read
    timeout, a dropped connection)."""

    sent = True


class ReadFailed(PublishError):
    """A read (who am I, the account's recent posts) failed or its answer
    could not be read whole: nothing is known from it."""

    retryable = True


class LeaseLost(MegaphoneError):
    """This run no longer holds the claim of a post (its lease ran out, or
    another run took it over): it sends nothing more of it and leaves it to
    the new holder's reconciliation."""


class SentTooLate(MegaphoneError):
    """A post's request was about to leave later after its fence than the
    lease allows (the process was paused, its machine frozen, between the
    two): it was not sent.  The sender fences it again first, which finds
    out whether the claim is still its own."""


class LedgerError(MegaphoneError):
    """The ledger cannot be opened, read or written."""


class AccountMismatch(MegaphoneError):
    """An account's credentials belong to another account than the one
    configured (or first seen): its posts are held."""
