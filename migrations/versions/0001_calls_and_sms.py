"""Calls and SMS records.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("number_masked", sa.String(32), nullable=False),
        sa.Column("number_hash", sa.String(64), nullable=True),
        sa.Column("persona", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("end_reason", sa.String(32), nullable=True),
        sa.Column("transcript", sa.JSON, nullable=False),
        sa.Column("turns", sa.Integer, nullable=False),
        sa.Column("barge_ins", sa.Integer, nullable=False),
        sa.Column("recording_ref", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
    )
    op.create_index("ix_calls_tenant_id", "calls", ["tenant_id"])
    op.create_index("ix_calls_number_hash", "calls", ["number_hash"])
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("number_masked", sa.String(32), nullable=False),
        sa.Column("number_hash", sa.String(64), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reply_to", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sms_messages"),
    )
    op.create_index("ix_sms_messages_tenant_id", "sms_messages", ["tenant_id"])
    op.create_index("ix_sms_messages_number_hash", "sms_messages", ["number_hash"])
    op.create_index("ix_sms_messages_at", "sms_messages", ["at"])


def downgrade() -> None:
    op.drop_table("sms_messages")
    op.drop_table("calls")
