"""skool_ingest's settings: env prefix SKOOL_INGEST_ (shared variables come without prefix)."""

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import DEV_SKOOL_WEBHOOK_SECRET, ServiceSettings

# Development only, refused outside development (shared.settings keeps every such value).
DEV_WEBHOOK_SECRET = DEV_SKOOL_WEBHOOK_SECRET


class SkoolIngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SKOOL_INGEST_", extra="ignore")

    service_name: ClassVar[str] = "skool-ingest"
    default_port: ClassVar[int] = 8005
    secret_fields: ClassVar[tuple[str, ...]] = (*ServiceSettings.secret_fields, "webhook_secret")

    # HMAC-SHA256 key of `Skool-Signature` (shared with whoever configures the automation).
    webhook_secret: str = DEV_WEBHOOK_SECRET
    # How far a delivery's signed timestamp may be from now, either way.
    signature_tolerance_seconds: int = 300
    # How often a replica adds its refused deliveries' counts to `skool_rejections` (one write).
    rejection_flush_seconds: float = Field(default=1.0, gt=0)
    # The welcome email's direct signup link: this URL with `?email=<address>`.
    signup_url: str = "http://127.0.0.1:3000/sign-up"
    mail_from: str = "welcome@backbone.local"
