"""SSRF protection: requests for user-given URLs never reach private networks.

A feed URL, a link inside a feed, an OPML file or ``finews sources add`` can name any host;
a hostile one points finews at ``127.0.0.1:5432``, ``169.254.169.254`` (cloud metadata) or
a router's admin page, directly or by a redirect, or by a name whose DNS answer says so.

The check happens where it cannot be dodged: in the network layer, on the address the
socket is opened to. :class:`GuardedBackend` (an httpcore network backend) resolves the host
once, refuses the connection when any address is not public, connects to the checked
address itself (so a second DNS answer cannot differ: no rebinding), and confirms the peer
the socket reached. TLS still uses the host name (SNI, certificate check), the Host header
is unchanged. Redirects open new connections through the same backend, so every hop is
checked too. Refusals raise :class:`AddressRefusedError` (not retried) naming the host,
the address, why, and the settings that allow it.

Which requests are guarded: those whose :class:`~finews.sources.base.Request` has
``guarded=True`` (every request of a ``feed`` source, its full texts included, and
``finews sources add``), unless ``http.allow_private_addresses`` is on or the source's
``allow_private`` setting is. The built-in adapters' endpoints are the operator's own
settings and are not checked. Guarded requests never use ``HTTP(S)_PROXY``: a proxy
resolves names itself, so the address checked here would not be the one reached.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import typing
from collections.abc import Awaitable, Callable, Iterable

import httpcore
import httpx

from finews.errors import FetchError

__all__ = [
    "AddressGuard",
    "AddressRefusedError",
    "GuardedBackend",
    "GuardedTransport",
    "IPAddress",
    "IPNetwork",
    "address_refusal",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: resolves (host, port) to the addresses a connection may use, in preference order
Resolver = Callable[[str, int], Awaitable[list[str]]]

_PRIVATE = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

_ALLOW_HINT = (
    "set allow_private = true on the source, or http.allow_private_addresses = true, to allow it"
)


class AddressRefusedError(FetchError):
    """A guarded request would have connected to a non-public address."""

    def __init__(
        self, message: str, *, host: str = "", address: str = "", url: str = "", source: str = ""
    ) -> None:
        self.host = host
        self.address = address
        super().__init__(message, url=url, source=source)


def address_refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be connected to (``"loopback"``, ``"private"``…), or
    ``None`` for a public address. Addresses embedded in IPv6 (IPv4-mapped, 6to4, NAT64)
    are judged by the IPv4 address inside."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = (
            ("IPv4-mapped", address.ipv4_mapped),
            ("6to4", address.sixtofour),
            ("NAT64", _nat64(address)),
        )
        for kind, inner in embedded:
            if inner is not None:
                reason = address_refusal(inner)
                return f"{kind} {reason}" if reason else None
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if any(address in net for net in _PRIVATE if net.version == address.version):
        return "private"
    if address.version == 4 and address in _SHARED:
        return "shared (carrier-grade NAT)"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "special-purpose (not globally routable)"
    return None


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address not in _NAT64:
        return None
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


async def _system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressGuard:
    """The policy: which addresses guarded requests may connect to.

    ``allow`` lists networks exempted from the check (for tests and odd set-ups);
    ``resolve`` replaces the system resolver; ``backend`` is the network backend that
    opens the checked connections (httpcore's default).
    """

    def __init__(
        self,
        *,
        allow: Iterable[IPNetwork | str] = (),
        resolve: Resolver | None = None,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.allow: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(net) if isinstance(net, str) else net for net in allow
        )
        self.resolve: Resolver = resolve if resolve is not None else _system_resolve
        self.backend: httpcore.AsyncNetworkBackend = (
            backend if backend is not None else httpcore.AnyIOBackend()
        )

    def refusal(self, address: IPAddress) -> str | None:
        """Why this policy refuses ``address``, or ``None`` when it may be connected to."""
        if any(address in net for net in self.allow if net.version == address.version):
            return None
        return address_refusal(address)

    def check(self, host: str, addresses: Iterable[str]) -> list[IPAddress]:
        """The parsed ``addresses`` of ``host``; :class:`AddressRefusedError` if any of
        them is refused (a name with one private address among public ones is refused:
        that mix is how rebinding attacks start)."""
        parsed: list[IPAddress] = []
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
            reason = self.refusal(address)
            if reason is not None:
                via = "" if _is_literal(host) else f"host {host!r} resolves to "
                raise AddressRefusedError(
                    f"refused to connect: {via}{address}, a {reason} address; {_ALLOW_HINT}",
                    host=host,
                    address=str(address),
                )
            parsed.append(address)
        if not parsed:
            raise AddressRefusedError(f"host {host!r} has no address", host=host)
        return parsed


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses its guard allows."""

    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve ``host`` once, check every address, connect to the first that answers,
        and check the peer the socket actually reached."""
        bare = host.strip("[]")
        if _is_literal(bare):
            texts = [bare]
        else:
            try:
                async with asyncio.timeout(timeout):
                    texts = await self.guard.resolve(bare, port)
            except (OSError, TimeoutError) as exc:
                raise httpcore.ConnectError(f"cannot resolve {bare!r}: {exc}") from exc
        addresses = self.guard.check(bare, texts)
        last: Exception | None = None
        for address in addresses:
            try:
                stream = await self.guard.backend.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            await self._confirm_peer(bare, stream)
            return stream
        assert last is not None  # check() returned at least one address
        raise last

    async def _confirm_peer(self, host: str, stream: httpcore.AsyncNetworkStream) -> None:
        peer = stream.get_extra_info("server_addr")
        if not (isinstance(peer, tuple) and peer and isinstance(peer[0], str)):
            await stream.aclose()
            raise AddressRefusedError(
                f"refused: cannot tell which address {host!r} connected to", host=host
            )
        try:
            self.guard.check(host, [peer[0]])
        except AddressRefusedError:
            await stream.aclose()
            raise

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: a Unix socket is local by definition."""
        raise AddressRefusedError(f"refused to connect to the Unix socket {path!r}")

    async def sleep(self, seconds: float) -> None:
        """Sleep as the wrapped backend does."""
        await self.guard.backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose every connection goes through a :class:`GuardedBackend`.

    It never reads proxy settings from the environment (see the module docstring).
    """

    def __init__(
        self, guard: AddressGuard | None = None, *, verify: ssl.SSLContext | bool = True
    ) -> None:
        super().__init__(verify=verify, trust_env=False)
        self.guard = guard if guard is not None else AddressGuard()
        # httpx offers no way to hand its pool a network backend, so the pool it made is
        # replaced by the same pool with ours (httpx's own defaults otherwise).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(self.guard),
        )
