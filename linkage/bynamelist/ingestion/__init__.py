"""Monthly ingest: link new uploads against the people already on the list and each other.

An ingest links only what is new: records new to the store or re-encoded (dirty), with every
record of each person one of them is a candidate of. Pairs of old records were scored before
and left their people as they are; only new evidence can change a person. Linking starts from
what the store knew: each person's records begin as one group that is never split here, new
records join a person only by the same majority rule as any merge, and a clerk's rulings hold
("same": one group from the start; "never": no merge may join them). So a person's id changes
only by a recorded merge, and the older id survives it. The weights' statistics (record
count, u, value frequencies) still come from every record on the list.

An ingest is one database transaction: a crash or a kill at any point leaves the store as it
was. A file already ingested (same SHA-256) is skipped, so re-running a month changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select

from linkage.bynamelist.counts import is_count_only
from linkage.bynamelist.ingestion.checks import (
    activity_as_of,
    check_against_store,
    check_secret,
    check_upload,
    refuse_month_past_activity,
)
from linkage.bynamelist.ingestion.link import link_month
from linkage.bynamelist.ingestion.persist import (
    assign_people,
    drop_settled_pairs,
    replace_review,
    write_records,
)
from linkage.bynamelist.ingestion.records import Records, fold_upload, load_records, rows_by_record
from linkage.bynamelist.ingestion.summary import IngestSummary
from linkage.bynamelist.monthly import (
    check_month,
    refresh,
    refuse_before_latest,
)
from linkage.bynamelist.rollback import Undo
from linkage.bynamelist.store import Store, StoreError, writing
from linkage.bynamelist.store.schema import (
    events,
    people,
    records,
    review,
    uploads,
    withdrawn,
)
from linkage.formats.container import ClkData
from linkage.matching import read_uploads
from linkage.progress import Progress

__all__ = ["IngestSummary", "check_upload", "ingest"]


def ingest(
    store: Store,
    paths: Sequence[Path],
    month: str,
    progress: Progress | None = None,
    waiting: Progress | None = None,
    past_activity: bool = False,
) -> IngestSummary:
    """Ingest one month's uploads (one .clk file per agency) in one transaction, which holds
    the store's write lock before it reads anything (``waiting`` is told when it must wait
    for another writer; ``progress`` by default). ``past_activity``: take a month later than
    the uploads' activity (see :func:`refuse_month_past_activity`)."""
    started = time.perf_counter()
    report = IngestSummary(check_month(month))
    files = read_uploads(paths)
    check_against_store(store, paths, files)
    if not past_activity:
        refuse_month_past_activity([data.header for data in files], month)
    digests = [data.digest for data in files]
    now = datetime.now(UTC)
    with writing(store, waiting or progress) as conn:
        query = select(uploads.c.digest, uploads.c.month).where(uploads.c.digest.in_(digests))
        seen = dict(conn.execute(query).all())
        fresh = []
        for path, data, digest in zip(paths, files, digests, strict=True):
            entry = {"agency": data.header.agency, "file": str(path), "records": len(data.ids)}
            if digest in seen:
                if seen[digest] != month:
                    raise StoreError(
                        f"{path} was already ingested for {seen[digest]}",
                        "send a fresh export for each month",
                    )
                report.files.append({**entry, "status": "already ingested"})
                continue
            fresh.append((data, digest, entry))
        if fresh:
            refuse_before_latest(
                conn,
                month,
                "an upload",
                "ingest late uploads with --month {latest}: corrections are carried into "
                "the current month, never written into history",
            )
            _ingest_fresh(conn, store, fresh, month, now, report, progress)
        report.records = conn.execute(select(func.count()).select_from(records)).scalar_one()
        report.review = conn.execute(select(func.count()).select_from(review)).scalar_one()
        report.people = conn.execute(
            select(func.count()).select_from(people).where(people.c.merged_into.is_(None))
        ).scalar_one()
    report.seconds = time.perf_counter() - started
    return report


def _ingest_fresh(
    conn: Connection,
    store: Store,
    fresh: list[tuple[ClkData, str, dict[str, Any]]],
    month: str,
    now: datetime,
    report: IngestSummary,
    progress: Progress | None,
) -> None:
    kept = Undo.begin(conn)  # before anything changes: the month can be undone exactly
    check_secret(conn, fresh[0][0].header.key_check_value)
    for data, _, _ in fresh:
        if is_count_only(conn, data.header.agency):
            raise StoreError(
                f"{data.header.agency} is a count-only agency; it cannot send encoded records",
                "use another agency name for its encoded uploads",
            )
    if progress:
        progress("loading the store's records")
    table = load_records(conn)
    index = rows_by_record(table, {data.header.agency for data, _, _ in fresh})
    gone = {(a, r) for a, r in conn.execute(select(withdrawn.c.agency, withdrawn.c.record_id))}
    parts = [table]
    upload_ids: list[int] = []
    for data, digest, entry in fresh:
        upload_id: int = conn.execute(
            insert(uploads)
            .values(
                agency=data.header.agency,
                month=month,
                digest=digest,
                records=len(data.ids),
                ingested_at=now,
                activity_as_of=activity_as_of(data.header),
            )
            .returning(uploads.c.id)
        ).scalar_one()
        upload_ids.append(upload_id)
        part, updated, skipped = fold_upload(
            table, index[data.header.agency], data, upload_id, gone
        )
        parts.append(part)
        report.files.append(
            {
                **entry,
                "status": "ingested",
                "new": len(part),
                "updated": updated,
                "withdrawn": skipped,
            }
        )
        conn.execute(
            insert(events).values(
                at=now,
                upload_id=upload_id,
                kind="ingest",
                reason=f"{data.header.agency} {month}: {len(data.ids)} records, {len(part)} new, "
                f"{updated} with a changed encoding",
            )
        )
    table = Records.concat(parts)
    month_linked = link_month(conn, store, table, report, progress)
    if month_linked is not None:
        part, linked = month_linked.part, month_linked.linked
        first_upload = min(upload_ids)
        assign_people(conn, part, linked, first_upload, now, report, kept)
        table.set_people(month_linked.rows, part.person)
        replace_review(conn, part, linked.review, first_upload)
    existing = table.db_id > 0
    touched = existing & ((table.upload > 0) | table.moved)
    kept.before_records(
        conn, table.db_id[touched], table.db_id[existing & (table.upload > 0) & table.dirty]
    )
    write_records(conn, table)
    drop_settled_pairs(conn)
    if progress:
        progress(f"statuses and figures for {month}")
    refresh(conn, month, store.config.bynamelist, table.activity_now())
    kept.save(conn, month, upload_ids, now)
