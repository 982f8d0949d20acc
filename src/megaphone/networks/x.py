"""X, through tweepy: the one module that knows tweepy.

tweepy's ``Client`` posts and reads; two things it lacks are added around it,
without changing it:

- every request goes to the configured base URL with a timeout: tweepy sends
  to a fixed host and sets no timeout, so the client's ``requests`` session is
  replaced by one that rewrites the host and adds the timeout;
- media: tweepy has no API v2 upload.  Images go up in one request
  (``POST /2/media/upload``); GIFs and videos in chunks
  (``/2/media/upload/initialize``, ``/{id}/append``, ``/{id}/finalize``, then
  ``GET /2/media/upload?command=STATUS`` until processed); alt text is set with
  ``POST /2/media/metadata``.  All are signed with OAuth 1.0a, as tweepy signs.

Every failure leaves here as one of megaphone's :mod:`megaphone.errors`.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

import requests
import tweepy

from megaphone.errors import (
    AuthFailed,
    DuplicateContent,
    OutcomeUnknown,
    PublishError,
    RateLimited,
    Rejected,
    ServerError,
    Unavailable,
)
from megaphone.networks import RemotePost, RemoteUser, Timeouts

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from pathlib import Path

    from megaphone.credentials import Credentials

#: Where tweepy sends every request; rewritten to the configured base URL.
TWEEPY_HOST = "https://api.twitter.com"
DEFAULT_API_URL = "https://api.x.com"
WEB_URL = "https://x.com"
CHUNK_SIZE = 4 * 1024 * 1024
#: The longest wait for X to process an uploaded video or GIF.
PROCESSING_LIMIT = 600.0
MEDIA_CATEGORY = {"image": "tweet_image", "gif": "tweet_gif", "video": "tweet_video"}

_STATUS_URL = re.compile(
    r"https?://(?:www\.|mobile\.)?(?:x|twitter)\.com/(?:\w{1,15}|i/web)/status/(\d{1,20})"
    r"(?:[/?#]\S*)?"
)

# tweepy logs whole requests at DEBUG; nothing of a request is ever logged.
logging.getLogger("tweepy").setLevel(logging.WARNING)


def post_id_from_url(url: str) -> str | None:
    match = _STATUS_URL.fullmatch(url.strip())
    return match.group(1) if match else None


def post_url(username: str | None, post_id: str) -> str:
    return f"{WEB_URL}/{username or 'i/web'}/status/{post_id}"


class _Session(requests.Session):
    """tweepy's session, sent to ``base`` instead of tweepy's host, with a
    timeout on every request."""

    def __init__(self, base: str, timeouts: Timeouts) -> None:
        super().__init__()
        self.base = base.rstrip("/")
        self.timeout = (timeouts.connect, timeouts.read)
        #: X's clock minus this machine's, in seconds, from the last answer's
        #: Date header (None before the first answer).
        self.skew: float | None = None
        self.hooks["response"].append(self._note_date)

    def _note_date(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        date = response.headers.get("Date")
        if not date:
            return
        from email.utils import parsedate_to_datetime

        try:
            server = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return
        # The header has whole seconds: half a second either way is noise.
        self.skew = round(server + 0.5 - time.time())

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and url.startswith(TWEEPY_HOST):
            url = self.base + url[len(TWEEPY_HOST) :]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)


def _api_message(response: requests.Response) -> str:
    """What X said, in one line: its ``detail``, ``title`` or error messages."""
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} {response.reason}"
    parts: list[str] = []
    if isinstance(body, dict):
        for error in body.get("errors") or ():
            if isinstance(error, dict) and error.get("message"):
                parts.append(str(error["message"]))
        if body.get("detail"):
            parts.append(str(body["detail"]))
        elif body.get("title") and not parts:
            parts.append(str(body["title"]))
    text = "; ".join(dict.fromkeys(parts)) or (response.reason or "")
    return f"{response.status_code} {text}".strip()


def raise_for(response: requests.Response, *, what: str) -> None:
    """Turn an unsuccessful answer of X into megaphone's error for it."""
    status = response.status_code
    if 200 <= status < 300:
        return
    message = f"{what}: X answered {_api_message(response)}"
    if status == 429:
        reset = response.headers.get("x-rate-limit-reset")
        reset_at = float(reset) if reset and reset.isdigit() else None
        raise RateLimited(message, reset_at=reset_at)
    if status == 401:
        raise AuthFailed(message)
    if status == 403:
        if "duplicate content" in message.lower():
            raise DuplicateContent(message)
        if "oauth1" in message.lower() or "permission" in message.lower():
            raise AuthFailed(message)
        raise Rejected(message)
    if status >= 500:
        raise ServerError(message)
    raise Rejected(message)


