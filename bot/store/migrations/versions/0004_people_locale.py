"""People: the language each person chose in Home (NULL: their Slack locale).

Revision ID: 0004_people_locale
Revises: 0003_people
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_people_locale"
down_revision = "0003_people"


def upgrade() -> None:
    op.add_column("people", sa.Column("locale", sa.String(8), nullable=True))


def downgrade() -> None:
    # batch mode: SQLite drops a column by copying the table
    with op.batch_alter_table("people") as batch:
        batch.drop_column("locale")
