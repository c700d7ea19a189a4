"""identity's settings: env prefix IDENTITY_ (shared variables come without prefix)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

# A syntactically valid Svix secret for local development only; refused outside development.
DEV_AUTH_WEBHOOK_SECRET = "whsec_ZGV2LWF1dGgtd2ViaG9vay1zZWNyZXQtMDAwMA=="


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    service_name: ClassVar[str] = "identity"
    default_port: ClassVar[int] = 8001
    secret_fields: ClassVar[tuple[str, ...]] = ("service_key", "auth_webhook_secret")

    auth_webhook_secret: str = DEV_AUTH_WEBHOOK_SECRET
