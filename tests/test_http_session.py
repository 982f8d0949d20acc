"""The HTTP session's plain path: the requests an adapter sends most (a
JSON or form body to a URL as written) skip requests' general preparation,
and must reach the wire byte for byte as that preparation would send them,
answer the same, and fail the same."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import example, given, settings
from hypothesis import strategies as st

from megaphone.errors import OutcomeUnknown, Unavailable
from megaphone.networks.contract import Timeouts
from megaphone.networks.http import Session, call, not_sent
from megaphone.networks.x.signing import OAuth1Signer

ANSWER = (
    b"HTTP/1.1 201 Created\r\n"
    b"Content-Type: application/json\r\n"
    b"Date: Fri, 04 Dec 2026 01:00:00 GMT\r\n"
    b"Content-Length: 13\r\n"
    b"\r\n"
    b'{"id": "123"}'
)


class Recorder:
    """A server on 127.0.0.1 that keeps every request's bytes as they came
    and answers each with ``answer`` (keeping the connection open), or, with
    ``hang_up``, closes it without a word."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests: list[bytes] = []
        self.answer = ANSWER
        self.hang_up = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, rest = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    rest += chunk
                self.requests.append(head + b"\r\n\r\n" + rest[:length])
                buffer = rest[length:]
                if self.hang_up:
                    return
                conn.sendall(self.answer)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


def _signer() -> OAuth1Signer:
    return OAuth1Signer(
        "app-key", "app-secret", "user-token", "user-secret", clock=lambda: 1.7e9, nonce=lambda: "n"
    )


#: Requests an adapter makes: (method, path, keyword arguments).
PLAIN = [
    ("POST", "/2/tweets", {"json": {"text": "Town hall tonight, 7pm. ¡Únete! 🍎"}}),
    ("POST", "/2/tweets", {"json": {"text": "signed"}, "auth": _signer()}),
    ("POST", "/api/v1/statuses", {"data": {"status": "a form, & signs=ok"}}),
    ("POST", "/oauth/token", {"data": {"grant": "x y"}, "auth": _signer()}),
    ("POST", "/upload", {"data": b"\x00\x01 raw bytes", "headers": {"Content-Type": "image/png"}}),
    ("POST", "/2/media/upload/7/finalize", {}),
    ("GET", "/2/users/me", {"headers": {"Accept": "application/json"}}),
    ("GET", "/2/users/me?user.fields=id,name", {"auth": _signer()}),
    ("DELETE", "/api/v1/statuses/9", {"headers": {"User-Agent": None, "Idempotency-Key": "k"}}),
    ("PUT", "/api/v1/media/3", {"data": {"description": "alt"}, "auth": ("user", "pass")}),
    ("POST", "/xrpc/com.atproto.repo.createRecord", {"json": {"a": [1, 2.5, None]}}),
]


def _sent(recorder: Recorder, method: str, path: str, kwargs: dict[str, Any], plain: bool) -> bytes:
    session = Session(recorder.base, Timeouts(connect=2, read=2, deadline=5))
    general = requests.Session.request
    taken: list[str] = []

    def spy(self: requests.Session, *args: Any, **kw: Any) -> Any:
        taken.append("general")
        return general(self, *args, **kw)

    if not plain:
        session._plain = lambda *args: None  # type: ignore[method-assign]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(requests.Session, "request", spy)
        response = session.request(method, recorder.base + path, **kwargs)
    assert response.status_code == 201
    assert response.json() == {"id": "123"}
    assert taken == ([] if plain else ["general"])
    return recorder.requests.pop()


