"""Activity attributes on records and uploads; monthly statuses, figures and coverage.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_MONTH = sa.String(7)


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("activity_as_of", sa.Date, nullable=True))
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("last_activity", sa.Date, nullable=True))
        batch.add_column(sa.Column("situation", sa.SmallInteger, nullable=True))
        batch.add_column(sa.Column("project_type", sa.SmallInteger, nullable=True))
        batch.add_column(sa.Column("flags", sa.SmallInteger, nullable=True))
    op.create_table(
        "statuses",
        sa.Column("month", _MONTH, nullable=False),
        sa.Column("person_id", sa.String(16), sa.ForeignKey("people.id"), nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("flags", sa.SmallInteger, nullable=False),
        sa.PrimaryKeyConstraint("month", "person_id", name="pk_statuses"),
    )
    op.create_table(
        "figures",
        sa.Column("month", _MONTH, nullable=False),
        sa.Column("population", sa.String(16), nullable=False),
        sa.Column("measure", sa.String(32), nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("month", "population", "measure", name="pk_figures"),
    )
    op.create_table(
        "coverage",
        sa.Column("month", _MONTH, nullable=False),
        sa.Column("agency", sa.String(200), nullable=False),
        sa.Column("last_month", _MONTH, nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("active", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("month", "agency", name="pk_coverage"),
    )


def downgrade() -> None:
    op.drop_table("coverage")
    op.drop_table("figures")
    op.drop_table("statuses")
    with op.batch_alter_table("records") as batch:
        for column in ("flags", "project_type", "situation", "last_activity"):
            batch.drop_column(column)
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("activity_as_of")
