"""Skool entitlements: which org a Skool membership pays for (DESIGN.md flow 3, docs/skool.md).

workspace owns orgs, so it alone decides. A member with an account gets the oldest team org they
administer, else a new business team org "<First name>'s Team" with them as admin (their
personal workspace is left alone). Only an account whose address is verified counts: an
unverified address binds nothing. A member with no account waits, keyed by email and community,
until that email signs up (verified): the signup then gets the business team org instead of a
personal one.
billing hears of entitlements on orgs through `org.entitlement_granted` / `org.entitlement_ended`.

An entitlement and a signup of the same email can be handled at the same moment by two
consumers; both take a transaction-scoped advisory lock on the email first, so the second sees
what the first wrote (either the account or the waiting entitlement), and none is missed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from shared.events.schemas.skool import SkoolCancelled, SkoolSubscribed
from shared.events.schemas.workspace import (
    OrgEntitlementEnded,
    OrgEntitlementGranted,
)
from shared.outbox import record_event
from workspace.models import Membership, Org, Role
from workspace.service.invitations import normalize_email
from workspace.service.orgs import SOURCE, add_team_org
from workspace.service.scope import user_directory

log = logging.getLogger(__name__)

SKOOL = "skool"
SKOOL_PLAN = "business"
ACTIVE = "active"
CANCELLED = "cancelled"

_LOCK_EMAILS = text(
    "SELECT pg_advisory_xact_lock(hashtext('skool:' || e)) FROM "
    "(SELECT DISTINCT e FROM unnest(:emails) AS e ORDER BY e) AS sorted"
).bindparams(bindparam("emails", type_=ARRAY(Text())))
# The newest occurred_at wins: an older event (late, or out of order) changes nothing.
_RECORD = text(
    "INSERT INTO skool_entitlements AS e (email, community_id, status, occurred_at, period_end, first_name) "
    "VALUES (:email, :community_id, :status, :occurred_at, :period_end, :first_name) "
    "ON CONFLICT (email, community_id) DO UPDATE SET status = excluded.status, "
    "occurred_at = excluded.occurred_at, period_end = excluded.period_end, "
    "first_name = coalesce(excluded.first_name, e.first_name), updated_at = now() "
    "WHERE e.occurred_at < excluded.occurred_at RETURNING org_id"
)
_ACCOUNT = text(
    "SELECT id, first_name FROM member_profiles WHERE lower(btrim(email)) = :email AND deleted_at IS NULL "
    "AND email_verified "
    "ORDER BY created_at, id LIMIT 1"
)
_WAITING = text(
    "SELECT DISTINCT email FROM skool_entitlements WHERE status = 'active' AND org_id IS NULL "
    "AND email = ANY(:emails)"
).bindparams(bindparam("emails", type_=ARRAY(Text())))
# Every waiting active entitlement of the email goes to the one org.
_ASSIGN = text(
    "UPDATE skool_entitlements SET org_id = :org_id, updated_at = now() "
    "WHERE email = :email AND status = 'active' AND org_id IS NULL "
    "RETURNING occurred_at, period_end, first_name"
)


@dataclass(frozen=True)
class SkoolSignup:
    """A new user whose address has a waiting entitlement."""

    user_id: str
    email: str
    first_name: str | None


def skool_org_name(first_name: str | None) -> str:
    name = (first_name or "").strip()
    return f"{name}'s Team" if name else "My Team"


async def lock_emails(session: AsyncSession, *, emails: Sequence[str | None]) -> list[str]:
    """Serialise entitlements and signups of these addresses (until the transaction ends);
    returns the normalized addresses."""
    addresses = sorted({e for e in map(normalize_email, emails) if e})
    if addresses:
        await session.execute(_LOCK_EMAILS, {"emails": addresses})
    return addresses


async def apply_skool_subscribed(session: AsyncSession, *, subscribed: SkoolSubscribed) -> uuid.UUID | None:
    """Record the entitlement and give it an org if the member has an account; returns that org."""
    email = normalize_email(subscribed.email) or subscribed.email
    await lock_emails(session, emails=[email])
    recorded = await _record(
        session, email=email, status=ACTIVE, data=subscribed, first_name=subscribed.first_name
    )
    if recorded is None:
        log.info("skool.subscribed for %s: older than what workspace knows, ignored", email)
        return None
    org_id: uuid.UUID | None = recorded.org_id
    if org_id is None:
        account = (await session.execute(_ACCOUNT, {"email": email})).first()
        if account is None:
            log.info("skool.subscribed for %s: no account yet, the entitlement waits", email)
            return None
        org_id = await _oldest_administered_team_org(session, user_id=account.id)
        if org_id is None:
            org_id = await create_skool_org(
                session, user_id=account.id, first_name=subscribed.first_name or account.first_name
            )
        await session.execute(_ASSIGN, {"org_id": org_id, "email": email})
    await _grant(session, org_id=org_id, occurred_at=subscribed.occurred_at, period_end=subscribed.period_end)
    return org_id


async def apply_skool_cancelled(session: AsyncSession, *, cancelled: SkoolCancelled) -> uuid.UUID | None:
    """Record the end of the entitlement; its org (if any) returns to free at `period_end`."""
    email = normalize_email(cancelled.email) or cancelled.email
    await lock_emails(session, emails=[email])
    recorded = await _record(session, email=email, status=CANCELLED, data=cancelled, first_name=None)
    if recorded is None or recorded.org_id is None:
        log.info("skool.cancelled for %s: no org to end (stale, or never provisioned)", email)
        return None
    await record_event(
        session,
        source=SOURCE,
        subject=str(recorded.org_id),
        data=OrgEntitlementEnded(
            org_id=str(recorded.org_id),
            source=SKOOL,
            occurred_at=cancelled.occurred_at,
            period_end=cancelled.period_end,
        ),
    )
    return uuid.UUID(str(recorded.org_id))


async def waiting_entitlements(session: AsyncSession, *, emails: Sequence[str | None]) -> set[str]:
    """Which of these addresses have an entitlement waiting for their signup (locks them first)."""
    addresses = await lock_emails(session, emails=emails)
    if not addresses:
        return set()
    return {row.email for row in await session.execute(_WAITING, {"emails": addresses})}


async def provision_skool_signups(
    session: AsyncSession, *, signups: Sequence[SkoolSignup]
) -> list[SkoolSignup]:
    """Give each new user their business team org, as admin; returns the signups whose
    entitlement was taken meanwhile (by another account with the same address), to fall back."""
    unserved = []
    for signup in signups:
        org_id = uuid.uuid4()
        email = normalize_email(signup.email) or signup.email
        assigned = (await session.execute(_ASSIGN, {"org_id": org_id, "email": email})).all()
        if not assigned:
            unserved.append(signup)
            continue
        first_name = signup.first_name or next((row.first_name for row in assigned if row.first_name), None)
        await create_skool_org(session, user_id=signup.user_id, first_name=first_name, org_id=org_id)
        newest = max(assigned, key=lambda row: row.occurred_at)
        await _grant(session, org_id=org_id, occurred_at=newest.occurred_at, period_end=newest.period_end)
        log.info("signup %s: business team org %s from a Skool entitlement", signup.user_id, org_id)
    return unserved


async def create_skool_org(
    session: AsyncSession, *, user_id: str, first_name: str | None, org_id: uuid.UUID | None = None
) -> uuid.UUID:
    """A team org provisioned for Skool (billing starts it on `business`), the user its admin."""
    org = await add_team_org(
        session,
        name=skool_org_name(first_name),
        slug=f"skool-{uuid.uuid4().hex[:12]}",
        created_by=user_id,
        org_id=org_id,
        initial_plan=SKOOL_PLAN,
        provisioned_for=SKOOL,
    )
    log.info("business team org %s created for %s (Skool)", org.id, user_id)
    return org.id


async def _record(
    session: AsyncSession,
    *,
    email: str,
    status: str,
    data: SkoolSubscribed | SkoolCancelled,
    first_name: str | None,
) -> Row[tuple[uuid.UUID | None]] | None:
    result = await session.execute(
        _RECORD,
        {
            "email": email,
            "community_id": data.community_id,
            "status": status,
            "occurred_at": data.occurred_at,
            "period_end": data.period_end,
            "first_name": first_name,
        },
    )
    return result.first()


async def _oldest_administered_team_org(session: AsyncSession, *, user_id: str) -> uuid.UUID | None:
    statement = (
        select(Org.id)
        .join(Membership, col(Membership.org_id) == col(Org.id))
        .where(
            col(Membership.user_id) == user_id,
            col(Membership.role) == Role.ADMIN,
            col(Org.is_personal).is_(False),
            col(Org.archived_at).is_(None),
        )
        .order_by(col(Org.created_at), col(Org.id))
        .limit(1)
    )
    async with user_directory(session, user_id):
        found: uuid.UUID | None = (await session.execute(statement)).scalar_one_or_none()
    return found


async def _grant(
    session: AsyncSession, *, org_id: uuid.UUID, occurred_at: datetime, period_end: datetime | None
) -> None:
    await record_event(
        session,
        source=SOURCE,
        subject=str(org_id),
        data=OrgEntitlementGranted(
            org_id=str(org_id), source=SKOOL, occurred_at=occurred_at, period_end=period_end
        ),
    )
