"""One rate limiter for every service: fixed windows per key, in bounded memory, and the client key
of a request (an IPv4 address, or an IPv6 /64) read through a configured list of trusted proxies.

- **Keys.** A client is its IPv4 address, or the /64 network of its IPv6 address: one IPv6 host
  usually holds a whole /64 and can rotate through it, so counting per address would let it walk
  past any limit. An IPv4-mapped IPv6 peer (`::ffff:a.b.c.d`) counts as its IPv4 address.
- **Proxies.** `X-Forwarded-For` is read only when the TCP peer is a trusted proxy
  (`PLATFORM_TRUSTED_PROXIES`, comma-separated CIDRs or addresses; none by default). Its hops are
  then taken right to left, skipping trusted ones: the first untrusted hop is the client (the
  left-most ones can be made up by anyone). Without a trusted peer the header is ignored.
- **Memory.** At most `max_keys` windows are kept, in least-recently-used order (an OrderedDict):
  a new key past the cap evicts the least recently seen one, O(1) per request, never a rebuild.
- **Scope.** Per process: with N replicas a client gets at most N times a limit.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from starlette.requests import Request

from shared.errors import DomainError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_MAX_KEYS = 100_000


class RateLimited(DomainError):
    """429 `rate_limited`, with `Retry-After` (whole seconds until the window ends)."""

    status = 429
    code = "rate_limited"
    documented_headers: ClassVar[dict[str, str]] = {"Retry-After": "seconds to wait before retrying"}

    def __init__(self, message: str, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass
class RateLimiter:
    """At most `limit` hits per key in each fixed window of `window_seconds`."""

    limit: int
    window_seconds: float = 60.0
    max_keys: int = DEFAULT_MAX_KEYS
    what: str = "requests"
    # key -> (window start, hits in it); least recently hit first.
    _windows: OrderedDict[str, tuple[float, int]] = field(default_factory=OrderedDict)

    def hit(self, key: str, *, now: float | None = None) -> None:
        """Count one hit of `key`; raise RateLimited (nothing counted) past the limit.

        Not thread-safe: call it from the event loop (an async dependency), not a worker thread."""
        now = time.monotonic() if now is None else now
        start, used = self._current(key, now)
        self._windows[key] = (start, used + 1)
        self._windows.move_to_end(key)
        while len(self._windows) > self.max_keys:
            self._windows.popitem(last=False)

    def check(self, key: str, *, now: float | None = None) -> None:
        """Raise RateLimited if a hit of `key` would be refused now; count nothing."""
        self._current(key, time.monotonic() if now is None else now)

    def _current(self, key: str, now: float) -> tuple[float, int]:
        start, used = self._windows.get(key, (now, 0))
        if now - start >= self.window_seconds:
            start, used = now, 0
        if used >= self.limit:
            retry_after = math.ceil(self.window_seconds - (now - start))
            raise RateLimited(
                f"too many {self.what}: at most {self.limit} every {self.window_seconds:g}s; "
                f"retry in {retry_after}s",
                retry_after=retry_after,
            )
        return start, used

    def __len__(self) -> int:
        return len(self._windows)


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, value: str | Iterable[str]) -> TrustedProxies:
        """Comma-separated (or listed) CIDRs or addresses; a malformed one is a ValueError."""
        items = value.split(",") if isinstance(value, str) else list(value)
        return cls(tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip()))

    def __contains__(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)


def _address(value: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def key_of(address: IPAddress) -> str:
    """An IPv4 address as itself; an IPv6 address as its /64."""
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


def client_key(peer: str | None, forwarded_for: Iterable[str], trusted: TrustedProxies) -> str:
    """The rate-limit key of a request from TCP peer `peer` carrying these `X-Forwarded-For`
    header values (read only when the peer is a trusted proxy)."""
    address = _address(peer) if peer else None
    if address is None:
        return peer or "unknown"
    if address in trusted:
        hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
        for hop in reversed(hops):
            forwarded = _address(hop)
            if forwarded is None:
                break  # not written by a trusted proxy: keep the last hop we can believe
            address = forwarded
            if forwarded not in trusted:
                break
    return key_of(address)


def request_client_key(request: Request, trusted: TrustedProxies) -> str:
    """`client_key` of a Starlette request."""
    peer = request.client.host if request.client else None
    return client_key(peer, request.headers.getlist("x-forwarded-for"), trusted)
