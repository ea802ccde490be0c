"""Each month's actively homeless count as the match probabilities see it: an estimate with
an interval, kept beside the month's figures. Months ingested before this revision have none.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "estimates",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("active", sa.Float, nullable=False),
        sa.Column("low", sa.Float, nullable=False),
        sa.Column("high", sa.Float, nullable=False),
        sa.Column("level", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("estimates")
