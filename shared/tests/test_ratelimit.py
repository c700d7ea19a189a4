"""The shared rate limiter, without a platform: clients keyed per IPv4 address or IPv6 /64,
X-Forwarded-For believed only from trusted proxies (right-most untrusted hop), memory bounded by
least-recently-used eviction, and a 429 that says when to come back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI, Request

from shared import entrypoint
from shared.errors import install_error_handlers
from shared.http.ratelimit import RateLimited, RateLimiter, TrustedProxies, client_key, request_client_key
from shared.settings import ServiceSettings

NO_PROXIES = TrustedProxies()
PROXIES = TrustedProxies.parse("10.0.0.0/8, 2001:db8:ffff::/48")


def test_an_ipv6_client_is_its_64_and_an_ipv4_client_its_address() -> None:
    one = client_key("2001:db8:1:2:aaaa::1", [], NO_PROXIES)
    assert one == client_key("2001:db8:1:2:ffff:ffff:ffff:ffff", [], NO_PROXIES) == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1", [], NO_PROXIES) != one
    assert client_key("192.0.2.7", [], NO_PROXIES) == "192.0.2.7"
    assert client_key("192.0.2.8", [], NO_PROXIES) == "192.0.2.8"
    assert client_key("::ffff:192.0.2.7", [], NO_PROXIES) == "192.0.2.7"


def test_rotating_through_a_64_does_not_escape_the_limit() -> None:
    limiter = RateLimiter(3)
    for host in range(3):
        limiter.hit(client_key(f"2001:db8:0:1::{host + 1:x}", [], NO_PROXIES), now=0)
    with pytest.raises(RateLimited):
        limiter.hit(client_key("2001:db8:0:1:dead:beef:0:42", [], NO_PROXIES), now=0)
    limiter.hit(client_key("2001:db8:0:2::1", [], NO_PROXIES), now=0)  # another /64


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    assert client_key("203.0.113.5", ["198.51.100.1"], NO_PROXIES) == "203.0.113.5"
    assert client_key("203.0.113.5", ["198.51.100.1"], PROXIES) == "203.0.113.5"


def test_behind_trusted_proxies_the_client_is_the_right_most_untrusted_hop() -> None:
    # The client made up the first hop; our two proxies appended what they saw.
    header = ["1.2.3.4, 198.51.100.9", "10.1.1.1"]
    assert client_key("10.0.0.2", header, PROXIES) == "198.51.100.9"
    assert client_key("2001:db8:ffff::5", ["2001:db8:7:7::1"], PROXIES) == "2001:db8:7:7::/64"
    # Only proxies in the chain: the left-most one we can believe.
    assert client_key("10.0.0.2", ["10.3.3.3"], PROXIES) == "10.3.3.3"
    # No header: the proxy itself.
    assert client_key("10.0.0.2", [], PROXIES) == "10.0.0.2"
    # A hop that is not an address was not written by a trusted proxy: stop at the last good one.
    assert client_key("10.0.0.2", ["198.51.100.9, garbage"], PROXIES) == "10.0.0.2"


def test_a_malformed_proxy_list_is_refused() -> None:
    with pytest.raises(ValueError):
        TrustedProxies.parse("10.0.0.0/8, not-a-network")
    assert TrustedProxies.parse("") == NO_PROXIES


def test_memory_is_bounded_and_new_clients_evict_the_least_recently_seen() -> None:
    limiter = RateLimiter(2, max_keys=100)
    limiter.hit("old", now=0)
    limiter.hit("old", now=0)
    for n in range(50_000):
        limiter.hit(f"client-{n}", now=1)
        assert len(limiter) <= 100
    assert len(limiter) == 100
    limiter.hit("old", now=2)  # forgotten, so counted afresh (the price of a bound)


def test_a_client_seen_recently_is_kept_over_older_ones() -> None:
    limiter = RateLimiter(2, max_keys=3)
    for key in ("a", "b", "c", "a"):
        limiter.hit(key, now=0)
    limiter.hit("d", now=0)  # evicts "b", the least recently hit
    with pytest.raises(RateLimited):
        limiter.hit("a", now=0)  # kept: its two hits still count
    limiter.hit("b", now=0)
    limiter.hit("b", now=0)  # forgotten: counted afresh
    assert len(limiter) == 3


def test_the_window_resets_and_retry_after_counts_down() -> None:
    limiter = RateLimiter(2, window_seconds=60)
    limiter.hit("k", now=100)
    limiter.hit("k", now=110)
    with pytest.raises(RateLimited) as refused:
        limiter.hit("k", now=130)
    assert refused.value.headers == {"Retry-After": "30"}
    limiter.check("k", now=160)
    limiter.hit("k", now=160)


async def test_over_http_a_429_with_retry_after_per_forwarded_client() -> None:
    app = FastAPI()
    install_error_handlers(app)
    limiter = RateLimiter(2)

    async def limit(request: Request) -> None:
        limiter.hit(request_client_key(request, PROXIES))

    @app.get("/probe", dependencies=[Depends(limit)])
    async def probe() -> dict[str, bool]:
        return {"ok": True}

    transport = httpx.ASGITransport(app=app, client=("10.0.0.2", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        first = [
            (await client.get("/probe", headers={"X-Forwarded-For": f"2001:db8:5:5::{n}"})).status_code
            for n in (1, 2)
        ]
        refused = await client.get("/probe", headers={"X-Forwarded-For": "2001:db8:5:5::3"})
        other = await client.get("/probe", headers={"X-Forwarded-For": "2001:db8:5:6::1"})
    assert first == [200, 200]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert other.status_code == 200


def test_the_server_does_not_rewrite_the_client_from_forwarded_for(monkeypatch: pytest.MonkeyPatch) -> None:
    # uvicorn's default believes X-Forwarded-For from 127.0.0.1; the limiter must be the one judge.
    started: list[Any] = []

    class Server:
        started = True

        def __init__(self, config: Any) -> None:
            started.append(config)

        def run(self, sockets: Any) -> None:
            pass

    monkeypatch.setattr(uvicorn, "Server", Server)
    monkeypatch.setattr(entrypoint, "listening_sockets", lambda host, port, role="all": [])
    entrypoint.serve("any:factory", ServiceSettings())
    [config] = started
    assert config.proxy_headers is False
