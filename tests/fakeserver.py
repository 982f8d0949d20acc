"""What the fake network servers share: serving on 127.0.0.1 from a thread,
their URL, and faults on demand (see tests/fakex.py for the kinds)."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakex import Fault


class Quiet(BaseHTTPRequestHandler):
    """The handlers' common ground: HTTP/1.1 kept alive, no log, GET and POST
    handed to ``_handle``, and a connection dropped on demand."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: without this, Nagle's
    # algorithm holds the body back for the client's delayed ACK.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        """Close the connection without an answer."""
        import contextlib
        import socket

        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class Served:
    """Mixed into a fake server's dataclass: it must have ``faults``, a
    ``_lock`` and a ``_server`` field, and define ``handler()``."""

    faults: list[Fault]
    _lock: threading.RLock
    _server: ThreadingHTTPServer | None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Any:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        server.daemon_threads = True
        self._server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
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

    def fault(self, method: str, path: str, kind: str, **kw: Any) -> Fault:
        f = Fault(method, path, kind, **kw)
        with self._lock:
            self.faults.append(f)
        return f

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.times > 0 and f.method == method and re.fullmatch(f.path, path):
                    if f.skip > 0:
                        f.skip -= 1
                        return None
                    f.times -= 1
                    return f
        return None
