"""billing: the outbox without its NOTIFY trigger (the relay is woken in-process).

Revision ID: 0003
Revises: 0002
"""

from shared.db.migrations import drop_outbox_notify, restore_outbox_notify

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    drop_outbox_notify()


def downgrade() -> None:
    restore_outbox_notify()
