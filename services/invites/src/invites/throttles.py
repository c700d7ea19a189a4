"""invites's rate limits (shared.http.ratelimit's limiter, one set per process):

- per client (an IPv4 address or an IPv6 /64, through PLATFORM_TRUSTED_PROXIES) on every route
  that takes a slug or a legacy code — the public GETs and the redemption — so neither slugs nor
  8-character legacy codes can be enumerated;
- per signed-in user on the redemption;
- invitation emails per org and per address (all orgs together), per hour: a new invitation, a
  resend and a revoke-and-reinvite each send one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

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
            proxies=TrustedProxies.from_environment(),
            per_client=RateLimiter(settings.public_rate_limit_per_minute, max_keys=cap),
            redeem_per_user=RateLimiter(
                settings.redeem_rate_limit_per_user_per_minute, max_keys=cap, what="redemptions"
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
