"""Adapter versions produced by fine-tuning jobs, with their evaluation (publish, compare, roll back).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adapter_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("persona", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("job_id", sa.String(40), nullable=False),
        sa.Column("adapter", sa.JSON, nullable=False),
        sa.Column("evaluation", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_adapter_versions_tenant_id", "adapter_versions", ["tenant_id"])
    op.create_index("ix_adapter_versions_persona", "adapter_versions", ["persona"])


def downgrade() -> None:
    op.drop_table("adapter_versions")
