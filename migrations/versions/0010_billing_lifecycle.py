"""Billing that ends: the provider object's creation time (older events never overwrite newer
subscriptions) and one claimed renewal per tenant and period (YooKassa renewals charge once).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("provider_created_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "renewals",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("payment_id", sa.String(128), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "period", name="pk_renewals"),
    )
    # Trials started before trials ended: they end trial_days (14) after their last change.
    op.execute(
        "UPDATE subscriptions SET current_period_end = updated_at + INTERVAL '14 days' "
        "WHERE status = 'trial' AND current_period_end IS NULL"
        if op.get_bind().dialect.name == "postgresql"
        else "UPDATE subscriptions SET current_period_end = datetime(updated_at, '+14 days') "
        "WHERE status = 'trial' AND current_period_end IS NULL"
    )


def downgrade() -> None:
    op.drop_table("renewals")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("provider_created_at")
