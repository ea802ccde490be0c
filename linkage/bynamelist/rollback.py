"""Undoing the list's latest month, exactly.

An ingest changes rows that were there before it: the records an upload holds (their person,
last upload, activity, and encodings where they changed), the people it merges, the review
queue, the store's settings (the secret's key check value, on the first upload). Before it
writes, it keeps what those rows held in one ``undo`` row for the month (compressed columns, a
few bytes a record); what it adds (uploads, records, people, events, the month's statuses,
figures and notices) carries the month's upload ids or its month and is simply deleted.
``linkage bnl rollback --month M`` applies the month's undo rows, latest first, and leaves the
store as it was before the month's first ingest. Only the latest month can be undone (history is
frozen), and only while no clerk's ruling or withdrawal has touched the list since its first
ingest (those are not undone, so the store would not be as it was). Undo rows of earlier months
are dropped when a new month begins.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, delete, func, insert, select, update

from linkage.bynamelist.bulk import insert_rows, ordinals, read_rows, update_rows
from linkage.bynamelist.monthly import check_month, latest_upload_month
from linkage.bynamelist.store import Store, StoreError, writing
from linkage.bynamelist.store.schema import (
    ATTRIBUTE_COLUMNS,
    ENCODING_COLUMNS,
    coverage,
    decisions,
    estimates,
    events,
    figures,
    meta,
    notices,
    people,
    received,
    records,
    review,
    status_months,
    undo,
    uploads,
    withdrawn,
)

_CHUNK = 900
_NONE = -1
_CODES = ATTRIBUTE_COLUMNS[1:]  # the codes, consent and household; last_activity read apart
#: What a code was before its column existed, for an undo row saved before (consent: schema
#: 0009 gave every record 0, so that is what they held; households: 0011 likewise).
_BEFORE_COLUMN = {"consent": 0, "household": 0, "head": 0}
_REVIEW = (
    "id",
    "agency_a",
    "record_a",
    "agency_b",
    "record_b",
    "score",
    "reason",
    "upload_id",
)


@dataclass
class Undo:
    """What one ingest found before it wrote: collected as it goes, saved at its end."""

    meta: list[list[str]]
    review: list[list[Any]]
    people: dict[str, str | None] = field(default_factory=dict)
    records: bytes = b""

    @classmethod
    def begin(cls, conn: Connection) -> Undo:
        """The settings and the review queue, before the ingest touches either."""
        settings = [[k, v] for k, v in conn.execute(select(meta.c.key, meta.c.value))]
        queue = [list(row) for row in conn.execute(select(*(review.c[c] for c in _REVIEW)))]
        return cls(settings, queue)

    def before_merges(self, conn: Connection, absorbed: Sequence[str]) -> None:
        """The people a batch of merges is about to repoint (the absorbed, and those merged
        into them before), as they are now; the first sight of a person is what it was."""
        chosen = sorted(set(absorbed))
        for at in range(0, len(chosen), _CHUNK):
            part = chosen[at : at + _CHUNK]
            query = select(people.c.id, people.c.merged_into).where(
                people.c.id.in_(part) | people.c.merged_into.in_(part)
            )
            for pid, into in conn.execute(query):
                self.people.setdefault(pid, into)

    def before_records(
        self, conn: Connection, touched: npt.NDArray[np.int64], recoded: npt.NDArray[np.int64]
    ) -> None:
        """The records about to be rewritten (``touched``: their person, last upload and
        activity; ``recoded``: their encodings too), as they are now, as compressed columns."""
        found = read_rows(
            conn, records, ["id", "person_id", "last_upload", "last_activity", *_CODES]
        )
        ids = np.array([r[0] for r in found], np.int64)
        keep = np.isin(ids, touched)
        rows = [r for r, k in zip(found, keep.tolist(), strict=True) if k]
        columns: dict[str, npt.NDArray[Any]] = {
            "id": ids[keep],
            "person": np.array([r[1] for r in rows], "U16"),
            "last_upload": np.array([r[2] for r in rows], np.int64),
            "last_activity": ordinals([r[3] for r in rows]),
        }
        for i, name in enumerate(_CODES, start=4):
            columns[name] = np.array([_NONE if r[i] is None else r[i] for r in rows], np.int64)
        recoded_ids = sorted(recoded.tolist())
        encoded: dict[int, tuple[Any, ...]] = {}
        for at in range(0, len(recoded_ids), _CHUNK):
            part = recoded_ids[at : at + _CHUNK]
            query = select(records.c.id, *(records.c[c] for c in ENCODING_COLUMNS)).where(
                records.c.id.in_(part)
            )
            encoded.update((row[0], tuple(row[1:])) for row in conn.execute(query))
        columns["recoded"] = np.array(recoded_ids, np.int64)
        for i, name in enumerate(ENCODING_COLUMNS):
            values = [encoded[r][i] for r in recoded_ids]
            columns[f"{name}_null"] = np.array([v is None for v in values], np.bool_)
            present = [v for v in values if v is not None]
            width = len(present[0]) if present else 0
            columns[name] = np.frombuffer(b"".join(present), np.uint8).reshape(-1, width or 1)
        out = io.BytesIO()
        np.savez_compressed(out, **columns)  # type: ignore[arg-type]
        self.records = out.getvalue()

    def save(self, conn: Connection, month: str, upload_ids: Sequence[int], now: datetime) -> None:
        """Keep this ingest's undo row; drop the undo rows of months before (only the latest
        month can be undone)."""
        conn.execute(delete(undo).where(undo.c.month < month))
        other = {"meta": self.meta, "review": self.review, "people": self.people}
        conn.execute(
            insert(undo).values(
                month=month,
                uploads=json.dumps(list(upload_ids)),
                at=now,
                records_before=self.records,
                other_before=json.dumps(other, default=_json_value),
            )
        )


def _json_value(value: object) -> object:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"cannot keep a {type(value).__name__} in an undo row")


@dataclass(frozen=True)
class Rollback:
    """What undoing a month removed, in counts."""

    month: str
    uploads: int
    records: int
    people: int
    now_latest: str | None


def rollback(store: Store, month: str, now: datetime) -> Rollback:
    """Undo every ingest of ``month``, the list's latest, in one transaction."""
    check_month(month)
    with writing(store) as conn:
        latest = latest_upload_month(conn)
        if latest is None:
            raise StoreError("the list has no month yet: nothing to undo")
        if month != latest:
            raise StoreError(
                f"only the list's latest month ({latest}) can be undone, not {month}",
                f"undo {latest} first, if that is what is meant",
            )
        month_uploads = conn.execute(
            select(uploads.c.id, uploads.c.ingested_at)
            .where(uploads.c.month == month)
            .order_by(uploads.c.id)
        ).all()
        ids = [u.id for u in month_uploads]
        saved = conn.execute(
            select(undo.c.uploads, undo.c.records_before, undo.c.other_before)
            .where(undo.c.month == month)
            .order_by(undo.c.id.desc())
        ).all()
        covered = sorted(i for row in saved for i in json.loads(row.uploads))
        if covered != ids:
            raise StoreError(
                f"no undo record is kept for {month} (only for the latest month's ingests, "
                "from this version of linkage on)",
                "restore the store from a backup taken before that month",
            )
        _refuse_corrections_since(conn, month, month_uploads[0].ingested_at)
        new_records = conn.execute(
            select(func.count()).select_from(records).where(records.c.first_upload.in_(ids))
        ).scalar_one()
        new_people = conn.execute(
            select(func.count()).select_from(people).where(people.c.created_upload.in_(ids))
        ).scalar_one()
        for row in saved:  # the month's last ingest first
            _apply(conn, json.loads(row.uploads), row.records_before, json.loads(row.other_before))
        for table in (status_months, figures, estimates, coverage, notices, undo):
            conn.execute(delete(table).where(table.c.month == month))
        conn.execute(delete(uploads).where(uploads.c.id.in_(ids)))
        conn.execute(  # the service's uploads for the month wait again, to be discarded or
            # ingested once more
            update(received)
            .where((received.c.month == month) & received.c.job_id.is_not(None))
            .values(job_id=None)
        )
        conn.execute(
            insert(events).values(
                at=now,
                kind="rollback",
                reason=f"{month} undone: {len(ids)} upload(s), {new_records} new records and "
                f"{new_people} new people removed, the records and people before restored",
            )
        )
        return Rollback(month, len(ids), new_records, new_people, latest_upload_month(conn))


