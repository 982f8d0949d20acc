"""The X adapter's own OAuth 1.0a signer, held to requests-oauthlib's (as
tweepy signs), signature for signature; the fake X API verifies every
request with oauthlib's own verifier besides."""

from __future__ import annotations

import re

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from requests_oauthlib import OAuth1

from megaphone.networks.x.signing import OAuth1Signer

NONCE, STAMP = "4f1c0e9d2b7a", 1_796_000_000

# Keys and values with what percent-encoding must get right: reserved
# characters, spaces, plus signs, the unreserved four, and letters beyond ASCII.
text = st.text(
    alphabet=st.sampled_from(list("aZ09-._~ +&=%/?#!*'()[]:@,;$é漢🦋")),
    min_size=1,
    max_size=12,
)
params = st.lists(st.tuples(text, text), max_size=4)
secrets_ = st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s)


def _fields(header: str | bytes) -> dict[str, str]:
    if isinstance(header, bytes):
        header = header.decode()
    assert header.startswith("OAuth ")
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def _both(prepared: requests.PreparedRequest, *keys: str) -> tuple[dict[str, str], dict[str, str]]:
    """The reference's header fields and the signer's, for the same request
    with the same nonce and time."""
    reference = OAuth1(
        keys[0],
        client_secret=keys[1],
        resource_owner_key=keys[2],
        resource_owner_secret=keys[3],
        decoding=None,
        nonce=NONCE,
        timestamp=str(STAMP),
    )
    ours = OAuth1Signer(*keys, clock=lambda: STAMP, nonce=lambda: NONCE)
    theirs = reference(prepared.copy()).headers["Authorization"]
    mine = ours(prepared.copy()).headers["Authorization"]
    return _fields(theirs), _fields(mine)


KEYS = ("app-key", "app secret/with+signs", "1234-token", "token~secret&more")


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("POST", "https://api.x.com/2/tweets", {"json": {"text": "Town hall tonight 🦋"}}),
        ("POST", "https://API.X.com:443/2/tweets", {"json": {"text": "upper-case host"}}),
        ("GET", "http://127.0.0.1:8080/2/users/me", {"params": {"user.fields": "username"}}),
        (
            "GET",
            "https://api.x.com/2/media/upload?command=STATUS",
            {"params": {"media_id": "1880028106020515840"}},
        ),
        (
            "POST",
            "https://api.x.com/2/media/upload",
            {"data": {"media_category": "tweet_image", "note": "a/b c+d é"}},
        ),
        (
            "POST",
            "https://api.x.com/2/media/upload",
            {
                "files": {"media": ("poster.png", b"\x89PNG", "image/png")},
                "data": {"media_category": "tweet_image"},
            },
        ),
        ("POST", "https://api.x.com/2/media/upload/123/finalize", {}),
        ("DELETE", "https://api.x.com:8443/2/tweets/1", {}),
    ],
)
def test_the_signer_signs_as_requests_oauthlib_does(
    method: str, url: str, kwargs: dict[str, object]
) -> None:
    prepared = requests.Request(method, url, **kwargs).prepare()
    theirs, mine = _both(prepared, *KEYS)
    assert mine == theirs


@given(query=params, form=params, keys=st.tuples(secrets_, secrets_, secrets_, secrets_))
def test_any_query_form_and_keys_give_the_reference_signature(
    query: list[tuple[str, str]], form: list[tuple[str, str]], keys: tuple[str, str, str, str]
) -> None:
    kwargs: dict[str, object] = {"params": query}
    if form:
        kwargs["data"] = form
    prepared = requests.Request("POST", "https://api.x.com/2/media/upload", **kwargs).prepare()
    theirs, mine = _both(prepared, *keys)
    assert mine["oauth_signature"] == theirs["oauth_signature"]
    assert mine == theirs


def test_each_request_has_a_new_nonce_and_the_time_it_is_signed() -> None:
    now = [STAMP]
    signer = OAuth1Signer(*KEYS, clock=lambda: now[0])
    first = _fields(signer.header("POST", "https://api.x.com/2/tweets"))
    now[0] += 7
    second = _fields(signer.header("POST", "https://api.x.com/2/tweets"))
    assert first["oauth_nonce"] != second["oauth_nonce"]
    assert (first["oauth_timestamp"], second["oauth_timestamp"]) == (str(STAMP), str(STAMP + 7))
    assert first["oauth_signature"] != second["oauth_signature"]


def test_the_signer_never_shows_the_secrets() -> None:
    signer = OAuth1Signer(*KEYS)
    shown = repr(signer) + str(signer)
    for secret in KEYS[1:]:
        assert secret not in shown
    header = signer.header("POST", "https://api.x.com/2/tweets")
    assert "secret" not in header
