"""billing's consumers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billing.service.subscriptions import start_subscription
from shared.events.envelope import Envelope
from shared.events.schemas.workspace import OrgCreated
from shared.events.topics import WORKSPACE_ORGS
from shared.runtime import Subscription


async def on_org_created(session: AsyncSession, event: Envelope) -> None:
    data = event.payload(OrgCreated)
    await start_subscription(
        session, org_id=data.org_id, requested_plan=data.initial_plan, is_personal=data.is_personal
    )


SUBSCRIPTIONS = (Subscription(topic=WORKSPACE_ORGS, handlers={OrgCreated.event_type: on_org_created}),)
