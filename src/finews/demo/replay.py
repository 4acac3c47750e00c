"""A replay upstream: a real HTTP server on loopback that answers with canned payloads.

Tests point :class:`~finews.fetch.client.HttpClient` at it to exercise the real network path
(retries, timeouts, size caps, per-host limits), and the demo points every East Money source
at it so finews runs end to end without the internet::

    with ReplayServer([Route("/ping", Reply(body=b"pong"))]) as server:
        ...  # GET f"{server.url}/ping"
        assert server.requests[0].path == "/ping"

:func:`demo_routes` serves the invented demo data in ``payloads/`` in the upstreams' exact
shapes; ``python -m finews.demo.replay --port 8765`` runs it standalone.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from importlib.resources.abc import Traversable
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from finews.normalize.times import BEIJING as _BEIJING

__all__ = [
    "Handler",
    "Received",
    "ReplayServer",
    "Reply",
    "Route",
    "demo_routes",
    "demo_source_overrides",
    "demo_unserved_sources",
    "main",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Received:
    """One request the server got: path, query (last value per name), headers (lower-case)."""

    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Reply:
    """One canned response.

    ``body`` is either bytes (sent with a Content-Length) or a callable returning chunks,
    streamed without a length until exhausted: that is how a huge body is served without
    holding it. A ``Content-Length`` in ``headers`` is sent as given, even if it lies.
    ``delay`` seconds pass before anything is sent (to provoke client timeouts).
    """

    status: int = 200
    body: bytes | Callable[[], Iterable[bytes]] = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def json(
        cls, value: object, *, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Reply:
        """A reply whose body is ``value`` encoded as UTF-8 JSON."""
        merged = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        body = json.dumps(value, ensure_ascii=False).encode("utf-8")
        return cls(status=status, body=body, headers=merged)


#: A dynamic route: computes the reply from the request.
Handler = Callable[[Received], Reply]


@dataclass(frozen=True, slots=True)
class Route:
    """Which requests a reply answers: an exact ``path`` plus required ``query`` values.

    ``reply`` is a :class:`Reply`, a sequence of them (the n-th matching request gets the
    n-th; the last one repeats), or a :data:`Handler`.
    """

    path: str
    reply: Reply | Sequence[Reply] | Handler
    query: Mapping[str, str] = field(default_factory=dict)

    def matches(self, received: Received) -> bool:
        """Whether ``received`` is for this route."""
        return received.path == self.path and all(
            received.query.get(name) == value for name, value in self.query.items()
        )


class _Server(ThreadingHTTPServer):
    # Non-daemon handler threads, joined by server_close(): stop() leaves no thread behind.
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], replay: ReplayServer) -> None:
        self.replay = replay
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-reply (a size cap, a timeout) is expected here.
        log.debug("replay: client %s went away", client_address, exc_info=True)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # socket timeout: a stuck client cannot hold a handler thread forever

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        received = Received(
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
        )
        replay = self.server.replay
        replay._enter(received)
        try:
            reply = replay._reply_for(received)
            if reply.delay and replay._stopping.wait(reply.delay):
                return
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            log.debug("replay: client went away during %s", split.path)
        finally:
            replay._leave()

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        names = {name.lower() for name in reply.headers}
        if isinstance(reply.body, bytes):
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.end_headers()  # HTTP/1.0 without a length: the body ends when we close
        for chunk in reply.body():
            if self.server.replay._stopping.is_set():
                return
            self.wfile.write(chunk)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("replay: " + format, *args)


class ReplayServer:
    """A threaded HTTP server on ``host``:``port`` (port 0: any free port) serving ``routes``.

    The first matching route answers; an unmatched request gets a 404 naming the path.
    ``requests`` lists every request received, ``peak_concurrency`` the most requests that
    were being answered at once. The socket is bound on construction (so ``url`` is known
    at once); serve with :meth:`start` or ``with``, and always :meth:`stop`.
    """

    def __init__(self, routes: Iterable[Route], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes = list(routes)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._received: list[Received] = []
        self._served: dict[int, int] = {}
        self._active = 0
        self.peak_concurrency = 0
        self._server = _Server((host, port), self)
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}"
        self._thread: threading.Thread | None = None

    @property
    def requests(self) -> list[Received]:
        """A copy of every request received so far, in arrival order."""
        with self._lock:
            return list(self._received)

    def requests_to(self, path: str) -> list[Received]:
        """The requests received for ``path``."""
        return [received for received in self.requests if received.path == path]

    def start(self) -> ReplayServer:
        """Serve in a background thread; returns ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end pending delays and streams, close the socket, join threads."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _enter(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)
            self._active += 1
            self.peak_concurrency = max(self.peak_concurrency, self._active)

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1

    def _reply_for(self, received: Received) -> Reply:
        for index, route in enumerate(self.routes):
            if not route.matches(received):
                continue
            if isinstance(route.reply, Reply):
                return route.reply
            if callable(route.reply):
                try:
                    return route.reply(received)
                except Exception as exc:  # a broken test handler should show, not hang
                    log.exception("replay: handler for %s failed", route.path)
                    return Reply(status=500, body=f"handler failed: {exc!r}".encode())
            with self._lock:
                count = self._served.get(index, 0)
                self._served[index] = count + 1
            return route.reply[min(count, len(route.reply) - 1)]
        return Reply(status=404, body=f"no route for {received.path}".encode())


