"""OAuth 1.0a request signing (HMAC-SHA1, RFC 5849 section 3), for every
request the X adapter sends itself: posts and media.

oauthlib (through requests-oauthlib, as tweepy signs) is the reference, and
the tests hold this signer to it, signature for signature.  It is written
here because oauthlib's general signing (any method, any body, checks
along the way) costs about 0.16 ms of the interpreter a request: a tenth
of a post's whole cost in a burst, where every account's thread waits for
the interpreter.  This one does only what X's requests need, in about
0.02 ms: the query's and a form body's parameters, with the OAuth ones, in
the signature base string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, parse_qsl, quote, urlsplit

import requests.auth

if TYPE_CHECKING:
    from collections.abc import Callable

    from requests import PreparedRequest

FORM = "application/x-www-form-urlencoded"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _enc(text: str) -> str:
    """RFC 3986 percent-encoding, as RFC 5849 wants it: every byte of the
    UTF-8 form but the unreserved characters."""
    return quote(text, safe="~")


class OAuth1Signer(requests.auth.AuthBase):
    """Signs each request with an account's OAuth 1.0a user credentials:
    the app's key and secret, the account's token and secret.  Holds them
    for its adapter's life; never shows them (``repr`` says what it is)."""

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        token: str,
        token_secret: str,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self._key = f"{_enc(consumer_secret)}&{_enc(token_secret)}".encode()
        # Encoded once: in the base string and the header alike.
        self._consumer_key = _enc(consumer_key)
        self._token = _enc(token)
        self._clock = clock
        self._nonce = nonce

    def __repr__(self) -> str:
        return "<OAuth1Signer>"

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = self.header(
            request.method or "GET",
            request.url or "",
            request.body,
            request.headers.get("Content-Type"),
        )
        return request

    def header(
        self,
        method: str,
        url: str,
        body: str | bytes | None = None,
        content_type: str | bytes | None = None,
    ) -> str:
        """The ``Authorization`` header for a request: its method, its whole
        URL (with the query) and, when it is a form, its body."""
        nonce, timestamp = _enc(self._nonce()), str(int(self._clock()))
        oauth = [
            ("oauth_consumer_key", self._consumer_key),
            ("oauth_nonce", nonce),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", timestamp),
            ("oauth_token", self._token),
            ("oauth_version", "1.0"),
        ]
        parts = urlsplit(url)
        params = parse_qsl(parts.query, keep_blank_values=True) if parts.query else []
        if body and content_type is not None:
            kind = content_type.decode() if isinstance(content_type, bytes) else content_type
            if kind.split(";", 1)[0].strip().lower() == FORM:
                text = body.decode() if isinstance(body, bytes) else body
                params += parse_qsl(text, keep_blank_values=True)
        # The OAuth parameters alone are in order already.
        encoded = sorted([(_enc(k), _enc(v)) for k, v in params] + oauth) if params else oauth
        normalized = "&".join(f"{k}={v}" for k, v in encoded)
        base = f"{method.upper()}&{_enc(_base_uri(parts))}&{_enc(normalized)}"
        digest = hmac.new(self._key, base.encode(), hashlib.sha1).digest()
        signature = _enc(base64.b64encode(digest).decode())
        return (
            f'OAuth oauth_consumer_key="{self._consumer_key}", oauth_nonce="{nonce}", '
            f'oauth_signature_method="HMAC-SHA1", oauth_timestamp="{timestamp}", '
            f'oauth_token="{self._token}", oauth_version="1.0", '
            f'oauth_signature="{signature}"'
        )


def _base_uri(parts: SplitResult) -> str:
    """The signature's base string URI: scheme and host in lower case, the
    port only when it is not the scheme's own, the path (``/`` at least),
    no query or fragment."""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"
