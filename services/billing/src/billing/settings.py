"""billing's settings: env prefix BILLING_ (shared variables come without prefix)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

# Development only, refused outside development (shared.settings keeps every such value).
from shared.settings import DEV_STRIPE_API_KEY as DEV_STRIPE_API_KEY
from shared.settings import DEV_STRIPE_WEBHOOK_SECRET as DEV_STRIPE_WEBHOOK_SECRET
from shared.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")

    service_name: ClassVar[str] = "billing"
    default_port: ClassVar[int] = 8003
    secret_fields: ClassVar[tuple[str, ...]] = (
        *ServiceSettings.secret_fields,
        "stripe_webhook_secret",
        "stripe_api_key",
    )

    stripe_webhook_secret: str = DEV_STRIPE_WEBHOOK_SECRET
    stripe_api_key: str = DEV_STRIPE_API_KEY
    # Where the Stripe API is: None for Stripe itself; stripe-mock's URL locally and in tests.
    stripe_api_base: str | None = None
    # Outbound Stripe calls: attempts on connection errors (tenacity), and each call's timeout.
    stripe_attempts: int = 3
    stripe_timeout_seconds: float = 10
    # Where Stripe sends the browser back after checkout / from the customer portal.
    checkout_success_url: str = "http://localhost:3000/billing?checkout=success"
    checkout_cancel_url: str = "http://localhost:3000/billing?checkout=cancelled"
    portal_return_url: str = "http://localhost:3000/billing"
    # Stripe checkout and portal sessions an org may open per minute (together); past it 429
    # `rate_limited` with Retry-After. Per process (N replicas: at most N times as many).
    stripe_sessions_per_org_per_minute: int = 10
    # A past-due subscription keeps its paid limits this long, then the kind's free limits apply.
    past_due_grace_days: float = 7
    # How often the lapse job looks for ended grace periods, trials and cancelled periods.
    lapse_check_seconds: float = 60
