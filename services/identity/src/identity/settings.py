"""identity's settings: env prefix IDENTITY_ (shared variables come without prefix)."""

from typing import ClassVar, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

# A syntactically valid Svix secret, and the passphrase that encrypts the signing keys' private
# halves at rest: development only, refused elsewhere (shared.settings keeps every such value).
from shared.settings import DEV_AUTH_WEBHOOK_SECRET as DEV_AUTH_WEBHOOK_SECRET
from shared.settings import DEV_SIGNING_KEY_PASSPHRASE as DEV_SIGNING_KEY_PASSPHRASE
from shared.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    service_name: ClassVar[str] = "identity"
    default_port: ClassVar[int] = 8001
    secret_fields: ClassVar[tuple[str, ...]] = (
        *ServiceSettings.secret_fields,
        "auth_webhook_secret",
        "signing_key_passphrase",
    )

    auth_webhook_secret: str = DEV_AUTH_WEBHOOK_SECRET
    # A long random secret (not a human password): the private keys are stored encrypted with it.
    signing_key_passphrase: str = Field(default=DEV_SIGNING_KEY_PASSPHRASE, repr=False)
    # Lifetime of an access token; also how long a retired key stays in the JWKS (plus leeway).
    token_ttl_seconds: int = Field(default=900, ge=60, le=24 * 3600)
    # A rotated-in key is published this long before it signs: at least every service's
    # PLATFORM_JWKS_REFETCH_INTERVAL_SECONDS (plus any HTTP cache in front of the JWKS), so no
    # verifier ever meets a kid it may not yet refetch (docs/access.md).
    key_publish_delay_seconds: float = Field(default=120, ge=0)

    @model_validator(mode="after")
    def _ttl_within_verifiers_maximum(self) -> Self:
        # Every verifier refuses a token living longer than PLATFORM_TOKEN_MAX_LIFETIME_SECONDS:
        # identity issuing such tokens would be refused everywhere, so it does not start.
        if self.token_ttl_seconds > self.token_max_lifetime_seconds:
            raise ValueError(
                f"IDENTITY_TOKEN_TTL_SECONDS ({self.token_ttl_seconds}) exceeds "
                f"PLATFORM_TOKEN_MAX_LIFETIME_SECONDS ({self.token_max_lifetime_seconds})"
            )
        return self
