"""workspace's settings: env prefix WORKSPACE_ (shared variables come without prefix)."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class WorkspaceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WORKSPACE_", extra="ignore")

    service_name: ClassVar[str] = "workspace"
    default_port: ClassVar[int] = 8002

    # A personal org nobody used for this long is archived (never deleted; docs/workspaces.md).
    archive_after_days: float = 90
    # How often the archiving job looks for idle personal orgs.
    archive_interval_seconds: float = 3600
