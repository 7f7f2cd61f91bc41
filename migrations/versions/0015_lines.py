"""The line registry: each modem by its IMEI, its tenant and its persona (telephony/lines.py).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lines",
        sa.Column("imei", sa.String(15), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("persona", sa.String(64), nullable=False),
        sa.Column("label", sa.String(64), nullable=False, server_default=""),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_lines_tenant_id", "lines", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_lines_tenant_id", table_name="lines")
    op.drop_table("lines")
