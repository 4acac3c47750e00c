"""A loopback receiver of notifications: a threaded HTTP server recording every POST.

It stands in for the far end of an alert channel in tests and benchmarks: a JSON webhook
(Apprise ``json://host:port/path``) or an ntfy server (``ntfy://host:port/topic``, which
Apprise posts as JSON to the server's root). ``statuses`` makes it refuse (e.g. ``[500,
500]``: the first two posts get 500, then 200), to exercise retries; ``hold`` makes it
hang (each reply waits until the event is set).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Inbox", "Post"]


@dataclass(frozen=True, slots=True)
class Post:
    """One POST received."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    #: ``time.time()`` when the body had been read
    at: float

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body.decode("utf-8"))


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        inbox = self.server.inbox
        status = inbox._next_status()
        headers = {name.lower(): value for name, value in self.headers.items()}
        inbox._record(Post(self.path, headers, body, status, time.time()))
        if inbox.hold is not None:
            inbox.hold.wait()  # a hanging endpoint, until the test lets it answer
        reply = b"{}" if status < 400 else b'{"error": "refused by the test receiver"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], inbox: Inbox) -> None:
        self.inbox = inbox
        super().__init__(address, _Handler)


class Inbox:
    """Records POSTs on ``127.0.0.1``; ``host_port`` is what a channel URL names."""

    def __init__(
        self, statuses: Iterable[int] = (), *, hold: threading.Event | None = None
    ) -> None:
        self._statuses = list(statuses)
        #: when given, each reply waits until it is set (a hanging endpoint)
        self.hold = hold
        self._lock = threading.Lock()
        self._posts: list[Post] = []
        self._arrived = threading.Condition(self._lock)
        self._server = _Server(("127.0.0.1", 0), self)
        host, port = self._server.server_address[:2]
        self.host_port = f"{host!s}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Inbox:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_status(self) -> int:
        with self._lock:
            return self._statuses.pop(0) if self._statuses else 200

    def _record(self, post: Post) -> None:
        with self._arrived:
            self._posts.append(post)
            self._arrived.notify_all()

    @property
    def posts(self) -> list[Post]:
        """Every POST so far, in arrival order."""
        with self._lock:
            return list(self._posts)

    def accepted(self) -> list[Post]:
        """The POSTs answered with a success."""
        return [post for post in self.posts if post.status < 400]

    def wait(self, count: int, timeout: float = 10.0) -> list[Post]:
        """Wait until ``count`` POSTs were accepted (or ``timeout`` passed); return them."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while sum(post.status < 400 for post in self._posts) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
        return self.accepted()
