"""Alembic environment for billing (its own version table)."""

from shared.db.migrations import run_env

run_env(version_table="billing_alembic_version")
