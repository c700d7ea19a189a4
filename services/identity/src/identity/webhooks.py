"""Verifying and parsing the auth provider's deliveries (Svix signatures, Clerk payloads)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from identity.errors import InvalidSignature, MalformedWebhook
from identity.schemas import ClerkEvent
from shared.http.signatures import BadSignature, svix_key, verify_svix

# Svix's own five-minute tolerance for the signed timestamp, either way.
SIGNATURE_TOLERANCE_SECONDS = 300


def verify_delivery(*, secret: str, body: bytes, headers: Mapping[str, str]) -> str:
    """Check the Svix signature on the raw body and the 5-minute timestamp window; returns the
    delivery id. Any malformed header is `InvalidSignature` (shared.http.signatures)."""
    try:
        return verify_svix(
            key=svix_key(secret),
            message_id=headers.get("svix-id"),
            timestamp=headers.get("svix-timestamp"),
            signature=headers.get("svix-signature"),
            body=body,
            now=time.time(),
            tolerance_seconds=SIGNATURE_TOLERANCE_SECONDS,
        )
    except BadSignature as error:
        raise InvalidSignature(f"webhook signature rejected: {error.message}") from error


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
