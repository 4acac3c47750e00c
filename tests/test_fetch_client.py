"""HttpClient against a real HTTP server on loopback (the replay upstream), never a mock."""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from finews.demo.replay import ReplayServer, Reply, Route
from finews.errors import (
    BodyTooLargeError,
    ConfigError,
    FetchError,
    StatusFetchError,
    TimeoutFetchError,
)
from finews.fetch import HttpClient, HttpSettings, Response, retry_after_seconds
from finews.sources.base import Request

# Small waits everywhere so the suite stays fast; retries still happen for real.
QUICK = HttpSettings(timeout=1.0, retries=2, backoff=0.01, backoff_cap=0.5)


def fetch(request: Request, settings: HttpSettings = QUICK, source: str = "src") -> Response:
    async def run() -> Response:
        async with HttpClient(settings) as client:
            return await client.get(request, source=source)

    return asyncio.run(run())


def fetch_error(request: Request, settings: HttpSettings = QUICK) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(request, settings)
    return caught.value


def test_success_sends_params_headers_and_user_agent() -> None:
    route = Route("/list", Reply.json({"ok": True}, headers={"X-Upstream": "yes"}))
    with ReplayServer([route]) as server:
        request = Request(
            url=f"{server.url}/list",
            params={"type": "102", "q": "人民币"},
            headers={"Referer": "r"},
        )
        response = fetch(request)
        (received,) = server.requests
    assert response.status == 200
    assert response.body == b'{"ok": true}'
    assert response.headers["x-upstream"] == "yes"
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.url == f"{server.url}/list?type=102&q=%E4%BA%BA%E6%B0%91%E5%B8%81"
    assert received.query == {"type": "102", "q": "人民币"}
    assert received.headers["referer"] == "r"
    assert received.headers["user-agent"] == "finews/0.1 (+https://github.com/finews)"


def test_configured_user_agent_is_sent() -> None:
    with ReplayServer([Route("/", Reply(body=b"x"))]) as server:
        fetch(Request(url=f"{server.url}/"), HttpSettings(user_agent="finews-test/1"))
        assert server.requests[0].headers["user-agent"] == "finews-test/1"


def test_params_merge_with_a_query_in_the_url() -> None:
    with ReplayServer([Route("/p", Reply(body=b"x"))]) as server:
        fetch(Request(url=f"{server.url}/p?fixed=1", params={"added": "2"}))
        assert server.requests[0].query == {"fixed": "1", "added": "2"}


def test_redirect_is_followed() -> None:
    routes = [
        Route("/old", Reply(status=302, headers={"Location": "/new"})),
        Route("/new", Reply(body=b"moved")),
    ]
    with ReplayServer(routes) as server:
        response = fetch(Request(url=f"{server.url}/old"))
    assert response.body == b"moved"
    assert response.url == f"{server.url}/new"


def test_500_then_200_is_retried() -> None:
    route = Route("/flaky", [Reply(status=500), Reply(status=502), Reply(body=b"finally")])
    with ReplayServer([route]) as server:
        response = fetch(Request(url=f"{server.url}/flaky"))
        assert len(server.requests) == 3
    assert response.body == b"finally"


def test_500_forever_gives_status_error_after_the_retries() -> None:
    with ReplayServer([Route("/down", Reply(status=500))]) as server:
        error = fetch_error(Request(url=f"{server.url}/down", params={"a": "1"}))
        assert len(server.requests) == 1 + QUICK.retries
    assert isinstance(error, StatusFetchError)
    assert error.status == 500
    assert error.url == f"{server.url}/down?a=1"
    assert error.source == "src"
    assert str(error) == f"[src] HTTP 500 ({server.url}/down?a=1)"


def test_404_is_not_retried() -> None:
    with ReplayServer([]) as server:
        error = fetch_error(Request(url=f"{server.url}/missing"))
        assert len(server.requests) == 1
    assert isinstance(error, StatusFetchError)
    assert error.status == 404
    assert not error.retryable


