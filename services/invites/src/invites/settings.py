"""invites's settings: env prefix INVITES_ (shared variables come without prefix)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class InvitesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INVITES_", extra="ignore")

    service_name: ClassVar[str] = "invites"
    default_port: ClassVar[int] = 8004

    # Where `GET /invite/{slug}` sends a valid link's visitor (`?invitation=<slug>` is added).
    signup_url: str = "http://127.0.0.1:3000/sign-up"
    # The public base of this service: a link's `url` is `<public_url>/invite/<slug>`.
    public_url: str = "http://127.0.0.1:8004"
    # Where an email invitation's accept URL points (`?token=<token>` is added).
    accept_url: str = "http://127.0.0.1:3000/accept-invitation"
    mail_from: str = "invitations@backbone.local"
    # Per client (an IPv4 address or an IPv6 /64; PLATFORM_TRUSTED_PROXIES says whose
    # X-Forwarded-For is believed) and minute, on the routes that take a slug or a legacy code:
    # every request of the public GETs (`/v1/invitation-links/{slug}`, `/invite/{slug}`), and the
    # unknown slugs or codes of `POST …/{slug}/redeem` (one budget).
    public_rate_limit_per_minute: int = 60
    # Unknown slugs or codes a signed-in user may try to redeem per minute (beside the above).
    redeem_misses_per_user_per_minute: int = 20
    # Clients (or users) whose windows are kept; past it the least recently seen is forgotten.
    rate_limit_max_clients: int = 100_000
    # Invitation emails (new, resent, re-invited) per org and per address (all orgs), per hour.
    mail_per_org_per_hour: int = 100
    mail_per_address_per_hour: int = 5
