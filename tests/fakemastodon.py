"""A fake Mastodon instance on 127.0.0.1 that behaves like Mastodon where
megaphone depends on it.

- Bearer tokens (401 to a wrong one); ``verify_credentials``;
  ``/api/v2/instance`` with its configuration (limits the tests may change).
- ``POST /api/v1/statuses``: the instance's own length rule (graphemes,
  links as ``characters_reserved_per_url``, ``@user@domain`` as ``@user``),
  422 with Mastodon's messages; **Idempotency-Key memory**: a repeat of a key
  answers the status it made, and a repeat while the first is still in
  flight answers 503; ``in_reply_to_id`` must exist.
- ``POST /api/v2/media`` answers 202 while processing (``url: null``) for a
  few polls of ``GET /api/v1/media/:id``; a status with an unprocessed
  attachment is a 422.
- ``content`` is HTML (``<p>``, links, escaped entities); the text as sent is
  only in ``/api/v1/statuses/:id/source``.
- The account's statuses, newest first, with ``max_id`` paging;
  ``/api/v2/search`` resolves status URLs; the app registration and the
  out-of-band OAuth code flow.
- ``X-RateLimit-*`` headers on every answer; on demand, faults as the fake X
  has them (status, applied-then-status, dropped, applied-then-dropped,
  slow).
"""

from __future__ import annotations

import html
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import regex

from tests.fakeserver import Quiet, Served
from tests.fakex import Fault, _multipart


@dataclass
class Account:
    id: str
    username: str
    token: str


@dataclass
class Status:
    id: str
    account_id: str
    text: str
    spoiler_text: str
    in_reply_to_id: str | None
    media_ids: list[str]
    visibility: str
    language: str | None
    sensitive: bool
    poll: dict[str, Any] | None
    created_at: datetime


@dataclass
class Media:
    id: str
    description: str | None
    mime: str
    #: Polls still answered 206-processing before it is ready.
    polls_left: int


@dataclass
class FakeMastodon(Served):
    statuses: list[Status] = field(default_factory=list)
    media: dict[str, Media] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str, int, dict[str, str]]] = field(default_factory=list)
    max_characters: int = 500
    characters_reserved_per_url: int = 23
    max_media_attachments: int = 4
    description_limit: int = 1500
    #: Polls of a new upload answered "still processing".
    processing_polls: int = 2
    #: Seconds a status takes to be made (a repeat of its key meanwhile: 503).
    create_delay: float = 0.0
    #: Whether Idempotency-Key is honoured (a server may ignore it).
    honour_keys: bool = True
    #: Seconds before each answer.
    latency: float = 0.0
    apps: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    _keys: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(109_000_000_000))
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def add_account(self, username: str) -> Account:
        with self._lock:
            n = len(self.accounts) + 1
            account = Account(str(100 + n), username, f"token-{username}-{n}")
            self.accounts[account.token] = account
            return account

    def env(self, name: str, account: Account) -> dict[str, str]:
        from megaphone.project.credentials import env_prefix

        prefix = env_prefix(name)
        return {prefix + "ACCESS_TOKEN": account.token, prefix + "API_URL": self.url}

    def posted(self) -> list[Status]:
        with self._lock:
            return list(self.statuses)

    def next_id(self) -> str:
        with self._lock:
            return str(next(self._ids))

    def status_url(self, status: Status) -> str:
        username = next(a.username for a in self.accounts.values() if a.id == status.account_id)
        return f"{self.url}/@{username}/{status.id}"

    # ----------------------------------------------------------- the rules

    def length(self, text: str, spoiler: str) -> int:
        from megaphone.text import extract_urls

        counted = text
        for u in sorted((u for u in extract_urls(text) if "://" in u.text), key=lambda u: -u.start):
            counted = counted[: u.start] + "x" * self.characters_reserved_per_url + counted[u.end :]
        counted = re.sub(
            r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)@[\w.-]+\w",
            r"@\1",
            counted,
            flags=re.I,
        )
        return len(regex.findall(r"\X", spoiler + counted))

    def content(self, status: Status) -> str:
        """The status as Mastodon shows it: HTML."""
        paragraphs = html.escape(status.text).split("\n\n")
        linked = [
            re.sub(
                r"https?://[^\s<]+",
                lambda m: (
                    f'<a href="{m.group(0)}" rel="nofollow noopener" target="_blank">'
                    f"{m.group(0)}</a>"
                ),
                p,
            ).replace("\n", "<br />")
            for p in paragraphs
        ]
        return "".join(f"<p>{p}</p>" for p in linked)

    def as_json(self, status: Status) -> dict[str, Any]:
        account = next(a for a in self.accounts.values() if a.id == status.account_id)
        return {
            "id": status.id,
            "uri": f"{self.url}/users/{account.username}/statuses/{status.id}",
            "url": self.status_url(status),
            "created_at": status.created_at.isoformat().replace("+00:00", "Z"),
            "content": self.content(status),
            "spoiler_text": status.spoiler_text,
            "in_reply_to_id": status.in_reply_to_id,
            "visibility": status.visibility,
            "language": status.language,
            "sensitive": status.sensitive,
            "media_attachments": [{"id": m, "type": "image"} for m in status.media_ids],
            "account": {"id": account.id, "username": account.username, "acct": account.username},
        }


