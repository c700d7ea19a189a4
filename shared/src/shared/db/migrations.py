"""Helpers for each service's Alembic history: shared tables and the async env runner."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.ext.asyncio import create_async_engine

from shared.settings import ServiceSettings

log = logging.getLogger(__name__)
# SQLSTATEs of a refused connection to a database: insufficient privilege (no CONNECT), invalid
# authorization specification (no pg_hba line for it).
_ACCESS_REFUSED = frozenset({"42501", "28000"})

OUTBOX_CHANNEL = "outbox"
# The first revisions created a NOTIFY trigger; revision 0003 of every service drops it (see
# `drop_outbox_notify`). Kept here because those revisions (and their downgrades) use it.
OUTBOX_NOTIFY_DDL = (
    "CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN PERFORM pg_notify('{OUTBOX_CHANNEL}', ''); RETURN NULL; END $$",
    "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()",
)


def create_outbox_and_inbox() -> None:
    """Create the outbox (with its NOTIFY trigger) and the inbox; used by every initial revision."""
    op.create_table(
        "outbox",
        sa.Column("position", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("event_type", sa.String, nullable=False),
        sa.Column("topic", sa.String, nullable=False),
        sa.Column("key", sa.String, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbox_unsent", "outbox", ["position"], postgresql_where=sa.text("sent_at IS NULL"))
    for statement in OUTBOX_NOTIFY_DDL:
        op.execute(statement)
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String, primary_key=True),
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("event_type", sa.String, nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
        ),
    )


def drop_outbox_notify() -> None:
    """Drop the outbox's NOTIFY trigger.

    PostgreSQL serialises the commits of every transaction that sent a NOTIFY, cluster-wide and
    including each one's WAL flush: measured here, 791 commits/s with NOTIFY against 7,176
    without. The relay is woken in-process after a commit instead (`Database.outbox_listeners`).
    """
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify()")


def restore_outbox_notify() -> None:
    """Undo `drop_outbox_notify` (for downgrades)."""
    for statement in OUTBOX_NOTIFY_DDL:
        op.execute(statement)


def drop_outbox_and_inbox() -> None:
    op.drop_table("inbox")
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify()")
    op.drop_table("outbox")


def run_env(*, version_table: str) -> None:
    """The body of a service's `migrations/env.py`: online, async, its own version table."""
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("sqlalchemy.url is not set; run migrations through the service's migrate()")

    def migrate(connection: Connection) -> None:
        context.configure(connection=connection, version_table=version_table)
        with context.begin_transaction():
            # Two replicas starting at once must not both run the same revision.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": version_table})
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run())


async def prepare_database(settings: ServiceSettings, *, script_location: Path) -> None:
    """Before a service (or one of its tools) uses its database: create it if missing, then
    apply the migrations — with `<PREFIX>_DATABASE_MIGRATION_URL` (the owner login) when set.

    With a migration URL the database is provisioned by the platform (devstack.pg_logins: it
    exists, owned by that login), so nothing connects to `postgres` to create it; its logins
    may not even open `postgres`. Without one (development, tests) it is created as before."""
    if not settings.database_migration_url:
        await ensure_database(settings.effective_database_url)
    await asyncio.to_thread(
        upgrade_to_head, url=settings.effective_migration_url, script_location=script_location
    )


async def ensure_database(url: str) -> None:
    """Create the service's database on its server if it is missing (needs CREATEDB).

    A no-op when the login cannot open the `postgres` database (CONNECT refused, or no pg_hba
    line for it): such a login is a provisioned one whose database exists already — and if it
    does not, the migrations that follow fail on it with the server's own message."""
    target = make_url(url)
    admin = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        try:
            connection = await admin.connect()
        except DBAPIError as error:
            if _refused_access(error):
                log.info("not checking that database %s exists: %s", target.database, error.orig)
                return
            raise
        try:
            exists = await connection.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            )
            if not exists:
                try:
                    await connection.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
                except (DBAPIError, ProgrammingError) as error:
                    if "already exists" not in str(error):
                        raise
        finally:
            await connection.close()
    finally:
        await admin.dispose()


def _refused_access(error: DBAPIError) -> bool:
    """The server refused this login the `postgres` database — no CONNECT privilege (42501) or
    no pg_hba line (28000) — as opposed to being unreachable or a wrong password."""
    for cause in (error.orig, getattr(error.orig, "__cause__", None)):
        if getattr(cause, "sqlstate", None) in _ACCESS_REFUSED:
            return True
    return False


def upgrade_to_head(*, url: str, script_location: Path) -> None:
    """Apply every revision of one service's history (blocking; call it from a thread)."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")
