"""invites's rate limits (shared.http.ratelimit's limiter, one set per process):

- per client (an IPv4 address or an IPv6 /64, through PLATFORM_TRUSTED_PROXIES) on every route
  that takes a slug or a legacy code, so neither slugs nor 8-character legacy codes can be
  enumerated: every request of the public GETs counts; at the redemption (signed in) only a slug
  or code that names nothing counts — a guess — so the many redemptions of one real link by many
  people behind one address are not refused;
- per signed-in user, the redemption's guesses likewise;
- invitation emails per org and per address (all orgs together), per hour: a new invitation, a
  resend and a revoke-and-reinvite each send one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from invites.errors import InvitationNotFound
from invites.settings import InvitesSettings
from shared.http.ratelimit import RateLimiter, TrustedProxies

HOUR = 3600.0


@dataclass(frozen=True)
class Throttles:
    proxies: TrustedProxies
    per_client: RateLimiter
    redeem_per_user: RateLimiter
    mail_per_org: RateLimiter
    mail_per_address: RateLimiter

    @classmethod
    def from_settings(cls, settings: InvitesSettings) -> Throttles:
        cap = settings.rate_limit_max_clients
        return cls(
            proxies=TrustedProxies.parse(settings.trusted_proxies),
            per_client=RateLimiter(settings.public_rate_limit_per_minute, max_keys=cap),
            redeem_per_user=RateLimiter(
                settings.redeem_misses_per_user_per_minute, max_keys=cap, what="unknown invitation links"
            ),
            mail_per_org=RateLimiter(
                settings.mail_per_org_per_hour, window_seconds=HOUR, max_keys=cap, what="invitation emails"
            ),
            mail_per_address=RateLimiter(
                settings.mail_per_address_per_hour,
                window_seconds=HOUR,
                max_keys=cap,
                what="invitation emails to this address",
            ),
        )

    def take_mail(self, *, org_id: uuid.UUID, address: str) -> None:
        """Count one invitation email of the org to `address`; RateLimited (nothing counted) when
        either budget is spent."""
        self.mail_per_org.check(str(org_id))
        self.mail_per_address.check(address)
        self.mail_per_org.hit(str(org_id))
        self.mail_per_address.hit(address)

    @contextmanager
    def guesses(self, *, client: str, user_id: str) -> Iterator[None]:
        """Around a redemption: refused (RateLimited) once the client's or the user's budget is
        spent; a slug or code that names nothing (InvitationNotFound) spends one of each."""
        self.per_client.check(client)
        self.redeem_per_user.check(user_id)
        try:
            yield
        except InvitationNotFound:
            self.per_client.hit(client)
            self.redeem_per_user.hit(user_id)
            raise
