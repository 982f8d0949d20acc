"""One HTTP session for every network adapter: every request megaphone makes
passes here.

- it goes to the account's base URL (a proxy, a test server) with a connect
  and read timeout, **and an overall deadline**: a server that trickles a
  byte every few seconds is cut off when the deadline passes (a watchdog
  shuts the request's socket), so no request can hold a run, or its lock,
  for ever;
- redirects are never followed: a 3xx is answered to the adapter as it is,
  so that no post is recorded as published on another host's word;
- the network's clock is read from each answer's ``Date`` header;
- credentials inside the base URL (``https://user:secret@proxy``) are used,
  but every message shows the URL without them;
- a plain request (a URL requests would send as written, a JSON, form or
  bytes body, no files, no proxy, no cookies) skips requests' general
  preparation (settings merged from the environment, the URL parsed and
  quoted again): the same request reaches the same adapter, for about a
  third less of the interpreter's time (a burst's posts wait for it in
  turn).

Only adapter modules import this (it imports requests).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import re
import socket
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter
from requests.cookies import extract_cookies_to_jar
from requests.hooks import dispatch_hook
from requests.models import PreparedRequest
from requests.models import complexjson as requests_json  # type: ignore[attr-defined]
from requests.structures import CaseInsensitiveDict

from megaphone.networks import redact_url, send_deadline

if TYPE_CHECKING:
    from collections.abc import Callable

    from megaphone.networks.contract import Timeouts

_current = threading.local()


class _Watch:
    """The request in flight on one thread: its connection, and whether the
    deadline cut it off."""

    __slots__ = ("conn", "expired")

    def __init__(self) -> None:
        self.conn: Any = None
        self.expired = False

    def cut(self) -> None:
        self.expired = True
        sock = getattr(self.conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One thread that cuts off every request past its deadline (a timer
    thread per request would cost a thread's start, and a wait for it, on
    every post).  Deadlines are kept in a heap; a request that ends crosses
    its own out, and the thread drops it when its time comes."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[list[Any]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, seconds: float, watch: _Watch) -> list[Any]:
        """Cut ``watch`` off in ``seconds`` unless crossed out first."""
        entry = [time.monotonic() + seconds, next(self._order), watch]
        with self._lock:
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="megaphone-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0] is entry:
                self._lock.notify()
        return entry

    def cross_out(self, entry: list[Any]) -> None:
        """The request ended: once this returns, it is never cut off."""
        with self._lock:
            entry[2] = None

    def _run(self) -> None:
        with self._lock:
            while True:
                heap = self._heap
                while heap and heap[0][2] is None:
                    heapq.heappop(heap)
                if not heap:
                    self._lock.wait()
                    continue
                rest = heap[0][0] - time.monotonic()
                if rest > 0:
                    self._lock.wait(rest)
                    continue
                watch = heapq.heappop(heap)[2]
                if watch is not None:
                    watch.cut()

    def _after_fork(self) -> None:
        # A child process has none of the parent's threads.
        self._lock = threading.Condition()
        self._heap = []
        self._thread = None


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG._after_fork)


class _Watched:
    """Mixed into urllib3's connections: each request tells the watch of its
    thread which connection (and so which socket) it uses; and no byte of a
    request leaves past its thread's send-by deadline (see
    :func:`megaphone.networks.send_by`)."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.conn = self
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def send(self, data: Any) -> None:
        deadline = send_deadline()
        if deadline is not None:
            if getattr(self, "sock", None) is None:
                self.connect()  # type: ignore[attr-defined]
            late = time.monotonic() - deadline
            if late > 0:
                from megaphone.errors import SentTooLate

                raise SentTooLate(f"not sent: {late:.1f} s past the time its fence allowed")
        super().send(data)  # type: ignore[misc]


class _HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


