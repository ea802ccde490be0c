"""Consent withdrawal: a record removed from the list everywhere, for good, with an audit entry.

The record's row (its encodings and activity), any ruling or review pair naming it, go; the
withdrawal itself is kept (agency and record id only) so that a later upload still holding
the record does not bring it back. The person keeps their id; their status this month is
derived again from the records left (none left: no status, off the list). Earlier months'
figures are history and stay as published; the removal is a correction of this month.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select

from linkage.bynamelist.ingestion.records import person_of
from linkage.bynamelist.monthly import refresh_latest
from linkage.bynamelist.store import Store, StoreError, writing
from linkage.bynamelist.store.schema import decisions, events, records, review, withdrawn


def forget(store: Store, agency: str, record_id: str, reason: str) -> str:
    """Withdraw one record; returns the id of the person it belonged to."""
    if not reason.strip():
        raise StoreError("a withdrawal needs a reason for the audit trail", "pass --reason")
    now = datetime.now(UTC)
    with writing(store) as conn:
        person = person_of(conn, agency, record_id)
        conn.execute(
            delete(records).where((records.c.agency == agency) & (records.c.record_id == record_id))
        )
        for table in (decisions, review):
            for side in ("a", "b"):
                conn.execute(
                    delete(table).where(
                        (table.c[f"agency_{side}"] == agency)
                        & (table.c[f"record_{side}"] == record_id)
                    )
                )
        conn.execute(insert(withdrawn).values(agency=agency, record_id=record_id, at=now))
        left = conn.execute(
            select(func.count()).select_from(records).where(records.c.person_id == person)
        ).scalar_one()
        conn.execute(
            insert(events).values(
                at=now,
                kind="forget",
                person_id=person,
                reason=f"a record of {agency} withdrawn ({reason.strip()}); "
                f"{left} record(s) of the person remain",
            )
        )
        refresh_latest(conn, store.config.bynamelist)
    return person
