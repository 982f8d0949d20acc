"""A fake X API on 127.0.0.1 that behaves like X where megaphone depends on it.

- Verifies every request's OAuth 1.0a signature (oauthlib's own verifier)
  and answers 401 to a wrong one, an unknown key or token, a stale timestamp
  or a replayed nonce.
- ``POST /2/tweets`` (text, media, reply, quote), ``GET /2/users/me``,
  ``GET /2/users/:id/tweets``; the v2 media upload (simple, and chunked:
  initialize / append / finalize / STATUS) and ``POST /2/media/metadata``;
  the PIN sign-in (``/oauth/request_token``, ``/oauth/access_token``).
- Shows texts as X does: links as t.co links, ``&``, ``<`` and ``>`` escaped.
- 403 with X's message for duplicate text; rate-limit headers on every
  answer; and, on demand, 429s, 5xx, slow answers, dropped connections, and
  posts that are created while the client gets no answer.
- Records every post, media upload and request.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import itertools
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint

DUPLICATE = "You are not allowed to create a Tweet with duplicate content."


@dataclass
class User:
    id: str
    username: str
    name: str
    access_token: str
    access_secret: str


@dataclass
class Tweet:
    id: str
    author_id: str
    text: str  # as X shows it
    sent_text: str  # as it was sent
    created_at: datetime
    reply_to: str | None = None
    quote: str | None = None
    media_ids: tuple[str, ...] = ()


@dataclass
class Upload:
    id: str
    mime: str
    category: str
    size: int
    data: bytearray = field(default_factory=bytearray)
    segments: dict[int, bytes] = field(default_factory=dict)
    state: str = "succeeded"
    polls: int = 0
    alt: str | None = None


@dataclass
class Fault:
    """What to do instead of (or after) handling a matching request.

    kind: ``status`` answers ``status`` without acting; ``after`` acts, then
    answers ``status``; ``drop`` closes the connection without acting;
    ``drop_after`` acts, then closes without an answer; ``slow`` waits
    ``delay`` seconds, then acts and answers."""

    method: str
    path: str  # a regular expression matched against the whole path
    kind: str
    status: int = 503
    times: int = 1
    delay: float = 0.0
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    reset_in: int | None = None  # for 429: x-rate-limit-reset = now + reset_in
    skip: int = 0  # let this many matching requests through first


class FakeX:
    API_KEY = "fake-api-key"
    API_SECRET = "fake-api-secret"

    def __init__(self) -> None:
        self.apps = {self.API_KEY: self.API_SECRET}
        self.users: dict[str, User] = {}
        self.tweets: list[Tweet] = []
        self.uploads: dict[str, Upload] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, int]] = []
        self.latency = 0.0
        #: Seconds X's clock is ahead of this machine's (its Date header).
        self.clock_offset = 0.0
        #: X does not catch every repeated text; tests of megaphone's own
        #: guarantees turn the check off so it cannot hide a double post.
        self.reject_duplicates = True
        self.rate_limit = 200  # requests per window per endpoint (remaining shown)
        self.request_tokens: dict[str, tuple[str, str]] = {}  # token -> (secret, verifier)
        self.pins: dict[str, str] = {}
        self._ids = itertools.count(1_860_000_000_000_000_000)
        #: t.co link -> the link it stands for (X's entities.urls).
        self.tco: dict[str, str] = {}
        #: When set, the answer to every request: (status, content type, body).
        self.answer_all: tuple[int, str, bytes] | None = None
        #: Every request as it arrives (method, path), before it is handled.
        self.arrived: list[tuple[str, str]] = []
        #: A share of posting and reading requests that fail at random (429,
        #: 503, dropped, applied-then-dropped), from a seeded generator.
        self.chaos = 0.0
        self.chaos_rng = random.Random(7)
        #: Seconds before a new post shows in the account's timeline (X's
        #: timeline is eventually consistent).
        self.visible_after = 0.0
        self._nonces: set[tuple[str, str]] = set()
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._endpoint = SignatureOnlyEndpoint(_Validator(self))

    # ------------------------------------------------------------- control

    def start(self) -> FakeX:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add_user(self, username: str) -> User:
        with self._lock:
            n = len(self.users) + 1
            user = User(
                id=str(1000 + n),
                username=username,
                name=username.title(),
                access_token=f"{1000 + n}-token-{username}",
                access_secret=f"secret-{username}",
            )
            self.users[user.access_token] = user
            return user

    def env(self, account: str, user: User, *, url: str | None = None) -> dict[str, str]:
        """The environment variables that give ``account`` this user's keys."""
        from megaphone.project.credentials import env_prefix

        prefix = env_prefix(account)
        return {
            prefix + "API_KEY": self.API_KEY,
            prefix + "API_SECRET": self.API_SECRET,
            prefix + "ACCESS_TOKEN": user.access_token,
            prefix + "ACCESS_SECRET": user.access_secret,
            prefix + "API_URL": url or self.url,
        }

    def fault(self, method: str, path: str, kind: str, **kw: Any) -> Fault:
        f = Fault(method, path, kind, **kw)
        with self._lock:
            self.faults.append(f)
        return f

    def posted(self, username: str | None = None) -> list[Tweet]:
        with self._lock:
            if username is None:
                return list(self.tweets)
            ids = {u.id for u in self.users.values() if u.username == username}
            return [t for t in self.tweets if t.author_id in ids]

    def seed(self, username: str, text: str) -> Tweet:
        """A post that was on the account before the test."""
        user = next(u for u in self.users.values() if u.username == username)
        tweet = Tweet(self.next_id(), user.id, self.shown(text), text, datetime.now(UTC))
        with self._lock:
            self.tweets.append(tweet)
        return tweet

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and re.fullmatch(path, p))

    # ------------------------------------------------------------ handling

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.arrived.append((method, path))
            for f in self.faults:
                if f.times > 0 and f.method == method and re.fullmatch(f.path, path):
                    if f.skip > 0:
                        f.skip -= 1
                        return None
                    f.times -= 1
                    return f
            if self.chaos and self.chaos_rng.random() < self.chaos:
                if method == "POST" and path == "/2/tweets":
                    kind = self.chaos_rng.choice(["429", "503", "drop", "drop_after"])
                elif method == "GET" and re.fullmatch(r"/2/users/\d+/tweets", path):
                    kind = self.chaos_rng.choice(["429", "503", "drop"])
                else:
                    return None
                if kind == "429":
                    return Fault(method, path, "status", status=429, reset_in=1)
                if kind == "503":
                    return Fault(method, path, "status", status=503)
                return Fault(method, path, kind)
        return None

    def next_id(self) -> str:
        with self._lock:
            return str(next(self._ids))

    def shown(self, text: str) -> str:
        """A text as X shows it: t.co links, entities escaped."""

        def short(m: re.Match[str]) -> str:
            link = m.group(0)
            tco = "https://t.co/" + format(abs(hash(link)) % 36**10, "x")[:10]
            self.tco[tco] = link
            return tco

        text = re.sub(r"https?://\S+", short, text)
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Validator(RequestValidator):  # type: ignore[misc]
    def __init__(self, fake: FakeX) -> None:
        super().__init__()
        self.fake = fake

    enforce_ssl = False
    dummy_client = "dummy-client"
    dummy_access_token = "dummy-token"
    dummy_request_token = "dummy-token"
    timestamp_lifetime = 300

    @property
    def allowed_signature_methods(self) -> tuple[str, ...]:
        return ("HMAC-SHA1",)

    def check_client_key(self, client_key: str) -> bool:
        return bool(client_key)

    def check_access_token(self, token: str) -> bool:
        return bool(token)

    def check_request_token(self, token: str) -> bool:
        return bool(token)

    def check_nonce(self, nonce: str) -> bool:
        return bool(nonce)

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return client_key in self.fake.apps

    def validate_timestamp_and_nonce(
        self,
        client_key: str,
        timestamp: str,
        nonce: str,
        request: Any,
        request_token: str | None = None,
        access_token: str | None = None,
    ) -> bool:
        if abs(int(timestamp) - time.time()) > self.timestamp_lifetime:
            return False
        with self.fake._lock:
            if (timestamp, nonce) in self.fake._nonces:
                return False
            self.fake._nonces.add((timestamp, nonce))
        return True

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return self.fake.apps.get(client_key, "dummy-secret")

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        user = self.fake.users.get(token)
        if user is not None:
            return user.access_secret
        pending = self.fake.request_tokens.get(token)
        return pending[0] if pending else "dummy-secret"


