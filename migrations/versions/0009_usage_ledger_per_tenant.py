"""The usage ledger is keyed by (tenant, event id), and bad events go to a dead-letter table.

A global event-id key let two tenants' events with the same id lose one row; an event the
ledger could not take (an over-long id, an unknown metric) stalled the flush for everybody.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_ledger", recreate="always") as batch:
        batch.alter_column("event_id", type_=sa.String(128), existing_nullable=False)
        batch.drop_constraint("pk_usage_ledger", type_="primary")
        batch.create_primary_key("pk_usage_ledger", ["tenant_id", "event_id"])
    op.create_table(
        "usage_dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("stream_id", sa.String(64), nullable=False),
        sa.Column("fields", sa.Text, nullable=False),
        sa.Column("error", sa.String(500), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("usage_dead_letters")
    with op.batch_alter_table("usage_ledger", recreate="always") as batch:
        batch.drop_constraint("pk_usage_ledger", type_="primary")
        batch.create_primary_key("pk_usage_ledger", ["event_id"])
