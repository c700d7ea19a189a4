"""billing's consumers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from billing.service.subscriptions import NewOrg, start_subscriptions
from shared.events.envelope import Envelope
from shared.events.schemas.workspace import OrgCreated
from shared.events.topics import WORKSPACE_ORGS
from shared.messaging.consumer import Batched
from shared.runtime import Subscription


async def on_orgs_created(session: AsyncSession, events: Sequence[Envelope]) -> None:
    """Orgs arrive in bursts (signups): a run of org.created is started with one statement."""
    orgs = []
    for event in events:
        data = event.payload(OrgCreated)
        orgs.append(NewOrg(data.org_id, data.initial_plan, data.is_personal, event.traceparent))
    await start_subscriptions(session, orgs=orgs)


SUBSCRIPTIONS = (
    Subscription(topic=WORKSPACE_ORGS, handlers={OrgCreated.event_type: Batched(on_orgs_created)}),
)
