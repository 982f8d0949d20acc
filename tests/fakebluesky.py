"""A fake Bluesky PDS on 127.0.0.1 that checks what the real one checks where
megaphone depends on it.

- ``createSession`` (counted) with an app password, ``refreshSession``;
  access tokens that expire on demand (``ExpiredToken``), refresh tokens too.
- ``putRecord`` of ``app.bsky.feed.post``: the lexicon's shape (``$type``,
  ``text`` of at most 300 graphemes and 3,000 bytes, ``createdAt``), facets
  whose byte ranges fall inside the text on character boundaries, reply refs
  whose root and parent exist with their cids, images whose blobs this
  account uploaded; the same record at the same key is a no-op that answers
  the same uri and cid, another record at a used key replaces it (a new cid).
- ``getRecord`` (``RecordNotFound``), ``uploadBlob``, ``resolveHandle``.
- ``RateLimit-*`` headers; faults as the fake X has them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import regex

from tests.fakeserver import Quiet, Served
from tests.fakex import Fault

POST = "app.bsky.feed.post"


@dataclass
class Account:
    did: str
    handle: str
    app_password: str


@dataclass
class FakeBluesky(Served):
    accounts: dict[str, Account] = field(default_factory=dict)  # by handle
    #: (did, rkey) -> (cid, record)
    records: dict[tuple[str, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)
    #: Every record written, in order (a replaced one too): (did, rkey, cid).
    writes: list[tuple[str, str, str]] = field(default_factory=list)
    blobs: dict[str, str] = field(default_factory=dict)  # cid -> owner did
    sessions_created: int = 0
    #: Called with each putRecord's body before it is handled.
    on_put: Any = None
    #: Web pages served beside the PDS (for link cards): path -> (type, body).
    pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    _access: dict[str, str] = field(default_factory=dict)  # token -> did
    _refresh: dict[str, str] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    def add_account(self, handle: str, password: str = "abcd-efgh-ijkl-mnop") -> Account:
        with self._lock:
            account = Account(
                f"did:plc:{handle.split('.')[0]}{len(self.accounts)}", handle, password
            )
            self.accounts[handle] = account
            return account

    def env(self, name: str, account: Account) -> dict[str, str]:
        from megaphone.project.credentials import env_prefix

        prefix = env_prefix(name)
        return {prefix + "APP_PASSWORD": account.app_password, prefix + "API_URL": self.url}

    def expire_access(self) -> None:
        """Every access token runs out (refresh tokens still work)."""
        with self._lock:
            self._access.clear()

    def expire_all(self) -> None:
        with self._lock:
            self._access.clear()
            self._refresh.clear()

    def posts(self) -> list[tuple[str, dict[str, Any]]]:
        """The posts there now, in the order their keys sort: (uri, record)."""
        with self._lock:
            return [
                (f"at://{did}/{POST}/{rkey}", record)
                for (did, rkey), (_, record) in sorted(
                    self.records.items(), key=lambda kv: kv[0][1]
                )
            ]

    def _token(self, did: str) -> dict[str, str]:
        n = next(self._ids)
        access, refresh = f"access-{n}", f"refresh-{n}"
        self._access[access] = did
        self._refresh[refresh] = did
        handle = next(a.handle for a in self.accounts.values() if a.did == did)
        return {"accessJwt": access, "refreshJwt": refresh, "did": did, "handle": handle}


def cid_of(record: dict[str, Any]) -> str:
    return "bafyrei" + hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:40]


def _handler(fake: FakeBluesky) -> type[BaseHTTPRequestHandler]:
    class Handler(Quiet):
        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            self._seen = (method, split.path)
            fault = fake._take_fault(method, split.path)
            page = fake.pages.get(split.path) if method == "GET" else None
            if page is not None:
                with fake._lock:
                    fake.requests.append((method, split.path, 200))
                self.send_response(200)
                self.send_header("Content-Type", page[0])
                self.send_header("Content-Length", str(len(page[1])))
                self.end_headers()
                self.wfile.write(page[1])
                return
            try:
                if fault and fault.kind == "drop":
                    self._drop()
                    return
                if fault and fault.kind == "status":
                    self._fault_answer(fault)
                    return
                try:
                    status, payload = self._api(method, split.path, split.query, body)
                except _Answer as a:
                    status, payload = a.status, a.payload
                if fault and fault.kind == "drop_after":
                    self._drop()
                elif fault and fault.kind == "after":
                    self._fault_answer(fault)
                else:
                    self._send(status, payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _did(self, refresh: bool = False) -> str:
            auth = self.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ").strip()
            table = fake._refresh if refresh else fake._access
            with fake._lock:
                if token in table:
                    return table[token]
            if token.startswith(("access-", "refresh-")):
                raise _Answer(400, {"error": "ExpiredToken", "message": "Token has expired"})
            raise _Answer(
                401, {"error": "AuthenticationRequired", "message": "Authentication Required"}
            )

        def _json(self, body: bytes) -> dict[str, Any]:
            try:
                value = json.loads(body or b"{}")
            except ValueError:
                raise _Answer(400, {"error": "InvalidRequest", "message": "not JSON"}) from None
            if not isinstance(value, dict):
                raise _Answer(400, {"error": "InvalidRequest", "message": "not an object"})
            return value

        def _api(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
            params = {k: v[-1] for k, v in parse_qs(query).items()}
            nsid = path.removeprefix("/xrpc/")
            if nsid == "com.atproto.server.createSession":
                form = self._json(body)
                account = fake.accounts.get(str(form.get("identifier", "")).lower())
                if account is None or form.get("password") != account.app_password:
                    raise _Answer(
                        401,
                        {
                            "error": "AuthenticationRequired",
                            "message": "Invalid identifier or password",
                        },
                    )
                with fake._lock:
                    fake.sessions_created += 1
                    return 200, fake._token(account.did)
            if nsid == "com.atproto.server.refreshSession":
                did = self._did(refresh=True)
                with fake._lock:
                    return 200, fake._token(did)
            if nsid == "com.atproto.identity.resolveHandle":
                account = fake.accounts.get(params.get("handle", "").lower())
                if account is None:
                    raise _Answer(
                        400, {"error": "InvalidRequest", "message": "Unable to resolve handle"}
                    )
                return 200, {"did": account.did}
            if nsid == "com.atproto.repo.getRecord":
                found = fake.records.get((params.get("repo", ""), params.get("rkey", "")))
                if found is None:
                    raise _Answer(
                        400, {"error": "RecordNotFound", "message": "Could not locate record"}
                    )
                cid, record = found
                uri = f"at://{params['repo']}/{POST}/{params['rkey']}"
                return 200, {"uri": uri, "cid": cid, "value": record}
            did = self._did()
            if nsid == "com.atproto.repo.uploadBlob":
                cid = "bafkrei" + hashlib.sha256(body).hexdigest()[:40]
                with fake._lock:
                    fake.blobs[cid] = did
                mime = self.headers.get("Content-Type", "application/octet-stream")
                return 200, {
                    "blob": {
                        "$type": "blob",
                        "ref": {"$link": cid},
                        "mimeType": mime,
                        "size": len(body),
                    }
                }
            if nsid == "com.atproto.repo.putRecord":
                form = self._json(body)
                if fake.on_put is not None:
                    fake.on_put(form)
                return self._put(did, form)
            raise _Answer(404, {"error": "MethodNotImplemented", "message": nsid})

        def _put(self, did: str, form: dict[str, Any]) -> tuple[int, Any]:
            if form.get("repo") != did:
                raise _Answer(401, {"error": "AuthenticationRequired", "message": "not your repo"})
            if form.get("collection") != POST:
                raise _Answer(400, {"error": "InvalidRequest", "message": "collection"})
            rkey = str(form.get("rkey", ""))
            if not re.fullmatch(r"[2-7a-z]{13}", rkey):
                raise _Answer(400, {"error": "InvalidRequest", "message": "Invalid record key"})
            record = form.get("record")
            if not isinstance(record, dict):
                raise _Answer(400, {"error": "InvalidRequest", "message": "record"})
            self._check(did, record)
            cid = cid_of(record)
            uri = f"at://{did}/{POST}/{rkey}"
            with fake._lock:
                old = fake.records.get((did, rkey))
                if old is not None and old[0] == cid:
                    return 200, {"uri": uri, "cid": cid}  # the same record: nothing new
                fake.records[(did, rkey)] = (cid, record)
                fake.writes.append((did, rkey, cid))
            return 200, {"uri": uri, "cid": cid}

        def _check(self, did: str, record: dict[str, Any]) -> None:
            def bad(message: str) -> None:
                raise _Answer(
                    400,
                    {
                        "error": "InvalidRequest",
                        "message": f"Invalid app.bsky.feed.post record: {message}",
                    },
                )

            if record.get("$type") != POST:
                bad("$type")
            text = record.get("text")
            if not isinstance(text, str) or not isinstance(record.get("createdAt"), str):
                bad("text and createdAt are required")
            assert isinstance(text, str)
            raw = text.encode("utf-8")
            if len(regex.findall(r"\X", text)) > 300 or len(raw) > 3000:
                bad("Record/text must not be longer than 300 graphemes")
            for facet in record.get("facets") or []:
                index = facet.get("index", {})
                start, end = index.get("byteStart"), index.get("byteEnd")
                if not (
                    isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(raw)
                ):
                    bad("facet index out of range")
                try:
                    raw[start:end].decode("utf-8")
                except UnicodeDecodeError:
                    bad("facet index splits a character")
            reply = record.get("reply")
            if reply is not None:
                for part in ("root", "parent"):
                    ref = reply.get(part) or {}
                    m = re.fullmatch(r"at://([^/]+)/[^/]+/([^/]+)", str(ref.get("uri")))
                    found = fake.records.get((m.group(1), m.group(2))) if m else None
                    if found is None or found[0] != ref.get("cid"):
                        bad(f"reply {part} does not exist, or has another cid")
            embed = record.get("embed") or {}
            media = (
                embed.get("media")
                if embed.get("$type") == "app.bsky.embed.recordWithMedia"
                else embed
            )
            for image in (media or {}).get("images") or []:
                cid = image.get("image", {}).get("ref", {}).get("$link")
                if fake.blobs.get(cid) != did:
                    bad("blob not found (upload it first)")
                if "alt" not in image:
                    bad("image alt is required")

        def _fault_answer(self, fault: Fault) -> None:
            import time

            if fault.status == 429:
                reset = int(time.time()) + (fault.reset_in or 60)
                body = fault.body or {
                    "error": "RateLimitExceeded",
                    "message": "Rate Limit Exceeded",
                }
                self._send(429, body, {"RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)})
            else:
                self._send(fault.status, fault.body or {"error": "InternalServerError"})

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            with fake._lock:
                fake.requests.append((*self._seen, status))
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            import time

            limits = {
                "RateLimit-Limit": "5000",
                "RateLimit-Remaining": "4997",
                "RateLimit-Reset": str(int(time.time()) + 3600),
                "RateLimit-Policy": "5000;w=3600",
                **(headers or {}),
            }
            for k, v in limits.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _drop(self) -> None:
            with fake._lock:
                fake.requests.append((*self._seen, 0))
            self._close()

    return Handler


class _Answer(Exception):
    def __init__(self, status: int, payload: Any) -> None:
        self.status, self.payload = status, payload
