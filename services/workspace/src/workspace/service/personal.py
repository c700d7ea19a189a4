"""Personal workspaces (seed 000, "personal organization pattern")."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from shared.db.tenancy import set_tenant
from shared.events.schemas.workspace import MembershipAdded, OrgCreated
from shared.outbox import record_event
from workspace.models import Membership, Org, Role

SOURCE = "workspace"
PERSONAL_PLAN = "individual_free"
# Personal users see no team features (seed 000, create_personal_org).
PERSONAL_SETTINGS = {"show_team_features": False, "show_leaderboard": False}
# Built once: every signup runs them.
_INSERT_PERSONAL_ORG = (
    insert(Org.__table__)  # type: ignore[attr-defined]
    .on_conflict_do_nothing(index_elements=["personal_user_id"])
    .returning(col(Org.id))
)
_INSERT_MEMBERSHIP = insert(Membership.__table__)  # type: ignore[attr-defined]


def personal_org_name(first_name: str | None) -> str:
    return f"{(first_name or '').strip() or 'User'}'s Workspace"


def personal_org_slug(user_id: str) -> str:
    return f"personal-{user_id}"


async def create_personal_org(
    session: AsyncSession, *, user_id: str, first_name: str | None
) -> uuid.UUID | None:
    """Create the user's personal org with them as `trainee`; None if they already have one."""
    org_id = uuid.uuid4()
    await set_tenant(session, org_id)
    name = personal_org_name(first_name)
    slug = personal_org_slug(user_id)
    values = {
        "id": org_id,
        "name": name,
        "slug": slug,
        "is_personal": True,
        "personal_user_id": user_id,
        "settings": PERSONAL_SETTINGS,
    }
    if (await session.execute(_INSERT_PERSONAL_ORG, values)).first() is None:
        return None
    await session.execute(_INSERT_MEMBERSHIP, {"org_id": org_id, "user_id": user_id, "role": Role.TRAINEE})
    subject = str(org_id)
    await record_event(
        session,
        source=SOURCE,
        subject=subject,
        data=OrgCreated(
            org_id=subject,
            name=name,
            slug=slug,
            is_personal=True,
            kind="personal",
            owner_user_id=user_id,
            created_by=user_id,
            initial_plan=PERSONAL_PLAN,
        ),
    )
    await record_event(
        session,
        source=SOURCE,
        subject=subject,
        data=MembershipAdded(org_id=subject, user_id=user_id, role=Role.TRAINEE, is_personal_org=True),
    )
    return org_id
