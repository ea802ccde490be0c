"""What linking decided, written: people made and merged (a person's id changes only by a
recorded merge), the review queue, and the records' rows.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from linkage.bynamelist.bulk import insert_rows, update_rows
from linkage.bynamelist.ingestion.link import Linked, ReviewPair
from linkage.bynamelist.ingestion.records import NO_ACTIVITY, Records
from linkage.bynamelist.ingestion.summary import IngestSummary
from linkage.bynamelist.rollback import Undo
from linkage.bynamelist.store.schema import (
    ATTRIBUTE_COLUMNS,
    ENCODING_COLUMNS,
    events,
    people,
    records,
    review,
)


def new_person_id(taken: set[str]) -> str:
    """A random id with no relation to the person's data (60 bits: no collision in practice,
    and checked anyway)."""
    while True:
        pid = "P" + base64.b32encode(secrets.token_bytes(8)).decode()[:12]
        if pid not in taken:
            taken.add(pid)
            return pid


#: Values per IN list (SQLite's default limit on bound parameters is 32,766).
_CHUNK = 10_000


def assign_people(
    conn: Connection,
    part: Records,
    linked: Linked,
    upload_id: int,
    now: datetime,
    report: IngestSummary,
    kept: Undo,
) -> None:
    """Give each entity a person id: its one existing person's, the oldest of several (the
    others are merged into it, with the reason recorded), or a new one."""
    best = linked.best_joins(part.person)
    labels, clerical = linked.labels, linked.clerical
    by_entity: dict[int, list[int]] = {}
    for i, label in enumerate(labels.tolist()):
        by_entity.setdefault(label, []).append(i)
    entities = [
        (members, sorted({p for p in (part.person[i] for i in members) if p is not None}))
        for members in by_entity.values()
    ]
    created = created_upload(conn, {p for _, known in entities if len(known) > 1 for p in known})
    taken: set[str] | None = None
    new_people: list[tuple[str, int]] = []
    merges: list[tuple[str, str, str]] = []
    for members, known in entities:
        if not known:
            if taken is None:
                taken = set(conn.execute(select(people.c.id)).scalars())
            pid = new_person_id(taken)
            new_people.append((pid, upload_id))
        else:
            pid = min(known, key=lambda p: (created.get(p, 0), p))
            for other in known:
                if other == pid:
                    continue
                key = (min(pid, other), max(pid, other))
                score = best.get(key)
                if key in clerical:
                    reason = "a clerk ruled two of their records the same person"
                elif score is not None:
                    reason = f"linked at match probability {score:.3f} (best pair of their records)"
                else:
                    reason = "joined through records new in this ingest"
                merges.append((pid, other, reason))
        for i in members:
            part.person[i] = pid
    kept.before_merges(conn, [absorbed for _, absorbed, _ in merges])
    merge_people(conn, merges, upload_id, now)
    report.merges = len(merges)
    insert_rows(conn, people, ["id", "created_upload"], new_people)
    report.new_people = len(new_people)


def created_upload(conn: Connection, persons: set[str]) -> dict[str, int]:
    """The upload each of these people was created by (the oldest survives a merge)."""
    found: dict[str, int] = {}
    chosen = sorted(persons)
    for at in range(0, len(chosen), _CHUNK):
        query = select(people.c.id, people.c.created_upload).where(
            people.c.id.in_(chosen[at : at + _CHUNK])
        )
        found.update((pid, upload) for pid, upload in conn.execute(query))
    return found


def merge_people(
    conn: Connection,
    merges: Sequence[tuple[str, str, str]],
    upload_id: int | None,
    now: datetime,
) -> None:
    """Merge each (survivor, absorbed, reason): the absorbed id, and every id merged into it
    before, point at the survivor, and the merge is recorded with its reason. One statement
    of each kind for the whole batch (an absorbed id is never another merge's survivor)."""
    if not merges:
        return
    moves = [{"to": survivor, "from": absorbed} for survivor, absorbed, _ in merges]
    conn.execute(
        update(people).where(people.c.id == bindparam("from")).values(merged_into=bindparam("to")),
        moves,
    )
    conn.execute(
        update(people)
        .where(people.c.merged_into == bindparam("from"))
        .values(merged_into=bindparam("to")),
        moves,
    )
    conn.execute(
        insert(events),
        [
            {
                "at": now,
                "upload_id": upload_id,
                "kind": "merge",
                "person_id": survivor,
                "other_person_id": absorbed,
                "reason": reason,
            }
            for survivor, absorbed, reason in merges
        ],
    )


def replace_review(
    conn: Connection,
    part: Records,
    review_rows: list[ReviewPair],
    upload_id: int,
) -> None:
    """The review list after linking ``part``: its pairs replace those it decided again (both
    records linked now); pairs reaching records not linked now stand as they were."""
    linked = set(zip(part.agency, part.record_id, strict=True))
    stale = [
        r.id
        for r in conn.execute(
            select(
                review.c.id,
                review.c.agency_a,
                review.c.record_a,
                review.c.agency_b,
                review.c.record_b,
            )
        )
        if (r.agency_a, r.record_a) in linked and (r.agency_b, r.record_b) in linked
    ]
    for at in range(0, len(stale), _CHUNK):
        conn.execute(delete(review).where(review.c.id.in_(stale[at : at + _CHUNK])))
    if review_rows:
        conn.execute(
            insert(review),
            [
                {
                    "agency_a": part.agency[pair.a],
                    "record_a": part.record_id[pair.a],
                    "agency_b": part.agency[pair.b],
                    "record_b": part.record_id[pair.b],
                    "score": pair.score,
                    "reason": pair.reason,
                    "upload_id": upload_id,
                }
                for pair in review_rows
            ],
        )


def drop_settled_pairs(conn: Connection) -> None:
    """Take off the review queue every pair whose two records are now one person (a clerk's
    "same" on another pair of theirs, or a merge since): nothing is left to decide there."""
    ra, rb = records.alias("ra"), records.alias("rb")
    settled = (
        select(review.c.id)
        .join(ra, (ra.c.agency == review.c.agency_a) & (ra.c.record_id == review.c.record_a))
        .join(rb, (rb.c.agency == review.c.agency_b) & (rb.c.record_id == review.c.record_b))
        .where(ra.c.person_id == rb.c.person_id)
    )
    conn.execute(delete(review).where(review.c.id.in_(settled)))


def write_records(conn: Connection, table: Records) -> None:
    """Write back what the ingest changed: new records; known ones an upload held (their
    encodings too where those changed); and any whose person changed."""
    existing = table.db_id > 0
    held = existing & (table.upload > 0)
    for mask, encodings in ((held & table.dirty, True), (held & ~table.dirty, False)):
        rows = np.flatnonzero(mask).tolist()
        columns = [
            "person_id",
            "last_upload",
            *ATTRIBUTE_COLUMNS,
            *(ENCODING_COLUMNS if encodings else ()),
        ]
        update_rows(
            conn,
            records,
            "id",
            columns,
            (
                (
                    table.person[i],
                    int(table.upload[i]),
                    *_attribute_values(table.attributes[i]),
                    *(_encoding_values(table, i) if encodings else ()),
                    int(table.db_id[i]),
                )
                for i in rows
            ),
        )
    moved = np.flatnonzero(existing & (table.upload == 0) & table.moved).tolist()
    update_rows(
        conn, records, "id", ["person_id"], ((table.person[i], int(table.db_id[i])) for i in moved)
    )
    new = np.flatnonzero(~existing).tolist()
    insert_rows(
        conn,
        records,
        [*_KEYS, *ENCODING_COLUMNS, *ATTRIBUTE_COLUMNS],
        (
            (
                table.agency[i],
                table.record_id[i],
                table.person[i],
                int(table.upload[i]),
                int(table.upload[i]),
                *_encoding_values(table, i),
                *_attribute_values(table.attributes[i]),
            )
            for i in new
        ),
    )


_KEYS = ("agency", "record_id", "person_id", "first_upload", "last_upload")


def _encoding_values(table: Records, i: int) -> tuple[bytes | None, ...]:
    columns = (table.clk, table.field_clks, table.block_keys)
    return tuple(None if column is None else column[i].tobytes() for column in columns)


def _attribute_values(row: npt.NDArray[np.int64]) -> tuple[Any, ...]:
    """A record's attributes as the store's columns hold them (null for no activity)."""
    day, *codes = (None if v == NO_ACTIVITY else int(v) for v in row.tolist())
    return (None if day is None else date.fromordinal(day), *codes)