@pytest.mark.parametrize(("method", "path", "kwargs"), PLAIN)
def test_a_plain_request_is_sent_byte_for_byte_as_requests_would(
    recorder: Recorder, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    assert _sent(recorder, method, path, kwargs, plain=True) == _sent(
        recorder, method, path, kwargs, plain=False
    )


@pytest.mark.parametrize(
    ("path", "kwargs", "why"),
    [
        ("/upload", {"files": {"media": ("a.png", b"png")}}, "a file"),
        ("/2/media/upload", {"params": {"command": "STATUS"}}, "parameters"),
        ("/search?q=%23union", {}, "a percent-escape"),
        ("/a path", {}, "a character to quote"),
        ("/form", {"data": {"n": 3}}, "a value that is not a string"),
        ("/form", {"data": [("a", "b")]}, "pairs, not a mapping"),
        ("/stream", {"stream": True}, "a stream"),
    ],
)
def test_any_other_request_goes_through_requests_preparation(
    recorder: Recorder, path: str, kwargs: dict[str, Any], why: str
) -> None:
    session = Session(recorder.base, Timeouts(connect=2, read=2, deadline=5))
    assert session._plain("POST", recorder.base + path, kwargs) is None, why
    session.request("POST", recorder.base + path, **kwargs)
    assert recorder.requests  # sent all the same


def test_a_session_with_cookies_proxies_or_url_credentials_is_not_plain(
    recorder: Recorder,
) -> None:
    url = recorder.base + "/2/tweets"
    session = Session(recorder.base, Timeouts())
    assert session._plain("POST", url, {"json": {}}) is not None
    assert session._plain("POST", f"http://user:pw@127.0.0.1:{recorder.port}/", {}) is None
    assert session._plain("POST", f"HTTP://127.0.0.1:{recorder.port}/", {}) is None
    session.cookies.set("seen", "1")
    assert session._plain("POST", url, {"json": {}}) is None
    proxied = Session(recorder.base, Timeouts())
    proxied.proxies = {"http": "http://127.0.0.1:9"}
    assert proxied._plain("POST", url, {"json": {}}) is None


def test_a_cookie_set_by_an_answer_is_sent_with_the_next_request(recorder: Recorder) -> None:
    recorder.answer = ANSWER.replace(b"Date:", b"Set-Cookie: visit=42; Path=/\r\nDate:")
    session = Session(recorder.base, Timeouts(connect=2, read=2, deadline=5))
    session.request("POST", recorder.base + "/2/tweets", json={"text": "one"})
    session.request("POST", recorder.base + "/2/tweets", json={"text": "two"})
    assert b"Cookie: visit=42" not in recorder.requests[0]
    assert b"Cookie: visit=42" in recorder.requests[1]


def test_the_answers_hooks_run_and_its_clock_is_read(recorder: Recorder) -> None:
    session = Session(recorder.base, Timeouts(connect=2, read=2, deadline=5))
    seen: list[int] = []
    session.hooks["response"].append(lambda r, *a, **k: seen.append(r.status_code))
    response = session.request("POST", recorder.base + "/2/tweets", json={"text": "hi"})
    assert seen == [201]
    assert session.skew is not None  # from the answer's Date
    assert response.elapsed.total_seconds() >= 0
    assert response.request.url == recorder.base + "/2/tweets"


def test_a_plain_request_fails_as_requests_fails(recorder: Recorder) -> None:
    session = Session(recorder.base, Timeouts(connect=2, read=2, deadline=5))
    url = recorder.base + "/2/tweets"
    with pytest.raises(requests.exceptions.InvalidJSONError):
        session.request("POST", url, json={"n": float("nan")})
    with pytest.raises(requests.exceptions.InvalidHeader):
        session.request("POST", url, json={}, headers={"X-Evil": "a\r\nInjected: 1"})
    assert recorder.requests == []  # neither left

    # Nothing listens: never sent.
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    refused = Session(f"http://127.0.0.1:{port}", Timeouts(connect=2, read=2, deadline=5))
    with pytest.raises(requests.ConnectionError) as refused_error:
        refused.request("POST", f"http://127.0.0.1:{port}/2/tweets", json={})
    assert not_sent(refused_error.value)
    with pytest.raises(Unavailable):
        call(
            "posting",
            lambda: refused.request("POST", f"http://127.0.0.1:{port}/2/tweets", json={}),
            network="X",
            base=refused.base,
        )

    # The request left and the server hung up: it may have been acted on.
    recorder.hang_up = True
    with pytest.raises(requests.ConnectionError) as dropped:
        session.request("POST", url, json={"text": "lost?"})
    assert not not_sent(dropped.value)
    with pytest.raises(OutcomeUnknown, match="dropped"):
        call(
            "posting",
            lambda: session.request("POST", url, json={"text": "lost?"}),
            network="X",
            base=session.base,
        )


_PATHS = st.from_regex(
    r"/[A-Za-z0-9._~!$&'()*+,;=:@/-]{0,12}(\?[A-Za-z0-9._~!$&'()*+,;=:@/?-]{0,12})?", fullmatch=True
)


@settings(max_examples=2000, deadline=None)
@example(host="0", port=None, scheme="http", path="/.")
@example(host="a", port="80", scheme="https", path="/x/../y?q=/./")
@example(host="a", port=None, scheme="http", path="/x/./y")
@given(
    host=st.from_regex(r"[a-z0-9][a-z0-9.-]{0,10}", fullmatch=True),
    port=st.one_of(st.none(), st.from_regex(r"[0-9]{1,5}", fullmatch=True)),
    scheme=st.sampled_from(["http", "https"]),
    path=_PATHS,
)
def test_a_url_taken_as_written_is_the_url_requests_prepares(
    host: str, port: str | None, scheme: str, path: str
) -> None:
    url = f"{scheme}://{host}{'' if port is None else f':{port}'}{path}"
    session = Session("http://127.0.0.1:9", Timeouts())
    if session._plain("POST", url, {}) is None:
        return
    try:
        prepared = requests.Request("POST", url).prepare().url
    except (requests.exceptions.InvalidURL, ValueError):
        return  # requests refuses it: sent the general way, it is refused there
    assert prepared == url


def test_no_byte_of_a_request_leaves_past_its_send_by_deadline(recorder: Recorder) -> None:
    import time

    from megaphone.errors import SentTooLate
    from megaphone.networks import send_by

    session = Session(recorder.base, Timeouts(connect=2, read=2, deadline=5))
    url = recorder.base + "/2/tweets"
    with send_by(time.monotonic() - 0.5), pytest.raises(SentTooLate, match="not sent"):
        session.request("POST", url, json={"text": "a fence too old"})
    assert recorder.requests == []
    with send_by(time.monotonic() + 30):
        assert session.request("POST", url, json={"text": "in time"}).status_code == 201
    session.request("POST", url, json={"text": "no deadline"})  # none outside one
    assert [r.rsplit(b"\r\n\r\n", 1)[1] for r in recorder.requests] == [
        b'{"text": "in time"}',
        b'{"text": "no deadline"}',
    ]
