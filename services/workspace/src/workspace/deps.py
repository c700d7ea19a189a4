"""workspace's dependency aliases."""

from typing import Annotated

from fastapi import Depends

from shared.auth import CurrentPrincipal, Principal
from shared.http.deps import DbSession, ServiceKey
from workspace.service.users import refuse_deleted_user


async def _writing_principal(principal: CurrentPrincipal, session: DbSession) -> Principal:
    """The bearer token's principal, for a write: refused if workspace knows the user deleted."""
    await refuse_deleted_user(session, user_id=principal.user_id)
    return principal


# Every write route takes this instead of CurrentPrincipal (docs/workspaces.md, "Deleted users").
WritingPrincipal = Annotated[Principal, Depends(_writing_principal)]

__all__ = ["DbSession", "ServiceKey", "WritingPrincipal"]
