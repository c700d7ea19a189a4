"""Alembic environment for invites (its own version table)."""

from shared.db.migrations import run_env

run_env(version_table="invites_alembic_version")