def _handler(fake: FakeMastodon) -> type[BaseHTTPRequestHandler]:
    class Handler(Quiet):
        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            if fake.latency:
                time.sleep(fake.latency)
            self._seen = (method, split.path)
            fault = fake._take_fault(method, split.path)
            try:
                self._route(method, split.path, split.query, body, fault)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _route(
            self, method: str, path: str, query: str, body: bytes, fault: Fault | None
        ) -> None:
            if fault and fault.kind == "drop":
                self._drop()
                return
            if fault and fault.kind == "status":
                self._fault_answer(fault)
                return
            if fault and fault.kind == "slow":
                time.sleep(fault.delay)
            try:
                status, payload = self._api(method, path, query, body)
            except _Answer as a:
                status, payload = a.status, a.payload
            if fault and fault.kind == "drop_after":
                self._drop()
            elif fault and fault.kind == "after":
                self._fault_answer(fault)
            else:
                self._send(status, payload)

        def _account(self) -> Account:
            auth = self.headers.get("Authorization", "")
            account = fake.accounts.get(auth.removeprefix("Bearer ").strip())
            if not auth.startswith("Bearer ") or account is None:
                raise _Answer(401, {"error": "The access token is invalid"})
            return account

        def _form(self, body: bytes) -> dict[str, Any]:
            kind = self.headers.get("Content-Type", "")
            if kind.startswith("application/json"):
                try:
                    value = json.loads(body or b"{}")
                except ValueError:
                    raise _Answer(400, {"error": "Invalid JSON"}) from None
                return value if isinstance(value, dict) else {}
            return {k: v[-1] for k, v in parse_qs(body.decode()).items()}

        def _api(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
            params = {k: v[-1] for k, v in parse_qs(query).items()}
            if method == "POST" and path == "/api/v1/apps":
                form = self._form(body)
                client_id = f"client-{len(fake.apps) + 1}"
                fake.apps[client_id] = "client-secret"
                assert form.get("redirect_uris") == "urn:ietf:wg:oauth:2.0:oob"
                return 200, {"client_id": client_id, "client_secret": "client-secret"}
            if method == "POST" and path == "/oauth/token":
                form = self._form(body)
                token = fake.codes.get(str(form.get("code")))
                if form.get("client_id") not in fake.apps or token is None:
                    raise _Answer(400, {"error": "invalid_grant"})
                return 200, {"access_token": token, "token_type": "Bearer"}
            if method == "GET" and path == "/api/v2/instance":
                return 200, {
                    "domain": fake.host,
                    "configuration": {
                        "statuses": {
                            "max_characters": fake.max_characters,
                            "max_media_attachments": fake.max_media_attachments,
                            "characters_reserved_per_url": fake.characters_reserved_per_url,
                        },
                        "media_attachments": {
                            "image_size_limit": 16777216,
                            "video_size_limit": 103809024,
                            "description_limit": fake.description_limit,
                        },
                    },
                }
            account = self._account()
            if method == "GET" and path == "/api/v1/accounts/verify_credentials":
                return 200, {
                    "id": account.id,
                    "username": account.username,
                    "acct": account.username,
                    "display_name": account.username.upper(),
                }
            if method == "POST" and path == "/api/v2/media":
                form = _multipart(self.headers.get("Content-Type", ""), body)
                if "file" not in form:
                    raise _Answer(422, {"error": "Validation failed: File can't be blank"})
                description = form.get("description", (b"", ""))[0].decode() or None
                if description and len(description) > fake.description_limit:
                    raise _Answer(422, {"error": "Validation failed: Description is too long"})
                media = Media(fake.next_id(), description, form["file"][1], fake.processing_polls)
                with fake._lock:
                    fake.media[media.id] = media
                return (202 if media.polls_left else 200), self._media_json(media)
            if method == "GET" and (m := re.fullmatch(r"/api/v1/media/(\d+)", path)):
                found = fake.media.get(m.group(1))
                if found is None:
                    raise _Answer(404, {"error": "Record not found"})
                with fake._lock:
                    if found.polls_left:
                        found.polls_left -= 1
                        return 206, self._media_json(found, processing=True)
                return 200, self._media_json(found)
            if method == "POST" and path == "/api/v1/statuses":
                return self._create(account, self._form(body))
            if method == "GET" and (m := re.fullmatch(r"/api/v1/statuses/(\d+)/source", path)):
                status = self._status(m.group(1))
                return 200, {
                    "id": status.id,
                    "text": status.text,
                    "spoiler_text": status.spoiler_text,
                }
            if method == "GET" and (m := re.fullmatch(r"/api/v1/accounts/(\d+)/statuses", path)):
                mine = [s for s in fake.posted() if s.account_id == m.group(1)]
                mine.sort(key=lambda s: int(s.id), reverse=True)
                if "max_id" in params:
                    mine = [s for s in mine if int(s.id) < int(params["max_id"])]
                limit = min(int(params.get("limit", 20)), 40)
                return 200, [fake.as_json(s) for s in mine[:limit]]
            if method == "GET" and path == "/api/v2/search":
                q = params.get("q", "")
                hits = [
                    s for s in fake.posted() if q in (fake.status_url(s), fake.as_json(s)["uri"])
                ]
                return 200, {
                    "accounts": [],
                    "hashtags": [],
                    "statuses": [fake.as_json(s) for s in hits[:1]],
                }
            raise _Answer(404, {"error": "Record not found"})

        def _status(self, status_id: str) -> Status:
            for s in fake.posted():
                if s.id == status_id:
                    return s
            raise _Answer(404, {"error": "Record not found"})

        def _media_json(self, media: Media, *, processing: bool = False) -> dict[str, Any]:
            ready = not processing and not media.polls_left
            return {
                "id": media.id,
                "type": "image",
                "url": f"{fake.url}/media/{media.id}.png" if ready else None,
                "preview_url": f"{fake.url}/media/{media.id}-small.png",
                "description": media.description,
            }

        def _create(self, account: Account, form: dict[str, Any]) -> tuple[int, Any]:
            key = self.headers.get("Idempotency-Key")
            if key and fake.honour_keys:
                with fake._lock:
                    if (account.id, key) in fake._keys:
                        made = fake._keys[(account.id, key)]
                        if made is None:  # the first is still being made
                            raise _Answer(503, {"error": "A request with this key is in flight"})
                        return 200, fake.as_json(self._status(made))
                    fake._keys[(account.id, key)] = None
            try:
                status = self._make(account, form)
            except _Answer:
                if key and fake.honour_keys:
                    with fake._lock:
                        fake._keys.pop((account.id, key), None)
                raise
            if key and fake.honour_keys:
                with fake._lock:
                    fake._keys[(account.id, key)] = status.id
            return 200, fake.as_json(status)

        def _make(self, account: Account, form: dict[str, Any]) -> Status:
            text = str(form.get("status") or "")
            spoiler = str(form.get("spoiler_text") or "")
            media_ids = [str(m) for m in form.get("media_ids") or []]
            if not text.strip() and not media_ids:
                raise _Answer(422, {"error": "Validation failed: Text can't be blank"})
            if fake.length(text, spoiler) > fake.max_characters:
                raise _Answer(
                    422,
                    {
                        "error": "Validation failed: Text character limit of "
                        f"{fake.max_characters} exceeded"
                    },
                )
            if len(media_ids) > fake.max_media_attachments:
                raise _Answer(422, {"error": "Validation failed: Too many attachments"})
            for media_id in media_ids:
                media = fake.media.get(media_id)
                if media is None:
                    raise _Answer(422, {"error": "Validation failed: Media not found"})
                if media.polls_left:
                    raise _Answer(
                        422, {"error": "Validation failed: Media has not finished processing"}
                    )
            reply = form.get("in_reply_to_id")
            if reply is not None:
                self._status(str(reply))  # 404 when it is not there
            if fake.create_delay:
                time.sleep(fake.create_delay)
            status = Status(
                fake.next_id(),
                account.id,
                text,
                spoiler,
                str(reply) if reply is not None else None,
                media_ids,
                str(form.get("visibility") or "public"),
                form.get("language"),
                bool(form.get("sensitive")),
                form.get("poll"),
                datetime.now(UTC),
            )
            with fake._lock:
                fake.statuses.append(status)
            return status

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            with fake._lock:
                fake.requests.append((*self._seen, status, dict(self.headers.items())))
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            reset = datetime.now(UTC) + timedelta(minutes=5)
            limits = {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "299",
                "X-RateLimit-Reset": reset.isoformat().replace("+00:00", "Z"),
            }
            for k, v in {**limits, **(headers or {})}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _fault_answer(self, fault: Fault) -> None:
            headers = dict(fault.headers)
            if fault.status == 429:
                reset = datetime.now(UTC) + timedelta(seconds=fault.reset_in or 60)
                headers["X-RateLimit-Remaining"] = "0"
                headers["X-RateLimit-Reset"] = reset.isoformat().replace("+00:00", "Z")
                body = fault.body or {"error": "Too many requests"}
            else:
                body = fault.body or {"error": "Service Unavailable"}
            self._send(fault.status, body, headers)

        def _drop(self) -> None:
            with fake._lock:
                fake.requests.append((*self._seen, 0, dict(self.headers.items())))
            self._close()

    return Handler


class _Answer(Exception):
    def __init__(self, status: int, payload: Any) -> None:
        self.status, self.payload = status, payload
