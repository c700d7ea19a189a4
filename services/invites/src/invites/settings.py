"""invites's settings: env prefix INVITES_ (shared variables come without prefix)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class InvitesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INVITES_", extra="ignore")

    service_name: ClassVar[str] = "invites"
    default_port: ClassVar[int] = 8004