#: A URL requests sends exactly as written: lower-case scheme and host, a
#: path, no percent-escapes (requests would unquote some), no credentials,
#: no fragment, no empty query (requests drops the "?"), a port without a
#: leading zero, and (below) no dot segment.  Any other goes through
#: requests' own preparation.
_PLAIN_URL = re.compile(
    r"https?://[a-z0-9][a-z0-9.-]*(?::[1-9][0-9]{0,4})?"
    r"/[A-Za-z0-9._~!$&'()*+,;=:@/-]*(?:\?[A-Za-z0-9._~!$&'()*+,;=:@/?-]+)?"
)
#: A "." or ".." path segment, which requests resolves (``/a/../b`` is sent
#: as ``/b``).
_DOT_SEGMENT = re.compile(r"/\.\.?(?:[/?]|$)")
#: The arguments a plain request may have (``timeout`` and
#: ``allow_redirects`` are always set by :meth:`Session.request`).
_PLAIN_ARGUMENTS = frozenset({"data", "json", "headers", "auth", "timeout", "allow_redirects"})
_PLAIN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
_FORM = "application/x-www-form-urlencoded"


class DeadlineExceeded(requests.Timeout):
    """The whole request (connect, send, the answer's headers and body) took
    longer than its deadline."""


class Session(requests.Session):
    """Requests sent to ``base``, with timeouts, a deadline and no redirects.

    ``rewrite``: a host prefix that a client library uses (tweepy's fixed
    API host) to be replaced by ``base``."""

    def __init__(self, base: str, timeouts: Timeouts, *, rewrite: str | None = None) -> None:
        super().__init__()
        self.base = base.rstrip("/")
        self.shown_base = redact_url(self.base)
        self.rewrite = rewrite
        self.timeouts = timeouts
        self.timeout = (timeouts.connect, timeouts.read)
        #: The network's clock minus this machine's, in seconds, from the
        #: last answer's Date header (None before the first answer).
        self.skew: float | None = None
        self._date_seen: str | None = None
        self.hooks["response"].append(self._note_date)
        adapter = _Adapter()
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        # A proxy named in the environment is the user's choice; a ~/.netrc
        # is not read (nothing outside the project is).
        self.trust_env = False
        self.proxies.update(requests.utils.get_environ_proxies(self.base))

    def _note_date(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        date = response.headers.get("Date")
        if not date or date == self._date_seen:
            # The header has whole seconds: the same value again (many
            # answers a second in a burst) says nothing new.
            return
        from email.utils import parsedate_to_datetime

        try:
            server = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, OverflowError, IndexError):
            return
        self._date_seen = date
        # Half a second either way is noise.
        self.skew = round(server + 0.5 - time.time())

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and self.rewrite and url.startswith(self.rewrite):
            url = self.base + url[len(self.rewrite) :]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        # Never follow a redirect: a write may not have been applied, and
        # another host's answer is not the network's.
        kwargs["allow_redirects"] = False
        deadline = self.timeouts.deadline
        watch = _Watch()
        previous = getattr(_current, "watch", None)
        _current.watch = watch
        entry = _WATCHDOG.watch(deadline, watch)
        try:
            plain = None if args else self._plain(method, url, kwargs)
            if plain is None:
                return super().request(method, url, *args, **kwargs)
            return self._send_plain(plain, kwargs["timeout"])
        except requests.RequestException as e:
            if watch.expired:
                raise DeadlineExceeded(f"no complete answer within {deadline:.0f} s") from e
            raise
        finally:
            _WATCHDOG.cross_out(entry)
            _current.watch = previous

    def _plain(self, method: Any, url: Any, kwargs: dict[str, Any]) -> PreparedRequest | None:
        """The request prepared as requests would prepare it, when it is
        plain (see the module's notes); None for any other, which requests
        prepares itself."""
        if (
            not kwargs.keys() <= _PLAIN_ARGUMENTS
            or method not in _PLAIN_METHODS
            or not isinstance(url, str)
            or not _PLAIN_URL.fullmatch(url)
            or _DOT_SEGMENT.search(url)
            or self.proxies
            or self.cookies
            or self.auth is not None
            or self.params
            or self.stream
            or self.verify is not True
            or self.cert is not None
        ):
            return None
        data = kwargs.get("data")
        body: str | bytes | None = None
        content_type = None
        if not data:
            payload = kwargs.get("json")
            if payload is not None:
                try:
                    body = requests_json.dumps(payload, allow_nan=False).encode("utf-8")
                except ValueError as e:
                    raise requests.exceptions.InvalidJSONError(e) from None
                content_type = "application/json"
        elif isinstance(data, bytes):
            body = data
        elif isinstance(data, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            body = urlencode(list(data.items()))
            content_type = _FORM
        else:
            return None
        prepared = PreparedRequest()
        prepared.method = method
        prepared.url = url
        headers = CaseInsensitiveDict(self.headers)
        for name, value in (kwargs.get("headers") or {}).items():
            if value is None:
                headers.pop(name, None)
            else:
                headers[name] = value
        prepared.prepare_headers(headers)  # each checked, as requests does
        prepared.body = body
        prepared.prepare_content_length(body)
        if content_type and "content-type" not in prepared.headers:
            prepared.headers["Content-Type"] = content_type
        auth = kwargs.get("auth")
        if auth is not None:
            prepared.prepare_auth(auth, url)
        prepared.hooks = self.hooks
        return prepared

    def _send_plain(self, prepared: PreparedRequest, timeout: Any) -> requests.Response:
        """What :meth:`requests.Session.send` does with a prepared request
        when redirects are not followed and nothing is streamed (but for
        ``response.next``, the request a redirect would lead to, which
        megaphone never makes)."""
        settings: dict[str, Any] = {
            "stream": False,
            "timeout": timeout,
            "verify": True,
            "cert": None,
            "proxies": {},
        }
        adapter = self.get_adapter(url=prepared.url or "")
        started = time.perf_counter()
        response = adapter.send(prepared, **settings)
        response.elapsed = timedelta(seconds=time.perf_counter() - started)
        response = dispatch_hook(  # type: ignore[no-untyped-call]
            "response", prepared.hooks, response, **settings
        )
        if "set-cookie" in response.headers:
            extract_cookies_to_jar(  # type: ignore[no-untyped-call]
                self.cookies, prepared, response.raw
            )
        response.content  # noqa: B018 (read now, as requests does)
        answer: requests.Response = response
        return answer


def believable_reset(epoch: float | None) -> float | None:
    """A rate limit's reset time (epoch seconds), or None when it is not
    within the next day (nor just past): such a reset is not waited for."""
    if epoch is None:
        return None
    now = time.time()
    return epoch if now - 3600 <= epoch <= now + 86400 else None


def refuse_redirect(
    response: requests.Response, *, what: str, write: bool, who: str, setting: str
) -> None:
    """A 3xx answer as megaphone's error: redirects are never followed.  A
    307 or 308 says "send it again over there": not acted on here, refused
    (check ``setting``); any other after a write may have been acted on."""
    from megaphone.errors import OutcomeUnknown, ReadFailed, Rejected

    status = response.status_code
    if not 300 <= status < 400:
        return
    where = redact_url(response.headers.get("Location") or "elsewhere")
    message = (
        f"{what}: {who} answered {status}, a redirect to {where}, which megaphone never follows"
    )
    if not write:
        raise ReadFailed(message)
    if status in (307, 308):
        raise Rejected(f"{message} (check the account's {setting})")
    raise OutcomeUnknown(message)


def is_redirect(response: requests.Response) -> bool:
    return 300 <= response.status_code < 400


def call(
    what: str,
    fn: Callable[[], Any],
    *,
    network: str,
    base: str,
    write: bool = True,
) -> Any:
    """Run one request of an adapter and turn what requests raises into
    megaphone's errors: never sent (connection refused, a connect timeout)
    is :class:`Unavailable`; anything after a ``write`` may have left (a
    read timeout, the deadline, a dropped connection) is
    :class:`OutcomeUnknown`, and after a read, :class:`ReadFailed`."""
    from megaphone.errors import OutcomeUnknown, ReadFailed, Unavailable

    after = OutcomeUnknown if write else ReadFailed
    try:
        return fn()
    except requests.ConnectionError as e:
        if not_sent(e):
            raise Unavailable(f"{what}: cannot reach {redact_url(base)}") from None
        raise after(f"{what}: the connection dropped before {network} answered") from None
    except DeadlineExceeded as e:
        raise after(f"{what}: {e}") from None
    except requests.Timeout:
        raise after(f"{what}: no answer from {network} in time") from None
    except requests.RequestException as e:
        raise after(f"{what}: {type(e).__name__}") from None


def not_sent(error: requests.ConnectionError) -> bool:
    """Whether a connection error happened before the request could be sent."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    import urllib3.exceptions as u3

    return isinstance(reason, u3.NewConnectionError | u3.NameResolutionError)
