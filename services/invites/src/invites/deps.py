"""invites's dependency aliases."""

from shared.http.deps import DbSession, ServiceKey

__all__ = ["DbSession", "ServiceKey"]
