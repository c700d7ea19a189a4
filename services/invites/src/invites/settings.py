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
    # Public GETs (`/v1/invitation-links/{slug}`, `/invite/{slug}`) per client address and minute.
    public_rate_limit_per_minute: int = 60
    # Legacy invite codes redirect until this date (UTC, exclusive); None = no cut-over set.
    legacy_cutover: str | None = None
