"""Each status row carries the populations the person was listed in before that month, so a
month reads its predecessor instead of the whole history; an index on ``people.merged_into``
(a merge re-points the ids merged into the absorbed one).

Revision ID: 0004
Revises: 0003

Rows written before this upgrade hold 0 and the meta mark ``listed_before_from`` is absent:
the first month refreshed after it reads the whole frozen history once, as before, and sets
the mark to itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("statuses") as batch:
        batch.add_column(
            sa.Column("listed_before", sa.SmallInteger, nullable=False, server_default="0")
        )
    op.create_index("ix_people_merged_into", "people", ["merged_into"])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM meta WHERE key = 'listed_before_from'"))
    op.drop_index("ix_people_merged_into", table_name="people")
    with op.batch_alter_table("statuses") as batch:
        batch.drop_column("listed_before")
