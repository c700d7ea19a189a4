"""`python -m identity.keys rotate`: sign new tokens with a new key (operators).

The retired key stays in the JWKS until every token it signed has expired (rotation time +
IDENTITY_TOKEN_TTL_SECONDS + PLATFORM_TOKEN_LEEWAY_SECONDS); `list` shows every key and its state.
Uses the same settings (database, passphrase) as the service.
"""

from __future__ import annotations

import argparse
import asyncio

from sqlalchemy import select
from sqlmodel import col

from identity.models import SigningKey
from identity.service.signing_keys import rotate_signing_key
from identity.settings import IdentitySettings
from shared.db.session import create_database
from shared.db.tenancy import app_role


async def _rotate(settings: IdentitySettings) -> None:
    database = create_database(
        settings.effective_database_url, pool_size=1, session_role=app_role("identity")
    )
    try:
        async with database.unit_of_work() as session:
            kid, retired = await rotate_signing_key(session, passphrase=settings.signing_key_passphrase)
    finally:
        await database.dispose()
    print(f"active key: {kid}; retired: {retired or '(none)'}")


async def _list(settings: IdentitySettings) -> None:
    database = create_database(
        settings.effective_database_url, pool_size=1, session_role=app_role("identity")
    )
    try:
        async with database.unit_of_work() as session:
            rows = await session.execute(
                select(col(SigningKey.kid), col(SigningKey.created_at), col(SigningKey.retired_at)).order_by(
                    col(SigningKey.created_at)
                )
            )
            for kid, created_at, retired_at in rows:
                state = "active" if retired_at is None else f"retired {retired_at.isoformat()}"
                print(f"{kid}  created {created_at.isoformat()}  {state}")
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m identity.keys", description=__doc__)
    parser.add_argument("command", choices=["rotate", "list"])
    args = parser.parse_args()
    settings = IdentitySettings()
    asyncio.run(_rotate(settings) if args.command == "rotate" else _list(settings))


if __name__ == "__main__":
    main()