# ---- the demo upstream ----------------------------------------------------------------

_CLOCK = "%Y-%m-%d %H:%M:%S"
#: dates the demo texts name: a day (9月1日) and a month alone (8月制造业PMI, 8月份)
_DAY = re.compile(r"(?<!\d)(\d{1,2})月(\d{1,2})日")
_MONTH = re.compile(r"(?<!\d)(\d{1,2})月(?![\d日])")

#: (payload file, list key inside it, time field of each item); fast news nests under "data"
_LISTS = {
    "rolling": ("rolling.json", "records", "showtime"),
    "media": ("media.json", "nodeList", "showtime"),
    "market_37": ("market_37.json", "record", "datetime"),
    "market_38": ("market_38.json", "record", "datetime"),
    "market_39": ("market_39.json", "record", "datetime"),
    "fast_1": ("fast_1.json", "fastNewsList", "showTime"),
    "fast_2": ("fast_2.json", "fastNewsList", "showTime"),
}


def _payloads() -> Traversable:
    return resources.files("finews.demo").joinpath("payloads", "eastmoney")


def _items(payload: dict[str, Any], key: str) -> list[dict[str, Any]]:
    holder = payload["data"] if key == "fastNewsList" else payload
    items: list[dict[str, Any]] = holder[key]
    return items


class _DemoClock:
    """Moves the demo's wall-clock times by whole days so the newest is at most ``now``.

    Whole days keep each item's time of day, so items either side of midnight stay so, and
    the output always lands in the three-day ``_posts/`` window.
    """

    def __init__(self, newest: datetime, now: Callable[[], datetime]) -> None:
        self.newest = newest
        self.now = now

    def shift(self) -> timedelta:
        now = self.now().astimezone(_BEIJING)
        shift = timedelta(days=(now.date() - self.newest.date()).days)
        if self.newest + shift > now:
            shift -= timedelta(days=1)
        return shift

    def rewrite(self, payload: dict[str, Any], key: str, time_field: str) -> dict[str, Any]:
        shift = self.shift()
        moved = copy.deepcopy(payload)
        for item in _items(moved, key):
            stamp = datetime.strptime(item[time_field], _CLOCK).replace(tzinfo=_BEIJING)
            item[time_field] = (stamp + shift).strftime(_CLOCK)
            for name, value in item.items():
                if isinstance(value, str) and name != time_field:
                    item[name] = self.dates_in(value, shift)
        return moved

    def dates_in(self, text: str, shift: timedelta) -> str:
        """``text`` with the dates it names moved as its item was: 9月1日 becomes the
        item's new day, 8月 (last month's data) the month before it."""
        year = self.newest.year

        def day(match: re.Match[str]) -> str:
            moved = date(year, int(match[1]), int(match[2])) + shift
            return f"{moved.month}月{moved.day}日"

        months = (self.newest + shift).month - self.newest.month

        def month(match: re.Match[str]) -> str:
            return f"{(int(match[1]) - 1 + months) % 12 + 1}月"

        return _MONTH.sub(month, _DAY.sub(day, text))


