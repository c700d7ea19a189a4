"""workspace's routes: parse, call the domain, return a schema. No SQL, no commit here."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from shared.errors import InvalidServiceKey, error_responses
from workspace.deps import DbSession, ServiceKey
from workspace.errors import OrgNotFound
from workspace.schemas import OrgRead
from workspace.service.orgs import get_org, read_org

router = APIRouter(prefix="/v1")


@router.get(
    "/orgs/{org_id}",
    response_model=OrgRead,
    dependencies=[ServiceKey],
    responses=error_responses(InvalidServiceKey, OrgNotFound),
    tags=["orgs"],
)
async def read_one_org(org_id: uuid.UUID, session: DbSession) -> OrgRead:
    """One org (trusted backends only: X-Service-Key)."""
    return await read_org(session, org=await get_org(session, org_id=org_id))
