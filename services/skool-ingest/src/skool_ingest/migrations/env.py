"""Alembic environment for skool_ingest (its own version table)."""

from shared.db.migrations import run_env

run_env(version_table="skool_ingest_alembic_version")
