"""Signing keys: one active key signs new tokens; retired keys stay published while tokens they
signed can still be valid (retired_at + token lifetime + leeway), then drop out of the JWKS."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
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
    """Create a signing key when none is active (first start); returns the active kid."""
    active = await _active_kid(session)
    if active is not None:
        return active
    await session.execute(_ROTATION_LOCK)
    active = await _active_kid(session)
    if active is not None:
        return active
    values = _new_key(passphrase)
    await session.execute(insert(SigningKey).values(**values))
    return str(values["kid"])


async def rotate_signing_key(session: AsyncSession, *, passphrase: str) -> tuple[str, str | None]:
    """Retire the active key (it stays published until its tokens expire) and add a new active
    one; returns (new kid, retired kid or None)."""
    await session.execute(_ROTATION_LOCK)
    retired = (
        await session.execute(
            update(SigningKey)
            .where(col(SigningKey.retired_at).is_(None))
            .values(retired_at=func.now())
            .returning(col(SigningKey.kid))
        )
    ).scalar_one_or_none()
    values = _new_key(passphrase)
    await session.execute(insert(SigningKey).values(**values))
    return str(values["kid"]), retired


async def load_active_key(session: AsyncSession, *, passphrase: str) -> ActiveKey | None:
    """The active key with its private half decrypted, or None before the first key exists."""
    row = (
        await session.execute(
            select(
                col(SigningKey.kid), col(SigningKey.algorithm), col(SigningKey.encrypted_private_key)
            ).where(col(SigningKey.retired_at).is_(None))
        )
    ).first()
    if row is None:
        return None
    private_key = serialization.load_pem_private_key(row.encrypted_private_key, passphrase.encode())
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"signing key {row.kid} is not an EC key")
    return ActiveKey(kid=row.kid, algorithm=row.algorithm, private_key=private_key)


async def published_keys(session: AsyncSession, *, retired_for: timedelta) -> list[dict[str, Any]]:
    """Public JWKs of the active key and of keys retired less than `retired_for` ago, newest first."""
    rows = await session.execute(
        select(col(SigningKey.public_jwk))
        .where(col(SigningKey.retired_at).is_(None) | (col(SigningKey.retired_at) > func.now() - retired_for))
        .order_by(col(SigningKey.created_at).desc())
    )
    return [dict(jwk) for jwk in rows.scalars()]


async def _active_kid(session: AsyncSession) -> str | None:
    kid = (
        await session.execute(select(col(SigningKey.kid)).where(col(SigningKey.retired_at).is_(None)))
    ).scalar_one_or_none()
    return None if kid is None else str(kid)
