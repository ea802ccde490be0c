"""Withdrawn records (consent revoked) and count-only agencies' counts.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_AGENCY = sa.String(200)


def upgrade() -> None:
    op.create_table(
        "withdrawn",
        sa.Column("agency", _AGENCY, nullable=False),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agency", "record_id", name="pk_withdrawn"),
    )
    op.create_table(
        "counts",
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("agency", _AGENCY, nullable=False),
        sa.Column("population", sa.String(16), nullable=False),
        sa.Column("measure", sa.String(32), nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("month", "agency", "population", "measure", name="pk_counts"),
    )


def downgrade() -> None:
    op.drop_table("counts")
    op.drop_table("withdrawn")
