"""Signing a Mastodon account in, for ``megaphone auth``: megaphone registers
itself as an app on the account's instance (``POST /api/v1/apps``, the
out-of-band redirect), shows the authorisation link, and trades the code the
instance shows for a user token (``POST /oauth/token``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from megaphone.errors import MegaphoneError, Rejected
from megaphone.networks.contract import SignedIn, Timeouts
from megaphone.networks.http import Session, call

if TYPE_CHECKING:
    from collections.abc import Callable

    from megaphone.model import Account

SCOPES = "write:statuses write:media read:accounts read:statuses"
OOB = "urn:ietf:wg:oauth:2.0:oob"


def start(
    account: Account, lookup: Callable[[str], str | None], prefix: str, *, timeouts: Timeouts
) -> CodeFlow:
    base = lookup("API_URL") or account.api_url
    if not base:
        raise MegaphoneError(f"account {account.name!r} has no instance: set instance: first")
    return CodeFlow(base, timeouts)


class CodeFlow:
    """Open :attr:`url`, allow megaphone, type the code the instance shows."""

    prompt = "Code"

    def __init__(self, base: str, timeouts: Timeouts) -> None:
        self.base = base.rstrip("/")
        self.session = Session(self.base, timeouts)
        app = self._post(
            "registering megaphone on the instance",
            "/api/v1/apps",
            {"client_name": "megaphone", "redirect_uris": OOB, "scopes": SCOPES},
        )
        client_id, secret = app.get("client_id"), app.get("client_secret")
        if not isinstance(client_id, str) or not isinstance(secret, str):
            raise Rejected("registering megaphone on the instance: no client id in the answer")
        self.client_id, self.client_secret = client_id, secret
        query = urlencode(
            {"client_id": client_id, "scope": SCOPES, "redirect_uri": OOB, "response_type": "code"}
        )
        self.url = f"{self.base}/oauth/authorize?{query}"
        self.instructions = (
            f"Open this link, sign in as the account, and allow megaphone:\n  {self.url}"
        )

    def _post(self, what: str, path: str, data: dict[str, str]) -> dict[str, Any]:
        from megaphone.networks.mastodon.client import raise_for

        def send() -> Any:
            response = self.session.request("POST", self.base + path, data=data)
            raise_for(response, what=what, write=False)
            try:
                return response.json()
            except ValueError:
                raise Rejected(f"{what}: the instance's answer could not be read") from None

        body = call(what, send, network="the instance", base=self.base, write=False)
        if not isinstance(body, dict):
            raise Rejected(f"{what}: the instance's answer could not be read")
        return body

    def finish(self, code: str) -> SignedIn:
        token = self._post(
            "signing in",
            "/oauth/token",
            {
                "grant_type": "authorization_code",
                "code": code.strip(),
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "redirect_uri": OOB,
                "scope": SCOPES,
            },
        ).get("access_token")
        if not isinstance(token, str) or not token:
            raise Rejected("signing in: the instance gave no token")
        from megaphone.networks.base import Credentials, Secret
        from megaphone.networks.mastodon.client import MastodonNetwork

        me = MastodonNetwork(
            Credentials((("ACCESS_TOKEN", Secret(token)),), api_url=self.base),
            timeouts=self.session.timeouts,
        )
        try:
            username: str | None = me.whoami().username
        except MegaphoneError:
            username = None
        finally:
            me.close()
        self.session.close()
        return SignedIn({"ACCESS_TOKEN": token}, username)
