"""workspace's consumers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.envelope import Envelope
from shared.events.schemas.identity import UserCreated
from shared.events.topics import IDENTITY_USERS
from shared.runtime import Subscription
from workspace.service.signup import provision_new_user


async def on_user_created(session: AsyncSession, event: Envelope) -> None:
    await provision_new_user(session, user=event.payload(UserCreated))


SUBSCRIPTIONS = (Subscription(topic=IDENTITY_USERS, handlers={UserCreated.event_type: on_user_created}),)
