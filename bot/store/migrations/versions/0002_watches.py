"""Watched clues: what a watch's fingerprint was taken of, why it stopped, and the changes to reply.

Revision ID: 0002_watches
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_watches"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("watches") as batch:
        batch.add_column(sa.Column("snapshot", sa.Text, nullable=True))
        batch.add_column(sa.Column("disabled_reason", sa.String(64), nullable=True))
    op.create_table(
        "watch_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("watch_id", sa.Integer, sa.ForeignKey("watches.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("clue_id", sa.BigInteger, nullable=False),
        sa.Column("before", sa.Text, nullable=False),
        sa.Column("after", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("posted_at", sa.Float, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("watch_changes")
    with op.batch_alter_table("watches") as batch:
        batch.drop_column("disabled_reason")
        batch.drop_column("snapshot")