def _refuse_corrections_since(conn: Connection, month: str, since: datetime) -> None:
    """Rulings and withdrawals change records and people too, and are not undone: a month
    they followed cannot be put back as it was."""
    ruled = conn.execute(
        select(func.count()).select_from(decisions).where(decisions.c.decided_at >= since)
    ).scalar_one()
    gone = conn.execute(
        select(func.count()).select_from(withdrawn).where(withdrawn.c.at >= since)
    ).scalar_one()
    if ruled or gone:
        raise StoreError(
            f"{ruled} ruling(s) and {gone} withdrawal(s) were made after {month} was first "
            "ingested, and they are not undone",
            "restore the store from a backup taken before that month",
        )


def _saved_codes(columns: dict[str, npt.NDArray[Any]], name: str, n: int) -> list[Any]:
    """A code column of an undo row as the store holds it (null for -1)."""
    if name not in columns:
        return [_BEFORE_COLUMN[name]] * n
    return [None if v == _NONE else v for v in columns[name].tolist()]


def _apply(
    conn: Connection, upload_ids: list[int], records_before: bytes, other: dict[str, Any]
) -> None:
    """Put back what one ingest changed, and remove what it added."""
    conn.execute(delete(events).where(events.c.upload_id.in_(upload_ids)))
    conn.execute(delete(records).where(records.c.first_upload.in_(upload_ids)))
    with np.load(io.BytesIO(records_before), allow_pickle=False) as saved:
        columns = {name: saved[name] for name in saved.files}
    days = columns["last_activity"].tolist()
    update_rows(
        conn,
        records,
        "id",
        ["person_id", "last_upload", "last_activity", *_CODES],
        zip(
            columns["person"].tolist(),
            columns["last_upload"].tolist(),
            [date.fromordinal(d) if d else None for d in days],
            *(_saved_codes(columns, c, len(days)) for c in _CODES),
            columns["id"].tolist(),
            strict=True,
        ),
    )
    encodings = []
    for name in ENCODING_COLUMNS:
        rows = iter(columns[name])
        encodings.append(
            [None if null else next(rows).tobytes() for null in columns[f"{name}_null"].tolist()]
        )
    update_rows(
        conn,
        records,
        "id",
        list(ENCODING_COLUMNS),
        zip(*encodings, columns["recoded"].tolist(), strict=True),
    )
    before = other["people"]
    update_rows(conn, people, "id", ["merged_into"], ((into, pid) for pid, into in before.items()))
    conn.execute(delete(people).where(people.c.created_upload.in_(upload_ids)))
    conn.execute(delete(review))
    insert_rows(conn, review, _REVIEW, [tuple(r) for r in other["review"]])
    conn.execute(delete(meta))
    insert_rows(conn, meta, ["key", "value"], [tuple(kv) for kv in other["meta"]])