def _handler(fake: FakeX) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in separate writes: without this, Nagle's
        # algorithm holds the body back for the client's delayed ACK.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            # The Date header of every answer, by X's clock.
            return super().date_time_string((timestamp or time.time()) + fake.clock_offset)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        # ----------------------------------------------------------------

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            path = split.path
            if fake.latency:
                time.sleep(fake.latency)
            fault = fake._take_fault(method, path)
            self._seen = (method, path)
            if fake.answer_all is not None:
                status, kind, raw = fake.answer_all
                self._record(status)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                return
            try:
                self._route(method, path, split.query, body, fault)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up waiting

        def _record(self, status: int) -> None:
            # Before the answer leaves, so a test that has the answer sees it.
            with fake._lock:
                fake.requests.append((*self._seen, status))

        def _route(
            self, method: str, path: str, query: str, body: bytes, fault: Fault | None
        ) -> int:
            if fault and fault.kind == "drop":
                self._drop()
                return 0
            if fault and fault.kind == "status":
                return self._fault_answer(fault)
            if fault and fault.kind == "slow":
                time.sleep(fault.delay)
            user, pending = self._authenticate(method, body)
            if path.startswith("/oauth/"):
                if pending is None and user is None and path != "/oauth/request_token":
                    return self._error(401, "Unauthorized")
                return self._oauth(path, query, body, pending)
            if user is None:
                return self._error(401, "Unauthorized")
            try:
                status, payload = self._api(method, path, query, body, user)
            except _Answer as a:
                status, payload = a.status, a.payload
            if fault and fault.kind == "drop_after":
                self._drop()
                return 0
            if fault and fault.kind == "after":
                return self._fault_answer(fault)
            return self._send(status, payload)

        def _authenticate(self, method: str, body: bytes) -> tuple[User | None, str | None]:
            uri = f"http://{self.headers['Host']}{self.path}"
            headers = dict(self.headers.items())
            text = body.decode("latin-1") if body else None
            valid, request = fake._endpoint.validate_request(uri, method, text, headers)
            if not valid or request is None:
                return None, None
            token = request.resource_owner_key
            if token is None:
                return None, None
            if token in fake.users:
                return fake.users[token], None
            if token in fake.request_tokens:
                return None, token
            return None, None

        # ------------------------------------------------------------ API

        def _api(
            self, method: str, path: str, query: str, body: bytes, user: User
        ) -> tuple[int, Any]:
            params = {k: v[-1] for k, v in parse_qs(query).items()}
            if method == "GET" and path == "/2/users/me":
                return 200, {"data": {"id": user.id, "name": user.name, "username": user.username}}
            if method == "GET" and (m := re.fullmatch(r"/2/users/(\d+)/tweets", path)):
                return 200, self._timeline(m.group(1), params)
            if method == "POST" and path == "/2/tweets":
                return self._create(user, _json(body))
            if method == "POST" and path == "/2/media/upload":
                form = _multipart(self.headers.get("Content-Type", ""), body)
                if "media" not in form:
                    raise _Answer(400, _invalid("media is required"))
                media, mime = form["media"]
                upload = Upload(
                    fake.next_id(),
                    mime,
                    form.get("media_category", (b"", ""))[0].decode(),
                    len(media),
                    bytearray(media),
                )
                fake.uploads[upload.id] = upload
                return 200, {"data": _media_data(upload)}
            if method == "GET" and path == "/2/media/upload":
                upload = self._upload(params.get("media_id", ""))
                if params.get("command") != "STATUS":
                    raise _Answer(400, _invalid("command must be STATUS"))
                upload.polls += 1
                if upload.state in ("pending", "in_progress") and upload.polls >= 2:
                    upload.state = "succeeded"
                elif upload.state == "pending":
                    upload.state = "in_progress"
                return 200, {"data": _media_data(upload, processing=True)}
            if method == "POST" and path == "/2/media/upload/initialize":
                data = _json(body)
                upload = Upload(
                    fake.next_id(),
                    str(data.get("media_type")),
                    str(data.get("media_category")),
                    int(data.get("total_bytes", 0)),
                    state="new",
                )
                fake.uploads[upload.id] = upload
                return 200, {"data": {"id": upload.id, "expires_after_secs": 86400}}
            if method == "POST" and (m := re.fullmatch(r"/2/media/upload/(\d+)/append", path)):
                upload = self._upload(m.group(1))
                form = _multipart(self.headers.get("Content-Type", ""), body)
                index = int(form["segment_index"][0])
                upload.segments[index] = form["media"][0]
                return 200, {"data": {"expires_at": 0}}
            if method == "POST" and (m := re.fullmatch(r"/2/media/upload/(\d+)/finalize", path)):
                upload = self._upload(m.group(1))
                joined = b"".join(upload.segments[i] for i in sorted(upload.segments))
                if len(joined) != upload.size:
                    raise _Answer(400, _invalid("the segments do not add up to total_bytes"))
                upload.data = bytearray(joined)
                upload.state = "pending" if upload.mime.startswith("video/") else "succeeded"
                return 200, {"data": _media_data(upload, processing=True)}
            if method == "POST" and path == "/2/media/metadata":
                data = _json(body)
                upload = self._upload(str(data.get("id")))
                upload.alt = data["metadata"]["alt_text"]["text"]
                return 200, {"data": {"id": upload.id, "associated_metadata": True}}
            return 404, {
                "title": "Not Found Error",
                "detail": f"no route {method} {path}",
                "type": "about:blank",
                "status": 404,
            }

        def _upload(self, media_id: str) -> Upload:
            if media_id not in fake.uploads:
                raise _Answer(400, _invalid(f"media {media_id} not found"))
            return fake.uploads[media_id]

        def _create(self, user: User, data: dict[str, Any]) -> tuple[int, Any]:
            text = data.get("text")
            if not isinstance(text, str) or not text.strip():
                raise _Answer(400, _invalid("text is required"))
            media_ids = tuple((data.get("media") or {}).get("media_ids") or ())
            for media_id in media_ids:
                upload = fake.uploads.get(media_id)
                if upload is None or upload.state != "succeeded":
                    raise _Answer(400, _invalid(f"media {media_id} is not ready"))
            reply = (data.get("reply") or {}).get("in_reply_to_tweet_id")
            known = {t.id for t in fake.tweets}
            if reply is not None and reply not in known:
                raise _Answer(400, _invalid("the post replied to does not exist"))
            with fake._lock:
                if fake.reject_duplicates and any(
                    t.author_id == user.id and t.sent_text == text for t in fake.tweets
                ):
                    raise _Answer(
                        403,
                        {
                            "detail": DUPLICATE,
                            "type": "about:blank",
                            "title": "Forbidden",
                            "status": 403,
                        },
                    )
                tweet = Tweet(
                    id=fake.next_id(),
                    author_id=user.id,
                    text=fake.shown(text),
                    sent_text=text,
                    created_at=datetime.now(UTC),
                    reply_to=reply,
                    quote=data.get("quote_tweet_id"),
                    media_ids=media_ids,
                )
                fake.tweets.append(tweet)
            return 201, {
                "data": {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
            }

        def _timeline(self, user_id: str, params: dict[str, str]) -> Any:
            since = params.get("start_time")
            start = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
            limit = int(params.get("max_results", 10))
            if not 5 <= limit <= 100:
                raise _Answer(400, _invalid("max_results must be between 5 and 100"))
            offset = int(params.get("pagination_token") or 0)
            shown_before = datetime.now(UTC) - timedelta(seconds=fake.visible_after)
            with fake._lock:
                mine = [
                    t
                    for t in fake.tweets
                    if t.author_id == user_id
                    and (start is None or t.created_at >= start)
                    and t.created_at <= shown_before
                ]
            mine.sort(key=lambda t: t.created_at, reverse=True)
            fields = params.get("tweet.fields", "").split(",")
            data = []
            for t in mine[offset : offset + limit]:
                item: dict[str, Any] = {
                    "id": t.id,
                    "text": t.text,
                    "edit_history_tweet_ids": [t.id],
                }
                if "created_at" in fields:
                    item["created_at"] = t.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
                if "entities" in fields:
                    urls = [
                        {
                            "start": m.start(),
                            "end": m.end(),
                            "url": m.group(0),
                            "expanded_url": fake.tco[m.group(0)],
                            "display_url": fake.tco[m.group(0)].split("://", 1)[-1][:24],
                        }
                        for m in re.finditer(r"https://t\.co/\w+", t.text)
                        if m.group(0) in fake.tco
                    ]
                    if urls:
                        item["entities"] = {"urls": urls}
                if "referenced_tweets" in fields:
                    refs = [{"type": "replied_to", "id": t.reply_to}] if t.reply_to else []
                    refs += [{"type": "quoted", "id": t.quote}] if t.quote else []
                    if refs:
                        item["referenced_tweets"] = refs
                data.append(item)
            meta: dict[str, Any] = {"result_count": len(data)}
            if data:
                meta.update(newest_id=data[0]["id"], oldest_id=data[-1]["id"])
            if offset + limit < len(mine):
                meta["next_token"] = str(offset + limit)
            return {"data": data, "meta": meta} if data else {"meta": meta}

        # ---------------------------------------------------------- oauth

        def _oauth(self, path: str, query: str, body: bytes, pending: str | None) -> int:
            if path == "/oauth/request_token":
                token = f"req-{fake.next_id()}"
                fake.request_tokens[token] = (f"req-secret-{token}", f"{len(fake.pins) + 1:07d}")
                fake.pins[token] = fake.request_tokens[token][1]
                return self._send_form(
                    {
                        "oauth_token": token,
                        "oauth_token_secret": fake.request_tokens[token][0],
                        "oauth_callback_confirmed": "true",
                    }
                )
            if path == "/oauth/access_token" and pending is not None:
                verifier = _oauth_param(self.headers.get("Authorization", ""), "oauth_verifier")
                _, pin = fake.request_tokens.pop(pending)
                if verifier != pin:
                    return self._error(401, "Invalid PIN")
                user = fake.add_user(f"user{len(fake.users) + 1}")
                return self._send_form(
                    {
                        "oauth_token": user.access_token,
                        "oauth_token_secret": user.access_secret,
                        "user_id": user.id,
                        "screen_name": user.username,
                    }
                )
            return self._error(404, "Not Found")

        # -------------------------------------------------------- answers

        def _limit_headers(self) -> dict[str, str]:
            return {
                "x-rate-limit-limit": str(fake.rate_limit),
                "x-rate-limit-remaining": str(fake.rate_limit - 1),
                "x-rate-limit-reset": str(int(time.time()) + 900),
            }

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> int:
            data = json.dumps(payload).encode()
            self._record(status)
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in {**self._limit_headers(), **(headers or {})}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            return status

        def _send_form(self, values: dict[str, str]) -> int:
            data = urlencode(values).encode()
            self._record(200)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-www-form-urlencoded")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return 200

        def _error(self, status: int, title: str) -> int:
            return self._send(
                status, {"title": title, "detail": title, "type": "about:blank", "status": status}
            )

        def _fault_answer(self, fault: Fault) -> int:
            headers = dict(fault.headers)
            if fault.status == 429:
                reset = int(time.time()) + (fault.reset_in if fault.reset_in is not None else 60)
                headers.setdefault("x-rate-limit-reset", str(reset))
                headers["x-rate-limit-remaining"] = "0"
                body = fault.body or {
                    "title": "Too Many Requests",
                    "detail": "Too Many Requests",
                    "type": "about:blank",
                    "status": 429,
                }
            else:
                body = fault.body or {
                    "title": "Service Unavailable",
                    "detail": "Service Unavailable",
                    "type": "about:blank",
                    "status": fault.status,
                }
            return self._send(fault.status, body, headers)

        def _drop(self) -> None:
            self._record(0)
            self.close_connection = True
            import socket

            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    return Handler


class _Answer(Exception):
    def __init__(self, status: int, payload: Any) -> None:
        self.status, self.payload = status, payload


def _invalid(message: str) -> dict[str, Any]:
    return {
        "errors": [{"message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        raise _Answer(400, _invalid("the body is not JSON")) from None
    if not isinstance(value, dict):
        raise _Answer(400, _invalid("the body is not a JSON object"))
    return value


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, content type) of a multipart/form-data body."""
    if not content_type.startswith("multipart/form-data"):
        raise _Answer(400, _invalid("multipart/form-data expected"))
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    form: dict[str, tuple[bytes, str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        form[str(name)] = (payload if isinstance(payload, bytes) else b"", part.get_content_type())
    return form


def _media_data(upload: Upload, *, processing: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": upload.id,
        "media_key": f"3_{upload.id}",
        "size": upload.size,
        "expires_after_secs": 86400,
    }
    if processing and upload.state in ("pending", "in_progress", "failed"):
        data["processing_info"] = {"state": upload.state, "check_after_secs": 1}
    elif upload.mime.startswith("image/"):
        data["image"] = {"image_type": upload.mime}
    return data


def _oauth_param(header: str, name: str) -> str | None:
    from urllib.parse import unquote

    m = re.search(rf'{name}="([^"]*)"', header)
    return unquote(m.group(1)) if m else None
