"""FAQ hit counts per persona entry.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persona_faq_hits",
        sa.Column("persona", sa.String(32), nullable=False),
        sa.Column("entry_key", sa.String(32), nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
        sa.Column("last_hit_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("persona", "entry_key", name="pk_persona_faq_hits"),
    )


def downgrade() -> None:
    op.drop_table("persona_faq_hits")
