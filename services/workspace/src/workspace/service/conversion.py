"""Personal → team conversion (seed 000, `convert_personal_to_team_org`; DESIGN.md flow 5).

One transaction, under the org's row lock: the org keeps its id and data, becomes a team org
(`is_personal` false, `personal_user_id` cleared, new name and slug, team settings on), its owner
becomes `admin`, and `org.converted` (with the chosen team plan) and `membership.role_changed`
are recorded. An `Idempotency-Key` stores the answer, and the same key gets it again.
"""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.schemas.workspace import MembershipRoleChanged, OrgConverted
from shared.metrics import CONVERSIONS, count_on_commit
from shared.outbox import record_event
from workspace.errors import Forbidden, NotPersonal, PlanKindMismatch, UnknownPlan
from workspace.models import Conversion, Role
from workspace.schemas import OrgRead
from workspace.service.naming import check_name, check_slug
from workspace.service.orgs import (
    SOURCE,
    TEAM_SETTINGS,
    get_member_org,
    org_read,
    raise_if_slug_taken,
    record_activity,
)
from workspace.service.plans import INDIVIDUAL_PLANS, TEAM_PLANS, PlanView, plan_of


def check_team_plan(plan: str) -> str:
    """The plan if it is a team plan; PlanKindMismatch for an individual one, else UnknownPlan."""
    if plan in TEAM_PLANS:
        return plan
    if plan in INDIVIDUAL_PLANS:
        raise PlanKindMismatch(f"{plan!r} is an individual plan; a team org needs a team plan")
    raise UnknownPlan(f"no plan {plan!r}; team plans: {', '.join(sorted(TEAM_PLANS))}")


async def convert_personal_org(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    actor_id: str,
    name: str,
    slug: str,
    plan: str,
    idempotency_key: str | None = None,
) -> OrgRead:
    """Turn the actor's personal org into a team org they administer; the converted org."""
    seen = await get_member_org(session, org_id=org_id, user_id=actor_id, lock=True)
    if idempotency_key is not None:
        earlier = await session.get(Conversion, (org_id, idempotency_key))
        if earlier is not None and earlier.user_id == actor_id:
            return OrgRead.model_validate(earlier.response)
    org = seen.org
    if not org.is_personal:
        raise NotPersonal("this org is already a team org")
    if org.personal_user_id != actor_id:
        raise Forbidden("only the owner of a personal workspace may convert it")
    name, slug, plan = check_name(name), check_slug(slug), check_team_plan(plan)
    try:
        async with session.begin_nested():
            org.name, org.slug = name, slug
            org.is_personal, org.personal_user_id = False, None
            org.settings = {**org.settings, **TEAM_SETTINGS}
            await session.flush()
    except IntegrityError as error:
        raise_if_slug_taken(error, slug)
        raise
    previous = seen.membership.role
    seen.membership.role = Role.ADMIN
    await session.flush()
    subject = str(org_id)
    await record_event(
        session,
        source=SOURCE,
        subject=subject,
        data=OrgConverted(org_id=subject, name=name, slug=slug, owner_user_id=actor_id, plan=plan),
    )
    count_on_commit(session, CONVERSIONS)
    if previous != Role.ADMIN:
        await record_event(
            session,
            source=SOURCE,
            subject=subject,
            data=MembershipRoleChanged(
                org_id=subject, user_id=actor_id, role=Role.ADMIN, previous_role=previous
            ),
        )
    await record_activity(session, org=org)
    current = await plan_of(session, org_id=org_id, is_personal=False)
    # billing moves the org to `plan` when it sees org.converted; the answer names that plan.
    answer = org_read(org, PlanView(plan=plan, limits=current.limits, features=current.features))
    if idempotency_key is not None:
        session.add(
            Conversion(
                org_id=org_id,
                idempotency_key=idempotency_key,
                user_id=actor_id,
                response=answer.model_dump(mode="json"),
            )
        )
        await session.flush()
    return answer
