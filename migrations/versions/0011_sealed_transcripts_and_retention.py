"""Transcripts and SMS bodies sealed at rest; a retention period per tenant.

Existing clear transcripts and SMS bodies are sealed here with the recordings' keyring (the
master keys of this installation), and their clear copies emptied.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("transcript_sealed", sa.Text, nullable=True))
    op.add_column("sms_messages", sa.Column("text_sealed", sa.Text, nullable=True))
    op.create_table(
        "privacy_settings",
        sa.Column("tenant_id", sa.String(64), nullable=False),  # "" : the installation's own
        sa.Column("retention_days", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_privacy_settings"),
    )
    _seal_existing()


def _seal_existing() -> None:
    bind = op.get_bind()
    calls = bind.execute(sa.text("SELECT id, tenant_id, transcript FROM calls WHERE transcript_sealed IS NULL")).all()
    sms = bind.execute(sa.text("SELECT id, tenant_id, text FROM sms_messages WHERE text_sealed IS NULL")).all()
    if not calls and not sms:
        return  # a new database: no key needed
    from infra.crypto import seal_text
    from infra.recordings import default_keyring
    from telephony.call_store import sms_context, transcript_context

    keyring = default_keyring()
    for call_id, tenant, transcript in calls:
        turns = json.loads(transcript) if isinstance(transcript, str) else (transcript or [])
        sealed = seal_text(keyring, json.dumps(turns, ensure_ascii=False), transcript_context(tenant, call_id))
        bind.execute(
            sa.text("UPDATE calls SET transcript_sealed = :s, transcript = :e WHERE id = :i").bindparams(
                sa.bindparam("e", type_=sa.JSON)
            ),
            {"s": sealed, "e": [], "i": call_id},
        )
    for sms_id, tenant, text in sms:
        sealed = seal_text(keyring, text or "", sms_context(tenant, sms_id))
        bind.execute(
            sa.text("UPDATE sms_messages SET text_sealed = :s, text = '' WHERE id = :i"), {"s": sealed, "i": sms_id}
        )


def downgrade() -> None:
    op.drop_table("privacy_settings")
    with op.batch_alter_table("sms_messages") as batch:
        batch.drop_column("text_sealed")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("transcript_sealed")
