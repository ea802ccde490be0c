"""Sharing: each record's consent flag (0 for every record from before this revision, which
carried none), the sharing agreements between agencies with their parties, and the notices
of events on shared people.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "records", sa.Column("consent", sa.SmallInteger, nullable=False, server_default="0")
    )
    op.create_table(
        "agreements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("purpose", sa.String(24), nullable=False),
        sa.Column("starts", sa.Date, nullable=False),
        sa.Column("ends", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_table(
        "agreement_agencies",
        sa.Column("agreement_id", sa.Integer, sa.ForeignKey("agreements.id"), nullable=False),
        sa.Column("agency", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("agreement_id", "agency", name="pk_agreement_agencies"),
    )
    op.create_table(
        "notices",
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("agency", sa.String(200), nullable=False),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("person_id", sa.String(16), nullable=False),
        sa.Column("event", sa.String(24), nullable=False),
        sa.PrimaryKeyConstraint("month", "agency", "record_id", "event", name="pk_notices"),
    )


def downgrade() -> None:
    op.drop_table("notices")
    op.drop_table("agreement_agencies")
    op.drop_table("agreements")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("consent")
