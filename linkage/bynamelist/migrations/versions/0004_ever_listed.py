"""Each person's populations ever listed, kept on the person instead of re-read from history;
an index on ``people.merged_into`` (a merge re-points the ids merged into the absorbed one).

Revision ID: 0004
Revises: 0003

The column starts at 0 on every person and the fold mark (meta ``ever_listed_through``)
is absent, so the first refresh after this upgrade folds the whole frozen history in once;
later refreshes fold only the months since.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(
            sa.Column("ever_listed", sa.SmallInteger, nullable=False, server_default="0")
        )
    op.create_index("ix_people_merged_into", "people", ["merged_into"])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM meta WHERE key = 'ever_listed_through'"))
    op.drop_index("ix_people_merged_into", table_name="people")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("ever_listed")
