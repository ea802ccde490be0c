"""A month's statuses as one row of compressed columns (``status_months``) instead of a row per
person and month (``statuses``); every stored month is converted, values unchanged.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa
from alembic import op

from linkage.bynamelist.packed import MonthStatuses, id_array, pack, unpack

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_statuses = sa.table(
    "statuses",
    sa.column("month", sa.String),
    sa.column("person_id", sa.String),
    sa.column("status", sa.SmallInteger),
    sa.column("flags", sa.SmallInteger),
    sa.column("listed_before", sa.SmallInteger),
)


def _status_months() -> sa.TableClause:
    return sa.table(
        "status_months",
        sa.column("month", sa.String),
        *(sa.column(c, sa.Integer) for c in ("layout", "people_count")),
        *(sa.column(c, sa.LargeBinary) for c in ("people", "status", "flags", "listed")),
    )


def upgrade() -> None:
    op.create_table(
        "status_months",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("layout", sa.SmallInteger, nullable=False),
        sa.Column("people_count", sa.Integer, nullable=False),
        sa.Column("people", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.LargeBinary, nullable=False),
        sa.Column("flags", sa.LargeBinary, nullable=False),
        sa.Column("listed", sa.LargeBinary, nullable=False),
    )
    conn = op.get_bind()
    months = conn.execute(sa.select(_statuses.c.month).distinct()).scalars().all()
    for month in sorted(months):
        query = sa.select(
            _statuses.c.person_id,
            _statuses.c.status,
            _statuses.c.flags,
            _statuses.c.listed_before,
        ).where(_statuses.c.month == month)
        pids, status, flags, listed = zip(*conn.execute(query).all(), strict=True)
        packed = pack(
            MonthStatuses(
                id_array(list(pids)),
                np.array(status, np.int64),
                np.array(flags, np.int64),
                np.array(listed, np.int64),
            )
        )
        conn.execute(sa.insert(_status_months()).values(month=month, **packed))
    op.drop_table("statuses")


def downgrade() -> None:
    op.create_table(
        "statuses",
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("person_id", sa.String(16), sa.ForeignKey("people.id"), nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("flags", sa.SmallInteger, nullable=False),
        sa.Column("listed_before", sa.SmallInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("month", "person_id", name="pk_statuses"),
    )
    conn = op.get_bind()
    table = _status_months()
    for row in conn.execute(sa.select(table)).mappings().all():
        month = unpack(dict(row), row["month"])
        if not len(month):
            continue
        rows = zip(
            month.person_ids(),
            month.status.tolist(),
            month.flags.tolist(),
            month.listed.tolist(),
            strict=True,
        )
        conn.execute(
            sa.insert(_statuses),
            [
                {"month": row["month"], "person_id": p, "status": s, "flags": f, "listed_before": b}
                for p, s, f, b in rows
            ],
        )
    op.drop_table("status_months")
