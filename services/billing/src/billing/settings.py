"""billing's settings: env prefix BILLING_ (shared variables come without prefix)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

# Development only; refused outside development.
DEV_STRIPE_WEBHOOK_SECRET = "whsec_dev_stripe_webhook_secret"
DEV_STRIPE_API_KEY = "sk_test_dev_placeholder"


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")

    service_name: ClassVar[str] = "billing"
    default_port: ClassVar[int] = 8003
    secret_fields: ClassVar[tuple[str, ...]] = (
        "service_key",
        "stripe_webhook_secret",
        "stripe_api_key",
    )

    stripe_webhook_secret: str = DEV_STRIPE_WEBHOOK_SECRET
    stripe_api_key: str = DEV_STRIPE_API_KEY
