"""The example's own tables: what it learned of each org's plan, its practice sessions, its inbox.

Created at start-up with `create_all` (an example; a real service would keep migrations).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, Uuid, func

from backbone_client.inbox import Inbox
from practice_app.settings import CONSUMER

metadata = MetaData()

# One row per org: the newest subscription.changed applied (by its `version`).
org_plans = Table(
    "org_plans",
    metadata,
    Column("org_id", String, primary_key=True),
    Column("plan", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("features", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

practice_sessions = Table(
    "practice_sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", String, nullable=False, index=True),
    Column("user_id", String, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

inbox = Inbox(metadata, consumer=CONSUMER)
