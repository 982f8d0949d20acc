"""One Mastodon account, through megaphone's own HTTP session (the deadline,
no redirects, the server's clock): a bearer token, the statuses, media and
instance endpoints, and every answer turned into megaphone's errors.

A thin client on purpose: the eight endpoints megaphone needs are a page of
code, and every request keeps the session's rules (see README, "Dependencies,
and why", for Mastodon.py)."""

from __future__ import annotations

import html
import re
import time
import unicodedata
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from megaphone.errors import (
    AuthFailed,
    OutcomeUnknown,
    RateLimited,
    ReadFailed,
    Rejected,
    ServerError,
    Unavailable,
)
from megaphone.networks.contract import PostRequest, RemotePost, RemoteUser, Timeouts
from megaphone.networks.http import Session, believable_reset, call, refuse_redirect

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import requests

    from megaphone.networks.base import Credentials

#: Statuses read at most when looking one up (40 a page).
LOOKUP_PAGES = 5
#: How long an upload may take to be processed before it is given up.
PROCESSING_DEADLINE = 300.0


def _wait(seconds: float) -> None:
    """Waiting between polls of an upload (tests travel in time instead)."""
    time.sleep(seconds)


def reset_time(value: str | None) -> float | None:
    """``X-RateLimit-Reset`` (an ISO 8601 time) as epoch seconds, or None
    when missing, unreadable or not within the next day."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return believable_reset(at.timestamp())


def _message(response: requests.Response) -> str:
    """What the server said, in one line (its ``error`` and description)."""
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} {response.reason or ''}".strip()
    text = ""
    if isinstance(body, dict):
        text = str(body.get("error") or "")
        if body.get("error_description"):
            text = (
                f"{text}: {body['error_description']}" if text else str(body["error_description"])
            )
    return f"{response.status_code} {text or response.reason or ''}".strip()[:500]


def raise_for(response: requests.Response, *, what: str, write: bool) -> None:
    """Turn an unsuccessful answer into megaphone's error for it."""
    status = response.status_code
    if 200 <= status < 300:
        return
    refuse_redirect(response, what=what, write=write, who="the instance", setting="instance")
    message = f"{what}: the instance answered {_message(response)}"
    if status == 429:
        reset = reset_time(response.headers.get("X-RateLimit-Reset"))
        raise RateLimited(message, reset_at=reset)
    if status in (401, 403):
        raise AuthFailed(message)
    if status >= 500:
        if not write:
            raise ReadFailed(message)
        raise ServerError(message)
    if status == 422 and "processing" in message.lower():
        # An attachment not processed yet: a wait, not a refusal.
        raise Unavailable(message)
    if not write:
        raise ReadFailed(message)
    raise Rejected(message)


