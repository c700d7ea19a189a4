"""`python -m identity.keys rotate [--delay SECONDS]` / `list`: signing keys, for operators.

`rotate` publishes a new key at once; it starts signing after IDENTITY_KEY_PUBLISH_DELAY_SECONDS
(or `--delay`), when the current key stops. The retired key stays in the JWKS until every token
it signed has expired (retirement + IDENTITY_TOKEN_TTL_SECONDS + PLATFORM_TOKEN_LEEWAY_SECONDS).
Uses the service's own settings (database, passphrase); see docs/access.md.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from identity.models import SigningKey
from identity.service.signing_keys import rotate_signing_key
from identity.settings import IdentitySettings
from shared.db.session import Database, create_database
from shared.db.tenancy import app_role
from shared.settings import load_settings


def _database(settings: IdentitySettings) -> Database:
    return create_database(settings.effective_database_url, pool_size=1, session_role=app_role("identity"))


async def _rotate(settings: IdentitySettings, *, delay: float) -> None:
    database = _database(settings)
    try:
        async with database.unit_of_work() as session:
            rotation = await rotate_signing_key(
                session, passphrase=settings.signing_key_passphrase, publish_delay=timedelta(seconds=delay)
            )
    finally:
        await database.dispose()
    print(
        f"new key: {rotation.kid} (published now, signs from {rotation.activates_at.isoformat()}); "
        f"retired: {rotation.retired_kid or '(none)'}"
    )


async def _list(settings: IdentitySettings) -> None:
    database = _database(settings)
    try:
        async with database.unit_of_work() as session:
            rows = await session.execute(
                select(
                    col(SigningKey.kid), col(SigningKey.activates_at), col(SigningKey.retired_at)
                ).order_by(col(SigningKey.activates_at))
            )
            for kid, activates_at, retired_at in rows:
                retired = "-" if retired_at is None else retired_at.isoformat()
                print(f"{kid}  signs from {activates_at.isoformat()}  until {retired}")
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m identity.keys",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["rotate", "list"])
    parser.add_argument(
        "--delay",
        type=float,
        default=None,
        help="seconds between publishing the new key and signing with it "
        "(default IDENTITY_KEY_PUBLISH_DELAY_SECONDS; 0 only when no verifier can be caught out)",
    )
    args = parser.parse_args()
    settings = load_settings(IdentitySettings)
    if args.command == "rotate":
        delay = settings.key_publish_delay_seconds if args.delay is None else args.delay
        asyncio.run(_rotate(settings, delay=delay))
    else:
        asyncio.run(_list(settings))


if __name__ == "__main__":
    main()
