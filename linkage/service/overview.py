"""What the staff dashboard shows, as one JSON-ready dict: every month's published figures,
the agencies' coverage and upload recency, and the review queue's length.

The figures are the suppressed ones a report publishes (:func:`linkage.bynamelist.build_report`),
so a chart drawn from them can be shown on a screen in a shared office; nothing here is a
record, a person id or a value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from linkage.bynamelist.groups import list_groups, overlap
from linkage.bynamelist.report import QUALITY_MONTHS, build_reports
from linkage.bynamelist.status import POPULATIONS
from linkage.bynamelist.store import Store, StoreError
from linkage.bynamelist.store.schema import figures, received, review, tokens
from linkage.service.spool import WAITING


def overview(store: Store) -> dict[str, Any]:
    """The dashboard's data, now."""
    now = datetime.now(UTC)
    with store.engine.connect() as conn:
        months = list(conn.execute(select(figures.c.month).distinct().order_by(figures.c.month)))
        review_count = conn.execute(select(func.count()).select_from(review)).scalar_one()
        got = conn.execute(
            select(
                received.c.agency,
                func.max(received.c.received_at),
                func.max(received.c.month),
                func.count(),
                func.count(received.c.id).filter(WAITING),
            ).group_by(received.c.agency)
        ).all()
        holders = conn.execute(
            select(tokens.c.agency)
            .distinct()
            .where(tokens.c.agency.is_not(None) & tokens.c.revoked_at.is_(None))
        ).scalars()
        agencies = set(holders) | {row[0] for row in got}
    reports = build_reports(store, [m for (m,) in months])
    latest = reports[-1] if reports else None
    covered = {a["agency"]: a for a in latest.coverage} if latest else {}
    sent = {agency: (at, month, n, w) for agency, at, month, n, w in got}
    rows = []
    for agency in sorted(agencies | covered.keys()):
        cover = covered.get(agency, {})
        at, month, n, waiting = sent.get(agency, (None, None, 0, 0))
        at = at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
        rows.append(
            {
                "agency": agency,
                # the later of the last month ingested and the last one sent (maybe waiting)
                "last_upload_month": max(
                    (m for m in (cover.get("last_upload_month"), month) if m), default=None
                ),
                "records": cover.get("records"),
                "active_known": cover.get("active_known"),
                "share": cover.get("share"),
                "last_received_at": at.isoformat() if at else None,
                "days_since_upload": (now - at).days if at else None,
                "uploads_received": n,
                "uploads_waiting": waiting,
            }
        )
    return {
        "latest_month": latest.month if latest else None,
        "months": [r.month for r in reports],
        "populations": list(POPULATIONS),
        "suppress_below": store.config.bynamelist.suppress_below,
        "figures": {r.month: r.rows for r in reports},
        "active_estimates": {r.month: r.active_estimate for r in reports},
        "reliable": {r.month: r.reliable["all"] for r in reports},
        "reliable_streak": latest.reliable_streak if latest else None,
        "quality_list": latest.quality if latest else None,
        "quality_months": QUALITY_MONTHS,
        "agencies": rows,
        "review_pending": review_count,
        "overlap": _overlap(store),
    }


#: The most units the overlap heat map shows (those that know most of the list).
OVERLAP_UNITS = 20


def _overlap(store: Store) -> dict[str, Any] | None:
    """The latest month's overlap, by group where the store has groups, else by agency,
    for the units that know most of the list (suppressed cells None); None before a month."""
    try:
        table = overlap(store, "group" if list_groups(store) else "agency")
    except StoreError:
        return None
    units = sorted(table.known, key=lambda u: (-(table.known[u] or 0), u))[:OVERLAP_UNITS]
    return {
        "month": table.month,
        "by": table.by,
        "units": units,
        "known": [table.known[u] for u in units],
        "shared": [[a, b, n] for (a, b), n in table.shared.items() if a in units and b in units],
    }