def test_429_retry_after_is_honoured() -> None:
    route = Route("/busy", [Reply(status=429, headers={"Retry-After": "1"}), Reply(body=b"ok")])
    settings = HttpSettings(timeout=1.0, retries=1, backoff=0.01, backoff_cap=5.0)
    with ReplayServer([route]) as server:
        started = time.monotonic()
        assert fetch(Request(url=f"{server.url}/busy"), settings).body == b"ok"
        waited = time.monotonic() - started
    assert 1.0 <= waited < 3.0  # backoff alone would have waited 0.01 s


def test_retry_after_is_capped() -> None:
    route = Route("/busy", [Reply(status=503, headers={"Retry-After": "3600"}), Reply(body=b"ok")])
    settings = HttpSettings(timeout=1.0, retries=1, backoff=0.01, backoff_cap=0.2)
    with ReplayServer([route]) as server:
        started = time.monotonic()
        assert fetch(Request(url=f"{server.url}/busy"), settings).body == b"ok"
    assert time.monotonic() - started < 2.0


def test_retry_after_http_date_is_parsed_onto_the_error() -> None:
    later = email.utils.formatdate(time.time() + 120, usegmt=True)
    route = Route("/busy", Reply(status=503, headers={"Retry-After": later}))
    with ReplayServer([route]) as server:
        error = fetch_error(Request(url=f"{server.url}/busy"), HttpSettings(retries=0))
    assert isinstance(error, StatusFetchError)
    assert error.retry_after is not None
    assert 110 <= error.retry_after <= 121


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        (" 0.25 ", 0.25),
        ("-3", 0.0),
        ("soon", None),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: no wait
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),  # with "now" a minute before it
    ],
)
def test_retry_after_seconds(value: str | None, seconds: float | None) -> None:
    base = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:27:00 GMT").timestamp()
    now = base if seconds == 60.0 else None
    assert retry_after_seconds(value, now=now) == seconds


def test_timeout_is_a_timeout_error_and_retried() -> None:
    settings = HttpSettings(timeout=0.2, retries=1, backoff=0.01)
    with ReplayServer([Route("/slow", Reply(body=b"late", delay=5.0))]) as server:
        started = time.monotonic()
        error = fetch_error(Request(url=f"{server.url}/slow"), settings)
        elapsed = time.monotonic() - started
        assert len(server.requests) == 2
    assert isinstance(error, TimeoutFetchError)
    assert error.retryable
    assert error.url == f"{server.url}/slow"
    assert elapsed < 2.0


def test_trickled_body_hits_the_attempt_deadline() -> None:
    def trickle() -> Iterator[bytes]:
        for _ in range(100):
            yield b"{"
            time.sleep(0.05)  # each byte is quick, the whole body is not

    settings = HttpSettings(timeout=0.5, retries=0)
    with ReplayServer([Route("/drip", Reply(body=trickle))]) as server:
        started = time.monotonic()
        error = fetch_error(Request(url=f"{server.url}/drip"), settings)
    assert isinstance(error, TimeoutFetchError)
    assert time.monotonic() - started < 2.0


def test_oversized_streamed_body_is_cut_off_early() -> None:
    chunk = b"x" * 65536
    total_chunks = 4096  # 256 MiB if anyone read it all
    sent = {"chunks": 0}

    def huge() -> Iterator[bytes]:
        for _ in range(total_chunks):
            sent["chunks"] += 1
            yield chunk

    settings = HttpSettings(max_body_bytes=100_000, retries=0)
    with ReplayServer([Route("/huge", Reply(body=huge))]) as server:
        error = fetch_error(Request(url=f"{server.url}/huge"), settings)
    assert isinstance(error, BodyTooLargeError)
    assert "100000 byte cap" in str(error)
    assert error.url == f"{server.url}/huge"
    # The server stops when the client hangs up; kernel buffers let a few MB through.
    assert sent["chunks"] < total_chunks // 4


def test_content_length_above_the_cap_is_refused_before_reading() -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"y" * 65536

    route = Route("/big", Reply(body=endless, headers={"Content-Length": "900000000"}))
    with ReplayServer([route]) as server:
        error = fetch_error(Request(url=f"{server.url}/big"), HttpSettings(retries=0))
    assert isinstance(error, BodyTooLargeError)
    assert "Content-Length 900000000" in str(error)


