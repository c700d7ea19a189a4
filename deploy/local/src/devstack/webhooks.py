"""Build and sign auth-provider deliveries the way the provider does (Svix scheme, Clerk shape)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from svix.webhooks import Webhook


def new_user_id() -> str:
    """A fresh auth-provider user id (Clerk's `user_…` shape)."""
    return f"user_{uuid.uuid4().hex[:24]}"


def new_signup(*, first_name: str = "Ada") -> tuple[str, dict[str, Any]]:
    """A new user's id and their `user.created` payload, with an email made from the id."""
    user_id = new_user_id()
    return user_id, clerk_user_created(user_id=user_id, email=f"{user_id}@example.com", first_name=first_name)


def clerk_user_created(
    *,
    user_id: str,
    email: str,
    first_name: str | None,
    last_name: str | None = None,
    pending_invitation: str | None = None,
    updated_at_ms: int | None = None,
    event_type: str = "user.created",
    email_verified: bool = True,
) -> dict[str, Any]:
    """A Clerk user event; its one address is the primary, `verified` unless `email_verified` is
    False (Clerk's `verification.status` then `unverified`)."""
    now_ms = updated_at_ms or int(time.time() * 1000)
    email_id = f"idn_{uuid.uuid4().hex[:24]}"
    metadata = {"pending_invitation": pending_invitation} if pending_invitation else {}
    verification = {"status": "verified" if email_verified else "unverified", "strategy": "email_code"}
    return {
        "object": "event",
        "type": event_type,
        "timestamp": now_ms,
        "data": {
            "id": user_id,
            "object": "user",
            "email_addresses": [{"id": email_id, "email_address": email, "verification": verification}],
            "primary_email_address_id": email_id,
            "first_name": first_name,
            "last_name": last_name,
            "image_url": None,
            "public_metadata": metadata,
            "created_at": now_ms,
            "updated_at": now_ms,
        },
    }


def clerk_user_deleted(*, user_id: str) -> dict[str, Any]:
    """A Clerk `user.deleted` event (its data names the user only)."""
    return {
        "object": "event",
        "type": "user.deleted",
        "timestamp": int(time.time() * 1000),
        "data": {"id": user_id, "object": "user", "deleted": True},
    }


def signed_delivery(
    payload: dict[str, Any] | bytes,
    *,
    secret: str,
    delivery_id: str | None = None,
    timestamp: datetime | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body and the `svix-*` headers of a delivery signed with `secret`."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    delivery_id = delivery_id or f"msg_{uuid.uuid4().hex}"
    when = timestamp or datetime.now(UTC)
    signature = Webhook(secret).sign(delivery_id, when, body.decode())
    return body, {
        "svix-id": delivery_id,
        "svix-timestamp": str(int(when.timestamp())),
        "svix-signature": signature,
        "content-type": "application/json",
    }