class MastodonNetwork:
    """One account on one Mastodon instance, signed in with its token."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        timeouts: Timeouts | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if not credentials.api_url:
            raise Rejected("the account has no instance: set instance: in megaphone.yaml")
        self.base = credentials.api_url.rstrip("/")
        self.host = (urlsplit(self.base).hostname or "").lower()
        self.session = Session(self.base, timeouts or Timeouts())
        self.session.headers["Authorization"] = (
            "Bearer " + credentials.field("ACCESS_TOKEN").reveal()
        )
        self.sleep = sleep or _wait
        self._me: RemoteUser | None = None

    # ------------------------------------------------------------ requests

    def _request(
        self, method: str, path: str, what: str, *, write: bool, **kwargs: Any
    ) -> tuple[int, Any]:
        def send() -> tuple[int, Any]:
            response = self.session.request(method, self.base + path, **kwargs)
            raise_for(response, what=what, write=write)
            if not response.content:
                return response.status_code, {}
            try:
                return response.status_code, response.json()
            except ValueError:
                message = f"{what}: the instance's answer could not be read (not JSON)"
                raise (OutcomeUnknown if write else ReadFailed)(message) from None

        result: tuple[int, Any] = call(
            what, send, network="the instance", base=self.base, write=write
        )
        return result

    def _object(self, body: Any, what: str, *, write: bool) -> dict[str, Any]:
        if isinstance(body, dict):
            return body
        message = f"{what}: the instance's answer is not the JSON object it should be"
        raise (OutcomeUnknown if write else ReadFailed)(message)

    # ------------------------------------------------------------- network

    def clock_skew(self) -> float | None:
        return self.session.skew

    def whoami(self) -> RemoteUser:
        if self._me is None:
            _, body = self._request(
                "GET", "/api/v1/accounts/verify_credentials", "who am I", write=False
            )
            me = self._object(body, "who am I", write=False)
            account_id, acct = me.get("id"), me.get("acct") or me.get("username")
            if not isinstance(account_id, str) or not isinstance(acct, str) or not acct:
                raise ReadFailed("who am I: the instance's answer has no account id")
            name = acct if "@" in acct else f"{acct}@{self.host}"
            shown = me.get("display_name")
            self._me = RemoteUser(account_id, name, shown if isinstance(shown, str) else "")
        return self._me

    def instance(self) -> dict[str, int]:
        """The instance's limits, named as megaphone.yaml's ``limits:`` names
        them (those it says; Mastodon before 4.0 says fewer)."""
        _, body = self._request("GET", "/api/v2/instance", "reading the instance", write=False)
        info = self._object(body, "reading the instance", write=False)
        config = _mapping(info.get("configuration"))
        statuses = _mapping(config.get("statuses"))
        media = _mapping(config.get("media_attachments"))
        found: dict[str, int] = {}
        for source, keys in (
            (statuses, ("max_characters", "characters_reserved_per_url", "max_media_attachments")),
            (media, ("image_size_limit", "video_size_limit", "description_limit")),
        ):
            for key in keys:
                value = source.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    found[key] = value
        return found

    def upload_media(
        self,
        path: Path,
        *,
        mime: str,
        kind: str,
        alt: str | None,
        size: tuple[int, int] | None = None,
    ) -> str:
        what = f"uploading {path.name}"
        data: dict[str, str] = {"description": alt} if alt else {}
        with path.open("rb") as f:
            status, body = self._request(
                "POST",
                "/api/v2/media",
                what,
                write=True,
                files={"file": (path.name, f, mime)},
                data=data,
            )
        media = self._object(body, what, write=True)
        media_id = media.get("id")
        if not isinstance(media_id, str) or not media_id:
            raise OutcomeUnknown(f"{what}: the instance's answer has no media id")
        if status == 202 or media.get("url") is None:
            self._wait_processed(media_id, what)
        return media_id

    def _wait_processed(self, media_id: str, what: str) -> None:
        """Poll an upload until the instance has processed it (an attachment
        not processed yet would be refused, or posted broken)."""
        deadline = time.monotonic() + PROCESSING_DEADLINE
        delay = 1.0
        while True:
            status, body = self._request(
                "GET", f"/api/v1/media/{media_id}", what + " (processing)", write=False
            )
            media = self._object(body, what, write=False)
            if status == 200 and media.get("url"):
                return
            if time.monotonic() + delay > deadline:
                raise Unavailable(
                    f"{what}: still processing after {PROCESSING_DEADLINE:.0f} s; tried again later"
                )
            self.sleep(delay)
            delay = min(delay * 1.5, 10.0)

    def _resolve(self, ref: str | None, what: str) -> str | None:
        """A status id on this instance for ``ref``: an id as it is; a URL
        (of this instance or another) through the instance's search."""
        if ref is None or "://" not in ref:
            return ref
        _, body = self._request(
            "GET",
            "/api/v2/search",
            what,
            write=False,
            params={"q": ref, "resolve": "true", "type": "statuses", "limit": 1},
        )
        found = self._object(body, what, write=False).get("statuses")
        if isinstance(found, list) and found and isinstance(found[0], dict):
            status_id = found[0].get("id")
            if isinstance(status_id, str) and status_id:
                return status_id
        raise Rejected(f"{what}: the instance cannot find {ref}")

    def create_post(self, request: PostRequest) -> RemotePost:
        reply_to = self._resolve(request.reply_to, "finding the post replied to")
        payload: dict[str, Any] = {"status": request.text}
        if request.media_ids:
            payload["media_ids"] = list(request.media_ids)
        if reply_to:
            payload["in_reply_to_id"] = reply_to
        if request.lang:
            payload["language"] = request.lang.split("-")[0].lower()
        payload.update(dict(request.options))
        headers = {"Idempotency-Key": request.key} if request.key else {}
        _, body = self._request(
            "POST", "/api/v1/statuses", "posting", write=True, json=payload, headers=headers
        )
        return self._post(self._object(body, "posting", write=True), "posting", write=True)

    def _post(self, status: dict[str, Any], what: str, *, write: bool) -> RemotePost:
        status_id, url = status.get("id"), status.get("url") or status.get("uri")
        if not isinstance(status_id, str) or not status_id or not isinstance(url, str):
            message = f"{what}: the instance's answer has no status id"
            raise (OutcomeUnknown if write else ReadFailed)(message)
        reply = status.get("in_reply_to_id")
        return RemotePost(
            status_id,
            url,
            _plain(status.get("content")),
            _time(status.get("created_at")),
            reply if isinstance(reply, str) else None,
        )

    def find_sent(self, request: PostRequest, *, since: datetime) -> RemotePost | None:
        """The account's status made from ``request`` since ``since``: the
        same source text (``/statuses/:id/source``: ``content`` is HTML) and
        reply target.  Every status since then is read, or ReadFailed."""
        what = "looking the post up"
        me = self.whoami()
        reply_to = self._resolve(request.reply_to, what)
        max_id: str | None = None
        for _ in range(LOOKUP_PAGES):
            params: dict[str, Any] = {"limit": 40, "exclude_reblogs": "true"}
            if max_id:
                params["max_id"] = max_id
            _, body = self._request(
                "GET", f"/api/v1/accounts/{me.id}/statuses", what, write=False, params=params
            )
            if not isinstance(body, list):
                raise ReadFailed(f"{what}: the instance's answer is not a list of statuses")
            if not body:
                return None
            for item in body:
                if not isinstance(item, dict):
                    raise ReadFailed(f"{what}: the instance's answer holds a non-status")
                post = self._post(item, what, write=False)
                if post.created_at is not None and post.created_at < since.replace(microsecond=0):
                    return None  # older than the attempt: every newer one was read
                if post.reply_to == reply_to and self._same_source(post.id, request.text):
                    return post
                max_id = post.id
        raise ReadFailed(f"{what}: more than {LOOKUP_PAGES * 40} statuses since the attempt")

    def _same_source(self, status_id: str, text: str) -> bool:
        _, body = self._request(
            "GET", f"/api/v1/statuses/{status_id}/source", "reading a post's source", write=False
        )
        source = self._object(body, "reading a post's source", write=False).get("text")
        return isinstance(source, str) and _comparable(source) == _comparable(text)

    def close(self) -> None:
        self.session.close()


_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def _plain(content: Any) -> str:
    """A status's HTML ``content`` as plain text (for messages only; lookups
    compare the source)."""
    if not isinstance(content, str):
        return ""
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", content))).strip()


_SPACE = re.compile(r"\s+")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _comparable(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def open_account(credentials: Credentials, *, timeouts: Timeouts) -> MastodonNetwork:
    """The registry's way in: one signed-in Mastodon account."""
    return MastodonNetwork(credentials, timeouts=timeouts)


__all__ = ["MastodonNetwork", "open_account", "raise_for", "reset_time"]
