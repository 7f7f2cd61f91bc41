"""Calls record the way they came: ``line`` ("websocket", or the modem line that carried them).

A modem line's restart, or the loss of its node, closes that line's unfinished calls and no
others: before this, an ingress restart also ended the tenant's WebSocket calls in progress.
Calls unfinished at the upgrade become the modem line's, so the restarted ingress closes them
(an upgrade restarts every process: a WebSocket call in progress ended with it). Finished calls
keep no line: the history cannot tell which way they came.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as b:
        b.add_column(sa.Column("line", sa.String(32), nullable=True))
        b.create_index("ix_calls_line", ["line"])
    op.execute("UPDATE calls SET line = 'modem' WHERE status <> 'ended'")


def downgrade() -> None:
    with op.batch_alter_table("calls") as b:
        b.drop_index("ix_calls_line")
        b.drop_column("line")