def test_body_at_the_cap_is_accepted() -> None:
    with ReplayServer([Route("/exact", Reply(body=b"z" * 1000))]) as server:
        response = fetch(Request(url=f"{server.url}/exact"), HttpSettings(max_body_bytes=1000))
    assert len(response.body) == 1000


def test_fallback_url_is_used_when_the_primary_fails() -> None:
    routes = [
        Route("/primary", Reply(status=503)),
        Route("/fallback", Reply(body=b"from fallback")),
    ]
    with ReplayServer(routes) as server:
        request = Request(
            url=f"{server.url}/primary",
            params={"p": "1"},
            fallback_urls=(f"{server.url}/fallback",),
        )
        response = fetch(request)
        primary = server.requests_to("/primary")
        fallback = server.requests_to("/fallback")
    assert response.body == b"from fallback"
    assert response.url == f"{server.url}/fallback?p=1"
    assert len(primary) == 1 + QUICK.retries
    assert len(fallback) == 1
    assert fallback[0].query == {"p": "1"}


def test_all_urls_failing_raises_the_last_error() -> None:
    routes = [Route("/a", Reply(status=403)), Route("/b", Reply(status=500))]
    with ReplayServer(routes) as server:
        request = Request(
            url=f"{server.url}/a", fallback_urls=(f"{server.url}/missing", f"{server.url}/b")
        )
        error = fetch_error(request)
        assert [r.path for r in server.requests] == ["/a", "/missing", "/b", "/b", "/b"]
    assert isinstance(error, StatusFetchError)
    assert error.status == 500
    assert error.url == f"{server.url}/b"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_connection_refused_is_a_retryable_fetch_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}/x"
    error = fetch_error(Request(url=url), HttpSettings(retries=1, backoff=0.01))
    assert type(error) is FetchError
    assert error.retryable
    assert error.url == url
    assert error.source == "src"
    assert "connection failed" in str(error)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http://[::1/x"])
def test_unusable_url_is_a_fetch_error_not_retried(url: str) -> None:
    error = fetch_error(Request(url=url))
    assert type(error) is FetchError
    assert not error.retryable


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_per_host_concurrency_limits_requests_in_flight(limit: int) -> None:
    settings = HttpSettings(timeout=5.0, per_host_concurrency=limit)

    async def run(base: str) -> list[Response]:
        async with HttpClient(settings) as client:
            return await asyncio.gather(
                *(client.get(Request(url=f"{base}/slow", params={"n": str(n)})) for n in range(6))
            )

    with ReplayServer([Route("/slow", Reply(body=b"ok", delay=0.15))]) as server:
        responses = asyncio.run(run(server.url))
        assert len(server.requests) == 6
        peak = server.peak_concurrency
    assert [r.body for r in responses] == [b"ok"] * 6
    assert peak == limit


def test_client_closes_via_aclose() -> None:
    async def run(base: str) -> bytes:
        client = HttpClient(QUICK)
        try:
            return (await client.get(Request(url=f"{base}/"))).body
        finally:
            await client.aclose()

    with ReplayServer([Route("/", Reply(body=b"bye"))]) as server:
        assert asyncio.run(run(server.url)) == b"bye"


def test_replay_server_records_and_matches_query_routes() -> None:
    def handler(received: Any) -> Reply:
        return Reply(body=f"page {received.query['page']}".encode())

    routes = [
        Route("/list", Reply(body=b"type 45"), {"type": "45"}),
        Route("/list", handler),
    ]
    with ReplayServer(routes) as server:
        assert fetch(Request(url=f"{server.url}/list", params={"type": "45"})).body == b"type 45"
        assert fetch(Request(url=f"{server.url}/list", params={"page": "2"})).body == b"page 2"
        assert [r.query for r in server.requests_to("/list")] == [{"type": "45"}, {"page": "2"}]


@pytest.mark.parametrize(
    ("field", "value"),
    [("timeout", 0.0), ("per_host_concurrency", 0), ("retries", -1), ("backoff", float("nan"))],
)
def test_unusable_settings_are_refused(field: str, value: float) -> None:
    changes: dict[str, Any] = {field: value}
    with pytest.raises(ConfigError, match=field):
        HttpSettings(**changes)
