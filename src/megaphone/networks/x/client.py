"""X, through tweepy: the one module that knows tweepy.

tweepy's ``Client`` reads (who the account is, its posts); the adapter
posts and uploads through the same session itself, signed by
:mod:`megaphone.networks.x.signing` (tweepy signs each request anew through
oauthlib: about 0.16 ms of the interpreter, where that signer takes 0.02).
Two things tweepy lacks are added around it, without changing it:

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

import tweepy

from megaphone.errors import (
    AuthFailed,
    DuplicateContent,
    OutcomeUnknown,
    PublishError,
    RateLimited,
    ReadFailed,
    Rejected,
    ServerError,
)
from megaphone.networks.contract import PostRequest, RemotePost, RemoteUser, Timeouts
from megaphone.networks.http import Session, believable_reset, call, refuse_redirect
from megaphone.networks.x.rules import DEFAULT_API_URL, post_id_from_url, post_url
from megaphone.networks.x.signing import OAuth1Signer

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from pathlib import Path

    import requests

    from megaphone.project.credentials import Credentials

# tweepy logs whole requests at DEBUG; nothing of a request is ever logged.
logging.getLogger("tweepy").setLevel(logging.WARNING)

#: Where tweepy sends every request; rewritten to the configured base URL.
TWEEPY_HOST = "https://api.twitter.com"
CHUNK_SIZE = 4 * 1024 * 1024
#: The longest wait for X to process an uploaded video or GIF.
PROCESSING_LIMIT = 600.0
MEDIA_CATEGORY = {"image": "tweet_image", "gif": "tweet_gif", "video": "tweet_video"}


def _check_reset(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A rate-limit reset that is not a time within the next day is not
    believed: it is dropped before tweepy reads it, and the wait is left to
    the next run."""
    reset = response.headers.get("x-rate-limit-reset")
    if reset is not None and reset_time(reset) is None:
        del response.headers["x-rate-limit-reset"]


def reset_time(value: str | None) -> float | None:
    """An ``x-rate-limit-reset`` header as epoch seconds, or None when it
    is missing, not a number, or not within the next day."""
    if not value or not value.strip().isdigit() or len(value.strip()) > 12:
        return None
    return believable_reset(float(value.strip()))


def _api_message(response: requests.Response) -> str:
    """What X said, in one line: its ``detail``, ``title`` or error messages."""
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} {response.reason}"
    parts: list[str] = []
    if isinstance(body, dict):
        errors = body.get("errors")
        for error in errors if isinstance(errors, list) else ():
            if isinstance(error, dict) and error.get("message"):
                parts.append(str(error["message"]))
        if body.get("detail"):
            parts.append(str(body["detail"]))
        elif body.get("title") and not parts:
            parts.append(str(body["title"]))
    text = "; ".join(dict.fromkeys(parts)) or (response.reason or "")
    return f"{response.status_code} {text}".strip()[:500]


def raise_for(response: requests.Response, *, what: str, write: bool) -> None:
    """Turn an unsuccessful answer of X into megaphone's error for it.
    ``write``: the request would change something (a post, an upload)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    refuse_redirect(response, what=what, write=write, who="X", setting="api_url")
    message = f"{what}: X answered {_api_message(response)}"
    if status == 429:
        raise RateLimited(message, reset_at=reset_time(response.headers.get("x-rate-limit-reset")))
    if status == 401:
        raise AuthFailed(message)
    if status == 403:
        if "duplicate content" in message.lower():
            raise DuplicateContent(message)
        if "oauth1" in message.lower() or "permission" in message.lower():
            raise AuthFailed(message)
        raise Rejected(message)
    if status >= 500:
        if not write:
            raise ReadFailed(message)
        raise ServerError(message)
    if not write:
        raise ReadFailed(message)
    raise Rejected(message)


def _object(body: Any, what: str, *, write: bool) -> dict[str, Any]:
    """X's answer, which must be a JSON object."""
    if isinstance(body, dict):
        return body
    message = f"{what}: X's answer is not the JSON object it should be"
    if write:
        raise OutcomeUnknown(message)
    raise ReadFailed(message)


