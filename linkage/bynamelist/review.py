"""Clerical review: the pairs an ingest left for a person, and their rulings applied at once.

A ruling is kept (``decisions``) and honoured by every later ingest; it also takes effect now,
in one transaction with the month's figures recomputed (a correction is carried into the
current month):

- "same" on two people merges them, the older id surviving, with the clerk's reason;
- "never" on two records of one person splits that person: their records are linked again
  without the person's grouping, keeping the ruling, and each resulting group other than the
  one holding the person's earliest record becomes a new person. Every split is recorded.

Either way every queued pair the ruling settles leaves the queue: a pair whose two records
are now one person has nothing left to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from linkage.bynamelist.ingestion.link import link_rows, population_of
from linkage.bynamelist.ingestion.persist import (
    created_upload,
    drop_settled_pairs,
    merge_people,
    new_person_id,
)
from linkage.bynamelist.ingestion.records import load_records, person_of
from linkage.bynamelist.ingestion.summary import IngestSummary
from linkage.bynamelist.monthly import refresh_latest
from linkage.bynamelist.store import Store, StoreError, writing
from linkage.bynamelist.store.schema import decisions, events, people, records, review, uploads
from linkage.matching.resolve import REFUSED_NEVER, REFUSED_SIZE, REFUSED_SUPPORT

KINDS = ("same", "never")
Record = tuple[str, str]  # (agency, record id)


@dataclass(frozen=True)
class ReviewPair:
    """A pair waiting for a ruling, with its records' current people, how much a ruling is
    expected to change the count, and why it waits, in words a clerk reads."""

    id: int
    a: Record
    b: Record
    score: float
    reason: str
    person_a: str
    person_b: str
    expected_change: float
    why: str


def pending(store: Store) -> list[ReviewPair]:
    """The review list, the rulings expected to change the count most first.

    A pair of two people is one person fewer with the chance that it is one person (its
    score, a match probability); a pair within one person is one more with the chance that
    it is not. A later pair of the same two people adds nothing the first did not (a ruling
    on either settles both), so the pairs of one couple of people stand together, behind
    the best of them."""
    th, cap = store.config.thresholds, store.config.match.max_cluster
    with store.engine.connect() as conn:
        query = select(records.c.agency, records.c.record_id, records.c.person_id)
        person = {(a, r): p for a, r, p in conn.execute(query)}
        rows = conn.execute(select(review).order_by(review.c.score.desc(), review.c.id)).all()
    pairs = []
    for r in rows:
        pa = person.get((r.agency_a, r.record_a), "?")
        pb = person.get((r.agency_b, r.record_b), "?")
        chance = min(max(float(r.score), 0.0), 1.0)
        pairs.append(
            ReviewPair(
                r.id,
                (r.agency_a, r.record_a),
                (r.agency_b, r.record_b),
                r.score,
                r.reason,
                pa,
                pb,
                chance if pa != pb else 1.0 - chance,
                _in_words(r.reason, chance, th.lower, th.upper, cap),
            )
        )
    best: dict[tuple[str, str], float] = {}
    for pair in pairs:
        couple = _couple(pair)
        best[couple] = max(best.get(couple, 0.0), pair.expected_change)
    return sorted(pairs, key=lambda p: (-best[_couple(p)], _couple(p), -p.expected_change, p.id))


def _couple(pair: ReviewPair) -> tuple[str, str]:
    a, b = sorted((pair.person_a, pair.person_b))
    return a, b


def _in_words(reason: str, chance: float, lower: float, upper: float, cap: int) -> str:
    """Why the matcher left the pair to a person, for a clerk (never a value)."""
    strength = f"the two records match with probability {chance:.2f}"
    if reason == REFUSED_SUPPORT:
        return (
            f"{strength}, but few of the two people's other records match each other: "
            "joining them could chain two different people"
        )
    if reason == REFUSED_SIZE:
        return f"{strength}, but joining the two people would make one of over {cap} records"
    if reason == REFUSED_NEVER:
        return f"{strength}, but a clerk ruled records of these two people never the same"
    return (
        f"{strength}, between the thresholds ({lower:.2f} to {upper:.2f}): the records agree "
        "on some fields and not on others"
    )


@dataclass
class Decision:
    """What a ruling did, in counts and ids (no values exist here to leak)."""

    kind: str
    merged: bool = False
    split_into: list[str] | None = None


def decide(store: Store, a: Record, b: Record, kind: str, note: str = "") -> Decision:
    """Record a ruling on two records and apply it now."""
    if kind not in KINDS:
        raise StoreError(f"a ruling is 'same' or 'never', not '{kind}'")
    if a == b:
        raise StoreError("a ruling needs two different records")
    a, b = sorted((a, b))
    now = datetime.now(UTC)
    done = Decision(kind)
    with writing(store) as conn:
        pa, pb = person_of(conn, *a), person_of(conn, *b)
        pair = {"agency_a": a[0], "record_a": a[1], "agency_b": b[0], "record_b": b[1]}
        swapped = {"agency_a": b[0], "record_a": b[1], "agency_b": a[0], "record_b": a[1]}
        for table in (decisions, review):  # a new ruling replaces the old; the pair is decided
            either = [and_(*(table.c[k] == v for k, v in p.items())) for p in (pair, swapped)]
            conn.execute(delete(table).where(or_(*either)))  # the queue keeps the matcher's order
        conn.execute(insert(decisions).values(kind=kind, decided_at=now, note=note, **pair))
        upload = conn.execute(select(func.max(uploads.c.id))).scalar_one()
        if kind == "same" and pa != pb:
            created = created_upload(conn, {pa, pb})
            survivor, absorbed = sorted((pa, pb), key=lambda p: (created[p], p))
            reason = "a clerk ruled two of their records the same person"
            merge_people(conn, [(survivor, absorbed, reason)], upload, now)
            conn.execute(
                update(records).where(records.c.person_id == absorbed).values(person_id=survivor)
            )
            done.merged = True
        elif kind == "never" and pa == pb:
            done.split_into = _split(conn, store, pa, upload, now)
        drop_settled_pairs(conn)
        refresh_latest(conn, store.config.bynamelist)
    return done


def _split(conn: Connection, store: Store, person: str, upload: int, now: datetime) -> list[str]:
    """Link one person's records again without their grouping (weighed against the whole
    list, as an ingest would); new ids for the parts that do not hold the person's earliest
    record."""
    table = load_records(conn)
    rows = np.flatnonzero(np.fromiter((p == person for p in table.person), np.bool_, len(table)))
    part = table.take(rows)
    labels = link_rows(
        conn,
        store,
        part,
        IngestSummary(""),
        None,
        seed_groups=False,
        population=population_of(store, table, rows),
        scale=len(table),
        whole_keys=table.keys,
    ).labels
    keeper = labels[int(np.argmin(part.db_id))]
    taken = {p for (p,) in conn.execute(select(people.c.id))}
    new_ids: dict[int, str] = {}
    for i, label in enumerate(labels.tolist()):
        if label == keeper:
            continue
        if label not in new_ids:
            new_ids[label] = new_person_id(taken)
            conn.execute(insert(people).values(id=new_ids[label], created_upload=upload))
            conn.execute(
                insert(events).values(
                    at=now,
                    upload_id=upload,
                    kind="split",
                    person_id=person,
                    other_person_id=new_ids[label],
                    reason="a clerk ruled two of their records never the same person",
                )
            )
        conn.execute(
            update(records)
            .where(records.c.id == int(part.db_id[i]))
            .values(person_id=new_ids[label])
        )
    return list(new_ids.values())
