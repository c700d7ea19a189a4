"""Personal workspaces (seed 000, "personal organization pattern")."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text, Uuid

from shared.db.tenancy import set_tenants
from shared.events.schemas.workspace import MembershipAdded, OrgCreated
from shared.outbox import NewEvent, record_events
from workspace.models import Role

SOURCE = "workspace"
PERSONAL_PLAN = "individual_free"
# Personal users see no team features (seed 000, create_personal_org).
PERSONAL_SETTINGS = {"show_team_features": False, "show_leaderboard": False}

# Built once, one statement per table for a whole batch of signups. A user who has a personal org
# already (a redelivered user.created) is skipped by the unique personal_user_id.
_INSERT_PERSONAL_ORGS = text(
    "INSERT INTO orgs (id, name, slug, is_personal, personal_user_id, settings) "
    "SELECT new.id, new.name, new.slug, true, new.user_id, :settings "
    "FROM unnest(:ids, :names, :slugs, :user_ids) WITH ORDINALITY AS new(id, name, slug, user_id, n) "
    "ORDER BY new.n "
    "ON CONFLICT (personal_user_id) DO NOTHING RETURNING id"
).bindparams(
    bindparam("settings", type_=JSONB),
    bindparam("ids", type_=ARRAY(Uuid())),
    bindparam("names", type_=ARRAY(Text())),
    bindparam("slugs", type_=ARRAY(Text())),
    bindparam("user_ids", type_=ARRAY(Text())),
)
_INSERT_TRAINEES = text(
    "INSERT INTO memberships (org_id, user_id, role) "
    "SELECT new.org_id, new.user_id, :role FROM unnest(:org_ids, :user_ids) AS new(org_id, user_id)"
).bindparams(bindparam("org_ids", type_=ARRAY(Uuid())), bindparam("user_ids", type_=ARRAY(Text())))


@dataclass(frozen=True)
class PersonalOrgRequest:
    """A new user who gets a personal workspace, and the trace of the signup that asked for it."""

    user_id: str
    first_name: str | None
    traceparent: str | None = None


def personal_org_name(first_name: str | None) -> str:
    return f"{(first_name or '').strip() or 'User'}'s Workspace"


def personal_org_slug(user_id: str) -> str:
    return f"personal-{user_id}"


async def create_personal_orgs(
    session: AsyncSession, *, requests: Sequence[PersonalOrgRequest]
) -> list[uuid.UUID]:
    """Create each user's personal org with them as `trainee` (skipping users who have one);
    returns the ids of the orgs created."""
    if not requests:
        return []
    ids = [uuid.uuid4() for _ in requests]
    await set_tenants(session, ids)
    inserted = {
        row[0]
        for row in await session.execute(
            _INSERT_PERSONAL_ORGS,
            {
                "settings": PERSONAL_SETTINGS,
                "ids": ids,
                "names": [personal_org_name(request.first_name) for request in requests],
                "slugs": [personal_org_slug(request.user_id) for request in requests],
                "user_ids": [request.user_id for request in requests],
            },
        )
    }
    created = [(org_id, request) for org_id, request in zip(ids, requests, strict=True) if org_id in inserted]
    if not created:
        return []
    await session.execute(
        _INSERT_TRAINEES,
        {
            "role": Role.TRAINEE.value,
            "org_ids": [org_id for org_id, _ in created],
            "user_ids": [request.user_id for _, request in created],
        },
    )
    await record_events(
        session,
        source=SOURCE,
        events=[event for org_id, request in created for event in _announcements(org_id, request)],
    )
    return [org_id for org_id, _ in created]


def _announcements(org_id: uuid.UUID, request: PersonalOrgRequest) -> list[NewEvent]:
    """org.created then membership.added, in the trace of the signup that caused them."""
    subject = str(org_id)
    created = OrgCreated(
        org_id=subject,
        name=personal_org_name(request.first_name),
        slug=personal_org_slug(request.user_id),
        is_personal=True,
        kind="personal",
        owner_user_id=request.user_id,
        created_by=request.user_id,
        initial_plan=PERSONAL_PLAN,
    )
    added = MembershipAdded(org_id=subject, user_id=request.user_id, role=Role.TRAINEE, is_personal_org=True)
    return [
        NewEvent(subject, created, traceparent=request.traceparent),
        NewEvent(subject, added, traceparent=request.traceparent),
    ]
