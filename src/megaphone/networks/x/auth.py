"""X's PIN-based OAuth 1.0a sign-in, for ``megaphone auth``: the app's keys
(``API_KEY``, ``API_SECRET``) must be set; the account's tokens
(``ACCESS_TOKEN``, ``ACCESS_SECRET``) are what it gives back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests

from megaphone.errors import AuthFailed, MegaphoneError, Rejected, Unavailable
from megaphone.networks.contract import SignedIn
from megaphone.networks.x.rules import DEFAULT_API_URL

if TYPE_CHECKING:
    from collections.abc import Callable

    from megaphone.model import Account
    from megaphone.networks.contract import Timeouts


def start(
    account: Account, lookup: Callable[[str], str | None], prefix: str, *, timeouts: Timeouts
) -> PinFlow:
    """Begin signing ``account`` in (``lookup``: a credential field's value)."""
    key, secret = lookup("API_KEY"), lookup("API_SECRET")
    if not key or not secret:
        raise MegaphoneError(
            f"set {prefix}API_KEY and {prefix}API_SECRET (the app's keys) in the "
            "environment or .env first"
        )
    api_url = lookup("API_URL") or account.api_url
    return PinFlow(key, secret, api_url=api_url, timeouts=timeouts)


class PinFlow:
    """X's PIN-based OAuth 1.0a sign-in: open :attr:`url`, sign in, read the PIN."""

    prompt = "PIN"

    def __init__(
        self, api_key: str, api_secret: str, *, api_url: str | None, timeouts: Timeouts
    ) -> None:
        from requests_oauthlib import OAuth1Session

        self.base = (api_url or DEFAULT_API_URL).rstrip("/")
        self.api_key, self.api_secret = api_key, api_secret
        self.timeout = (timeouts.connect, timeouts.read)
        session = OAuth1Session(api_key, client_secret=api_secret, callback_uri="oob")
        token = self._fetch(
            "asking X for a sign-in link",
            lambda: session.fetch_request_token(
                self.base + "/oauth/request_token", timeout=self.timeout
            ),
        )
        self.token = token["oauth_token"]
        self.token_secret = token["oauth_token_secret"]
        self.url = session.authorization_url(self.base + "/oauth/authorize")
        self.instructions = (
            f"Open this link, sign in as the account, and allow the app:\n  {self.url}"
        )

    def _fetch(self, what: str, fn: Callable[[], dict[str, str]]) -> dict[str, str]:
        from requests_oauthlib.oauth1_session import TokenRequestDenied

        try:
            return fn()
        except TokenRequestDenied as e:
            raise AuthFailed(f"{what}: X refused ({e.status_code})") from None
        except requests.RequestException:
            raise Unavailable(f"{what}: cannot reach {self.base}") from None
        except (ValueError, KeyError):
            raise Rejected(f"{what}: X's answer could not be read") from None

    def finish(self, pin: str) -> SignedIn:
        """The access token, its secret and the account's username."""
        from requests_oauthlib import OAuth1Session

        session = OAuth1Session(
            self.api_key,
            client_secret=self.api_secret,
            resource_owner_key=self.token,
            resource_owner_secret=self.token_secret,
            verifier=pin.strip(),
        )
        token = self._fetch(
            "signing in",
            lambda: session.fetch_access_token(
                self.base + "/oauth/access_token", timeout=self.timeout
            ),
        )
        return SignedIn(
            {"ACCESS_TOKEN": token["oauth_token"], "ACCESS_SECRET": token["oauth_token_secret"]},
            token.get("screen_name") or None,
        )
