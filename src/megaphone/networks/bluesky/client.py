"""One Bluesky account, through megaphone's own HTTP session: XRPC calls to
its PDS, one session per account kept between runs, and every post written
with ``putRecord`` at a record key chosen before the first send — so a
repeat writes the same record, never a second post.

A thin client on purpose (see README, "Dependencies, and why", for the
``atproto`` SDK)."""

from __future__ import annotations

import contextlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from megaphone.errors import (
    AuthFailed,
    MegaphoneError,
    NeedsPerson,
    OutcomeUnknown,
    RateLimited,
    ReadFailed,
    Rejected,
    ServerError,
)
from megaphone.networks.bluesky.facets import rich_text
from megaphone.networks.bluesky.rules import DEFAULT_SERVICE, app_password_problem
from megaphone.networks.bluesky.tid import is_tid, new_tid, tid_time
from megaphone.networks.contract import PostRequest, RemotePost, RemoteUser, Timeouts
from megaphone.networks.http import Session, believable_reset, call, refuse_redirect

if TYPE_CHECKING:
    import requests

    from megaphone.networks.base import Credentials

POST = "app.bsky.feed.post"
_AT_URI = re.compile(r"at://(?P<repo>[^/]+)/(?P<collection>[^/]+)/(?P<rkey>[^/]+)")
_WEB_URL = re.compile(
    r"https://(?:www\.)?bsky\.app/profile/(?P<actor>[^/]+)/post/(?P<rkey>[^/?#]+)"
)


def reset_time(value: str | None) -> float | None:
    """``RateLimit-Reset`` (epoch seconds), or None when unbelievable."""
    if not value or not value.strip().isdigit():
        return None
    return believable_reset(float(value.strip()))


