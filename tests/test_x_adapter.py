"""The X adapter against the fake X API: requests, signatures, media, errors."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from megaphone.errors import (
    AuthFailed,
    DuplicateContent,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    ServerError,
    Unavailable,
)
from megaphone.networks.contract import PostRequest, Timeouts
from megaphone.networks.x.client import XNetwork
from megaphone.networks.x.rules import RULES as X_RULES
from megaphone.networks.x.rules import post_id_from_url
from megaphone.project.credentials import Credentials, CredentialStore, Secret
from tests.conftest import png_bytes
from tests.fakex import FakeX, User


def req(text: str, **kw: object) -> PostRequest:
    return PostRequest(text, **kw)  # type: ignore[arg-type]


X_FIELDS = X_RULES.credential_fields


def creds(fakex: FakeX, user: User, **over: str) -> Credentials:
    api_url = over.pop("api_url", fakex.url)
    values = {
        "API_KEY": FakeX.API_KEY,
        "API_SECRET": FakeX.API_SECRET,
        "ACCESS_TOKEN": user.access_token,
        "ACCESS_SECRET": user.access_secret,
        **{k.upper(): v for k, v in over.items()},
    }
    return Credentials(tuple((k, Secret(v)) for k, v in values.items()), api_url=api_url)


@pytest.fixture
def user(fakex: FakeX) -> User:
    return fakex.add_user("utlanow")


@pytest.fixture
def x(fakex: FakeX, user: User) -> XNetwork:
    sleeps: list[float] = []
    net = XNetwork(creds(fakex, user), timeouts=Timeouts(2, 2), sleep=sleeps.append)
    net.sleeps = sleeps  # type: ignore[attr-defined]
    return net


def test_whoami_is_signed_and_verified(x: XNetwork, user: User) -> None:
    me = x.whoami()
    assert (me.id, me.username) == (user.id, "utlanow")


@pytest.mark.parametrize("field", ["api_secret", "access_secret", "access_token", "api_key"])
def test_a_wrong_key_or_secret_is_refused(fakex: FakeX, user: User, field: str) -> None:
    net = XNetwork(creds(fakex, user, **{field: "wrong"}), timeouts=Timeouts(2, 2))
    with pytest.raises(AuthFailed, match="401") as info:
        net.whoami()
    assert "wrong" not in str(info.value)
    assert fakex.requests[-1][2] == 401


def test_create_post_goes_to_the_configured_host(fakex: FakeX, x: XNetwork) -> None:
    posted = x.create_post(req("Hello & welcome <3 https://example.org/a?b=c"))
    [tweet] = fakex.posted("utlanow")
    assert tweet.sent_text == "Hello & welcome <3 https://example.org/a?b=c"
    assert posted.id == tweet.id
    assert posted.url == f"https://x.com/utlanow/status/{tweet.id}"
    assert post_id_from_url(posted.url) == tweet.id
    assert ("POST", "/2/tweets", 201) in fakex.requests


def test_thread_reply_and_quote(fakex: FakeX, x: XNetwork) -> None:
    first = x.create_post(req("one"))
    second = x.create_post(req("two", reply_to=first.id, quote=first.id))
    tweets = {t.id: t for t in fakex.posted()}
    assert tweets[second.id].reply_to == first.id
    assert tweets[second.id].quote == first.id


def test_duplicate_text_is_recognised(x: XNetwork) -> None:
    x.create_post(req("same words"))
    with pytest.raises(DuplicateContent, match="duplicate content"):
        x.create_post(req("same words"))


def test_rate_limit_carries_the_reset_time(fakex: FakeX, x: XNetwork) -> None:
    fakex.fault("POST", "/2/tweets", "status", status=429, reset_in=42)
    with pytest.raises(RateLimited) as info:
        x.create_post(req("hello"))
    assert info.value.reset_at is not None
    assert 30 < info.value.reset_at - datetime.now(UTC).timestamp() <= 43
    assert fakex.posted() == []


def test_server_error_may_have_been_acted_on(fakex: FakeX, x: XNetwork) -> None:
    fakex.fault("POST", "/2/tweets", "status", status=503)
    with pytest.raises(ServerError, match="503") as info:
        x.create_post(req("hello"))
    assert info.value.sent and info.value.retryable


def test_dropped_connection_after_sending_is_unknown(fakex: FakeX, x: XNetwork) -> None:
    fakex.fault("POST", "/2/tweets", "drop_after")
    with pytest.raises(OutcomeUnknown):
        x.create_post(req("hello"))
    assert len(fakex.posted()) == 1  # it did go out


def test_read_timeout_is_unknown(fakex: FakeX, user: User) -> None:
    net = XNetwork(creds(fakex, user), timeouts=Timeouts(2, 0.3))
    fakex.fault("POST", "/2/tweets", "slow", delay=0.8)
    with pytest.raises(OutcomeUnknown, match="no answer"):
        net.create_post(req("hello"))


def test_connection_refused_is_not_sent(fakex: FakeX, user: User) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    net = XNetwork(creds(fakex, user, api_url=f"http://127.0.0.1:{port}"), timeouts=Timeouts(1, 1))
    with pytest.raises(Unavailable) as info:
        net.create_post(req("hello"))
    assert not info.value.sent


def test_bad_request_is_rejected(x: XNetwork) -> None:
    with pytest.raises(Rejected, match="not ready"):
        x.create_post(req("hello", media_ids=("123",)))


def test_image_upload_with_alt_text(fakex: FakeX, x: XNetwork, tmp_path: Path) -> None:
    image = tmp_path / "caravan.png"
    image.write_bytes(png_bytes())
    media_id = x.upload_media(image, mime="image/png", kind="image", alt="Cars in a caravan")
    upload = fakex.uploads[media_id]
    assert bytes(upload.data) == image.read_bytes()
    assert (upload.mime, upload.category, upload.alt) == (
        "image/png",
        "tweet_image",
        "Cars in a caravan",
    )
    post = x.create_post(req("with a picture", media_ids=(media_id,)))
    assert fakex.posted()[0].media_ids == (media_id,)
    assert post.id


def test_video_upload_in_chunks_waits_for_processing(
    fakex: FakeX, x: XNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import megaphone.networks.x.client as xmod

    monkeypatch.setattr(xmod, "CHUNK_SIZE", 1000)
    video = tmp_path / "clip.mp4"
    data = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20
    video.write_bytes(data)
    media_id = x.upload_media(video, mime="video/mp4", kind="video", alt=None)
    upload = fakex.uploads[media_id]
    assert bytes(upload.data) == data
    assert len(upload.segments) == 6
    assert upload.state == "succeeded"
    assert x.sleeps == [1.0, 1.0]  # type: ignore[attr-defined]
    assert fakex.count("GET", "/2/media/upload") == 2


def test_recent_posts_match_what_was_sent(fakex: FakeX, x: XNetwork) -> None:
    text = "Sign the petition & share: https://example.org/petition?src=x #RespectUs"
    x.create_post(req(text))
    x.create_post(req("something else"))
    recent = x.recent_posts(since=datetime.now(UTC) - timedelta(minutes=5))
    assert len(recent) == 2
    # X's t.co links are put back as the links they stand for.
    assert "t.co" not in recent[1].text and "&amp;" in recent[1].text
    found = x.find_sent(req(text), since=datetime.now(UTC))
    assert found is not None and found.id == fakex.posted()[0].id


def test_secrets_never_print(fakex: FakeX, user: User) -> None:
    c = creds(fakex, user)
    shown = f"{c} {c!r} {c.field('API_SECRET')}"
    assert user.access_secret not in shown and FakeX.API_SECRET not in shown


def test_credentials_from_environment_and_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "MEGAPHONE_RECLAIM_LA_API_KEY=k\nMEGAPHONE_RECLAIM_LA_API_SECRET='s e'\n"
        "MEGAPHONE_RECLAIM_LA_ACCESS_TOKEN=t\n",
        encoding="utf-8",
    )
    store = CredentialStore(tmp_path, {"MEGAPHONE_RECLAIM_LA_ACCESS_SECRET": "z"})
    found = store.lookup("reclaim-la", X_FIELDS)
    assert found.credentials is not None
    assert found.credentials.field("API_SECRET").reveal() == "s e"
    assert found.source == ".env and environment"
    missing = CredentialStore(tmp_path, {}).lookup("reclaim-la", X_FIELDS)
    assert missing.missing == ("MEGAPHONE_RECLAIM_LA_ACCESS_SECRET",)
