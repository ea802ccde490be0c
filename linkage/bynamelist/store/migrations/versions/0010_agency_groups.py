"""Groups of agencies: a name, what the group is drawn by, and its agencies.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agency_groups",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("agency", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("name", "agency", name="pk_agency_groups"),
    )


def downgrade() -> None:
    op.drop_table("agency_groups")