def _not_sent(error: requests.ConnectionError) -> bool:
    """Whether a connection error happened before the request could be sent."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    import urllib3.exceptions as u3

    return isinstance(reason, u3.NewConnectionError | u3.NameResolutionError)


class XNetwork:
    """One X account, signed with its OAuth 1.0a user credentials."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        timeouts: Timeouts | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base = credentials.api_url or DEFAULT_API_URL
        self.session = _Session(self.base, timeouts or Timeouts())
        self.client = tweepy.Client(
            consumer_key=credentials.api_key.reveal(),
            consumer_secret=credentials.api_secret.reveal(),
            access_token=credentials.access_token.reveal(),
            access_token_secret=credentials.access_secret.reveal(),
            return_type=dict,
        )
        self.client.session = self.session
        self.auth = tweepy.OAuth1UserHandler(
            credentials.api_key.reveal(),
            credentials.api_secret.reveal(),
            credentials.access_token.reveal(),
            credentials.access_secret.reveal(),
        ).apply_auth()
        self.sleep = sleep
        self._me: RemoteUser | None = None

    # ------------------------------------------------------------ requests

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except tweepy.HTTPException as e:
            raise_for(e.response, what=what)
            raise Rejected(f"{what}: {e}") from None  # a 2xx raised: not expected
        except requests.ConnectionError as e:
            if _not_sent(e):
                raise Unavailable(f"{what}: cannot reach {self.base}") from None
            raise OutcomeUnknown(f"{what}: the connection dropped before X answered") from None
        except requests.Timeout:
            raise OutcomeUnknown(f"{what}: no answer from X in time") from None
        except requests.RequestException as e:
            raise OutcomeUnknown(f"{what}: {type(e).__name__}") from None
        except ValueError:
            raise OutcomeUnknown(f"{what}: X's answer could not be read") from None

    def _raw(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        def send() -> dict[str, Any]:
            response = self.session.request(method, self.base + path, auth=self.auth, **kwargs)
            raise_for(response, what=what)
            if not response.content:
                return {}
            body = response.json()
            return body if isinstance(body, dict) else {}

        result: dict[str, Any] = self._call(what, send)
        return result

    # ------------------------------------------------------------- network

    def clock_skew(self) -> float | None:
        return self.session.skew

    def whoami(self) -> RemoteUser:
        if self._me is None:
            body = self._call("who am I", lambda: self.client.get_me(user_auth=True))
            data = body.get("data") or {}
            if "id" not in data:
                raise Rejected("who am I: X's answer has no user")
            self._me = RemoteUser(str(data["id"]), data.get("username", ""), data.get("name", ""))
        return self._me

    def _username(self) -> str | None:
        try:
            return self.whoami().username or None
        except PublishError:
            return None

    def upload_media(self, path: Path, *, mime: str, kind: str, alt: str | None) -> str:
        category = MEDIA_CATEGORY.get(kind, "tweet_image")
        what = f"uploading {path.name}"
        if kind == "image":
            data = path.read_bytes()
            body = self._raw(
                "POST",
                "/2/media/upload",
                what,
                files={"media": (path.name, data, mime)},
                data={"media_category": category},
            )
            media_id = _media_id(body, what)
        else:
            media_id = self._chunked(path, mime=mime, category=category, what=what)
        if alt and kind in ("image", "gif"):
            self._raw(
                "POST",
                "/2/media/metadata",
                f"alt text of {path.name}",
                json={"id": media_id, "metadata": {"alt_text": {"text": alt}}},
            )
        return media_id

    def _chunked(self, path: Path, *, mime: str, category: str, what: str) -> str:
        size = path.stat().st_size
        body = self._raw(
            "POST",
            "/2/media/upload/initialize",
            what,
            json={"media_type": mime, "total_bytes": size, "media_category": category},
        )
        media_id = _media_id(body, what)
        with path.open("rb") as f:
            index = 0
            while chunk := f.read(CHUNK_SIZE):
                self._raw(
                    "POST",
                    f"/2/media/upload/{media_id}/append",
                    what,
                    files={"media": ("chunk", chunk, "application/octet-stream")},
                    data={"segment_index": str(index)},
                )
                index += 1
        body = self._raw("POST", f"/2/media/upload/{media_id}/finalize", what)
        waited = 0.0
        info = (body.get("data") or {}).get("processing_info")
        while info and info.get("state") in ("pending", "in_progress"):
            delay = max(1.0, float(info.get("check_after_secs") or 1))
            if waited + delay > PROCESSING_LIMIT:
                raise Rejected(f"{what}: X was still processing it after {PROCESSING_LIMIT:.0f}s")
            self.sleep(delay)
            waited += delay
            body = self._raw(
                "GET",
                "/2/media/upload",
                what,
                params={"command": "STATUS", "media_id": media_id},
            )
            info = (body.get("data") or {}).get("processing_info")
        if info and info.get("state") == "failed":
            error = info.get("error") or {}
            raise Rejected(f"{what}: X could not process it ({error.get('message', 'failed')})")
        return media_id

    def create_post(
        self,
        text: str,
        *,
        media_ids: tuple[str, ...] = (),
        reply_to: str | None = None,
        quote: str | None = None,
    ) -> RemotePost:
        username = self._username()
        body = self._call(
            "posting",
            lambda: self.client.create_tweet(
                text=text,
                media_ids=list(media_ids) or None,
                in_reply_to_tweet_id=reply_to,
                quote_tweet_id=quote,
                user_auth=True,
            ),
        )
        data = body.get("data") or {}
        if "id" not in data:
            raise OutcomeUnknown("posting: X's answer has no post id")
        post_id = str(data["id"])
        return RemotePost(post_id, post_url(username, post_id), data.get("text", text))

    def recent_posts(self, *, since: datetime) -> list[RemotePost]:
        me = self.whoami()
        body = self._call(
            "reading recent posts",
            lambda: self.client.get_users_tweets(
                me.id,
                start_time=since,
                max_results=100,
                tweet_fields=["created_at"],
                exclude=["retweets"],
                user_auth=True,
            ),
        )
        from datetime import datetime

        posts = []
        for item in body.get("data") or ():
            created = item.get("created_at")
            when = datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None
            post_id = str(item["id"])
            posts.append(
                RemotePost(post_id, post_url(me.username, post_id), item.get("text", ""), when)
            )
        return posts

    def close(self) -> None:
        self.session.close()


def _media_id(body: dict[str, Any], what: str) -> str:
    data = body.get("data") or {}
    media_id = data.get("id") or data.get("media_id_string") or data.get("media_id")
    if not media_id:
        raise Rejected(f"{what}: X's answer has no media id")
    return str(media_id)


# ------------------------------------------------------------------ sign-in


class PinFlow:
    """X's PIN-based OAuth 1.0a sign-in: open :attr:`url`, sign in, read the PIN."""

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

    def finish(self, pin: str) -> tuple[str, str, str]:
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
        return token["oauth_token"], token["oauth_token_secret"], token.get("screen_name", "")
