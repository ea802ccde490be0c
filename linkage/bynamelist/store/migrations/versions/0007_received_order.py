"""Received uploads keep the order the agency last sent them in, and can be discarded; the
request audit keeps where each request came from; the latest month can be undone.

``sent`` numbers every send, a re-send of a file received before included, so a month's
ingest takes the file each agency sent last (an agency that sends A, then B, then A again
means A; A's row keeps its first id). ``discarded_at`` marks an upload staff set aside
before any ingest took it. Rows from before are numbered in the order they arrived.
``audit.source`` is the caller's address (as the service saw it, or as a trusted proxy
forwarded it), null for rows from before. ``undo`` keeps what the latest month's ingests
found before they wrote (months ingested before this revision cannot be undone).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("received") as batch:
        batch.add_column(sa.Column("sent", sa.Integer, nullable=True))
        batch.add_column(sa.Column("discarded_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE received SET sent = id")
    with op.batch_alter_table("received") as batch:
        batch.alter_column("sent", existing_type=sa.Integer, nullable=False)
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("source", sa.String(64), nullable=True))
    op.create_table(
        "undo",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("uploads", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("records_before", sa.LargeBinary, nullable=False),
        sa.Column("other_before", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("undo")
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("source")
    with op.batch_alter_table("received") as batch:
        batch.drop_column("discarded_at")
        batch.drop_column("sent")