def demo_routes(
    *,
    now: Callable[[], datetime] | None = None,
    live: Callable[[], list[dict[str, Any]]] | None = None,
) -> list[Route]:
    """Routes serving the demo data for the four demo sources (see :func:`demo_source_overrides`).

    List times are moved to recent Beijing times at each request (by whole days, relative to
    ``now()``, default the current time). Full texts answer by ``id``; an unknown id is a 404.
    Fast news pages by ``sortEnd``: empty gives page 1, page 1's ``sortEnd`` gives page 2,
    anything else an empty list. ``live()``, when given, returns fast-news items published
    since the demo started (newest first); they head page 1, as on the real feed.
    """
    root = _payloads()
    lists = {
        name: (json.loads(root.joinpath(file).read_text("utf-8")), key, time_field)
        for name, (file, key, time_field) in _LISTS.items()
    }
    newest = max(
        datetime.strptime(item[time_field], _CLOCK).replace(tzinfo=_BEIJING)
        for payload, key, time_field in lists.values()
        for item in _items(payload, key)
    )
    clock = _DemoClock(newest, now or (lambda: datetime.now(_BEIJING)))

    def listing(name: str) -> Handler:
        payload, key, time_field = lists[name]
        return lambda _received: Reply.json(clock.rewrite(payload, key, time_field))

    def fulltext(received: Received) -> Reply:
        code = received.query.get("id", "")
        file = root.joinpath("fulltext", f"{code}.json")
        if not (code.isascii() and code.isdigit()) or not file.is_file():
            return Reply(status=404, body=b"no such article")
        text = clock.dates_in(file.read_text("utf-8"), clock.shift())
        return Reply(
            body=text.encode("utf-8"), headers={"Content-Type": "application/json; charset=utf-8"}
        )

    page_one, page_two = lists["fast_1"][0], lists["fast_2"][0]

    def fast(received: Received) -> Reply:
        cursor = received.query.get("sortEnd", "")
        if cursor == "":
            reply = clock.rewrite(page_one, "fastNewsList", "showTime")
            if live is not None:
                reply["data"]["fastNewsList"][:0] = live()
        elif cursor == page_one["data"]["sortEnd"]:
            reply = clock.rewrite(page_two, "fastNewsList", "showTime")
        else:
            reply = {"code": "1", "message": "success", "data": {"sortEnd": "", "fastNewsList": []}}
        reply["req_trace"] = received.query.get("req_trace", "")
        return Reply.json(reply)

    return [
        Route("/web/webapi", listing("rolling"), {"type": "102"}),
        Route("/web/webapi", listing("media"), {"type": "45"}),
        *(
            Route("/information/newmarket/web/webapi", listing(f"market_{t}"), {"marketType": t})
            for t in ("37", "38", "39")
        ),
        Route("/NewsData/GetNewsText.do", fulltext),
        Route("/comm/web/getFastNewsList", fast),
        # The fast-news fallback host, on its own path so tests can tell the two apart.
        Route("/listapi/comm/web/getFastNewsList", fast),
    ]


def demo_unserved_sources() -> list[str]:
    """The sources on by default that the demo upstream does not serve: the demo switches
    them off, so that it never reaches the internet."""
    from finews.config import DEFAULT_SOURCES  # config is heavier; only this needs it

    served = demo_source_overrides("http://127.0.0.1")
    return [
        sid
        for sid, values in DEFAULT_SOURCES.items()
        if values.get("enabled", True) and sid not in served
    ]


def demo_source_overrides(base_url: str) -> dict[str, dict[str, Any]]:
    """Settings overrides, per demo source id, pointing every upstream URL at ``base_url``."""
    base = base_url.rstrip("/")
    fulltext = f"{base}/NewsData/GetNewsText.do"
    return {
        "emnews": {"url": f"{base}/web/webapi", "fulltext_url": fulltext},
        "em_media": {"url": f"{base}/web/webapi", "fulltext_url": fulltext},
        "em_market": {"url": f"{base}/information/newmarket/web/webapi", "fulltext_url": fulltext},
        "em_fast": {
            "url": f"{base}/comm/web/getFastNewsList",
            "fallback_urls": [f"{base}/listapi/comm/web/getFastNewsList"],
            "article_url": f"{base}/a/{{code}}.html",
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Run the demo upstream until interrupted (``python -m finews.demo.replay``)."""
    parser = argparse.ArgumentParser(description="Serve the finews demo upstream.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with ReplayServer(demo_routes(), host=args.host, port=args.port) as server:
        print(f"finews demo upstream at {server.url} (Ctrl-C to stop)", flush=True)
        for source, overrides in demo_source_overrides(server.url).items():
            print(f"  {source}: {overrides['url']}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping", flush=True)


if __name__ == "__main__":
    main()
