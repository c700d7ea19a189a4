"""Verifying and parsing the auth provider's deliveries (Svix signatures, Clerk payloads)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from svix.webhooks import Webhook, WebhookVerificationError

from identity.errors import InvalidSignature, MalformedWebhook
from identity.schemas import ClerkEvent

_SVIX_HEADERS = ("svix-id", "svix-timestamp", "svix-signature")


def verify_delivery(*, secret: str, body: bytes, headers: Mapping[str, str]) -> str:
    """Check the Svix signature and the 5-minute timestamp window; returns the delivery id."""
    svix_headers = {name: headers.get(name, "") for name in _SVIX_HEADERS}
    if not all(svix_headers.values()):
        raise InvalidSignature("missing svix-id, svix-timestamp or svix-signature header")
    try:
        Webhook(secret).verify(body, svix_headers)
    except WebhookVerificationError as error:
        raise InvalidSignature(f"webhook signature rejected: {error}") from error
    except UnicodeDecodeError as error:  # Svix signs text: no signature covers these bytes
        raise InvalidSignature("webhook signature rejected: the body is not UTF-8") from error
    return svix_headers["svix-id"]


def parse_event(body: bytes) -> ClerkEvent:
    """Parse a verified body; a body that is not a Clerk event is the sender's error (400)."""
    try:
        decoded = json.loads(body)
        if _has_nul(decoded):  # PostgreSQL stores no NUL in text: refused here, not by the insert
            raise ValueError("a string contains a NUL character")
        return ClerkEvent.model_validate(decoded)
    except (ValueError, ValidationError) as error:
        raise MalformedWebhook(f"body is not a valid auth-provider event: {error}") from error


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False
