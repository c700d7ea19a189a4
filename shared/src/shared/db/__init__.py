"""Database plumbing: engines, the one-commit-point session, migrations helpers."""

from shared.db.session import Database, create_database

__all__ = ["Database", "create_database"]
