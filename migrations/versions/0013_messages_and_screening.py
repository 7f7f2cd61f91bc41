"""Messages for the owner, their delivery outbox, channels, caller memory and screening lists.

Calls gain the caller's number sealed (the message must carry it; the masked form cannot be
called back), ``message_state`` (``pending`` once ended: the message desk's queue, written in the
call's own transaction so a crash loses no message) and ``screening``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as b:
        b.add_column(sa.Column("number_sealed", sa.Text, nullable=True))
        b.add_column(sa.Column("message_state", sa.String(12), nullable=True))
        b.add_column(sa.Column("screening", sa.String(16), nullable=True))
        b.create_index("ix_calls_message_state", ["message_state"])
    op.create_table(
        "messages",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("call_id", sa.String(32), nullable=False, unique=True),
        sa.Column("persona", sa.String(64), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("number_hash", sa.String(64), nullable=True),
        sa.Column("number_masked", sa.String(32), nullable=False),
        sa.Column("body_sealed", sa.Text, nullable=False),
        sa.Column("intent", sa.String(16), nullable=False),
        sa.Column("urgency", sa.String(8), nullable=False),
        sa.Column("callback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("screened", sa.String(16), nullable=True),
        sa.Column("screened_reason", sa.String(200), nullable=True),
        sa.Column("extracted_by", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_messages_tenant_id", "messages", ["tenant_id"])
    op.create_index("ix_messages_number_hash", "messages", ["number_hash"])
    op.create_index("ix_messages_screened", "messages", ["screened"])
    op.create_index("ix_messages_created_at", "messages", ["created_at"])
    op.create_table(
        "message_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("message_id", "channel", name="uq_delivery_message_channel"),
    )
    op.create_index("ix_message_deliveries_tenant_id", "message_deliveries", ["tenant_id"])
    op.create_index("ix_message_deliveries_message_id", "message_deliveries", ["message_id"])
    op.create_index("ix_message_deliveries_status", "message_deliveries", ["status"])
    op.create_index("ix_message_deliveries_next_attempt_at", "message_deliveries", ["next_attempt_at"])
    op.create_table(
        "delivery_settings",
        sa.Column("tenant_key", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("telegram_chat_id", sa.String(64), nullable=True),
        sa.Column("telegram_token_sealed", sa.Text, nullable=True),
        sa.Column("sms_number_sealed", sa.Text, nullable=True),
        sa.Column("sms_number_masked", sa.String(32), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("quiet_start", sa.String(5), nullable=True),
        sa.Column("quiet_end", sa.String(5), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "callers",
        sa.Column("tenant_key", sa.String(64), primary_key=True),
        sa.Column("number_hash", sa.String(64), primary_key=True),
        sa.Column("name_sealed", sa.Text, nullable=True),
        sa.Column("last_message_id", sa.String(32), nullable=True),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("last_call_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "screening_entries",
        sa.Column("tenant_key", sa.String(64), primary_key=True),
        sa.Column("number_hash", sa.String(64), primary_key=True),
        sa.Column("list", sa.String(8), nullable=False),
        sa.Column("number_masked", sa.String(32), nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("screening_entries", "callers", "delivery_settings", "message_deliveries", "messages"):
        op.drop_table(table)
    with op.batch_alter_table("calls") as b:
        b.drop_index("ix_calls_message_state")
        b.drop_column("screening")
        b.drop_column("message_state")
        b.drop_column("number_sealed")
