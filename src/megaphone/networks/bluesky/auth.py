"""Signing a Bluesky account in, for ``megaphone auth``: megaphone never takes
the account's own password, only an app password, and checks it by opening a
session (kept for later runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from megaphone.errors import MegaphoneError
from megaphone.networks.bluesky.rules import DEFAULT_SERVICE, app_password_problem
from megaphone.networks.contract import SignedIn, Timeouts

if TYPE_CHECKING:
    from collections.abc import Callable

    from megaphone.model import Account


def start(
    account: Account, lookup: Callable[[str], str | None], prefix: str, *, timeouts: Timeouts
) -> AppPasswordFlow:
    if not account.handle:
        raise MegaphoneError(f"account {account.name!r} needs its handle in megaphone.yaml first")
    return AppPasswordFlow(account, lookup("API_URL") or account.api_url, timeouts)


class AppPasswordFlow:
    """Make an app password in Bluesky's settings, then type it here."""

    prompt = "App password"
    #: What is typed is a secret: not echoed.
    secret = True

    def __init__(self, account: Account, service: str | None, timeouts: Timeouts) -> None:
        self.account = account
        self.service = service or DEFAULT_SERVICE
        self.timeouts = timeouts
        self.instructions = (
            f"In Bluesky, signed in as @{account.handle}: Settings → Privacy and security → "
            "App passwords → Add app password (name it megaphone). Never give megaphone the "
            "account's own password."
        )

    def finish(self, answer: str) -> SignedIn:
        password = answer.strip()
        why = app_password_problem(password)
        if why is not None:
            raise MegaphoneError(f"that {why}")
        from megaphone.networks.base import Credentials, Secret
        from megaphone.networks.bluesky.client import BlueskyNetwork

        net = BlueskyNetwork(
            Credentials(
                (("APP_PASSWORD", Secret(password)),),
                api_url=self.service,
                handle=self.account.handle,
            ),
            timeouts=self.timeouts,
        )
        try:
            me = net.whoami()
        finally:
            net.close()
        return SignedIn({"APP_PASSWORD": password}, me.username)
