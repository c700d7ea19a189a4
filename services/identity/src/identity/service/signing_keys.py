"""Signing keys: exactly one key signs new tokens at any time. A rotation publishes the next key
`publish_delay` before it starts signing, and the old key stops signing at that same instant; a
retired key stays published while tokens it signed can still be valid (retired_at + token
lifetime + leeway), then drops out of the JWKS."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from identity.models import SigningKey

ALGORITHM = "ES256"
# Serialises rotations (and a first key's creation) across replicas and the CLI.
_ROTATION_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('identity.signing_keys'))")


@dataclass(frozen=True)
class ActiveKey:
    """The decrypted private key that signs new tokens (kept in memory only)."""

    kid: str
    algorithm: str
    private_key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Rotation:
    kid: str
    retired_kid: str | None
    activates_at: datetime


def _new_key(passphrase: str) -> dict[str, Any]:
    private_key = ec.generate_private_key(ec.SECP256R1())
    kid = f"{ALGORITHM.lower()}-{uuid.uuid4().hex[:16]}"
    public_jwk = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
    public_jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    encrypted = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    return {"kid": kid, "algorithm": ALGORITHM, "public_jwk": public_jwk, "encrypted_private_key": encrypted}


async def ensure_active_key(session: AsyncSession, *, passphrase: str) -> str:
    """Create a signing key, active at once, when there is none (first start); returns its kid."""
    current = await _unretired_kid(session)
    if current is not None:
        return current
    await session.execute(_ROTATION_LOCK)
    current = await _unretired_kid(session)
    if current is not None:
        return current
    values = _new_key(passphrase)
    await session.execute(insert(SigningKey).values(**values, activates_at=func.now()))
    return str(values["kid"])


async def rotate_signing_key(session: AsyncSession, *, passphrase: str, publish_delay: timedelta) -> Rotation:
    """Publish a new key now; it signs from `now + publish_delay`, when the current key retires
    (which then stays published until the tokens it signed have expired)."""
    await session.execute(_ROTATION_LOCK)
    activates_at: datetime = (await session.execute(select(func.now() + publish_delay))).scalar_one()
    retired = (
        await session.execute(
            update(SigningKey)
            .where(col(SigningKey.retired_at).is_(None))
            .values(retired_at=activates_at)
            .returning(col(SigningKey.kid))
        )
    ).scalar_one_or_none()
    values = _new_key(passphrase)
    await session.execute(insert(SigningKey).values(**values, activates_at=activates_at))
    return Rotation(kid=str(values["kid"]), retired_kid=retired, activates_at=activates_at)


async def load_active_key(session: AsyncSession, *, passphrase: str) -> ActiveKey | None:
    """The key that signs now, its private half decrypted; None before the first key exists."""
    now = func.now()
    row = (
        await session.execute(
            select(col(SigningKey.kid), col(SigningKey.algorithm), col(SigningKey.encrypted_private_key))
            .where(
                col(SigningKey.activates_at) <= now,
                col(SigningKey.retired_at).is_(None) | (col(SigningKey.retired_at) > now),
            )
            .order_by(col(SigningKey.activates_at).desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    private_key = serialization.load_pem_private_key(row.encrypted_private_key, passphrase.encode())
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"signing key {row.kid} is not an EC key")
    return ActiveKey(kid=row.kid, algorithm=row.algorithm, private_key=private_key)


async def published_keys(session: AsyncSession, *, retired_for: timedelta) -> list[dict[str, Any]]:
    """Public JWKs of the signing key, of a pending one, and of keys retired less than
    `retired_for` ago (their tokens may still be valid); newest first."""
    rows = await session.execute(
        select(col(SigningKey.public_jwk))
        .where(col(SigningKey.retired_at).is_(None) | (col(SigningKey.retired_at) > func.now() - retired_for))
        .order_by(col(SigningKey.activates_at).desc())
    )
    return [dict(jwk) for jwk in rows.scalars()]


async def _unretired_kid(session: AsyncSession) -> str | None:
    kid = (
        await session.execute(select(col(SigningKey.kid)).where(col(SigningKey.retired_at).is_(None)))
    ).scalar_one_or_none()
    return None if kid is None else str(kid)