def _error_of(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", f"{response.status_code} {response.reason or ''}".strip()
    if not isinstance(body, dict):
        return "", str(response.status_code)
    error = str(body.get("error") or "")
    message = str(body.get("message") or "")
    return error, f"{response.status_code} {error}{': ' + message if message else ''}"[:500]


class _Expired(Exception):
    """The access token ran out: refresh the session, then try once more."""


def raise_for(response: requests.Response, *, what: str, write: bool) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    refuse_redirect(response, what=what, write=write, who="the PDS", setting="service")
    error, message = _error_of(response)
    message = f"{what}: the PDS answered {message}"
    if error == "ExpiredToken":
        raise _Expired(message)
    if status == 429:
        raise RateLimited(message, reset_at=reset_time(response.headers.get("RateLimit-Reset")))
    if status == 401 or error in ("AuthenticationRequired", "InvalidToken", "AccountTakedown"):
        raise AuthFailed(message)
    if status >= 500:
        raise (ServerError if write else ReadFailed)(message)
    if not write:
        raise ReadFailed(message)
    raise Rejected(message)


class BlueskyNetwork:
    """One account on its PDS, signed in once and kept signed in."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.base = (credentials.api_url or DEFAULT_SERVICE).rstrip("/")
        self.session = Session(self.base, timeouts or Timeouts())
        self.password = credentials.field("APP_PASSWORD").reveal()
        why = app_password_problem(self.password)
        if why is not None:
            raise AuthFailed(f"MEGAPHONE_…_APP_PASSWORD {why}")
        if not credentials.handle:
            raise AuthFailed("the account has no handle in megaphone.yaml: it signs in with it")
        self.handle = credentials.handle.lower().lstrip("@")
        self.keep = Path(credentials.keep) / "sessions" if credentials.keep else None
        self.auth: dict[str, str] | None = None
        #: at:// URI -> (cid, the thread's root as a strong ref)
        self._known: dict[str, tuple[str, dict[str, str]]] = {}
        self._dids: dict[str, str] = {}
        #: A link -> its card (None: none to be had), once per run.
        self._cards: dict[str, dict[str, Any] | None] = {}

    # ------------------------------------------------------------ session

    def _session_file(self) -> Path | None:
        if self.keep is None:
            return None
        name = re.sub(r"[^a-z0-9.-]", "_", self.handle)
        return self.keep / f"bluesky-{name}.json"

    def _load_session(self) -> dict[str, str] | None:
        path = self._session_file()
        if path is None or not path.is_file() or path.is_symlink():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        ok = isinstance(data, dict) and all(
            isinstance(data.get(k), str) for k in ("accessJwt", "refreshJwt", "did", "handle")
        )
        if not ok or data.get("service") != self.base or data["handle"].lower() != self.handle:
            return None
        return {k: str(v) for k, v in data.items()}

    def _save_session(self, auth: dict[str, str]) -> None:
        self.auth = auth
        path = self._session_file()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({**auth, "service": self.base}, f)
        os.replace(tmp, path)

    def _sign_in(self) -> dict[str, str]:
        """The session: the one kept from an earlier run, else a new one
        (``createSession`` is limited to a few dozen a day)."""
        if self.auth is None:
            self.auth = self._load_session()
        if self.auth is None:
            body = self._xrpc(
                "POST",
                "com.atproto.server.createSession",
                "signing in",
                json={"identifier": self.handle, "password": self.password},
                token=None,
                write=False,
            )
            self._save_session(self._tokens(body, "signing in"))
        assert self.auth is not None
        return self.auth

    def _refresh(self) -> None:
        assert self.auth is not None
        try:
            body = self._xrpc(
                "POST",
                "com.atproto.server.refreshSession",
                "refreshing the session",
                token=self.auth["refreshJwt"],
                write=False,
            )
        except (AuthFailed, _Expired, ReadFailed):
            # The refresh token ran out too: sign in anew, once.
            self.auth = None
            path = self._session_file()
            if path is not None:
                with contextlib.suppress(OSError):
                    path.unlink()
            self._sign_in()
            return
        self._save_session(self._tokens(body, "refreshing the session"))

    def _tokens(self, body: Any, what: str) -> dict[str, str]:
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("accessJwt", "refreshJwt", "did", "handle")
        ):
            raise ReadFailed(f"{what}: the PDS's answer has no session")
        return {k: body[k] for k in ("accessJwt", "refreshJwt", "did", "handle")}

    # ------------------------------------------------------------ requests

    def _xrpc(
        self,
        method: str,
        nsid: str,
        what: str,
        *,
        write: bool,
        token: str | None,
        **kwargs: Any,
    ) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"

        def send() -> Any:
            response = self.session.request(
                method, f"{self.base}/xrpc/{nsid}", headers=headers, **kwargs
            )
            raise_for(response, what=what, write=write)
            try:
                return response.json()
            except ValueError:
                message = f"{what}: the PDS's answer could not be read (not JSON)"
                raise (OutcomeUnknown if write else ReadFailed)(message) from None

        return call(what, send, network="the PDS", base=self.base, write=write)

    def _call(self, method: str, nsid: str, what: str, *, write: bool, **kwargs: Any) -> Any:
        """An authenticated call; an expired access token is refreshed, and
        the call made once more."""
        auth = self._sign_in()
        try:
            return self._xrpc(method, nsid, what, write=write, token=auth["accessJwt"], **kwargs)
        except _Expired:
            self._refresh()
            assert self.auth is not None
            try:
                return self._xrpc(
                    method, nsid, what, write=write, token=self.auth["accessJwt"], **kwargs
                )
            except _Expired as e:
                raise AuthFailed(str(e)) from None

    # ------------------------------------------------------------- network

    def clock_skew(self) -> float | None:
        return self.session.skew

    def whoami(self) -> RemoteUser:
        try:
            auth = self._sign_in()
        except _Expired as e:
            raise AuthFailed(str(e)) from None
        return RemoteUser(auth["did"], auth["handle"], auth["handle"])

    def upload_media(
        self,
        path: Path,
        *,
        mime: str,
        kind: str,
        alt: str | None,
        size: tuple[int, int] | None = None,
    ) -> str:
        blob = self._blob(path.read_bytes(), mime, what=f"uploading {path.name}")
        image: dict[str, Any] = {"image": blob, "alt": alt or ""}
        if size:
            image["aspectRatio"] = {"width": size[0], "height": size[1]}
        return json.dumps(image, sort_keys=True)

    def _did(self, actor: str, what: str) -> str:
        if actor.startswith("did:"):
            return actor
        actor = actor.lower()
        if actor not in self._dids:
            try:
                body = self._call(
                    "GET",
                    "com.atproto.identity.resolveHandle",
                    what,
                    write=False,
                    params={"handle": actor},
                )
            except ReadFailed as e:
                if "400" in str(e):
                    raise NeedsPerson(
                        f"{what}: @{actor} is no Bluesky handle (it does not resolve); fix "
                        "the post, or check the handle with megaphone accounts check"
                    ) from None
                raise
            did = body.get("did") if isinstance(body, dict) else None
            if not isinstance(did, str):
                raise ReadFailed(f"{what}: the PDS's answer has no DID")
            self._dids[actor] = did
        return self._dids[actor]

    def unresolved(self, handles: list[str]) -> list[str]:
        """The handles among ``handles`` that resolve to no account (what
        ``validate`` cannot know offline; ``accounts check`` asks)."""
        missing = []
        for handle in handles:
            try:
                self._did(handle, "finding a mentioned account")
            except NeedsPerson:
                missing.append(handle)
        return missing

    def _uri(self, ref: str, what: str) -> str:
        """An at:// URI for a post named by its at:// URI or its bsky.app URL."""
        if ref.startswith("at://"):
            return ref
        m = _WEB_URL.fullmatch(ref.strip().rstrip("/"))
        if m is None:
            raise Rejected(f"{what}: {ref} is not a Bluesky post")
        return f"at://{self._did(m.group('actor'), what)}/{POST}/{m.group('rkey')}"

    def _strong(self, uri: str, what: str) -> tuple[dict[str, str], dict[str, str]]:
        """A post's strong ref (uri and cid), and its thread's root's."""
        if uri not in self._known:
            m = _AT_URI.fullmatch(uri)
            if m is None:
                raise Rejected(f"{what}: {uri} is not a post")
            body = self._call(
                "GET",
                "com.atproto.repo.getRecord",
                what,
                write=False,
                params={"repo": m.group("repo"), "collection": POST, "rkey": m.group("rkey")},
            )
            cid = body.get("cid") if isinstance(body, dict) else None
            value = body.get("value") if isinstance(body, dict) else None
            if not isinstance(cid, str) or not isinstance(value, dict):
                raise ReadFailed(f"{what}: the PDS's answer has no record")
            reply = value.get("reply")
            root = reply.get("root") if isinstance(reply, dict) else None
            if not isinstance(root, dict):
                root = {"uri": uri, "cid": cid}
            self._known[uri] = (cid, {"uri": str(root.get("uri")), "cid": str(root.get("cid"))})
        cid, root = self._known[uri]
        return {"uri": uri, "cid": cid}, root

    def record(self, request: PostRequest, rkey: str) -> dict[str, Any]:
        """The exact record a request makes at ``rkey``: the same on every
        retry (its ``createdAt`` is the key's time)."""
        rich = rich_text(request.text)
        record: dict[str, Any] = {
            "$type": POST,
            "text": rich.text,
            "createdAt": tid_time(rkey).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        facets = []
        for f in rich.facets:
            if f.kind == "link":
                feature = {"$type": "app.bsky.richtext.facet#link", "uri": f.value}
            elif f.kind == "mention":
                did = self._did(f.value, "finding a mentioned account")
                feature = {"$type": "app.bsky.richtext.facet#mention", "did": did}
            else:
                feature = {"$type": "app.bsky.richtext.facet#tag", "tag": f.value}
            facets.append(
                {"index": {"byteStart": f.start, "byteEnd": f.end}, "features": [feature]}
            )
        if facets:
            record["facets"] = facets
        if request.lang:
            record["langs"] = [request.lang]
        if request.reply_to:
            parent, root = self._strong(self._uri(request.reply_to, "replying"), "replying")
            record["reply"] = {"root": root, "parent": parent}
        images = [json.loads(m) for m in request.media_ids]
        media = {"$type": "app.bsky.embed.images", "images": images} if images else None
        if request.quote:
            quoted, _ = self._strong(self._uri(request.quote, "quoting"), "quoting")
            quote = {"$type": "app.bsky.embed.record", "record": quoted}
            record["embed"] = (
                {"$type": "app.bsky.embed.recordWithMedia", "record": quote, "media": media}
                if media
                else quote
            )
        elif media:
            record["embed"] = media
        else:
            card = self._card(request, rich)
            if card is not None:
                record["embed"] = card
        return record

    def _card(self, request: PostRequest, rich: Any) -> dict[str, Any] | None:
        """The link card of a post without media or quote: the queue file's
        own, or one made from the first link's page (none when the page
        cannot be had: the post goes without)."""
        options = dict(request.options)
        wanted = options.get("card")
        if wanted is False:
            return None
        link = next((f.value for f in rich.facets if f.kind == "link"), None)
        if link is None:
            return None
        external: dict[str, Any]
        if isinstance(wanted, dict):
            external = {
                "uri": link,
                "title": str(wanted.get("title", "")),
                "description": str(wanted.get("description", "")),
            }
            thumb = wanted.get("thumb")
            if isinstance(thumb, str):
                external["thumb"] = json.loads(thumb)["image"]
        else:
            if link not in self._cards:
                from megaphone.networks.bluesky import cards

                page = cards.fetch(link, self.session.timeouts)
                made: dict[str, Any] | None = None
                if page is not None:
                    made = {"uri": link, "title": page.title, "description": page.description}
                    if page.image is not None:
                        with contextlib.suppress(MegaphoneError):
                            made["thumb"] = self._blob(*page.image, what="uploading a card image")
                self._cards[link] = made
            found = self._cards[link]
            if found is None:
                return None
            external = dict(found)
        return {"$type": "app.bsky.embed.external", "external": external}

    def _blob(self, data: bytes, mime: str, *, what: str) -> dict[str, Any]:
        body = self._call(
            "POST",
            "com.atproto.repo.uploadBlob",
            what,
            write=True,
            data=data,
            headers={"Content-Type": mime},
        )
        blob = body.get("blob") if isinstance(body, dict) else None
        if not isinstance(blob, dict):
            raise OutcomeUnknown(f"{what}: the PDS's answer has no blob")
        return blob

    def prepare(self, request: PostRequest) -> str:
        """The exact record the request writes at its key, for the ledger to
        keep before the first send (and for every retry to send as it is)."""
        rkey = request.key if request.key and is_tid(request.key) else new_tid()
        return json.dumps(self.record(request, rkey), sort_keys=True, ensure_ascii=False)

    def create_post(self, request: PostRequest) -> RemotePost:
        rkey = request.key if request.key and is_tid(request.key) else new_tid()
        auth = self._sign_in()
        record = json.loads(request.prepared) if request.prepared else self.record(request, rkey)
        body = self._call(
            "POST",
            "com.atproto.repo.putRecord",
            "posting",
            write=True,
            json={"repo": auth["did"], "collection": POST, "rkey": rkey, "record": record},
        )
        uri = body.get("uri") if isinstance(body, dict) else None
        cid = body.get("cid") if isinstance(body, dict) else None
        if not isinstance(uri, str) or not isinstance(cid, str):
            raise OutcomeUnknown("posting: the PDS's answer has no uri and cid")
        root = record.get("reply", {}).get("root") or {"uri": uri, "cid": cid}
        self._known[uri] = (cid, root)
        return self._post(uri, cid, record)

    def _post(self, uri: str, cid: str, record: dict[str, Any]) -> RemotePost:
        rkey = uri.rsplit("/", 1)[-1]
        handle = self.auth["handle"] if self.auth else self.handle
        parent = record.get("reply", {}).get("parent", {}).get("uri")
        created = record.get("createdAt")
        at = None
        if isinstance(created, str):
            with contextlib.suppress(ValueError):
                at = datetime.fromisoformat(created.replace("Z", "+00:00"))
        return RemotePost(
            uri,
            f"https://bsky.app/profile/{handle}/post/{rkey}",
            str(record.get("text", "")),
            at or datetime.now(UTC),
            parent if isinstance(parent, str) else None,
            cid,
        )

    def find_sent(self, request: PostRequest, *, since: datetime) -> RemotePost | None:
        """Whether the record at the request's key was written: ``getRecord``
        answers for certain."""
        if not request.key or not is_tid(request.key):
            raise ReadFailed("looking the post up: no record key to look at")
        auth = self._sign_in()
        try:
            body = self._call(
                "GET",
                "com.atproto.repo.getRecord",
                "looking the post up",
                write=False,
                params={"repo": auth["did"], "collection": POST, "rkey": request.key},
            )
        except ReadFailed as e:
            if "RecordNotFound" in str(e):
                return None
            raise
        uri, cid, value = body.get("uri"), body.get("cid"), body.get("value")
        if not isinstance(uri, str) or not isinstance(cid, str) or not isinstance(value, dict):
            raise ReadFailed("looking the post up: the PDS's answer has no record")
        return self._post(uri, cid, value)

    def close(self) -> None:
        self.session.close()


def open_account(credentials: Credentials, *, timeouts: Timeouts) -> BlueskyNetwork:
    """The registry's way in: one signed-in Bluesky account."""
    return BlueskyNetwork(credentials, timeouts=timeouts)
