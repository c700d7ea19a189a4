"""Alembic environment for workspace (its own version table)."""

from shared.db.migrations import run_env

run_env(version_table="workspace_alembic_version")
