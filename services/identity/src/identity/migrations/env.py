"""Alembic environment for identity (its own version table)."""

from shared.db.migrations import run_env

run_env(version_table="identity_alembic_version")
