"""What an agency gets back: its own records' person ids, and nothing about anyone else's.

The export lists every record the agency has sent, with the person id the list gives it. Where
the community allows it (``[bynamelist] share_known_elsewhere``), it adds how many *other*
agencies also hold a record of that person: a count, never which agencies or their record ids.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import func, select

from linkage._atomic import atomic_write
from linkage.bynamelist.store import Store, StoreError
from linkage.bynamelist.store.schema import records

Row = tuple[str, str, int | None]


def agency_mapping(store: Store, agency: str) -> list[Row]:
    """(record id, person id, other agencies knowing the person or None) for each of
    ``agency``'s records, in record-id order."""
    share = store.config.bynamelist.share_known_elsewhere
    with store.engine.connect() as conn:
        own = conn.execute(
            select(records.c.record_id, records.c.person_id)
            .where(records.c.agency == agency)
            .order_by(records.c.record_id)
        ).all()
        if not own:
            raise StoreError(
                f"no records from agency '{agency}' in the store",
                "use the name the agency gave to 'linkage encode --agency'",
            )
        others: dict[str, int] = {}
        if share:
            mine = select(records.c.person_id).where(records.c.agency == agency)
            query = (
                select(records.c.person_id, func.count(func.distinct(records.c.agency)))
                .where(records.c.person_id.in_(mine) & (records.c.agency != agency))
                .group_by(records.c.person_id)
            )
            others = dict(conn.execute(query).all())
    return [(rid, pid, others.get(pid, 0) if share else None) for rid, pid in own]


def agency_csv(store: Store, agency: str) -> tuple[str, int]:
    """``agency``'s mapping as CSV text, and its number of records."""
    rows = agency_mapping(store, agency)
    share = store.config.bynamelist.share_known_elsewhere
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["record_id", "person_id", *(["other_agencies"] if share else [])])
    for rid, pid, others in rows:
        writer.writerow([rid, pid, *([others] if share else [])])
    return text.getvalue(), len(rows)


def write_agency_export(store: Store, agency: str, output: Path) -> int:
    """Write ``agency``'s mapping as CSV (atomically); returns the number of records."""
    text, count = agency_csv(store, agency)
    with atomic_write(output) as fh:
        fh.write(text.encode("utf-8"))
    return count
