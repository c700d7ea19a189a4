"""Processing one verified auth-provider delivery: store it, then apply it, in one transaction."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from identity.errors import MalformedWebhook
from identity.schemas import ClerkDeletedUser, ClerkEvent, ClerkUser
from identity.service.users import create_user, delete_user, record_delivery, update_user

HANDLED_TYPES = ("user.created", "user.updated", "user.deleted")


async def process_delivery(session: AsyncSession, *, delivery_id: str, event: ClerkEvent) -> str:
    """Apply a delivery once; returns "processed", "duplicate" (replayed id) or "ignored"."""
    if event.type not in HANDLED_TYPES:
        return "ignored"
    try:
        if event.type == "user.deleted":
            deleted = ClerkDeletedUser.model_validate(event.data)
        else:
            user = ClerkUser.model_validate(event.data)
    except ValidationError as error:
        raise MalformedWebhook(f"{event.type} data is not a valid user: {error}") from error
    if not await record_delivery(
        session, delivery_id=delivery_id, event_type=event.type, payload=event.model_dump()
    ):
        return "duplicate"
    if event.type == "user.created":
        await create_user(session, user=user)
    elif event.type == "user.updated":
        await update_user(session, user=user)
    else:
        await delete_user(session, user=deleted)
    return "processed"
