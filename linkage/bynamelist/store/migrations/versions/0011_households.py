"""Households: each record's household pseudonym and head-of-household flag (0 for every
record from before this revision, which carried none: each such person is a household alone
until their agency uploads again).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "records", sa.Column("household", sa.BigInteger, nullable=False, server_default="0")
    )
    op.add_column("records", sa.Column("head", sa.SmallInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.drop_column("head")
        batch.drop_column("household")
