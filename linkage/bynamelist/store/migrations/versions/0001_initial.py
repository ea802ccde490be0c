"""The first schema: settings, uploads, people, records, events, decisions, review pairs.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_AGENCY = sa.String(200)
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agency", _AGENCY, nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("ingested_at", _WHEN, nullable=False),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("created_upload", sa.Integer, sa.ForeignKey("uploads.id"), nullable=False),
        sa.Column("merged_into", sa.String(16), sa.ForeignKey("people.id"), nullable=True),
    )
    op.create_table(
        "records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agency", _AGENCY, nullable=False),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("person_id", sa.String(16), sa.ForeignKey("people.id"), nullable=False),
        sa.Column("first_upload", sa.Integer, sa.ForeignKey("uploads.id"), nullable=False),
        sa.Column("last_upload", sa.Integer, sa.ForeignKey("uploads.id"), nullable=False),
        sa.Column("clk", sa.LargeBinary, nullable=False),
        sa.Column("field_clks", sa.LargeBinary, nullable=True),
        sa.Column("block_keys", sa.LargeBinary, nullable=True),
        sa.UniqueConstraint("agency", "record_id", name="uq_records_agency_record"),
    )
    op.create_index("ix_records_person", "records", ["person_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", _WHEN, nullable=False),
        sa.Column("upload_id", sa.Integer, sa.ForeignKey("uploads.id"), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("person_id", sa.String(16), nullable=True),
        sa.Column("other_person_id", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("agency_a", _AGENCY, nullable=False),
        sa.Column("record_a", sa.String(200), nullable=False),
        sa.Column("agency_b", _AGENCY, nullable=False),
        sa.Column("record_b", sa.String(200), nullable=False),
        sa.Column("decided_at", _WHEN, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.UniqueConstraint(
            "agency_a", "record_a", "agency_b", "record_b", name="uq_decisions_pair"
        ),
    )
    op.create_table(
        "review",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agency_a", _AGENCY, nullable=False),
        sa.Column("record_a", sa.String(200), nullable=False),
        sa.Column("agency_b", _AGENCY, nullable=False),
        sa.Column("record_b", sa.String(200), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("upload_id", sa.Integer, sa.ForeignKey("uploads.id"), nullable=False),
    )


def downgrade() -> None:
    for table in ("review", "decisions", "events", "records", "people", "uploads", "meta"):
        op.drop_table(table)