def _id(value: Any) -> str | None:
    """An X id (a string of digits, or a number), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isdigit() and len(value) <= 20:
        return value
    return None


class XNetwork:
    """One X account, signed with its OAuth 1.0a user credentials."""

    #: Pages of the account's posts read at most when looking one up (100
    #: a page): past that, the lookup cannot tell and says so.
    LOOKUP_PAGES = 5

    def __init__(
        self,
        credentials: Credentials,
        *,
        timeouts: Timeouts | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base = credentials.api_url or DEFAULT_API_URL
        self.session = Session(self.base, timeouts or Timeouts(), rewrite=TWEEPY_HOST)
        self.session.hooks["response"].insert(0, _check_reset)
        self.client = tweepy.Client(
            consumer_key=credentials.field("API_KEY").reveal(),
            consumer_secret=credentials.field("API_SECRET").reveal(),
            access_token=credentials.field("ACCESS_TOKEN").reveal(),
            access_token_secret=credentials.field("ACCESS_SECRET").reveal(),
            return_type=dict,
        )
        self.client.session = self.session
        self.auth = OAuth1Signer(
            credentials.field("API_KEY").reveal(),
            credentials.field("API_SECRET").reveal(),
            credentials.field("ACCESS_TOKEN").reveal(),
            credentials.field("ACCESS_SECRET").reveal(),
        )
        self.sleep = sleep
        self._me: RemoteUser | None = None

    # ------------------------------------------------------------ requests

    def _call(self, what: str, fn: Callable[[], Any], *, write: bool) -> dict[str, Any]:
        """One request through tweepy (or the session), its answer a JSON
        object.  ``write``: the request changes something, so an answer that
        cannot be read means it may have been acted on."""

        def attempt() -> Any:
            try:
                return fn()
            except tweepy.HTTPException as e:
                raise_for(e.response, what=what, write=write)
                raise Rejected(f"{what}: {e}") from None  # a 2xx raised: not expected
            except ValueError:
                # tweepy's (or requests') JSON decoding of a body that is not JSON
                message = f"{what}: X's answer could not be read (not JSON)"
                if write:
                    raise OutcomeUnknown(message) from None
                raise ReadFailed(message) from None

        body = call(what, attempt, network="X", base=self.base, write=write)
        return _object(body, what, write=write)

    def _raw(
        self, method: str, path: str, what: str, *, write: bool = True, **kwargs: Any
    ) -> dict[str, Any]:
        def send() -> Any:
            response = self.session.request(method, self.base + path, auth=self.auth, **kwargs)
            raise_for(response, what=what, write=write)
            if not response.content:
                return {}
            return response.json()

        return self._call(what, send, write=write)

    # ------------------------------------------------------------- network

    def clock_skew(self) -> float | None:
        return self.session.skew

    def whoami(self) -> RemoteUser:
        if self._me is None:
            body = self._call("who am I", lambda: self.client.get_me(user_auth=True), write=False)
            data = body.get("data")
            user_id = _id(data.get("id")) if isinstance(data, dict) else None
            if not isinstance(data, dict) or user_id is None:
                raise ReadFailed("who am I: X's answer has no user id")
            username = data.get("username")
            name = data.get("name")
            self._me = RemoteUser(
                user_id,
                username if isinstance(username, str) else "",
                name if isinstance(name, str) else "",
            )
        return self._me

    def _username(self) -> str | None:
        try:
            return self.whoami().username or None
        except PublishError:
            return None

    def upload_media(
        self,
        path: Path,
        *,
        mime: str,
        kind: str,
        alt: str | None,
        size: tuple[int, int] | None = None,
    ) -> str:
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
        info = _processing(body)
        while info.get("state") in ("pending", "in_progress"):
            delay = _check_after(info.get("check_after_secs"))
            if waited + delay > PROCESSING_LIMIT:
                raise Rejected(f"{what}: X was still processing it after {PROCESSING_LIMIT:.0f}s")
            self.sleep(delay)
            waited += delay
            body = self._raw(
                "GET",
                "/2/media/upload",
                what,
                write=False,
                params={"command": "STATUS", "media_id": media_id},
            )
            info = _processing(body)
        if info.get("state") == "failed":
            error = info.get("error")
            detail = error.get("message") if isinstance(error, dict) else None
            raise Rejected(f"{what}: X could not process it ({detail or 'failed'})")
        return media_id

    def create_post(self, request: PostRequest) -> RemotePost:
        username = self._username()
        payload: dict[str, Any] = {"text": request.text}
        if request.media_ids:
            payload["media"] = {"media_ids": list(request.media_ids)}
        if request.reply_to is not None:
            payload["reply"] = {"in_reply_to_tweet_id": request.reply_to}
        if request.quote is not None:
            payload["quote_tweet_id"] = request.quote
        body = self._raw("POST", "/2/tweets", "posting", json=payload)
        data = body.get("data")
        post_id = _id(data.get("id")) if isinstance(data, dict) else None
        if post_id is None:
            raise OutcomeUnknown("posting: X's answer has no usable post id")
        assert isinstance(data, dict)
        text = data.get("text")
        return RemotePost(
            post_id,
            post_url(username, post_id),
            text if isinstance(text, str) else request.text,
            reply_to=request.reply_to,
        )

    def recent_posts(self, *, since: datetime) -> list[RemotePost]:
        """Every post of the account since ``since``, newest first, with
        their links expanded; :class:`ReadFailed` when they cannot all be
        read (an answer that cannot be read, more than the pages read)."""
        me = self.whoami()
        posts: list[RemotePost] = []
        token: str | None = None
        for _ in range(self.LOOKUP_PAGES):
            body = self._call(
                "reading recent posts",
                lambda page_token=token: self.client.get_users_tweets(  # type: ignore[misc]
                    me.id,
                    start_time=since,
                    max_results=100,
                    pagination_token=page_token,
                    tweet_fields=["created_at", "entities", "referenced_tweets"],
                    exclude=["retweets"],
                    user_auth=True,
                ),
                write=False,
            )
            items = body.get("data", [])
            if not isinstance(items, list):
                raise ReadFailed("reading recent posts: X's answer has no list of posts")
            for item in items:
                posts.append(_remote(item, me.username))
            meta = body.get("meta")
            token = meta.get("next_token") if isinstance(meta, dict) else None
            if not token:
                return posts
            if not isinstance(token, str):
                raise ReadFailed("reading recent posts: X's answer has a bad next_token")
        raise ReadFailed(
            f"reading recent posts: more than {100 * self.LOOKUP_PAGES} posts since "
            f"{since:%Y-%m-%d %H:%M} UTC; cannot tell whether the post is among them"
        )

    def find_sent(self, request: PostRequest, *, since: datetime) -> RemotePost | None:
        from datetime import timedelta

        # X's created_at and this machine's clock may differ a little.
        for remote in self.recent_posts(since=since - timedelta(minutes=5)):
            if same_post(remote, request):
                return remote
        return None

    def close(self) -> None:
        self.session.close()


def _remote(item: Any, username: str) -> RemotePost:
    """One post of a lookup, as megaphone compares it: its text with X's
    t.co links put back as the links they stand for."""
    from datetime import datetime

    what = "reading recent posts"
    if not isinstance(item, dict):
        raise ReadFailed(f"{what}: a post in X's answer is not an object")
    post_id = _id(item.get("id"))
    if post_id is None:
        raise ReadFailed(f"{what}: a post in X's answer has no usable id")
    created = item.get("created_at")
    when = None
    if created is not None:
        try:
            when = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
        except ValueError:
            raise ReadFailed(f"{what}: post {post_id} has a bad created_at") from None
    text = item.get("text")
    if not isinstance(text, str):
        raise ReadFailed(f"{what}: post {post_id} has no text")
    reply_to = None
    for ref in item.get("referenced_tweets") or ():
        if isinstance(ref, dict) and ref.get("type") == "replied_to":
            reply_to = _id(ref.get("id"))
    return RemotePost(
        post_id, post_url(username, post_id), expand_links(text, item), when, reply_to=reply_to
    )


_TCO = re.compile(r"https://t\.co/[A-Za-z0-9]+")
_MEDIA_LINK = re.compile(r"https://(?:x|twitter)\.com/[^/]+/status/\d+/(?:photo|video)/\d+")


def expand_links(text: str, item: dict[str, Any]) -> str:
    """``text`` (as X shows it) with each t.co link replaced by the link it
    stands for (``entities.urls``); the links of attached media and of a
    quoted post, which X adds itself, taken out."""
    expanded: dict[str, str | None] = {}
    entities = item.get("entities")
    urls = entities.get("urls") if isinstance(entities, dict) else None
    for entry in urls if isinstance(urls, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            continue
        long = entry.get("expanded_url")
        if not isinstance(long, str) or entry.get("media_key") or _MEDIA_LINK.fullmatch(long):
            expanded[entry["url"]] = None  # X's own addition
        else:
            expanded[entry["url"]] = long
    quoted = {
        _id(r.get("id"))
        for r in item.get("referenced_tweets") or ()
        if isinstance(r, dict) and r.get("type") == "quoted"
    }

    def swap(match: re.Match[str]) -> str:
        short = match.group(0)
        if short not in expanded:
            return short
        long = expanded[short]
        if long is None or post_id_from_url(long) in quoted:
            return ""
        return long

    return _TCO.sub(swap, text)


def same_post(remote: RemotePost, request: PostRequest) -> bool:
    """Whether ``remote`` is the post ``request`` makes: the same whole text
    (links compared as written, entities unescaped, spaces collapsed) and
    the same reply target."""
    if remote.reply_to != request.reply_to:
        return False
    return comparable(remote.text, shown=True) == comparable(request.text, shown=False)


_SPACE = re.compile(r"\s+")


def comparable(text: str, *, shown: bool) -> str:
    """A text reduced to what survives X: NFC, HTML entities unescaped (in
    what X shows), each link in one canonical form (scheme added,
    scheme and host lower-cased), spaces collapsed."""
    import html
    import unicodedata

    from megaphone.text import extract_urls

    if shown:
        text = html.unescape(text)
    text = unicodedata.normalize("NFC", text)
    pieces: list[str] = []
    at = 0
    for url in extract_urls(text):
        pieces.append(text[at : url.start])
        pieces.append(_canonical_link(text[url.start : url.end]))
        at = url.end
    pieces.append(text[at:])
    return _SPACE.sub(" ", "".join(pieces)).strip()


def _canonical_link(link: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    if "://" not in link:
        link = "http://" + link
    try:
        split = urlsplit(link)
        return urlunsplit(
            split._replace(scheme=split.scheme.lower(), netloc=split.netloc.lower())
        ).rstrip("/")
    except ValueError:
        return link


def _processing(body: dict[str, Any]) -> dict[str, Any]:
    data = body.get("data")
    info = data.get("processing_info") if isinstance(data, dict) else None
    return info if isinstance(info, dict) else {}


def _check_after(value: Any) -> float:
    """X's ``check_after_secs``, kept between 1 and 60 seconds."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 1.0
    return min(60.0, max(1.0, seconds)) if seconds == seconds else 1.0


def _media_id(body: dict[str, Any], what: str) -> str:
    data = body.get("data")
    if isinstance(data, dict):
        for key in ("id", "media_id_string", "media_id"):
            media_id = _id(data.get(key))
            if media_id is not None:
                return media_id
    # An upload that may have been made is invisible to anyone: making it
    # again is harmless.
    raise OutcomeUnknown(f"{what}: X's answer has no usable media id")


def open_account(credentials: Credentials, *, timeouts: Timeouts) -> XNetwork:
    """The registry's way in: one signed-in X account."""
    return XNetwork(credentials, timeouts=timeouts)
