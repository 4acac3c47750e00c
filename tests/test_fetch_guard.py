"""The SSRF guard: which addresses it refuses, and that it refuses them on the connection
actually made (literal addresses, names resolving to them, redirects), through the real
HttpClient against real loopback servers.

Only loopback is ever connected to. Tests that name other addresses (10.x, 169.254.x…) run
with a network backend that fails the test instead of connecting anywhere but loopback, so
a guard that let such a request through would fail loudly without sending a packet."""

from __future__ import annotations

import asyncio
import ipaddress
import typing

import httpcore
import pytest

from finews.demo.replay import ReplayServer, Reply, Route
from finews.errors import FetchError
from finews.fetch.client import HttpClient, HttpSettings, Response
from finews.fetch.guard import AddressGuard, AddressRefusedError, address_refusal
from finews.sources.base import Request

QUICK = HttpSettings(timeout=3.0, retries=2, backoff=0.01)


class LoopbackOnly(httpcore.AsyncNetworkBackend):
    """A real network backend that refuses to connect anywhere but loopback, and counts."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.connected: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if not ipaddress.ip_address(host).is_loopback:
            raise AssertionError(f"the guard let a connection to {host} through")
        self.connected.append(host)
        return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AssertionError("no Unix sockets here")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def get(
    url: str,
    guard: AddressGuard | None = None,
    *,
    settings: HttpSettings = QUICK,
    guarded: bool = True,
) -> Response:
    async def run() -> Response:
        async with HttpClient(settings, guard=guard) as client:
            return await client.get(Request(url=url, guarded=guarded), source="feed_x")

    return asyncio.run(run())


def refused(url: str, guard: AddressGuard | None = None) -> AddressRefusedError:
    with pytest.raises(AddressRefusedError) as caught:
        get(url, guard)
    return caught.value


# --- classification ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("10.255.255.255", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("198.18.0.1", "special-purpose (not globally routable)"),
        ("192.0.2.10", "special-purpose (not globally routable)"),
        ("2001:db8::1", "special-purpose (not globally routable)"),
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("::ffff:10.1.2.3", "IPv4-mapped private"),
        ("::ffff:169.254.169.254", "IPv4-mapped link-local"),
        ("2002:a00:1::1", "6to4 private"),
        ("64:ff9b::a9fe:a9fe", "NAT64 link-local"),
    ],
)
def test_non_public_addresses_are_refused_with_their_kind(address: str, reason: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "223.5.5.5", "117.184.242.106", "2606:4700::1111", "::ffff:8.8.8.8"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_an_allow_list_exempts_its_networks_only() -> None:
    guard = AddressGuard(allow=["127.0.0.1/32"])
    assert guard.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert guard.refusal(ipaddress.ip_address("127.0.0.2")) == "loopback"
    assert guard.refusal(ipaddress.ip_address("::1")) == "loopback"


# --- refusals on the connection ----------------------------------------------------------


def test_loopback_literal_is_refused_before_any_request() -> None:
    with ReplayServer([Route("/feed", Reply(body=b"secret"))]) as server:
        error = refused(f"{server.url}/feed")
        received = server.requests
    assert received == []
    assert "refused to connect: 127.0.0.1, a loopback address" in str(error)
    assert "allow_private = true" in str(error)
    assert "http.allow_private_addresses" in str(error)
    assert str(error).startswith("[feed_x] ")
    assert f"{server.url}/feed" in str(error)
    assert error.retryable is False


def test_ipv6_loopback_literal_is_refused() -> None:
    backend = LoopbackOnly()
    error = refused("http://[::1]:8080/feed", AddressGuard(backend=backend))
    assert backend.connected == []
    assert "::1, a loopback address" in str(error)


def test_a_hostname_resolving_to_loopback_is_refused() -> None:
    with ReplayServer([Route("/feed", Reply(body=b"secret"))]) as server:
        port = server.url.rsplit(":", 1)[1]
        error = refused(f"http://localhost:{port}/feed")
        received = server.requests
    assert received == []
    assert "host 'localhost' resolves to" in str(error)
    assert "loopback" in str(error)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/admin",
        "http://172.16.0.1/",
        "http://192.168.1.1/cgi-bin/luci",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:10.0.0.1]/",
        "http://[fe80::1]:8080/",
        "http://0.0.0.0:5432/",
    ],
)
def test_private_literals_are_refused_without_connecting(url: str) -> None:
    backend = LoopbackOnly()
    error = refused(url, AddressGuard(backend=backend))
    assert backend.connected == []
    assert "refused to connect" in str(error)


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["10.20.30.40"]

    backend = LoopbackOnly()
    error = refused("https://intranet.example/feed", AddressGuard(resolve=resolve, backend=backend))
    assert backend.connected == []
    assert "host 'intranet.example' resolves to 10.20.30.40, a private address" in str(error)


def test_a_name_with_one_private_address_among_public_ones_is_refused() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "169.254.169.254"]

    backend = LoopbackOnly()
    error = refused("http://mixed.example/", AddressGuard(resolve=resolve, backend=backend))
    assert backend.connected == []
    assert "169.254.169.254, a link-local address" in str(error)


def test_the_checked_address_is_the_one_connected_to_and_host_is_kept() -> None:
    """Resolved once, connected to that very address: a second DNS answer (rebinding)
    never gets asked; the Host header still names the host."""
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    backend = LoopbackOnly()
    guard = AddressGuard(allow=["127.0.0.1/32"], resolve=resolve, backend=backend)
    with ReplayServer([Route("/feed", Reply(body=b"ok"))]) as server:
        port = server.url.rsplit(":", 1)[1]
        response = get(f"http://news.example:{port}/feed", guard)
        (received,) = server.requests
    assert response.body == b"ok"
    assert calls == ["news.example"]
    assert backend.connected == ["127.0.0.1"]
    assert received.headers["host"] == f"news.example:{port}"


def test_a_redirect_to_a_private_address_is_refused() -> None:
    """The first server is allowed (127.0.0.1 on the allow-list); its redirect to another
    loopback address, which the guard does not allow, is refused before that server is
    reached."""
    with ReplayServer([Route("/secret", Reply(body=b"secret"))], host="127.0.0.2") as inner:
        hop = Reply(status=302, headers={"Location": f"{inner.url}/secret"})
        with ReplayServer([Route("/feed", hop)]) as outer:
            error = refused(f"{outer.url}/feed", AddressGuard(allow=["127.0.0.1/32"]))
            outer_requests = outer.requests
        inner_requests = inner.requests
    assert len(outer_requests) == 1
    assert inner_requests == []
    assert "127.0.0.2, a loopback address" in str(error)


def test_a_redirect_to_cloud_metadata_is_refused_without_connecting() -> None:
    hop = Reply(status=301, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    backend = LoopbackOnly()
    with ReplayServer([Route("/feed", hop)]) as server:
        error = refused(f"{server.url}/feed", AddressGuard(allow=["127.0.0.1/32"], backend=backend))
    assert backend.connected == ["127.0.0.1"]
    assert "169.254.169.254, a link-local address" in str(error)


def test_a_redirect_to_a_non_http_scheme_is_an_error() -> None:
    hop = Reply(status=302, headers={"Location": "file:///etc/passwd"})
    with ReplayServer([Route("/feed", hop)]) as server, pytest.raises(FetchError) as caught:
        get(f"{server.url}/feed", AddressGuard(allow=["127.0.0.1/32"]))
    assert "unsupported URL" in str(caught.value) or "request failed" in str(caught.value)


# --- what stays allowed ------------------------------------------------------------------


def test_allow_private_addresses_lets_guarded_requests_through() -> None:
    open_settings = HttpSettings(timeout=3.0, retries=0, allow_private_addresses=True)
    with ReplayServer([Route("/feed", Reply(body=b"ok"))]) as server:
        response = get(f"{server.url}/feed", settings=open_settings)
    assert response.body == b"ok"


def test_unguarded_requests_are_not_checked() -> None:
    """Built-in adapters' endpoints (and the tests' loopback upstreams) are not guarded."""
    with ReplayServer([Route("/list", Reply(body=b"ok"))]) as server:
        response = get(f"{server.url}/list", guarded=False)
    assert response.body == b"ok"


def test_guarded_requests_ignore_environment_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy resolves names itself, so the checked address would not be the one
    reached: guarded requests go direct even when HTTP(S)_PROXY is set."""
    with ReplayServer([Route("/feed", Reply(body=b"direct"))]) as server:
        # the "proxy" is a closed port: a request sent through it would fail
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        monkeypatch.setenv("NO_PROXY", "")
        response = get(f"{server.url}/feed", AddressGuard(allow=["127.0.0.1/32"]))
    assert response.body == b"direct"
