"""A per-client limit on the public link routes, so slugs cannot be enumerated by brute force.

A fixed one-minute window per client address, in the process's memory: cheap, and enough
against enumeration (a 256-bit slug space is out of reach at any rate; the limit stops noise
and probing). With N replicas a client gets at most N times the limit. The client is the TCP
peer address: `X-Forwarded-For` is not trusted (anyone can set it); behind a proxy, the proxy
must enforce the limit itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from invites.errors import RateLimited

WINDOW_SECONDS = 60.0
# Windows of clients not seen for a while are dropped so memory stays bounded.
_MAX_CLIENTS = 100_000


@dataclass
class RateLimiter:
    per_minute: int
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)

    def hit(self, client: str, *, now: float | None = None) -> None:
        """Count one request of `client`; raise RateLimited past the limit of this window."""
        now = time.monotonic() if now is None else now
        start, used = self._windows.get(client, (now, 0))
        if now - start >= WINDOW_SECONDS:
            start, used = now, 0
        if used >= self.per_minute:
            raise RateLimited(
                f"too many requests; at most {self.per_minute} a minute, retry in "
                f"{int(WINDOW_SECONDS - (now - start)) + 1}s"
            )
        if len(self._windows) >= _MAX_CLIENTS:
            self._windows = {k: v for k, v in self._windows.items() if now - v[0] < WINDOW_SECONDS}
        self._windows[client] = (start, used + 1)
