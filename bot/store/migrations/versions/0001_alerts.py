"""Alerts: subscriptions, watches, the poll cursor, seen clues, deliveries, leases.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False, index=True),
        sa.Column("filters", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("disabled_reason", sa.String(64), nullable=True),
    )
    op.create_table(
        "watches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("clue_id", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("checked_at", sa.Float, nullable=True),
        sa.UniqueConstraint("channel_id", "clue_id", name="uq_watches_channel_clue"),
    )
    op.create_table(
        "poll_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("high_water", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "seen_clues",
        sa.Column("clue_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("create_time", sa.String(32), nullable=True),
        sa.Column("clue_json", sa.Text, nullable=False),
        sa.Column("seen_at", sa.Float, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.Integer, sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("clue_id", sa.BigInteger, nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("posted_at", sa.Float, nullable=True),
        sa.UniqueConstraint("subscription_id", "clue_id", "event", name="uq_deliveries_subscription_clue_event"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("leases", "deliveries", "seen_clues", "poll_state", "watches", "subscriptions"):
        op.drop_table(table)
