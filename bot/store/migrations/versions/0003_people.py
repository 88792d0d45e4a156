"""People: Slack people linked to CRM users, their morning nudges and "assigned to you" messages.

Revision ID: 0003_people
Revises: 0002_watches
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_people"
down_revision = "0002_watches"


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("sales_id", sa.String(64), nullable=False, index=True),
        sa.Column("crm_name", sa.String(128), nullable=False),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("linked_by", sa.String(32), nullable=False),
        sa.Column("linked_at", sa.Float, nullable=False),
        sa.Column("nudge_at", sa.String(5), nullable=True),
        sa.Column("tz", sa.String(64), nullable=True),
        sa.Column("nudged_through", sa.Float, nullable=True),
    )
    op.create_table(
        "nudges",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("posted_at", sa.Float, nullable=True),
        sa.UniqueConstraint("user_id", "day", name="uq_nudges_user_day"),
    )
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("clue_id", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("user_id", "clue_id", name="uq_assignments_user_clue"),
    )


def downgrade() -> None:
    op.drop_table("assignments")
    op.drop_table("nudges")
    op.drop_table("people")
