"""Monthly ingest: link new uploads against the people already on the list and each other.

Every ingest re-links all the records the store holds, but starts from what it knew: each
person's records begin as one group that is never split here, new records join a person only
by the same majority rule as any merge, and a clerk's rulings hold ("same": one group from the
start; "never": no merge may join them). So a person's id changes only by a recorded merge,
and the older id survives it.

An ingest is one database transaction: a crash or a kill at any point leaves the store as it
was. A file already ingested (same SHA-256) is skipped, so re-running a month changes nothing.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from linkage.activity import ACTIVITY, AS_OF, NO_PROJECT, check, unpack
from linkage.bynamelist.counts import is_count_only
from linkage.bynamelist.monthly import check_month, refresh, refuse_before_latest
from linkage.bynamelist.schema import (
    decisions,
    events,
    meta,
    people,
    records,
    review,
    uploads,
    withdrawn,
)
from linkage.bynamelist.store import Store, StoreError
from linkage.container import BLOCK_KEYS, FIELD_CLKS, ClkData
from linkage.match import Uploads, match_uploads, read_uploads

Progress = Callable[[str], None]


@dataclass
class IngestReport:
    """What an ingest did, in counts only."""

    month: str
    files: list[dict[str, Any]] = field(default_factory=list)
    new_people: int = 0
    merges: int = 0
    records: int = 0
    people: int = 0
    review: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def new_person_id(taken: set[str]) -> str:
    """A random id with no relation to the person's data (60 bits: no collision in practice,
    and checked anyway)."""
    while True:
        pid = "P" + base64.b32encode(secrets.token_bytes(8)).decode()[:12]
        if pid not in taken:
            taken.add(pid)
            return pid


@dataclass
class _Row:
    """One record as the linking sees it."""

    db_id: int | None
    agency: str
    record_id: str
    person: str | None
    clk: bytes
    field_clks: bytes | None
    block_keys: bytes | None
    first_upload: int
    last_upload: int
    #: (last activity, situation, project type, flags) from the latest upload; Nones: none
    activity: tuple[date | None, int | None, int | None, int | None] = (None, None, None, None)
    changed: bool = False


def _check_against_store(store: Store, paths: Sequence[Path], files: list[ClkData]) -> None:
    """What the store adds to the cross-checks every set of uploads gets: the store's config,
    and no record id twice (a record is keyed by agency and id for good)."""
    fingerprint = store.config.fingerprint
    for path, data in zip(paths, files, strict=True):
        h = data.header
        if h.config_fingerprint != fingerprint:
            raise StoreError(
                f"{path} was encoded with config fingerprint {h.config_fingerprint[:12]}..., "
                f"the store links {store.config.name} ({fingerprint[:12]}...)",
                "agencies must encode with the config the store was made with",
            )
        if len(set(data.ids)) != len(data.ids):
            raise StoreError(f"{path} holds a record id twice", "re-encode the agency's export")
        section = data.sections.get(ACTIVITY)
        if section is not None:
            problem = check(unpack(section))
            if problem is not None or _as_of(data) is None:
                raise StoreError(
                    f"{path}: its activity section holds {problem or 'no valid activity date'}",
                    "re-encode the agency's export with this version of linkage",
                )


def _as_of(data: ClkData) -> date | None:
    """The day an upload's activity runs to (None when it carries no activity, or a bad day)."""
    if data.header.section(ACTIVITY) is None:
        return None
    try:
        return date.fromisoformat(str(data.header.extra.get(AS_OF, "")))
    except ValueError:
        return None


def _check_secret(conn: Connection, key_check: str) -> None:
    """The first upload fixes the store's secret (by its key check value); later ones must
    match it. Read and set inside the ingest's transaction."""
    stored = conn.execute(select(meta.c.value).where(meta.c.key == "key_check_value")).scalar()
    if stored is None:
        conn.execute(insert(meta).values(key="key_check_value", value=key_check))
    elif stored != key_check:
        raise StoreError(
            "the uploads were encoded with a different secret from the store's earlier uploads "
            "(key check values differ)",
            "every agency must encode with the community's one shared secret",
        )


def ingest(
    store: Store,
    paths: Sequence[Path],
    month: str,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest one month's uploads (one .clk file per agency) in one transaction."""
    started = time.perf_counter()
    report = IngestReport(check_month(month))
    files = read_uploads(paths)
    _check_against_store(store, paths, files)
    digests = [data.digest for data in files]
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
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
    report: IngestReport,
    progress: Progress | None,
) -> None:
    _check_secret(conn, fresh[0][0].header.key_check_value)
    for data, _, _ in fresh:
        if is_count_only(conn, data.header.agency):
            raise StoreError(
                f"{data.header.agency} is a count-only agency; it cannot send encoded records",
                "use another agency name for its encoded uploads",
            )
    rows = load_rows(conn)
    index = {(r.agency, r.record_id): i for i, r in enumerate(rows)}
    gone = {(a, r) for a, r in conn.execute(select(withdrawn.c.agency, withdrawn.c.record_id))}
    upload_of: dict[str, int] = {}
    for data, digest, entry in fresh:
        upload_id: int = conn.execute(
            insert(uploads)
            .values(
                agency=data.header.agency,
                month=month,
                digest=digest,
                records=len(data.ids),
                ingested_at=now,
                activity_as_of=_as_of(data),
            )
            .returning(uploads.c.id)
        ).scalar_one()
        upload_of[data.header.agency] = upload_id
        new, updated, skipped = _merge_upload(rows, index, data, upload_id, gone)
        report.files.append(
            {**entry, "status": "ingested", "new": new, "updated": updated, "withdrawn": skipped}
        )
        conn.execute(
            insert(events).values(
                at=now,
                upload_id=upload_id,
                kind="ingest",
                reason=f"{data.header.agency} {month}: {len(data.ids)} records, {new} new, "
                f"{updated} with a changed encoding",
            )
        )
    if progress:
        progress(f"linking {len(rows):,} records")
    labels, result_pairs, review_rows, clerical = link_rows(
        conn, store, rows, index, report, progress
    )
    first_upload = min(upload_of.values())
    _assign_people(conn, rows, labels, result_pairs, clerical, first_upload, now, report)
    _write_records(conn, rows)
    if progress:
        progress(f"statuses and figures for {month}")
    refresh(conn, month, store.config.bynamelist)
    conn.execute(delete(review))
    if review_rows:
        conn.execute(
            insert(review),
            [
                {
                    "agency_a": rows[a].agency,
                    "record_a": rows[a].record_id,
                    "agency_b": rows[b].agency,
                    "record_b": rows[b].record_id,
                    "score": s,
                    "reason": why,
                    "upload_id": first_upload,
                }
                for a, b, s, why in review_rows
            ],
        )


def person_of(conn: Connection, agency: str, record_id: str) -> str:
    """The person a record belongs to; a one-line error when the store has no such record."""
    found: str | None = conn.execute(
        select(records.c.person_id).where(
            (records.c.agency == agency) & (records.c.record_id == record_id)
        )
    ).scalar()
    if found is None:
        raise StoreError(
            f"no record {record_id} of agency {agency} in the store",
            "check the agency's name and its record id (or pseudonym) as the review list shows",
        )
    return found


def load_rows(conn: Connection) -> list[_Row]:
    query = select(
        records.c.id,
        records.c.agency,
        records.c.record_id,
        records.c.person_id,
        records.c.clk,
        records.c.field_clks,
        records.c.block_keys,
        records.c.first_upload,
        records.c.last_upload,
        records.c.last_activity,
        records.c.situation,
        records.c.project_type,
        records.c.flags,
    ).order_by(records.c.id)
    return [_Row(*r[:9], activity=tuple(r[9:])) for r in conn.execute(query)]


def _merge_upload(
    rows: list[_Row],
    index: dict[tuple[str, str], int],
    data: ClkData,
    upload_id: int,
    gone: set[tuple[str, str]],
) -> tuple[int, int, int]:
    """Fold one upload into the record list: new records appended, known ones refreshed,
    withdrawn ones left out (and counted)."""
    agency = data.header.agency
    fields = data.sections.get(FIELD_CLKS)
    keys = data.sections.get(BLOCK_KEYS)
    activity = _activity_rows(data)
    new = updated = skipped = 0
    for i, rid in enumerate(data.ids):
        if (agency, rid) in gone:
            skipped += 1
            continue
        clk = data.clks[i].tobytes()
        fc = fields[i].tobytes() if fields is not None else None
        bk = keys[i].tobytes() if keys is not None else None
        at = index.get((agency, rid))
        if at is None:
            index[(agency, rid)] = len(rows)
            rows.append(
                _Row(None, agency, rid, None, clk, fc, bk, upload_id, upload_id, activity[i], True)
            )
            new += 1
            continue
        row = rows[at]
        if (row.clk, row.field_clks, row.block_keys) != (clk, fc, bk):
            row.clk, row.field_clks, row.block_keys = clk, fc, bk
            updated += 1
        row.last_upload = upload_id
        row.activity = activity[i]
        row.changed = True
    return new, updated, skipped


def _activity_rows(
    data: ClkData,
) -> list[tuple[date | None, int | None, int | None, int | None]]:
    """Each record's activity columns as the store keeps them (all None without a section)."""
    section = data.sections.get(ACTIVITY)
    if section is None:
        return [(None, None, None, None)] * len(data.ids)
    cols = unpack(section)
    return [
        (date.fromordinal(d) if d else None, s, None if p == NO_PROJECT else p, f)
        for d, s, p, f in zip(
            cols.last_activity.tolist(),
            cols.situation.tolist(),
            cols.project_type.tolist(),
            cols.flags.tolist(),
            strict=True,
        )
    ]


def _stack(parts: list[bytes | None], dtype: type) -> npt.NDArray[Any] | None:
    if any(p is None for p in parts):
        return None
    joined = b"".join(p for p in parts if p is not None)
    return np.frombuffer(joined, np.uint8).reshape(len(parts), -1).copy().view(dtype)


def link_rows(
    conn: Connection,
    store: Store,
    rows: list[_Row],
    index: dict[tuple[str, str], int],
    report: IngestReport,
    progress: Progress | None,
    seed_groups: bool = True,
) -> tuple[
    npt.NDArray[np.int64],
    tuple[Any, Any, Any],
    list[tuple[int, int, float, str]],
    set[tuple[str, str]],
]:
    n = len(rows)
    persons = sorted({r.person for r in rows if r.person is not None})
    person_label = {p: i for i, p in enumerate(persons)}
    groups = np.array(
        [
            person_label[r.person] if r.person and seed_groups else len(persons) + i
            for i, r in enumerate(rows)
        ],
        np.int64,
    )
    ruled_apart: list[tuple[int, int]] = []
    clerical: set[tuple[str, str]] = set()
    for kind, aa, ra, ab, rb in conn.execute(
        select(
            decisions.c.kind,
            decisions.c.agency_a,
            decisions.c.record_a,
            decisions.c.agency_b,
            decisions.c.record_b,
        )
    ):
        ia, ib = index.get((aa, ra)), index.get((ab, rb))
        if ia is None or ib is None:
            continue
        if kind == "same":
            ga, gb = groups[ia], groups[ib]
            groups[groups == gb] = ga
            pa, pb = rows[ia].person, rows[ib].person
            if pa is not None and pb is not None and pa != pb:
                clerical.add((min(pa, pb), max(pa, pb)))
        else:
            ruled_apart.append((ia, ib))
    never_pairs = [(a, b) for a, b in ruled_apart if groups[a] != groups[b]]
    if len(never_pairs) < len(ruled_apart):
        report.warnings.append(
            f"{len(ruled_apart) - len(never_pairs)} 'never' rulings lie inside one person "
            "(split them with 'linkage bnl review')"
        )
    if n < 2:
        empty = np.zeros(0, np.int64)
        return np.zeros(n, np.int64), (empty, empty, np.zeros(0)), [], clerical
    agencies = tuple(sorted({r.agency for r in rows}))
    party_of = {a: i for i, a in enumerate(agencies)}
    field_clks = _stack([r.field_clks for r in rows], np.uint8)
    keys = _stack([r.block_keys for r in rows], np.uint64)
    clks = _stack([r.clk for r in rows], np.uint8)
    assert clks is not None
    linked = Uploads(
        agencies=agencies,
        ids=[r.record_id for r in rows],
        party=np.array([party_of[r.agency] for r in rows], np.int32),
        clks=clks,
        field_clks=field_clks,
        block_keys=keys,
        fields=tuple(f.name for f in store.config.fields),
    )
    never = None
    if never_pairs:
        apart = np.array(never_pairs, np.int64)
        never = (apart[:, 0].copy(), apart[:, 1].copy())
    result = match_uploads(linked, store.config, groups=groups, never=never, progress=progress)
    report.warnings.extend(result.report.warnings)
    review_rows = [
        (int(result.rows_a[p]), int(result.rows_b[p]), float(result.scores[p]), why)
        for p, why in zip(result.review.tolist(), result.review_reasons, strict=True)
    ]
    return result.labels, (result.rows_a, result.rows_b, result.scores), review_rows, clerical


def _assign_people(
    conn: Connection,
    rows: list[_Row],
    labels: npt.NDArray[np.int64],
    pairs: tuple[Any, Any, Any],
    clerical: set[tuple[str, str]],
    upload_id: int,
    now: datetime,
    report: IngestReport,
) -> None:
    """Give each entity a person id: its one existing person's, the oldest of several (the
    others are merged into it, with the reason recorded), or a new one."""
    created = dict(conn.execute(select(people.c.id, people.c.created_upload)).all())
    taken = set(created)
    best = _best_pairs(rows, labels, pairs)
    by_entity: dict[int, list[int]] = {}
    for i, label in enumerate(labels.tolist()):
        by_entity.setdefault(label, []).append(i)
    new_people: list[dict[str, Any]] = []
    merges: list[tuple[str, str, str]] = []
    for members in by_entity.values():
        known = sorted({p for p in (rows[i].person for i in members) if p is not None})
        if not known:
            pid = new_person_id(taken)
            new_people.append({"id": pid, "created_upload": upload_id})
        else:
            pid = min(known, key=lambda p: (created[p], p))
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
            if rows[i].person != pid:
                rows[i].person = pid
                rows[i].changed = True
    merge_people(conn, merges, upload_id, now)
    report.merges = len(merges)
    if new_people:
        conn.execute(insert(people), new_people)
    report.new_people = len(new_people)


def _best_pairs(
    rows: list[_Row], labels: npt.NDArray[np.int64], pairs: tuple[Any, Any, Any]
) -> dict[tuple[str, str], float]:
    """Best score of a linked pair joining two different existing people."""
    best: dict[tuple[str, str], float] = {}
    ra, rb, sc = pairs
    same = labels[ra] == labels[rb]
    for a, b, s in zip(ra[same].tolist(), rb[same].tolist(), sc[same].tolist(), strict=True):
        pa, pb = rows[a].person, rows[b].person
        if pa is None or pb is None or pa == pb:
            continue
        key = (min(pa, pb), max(pa, pb))
        best[key] = max(best.get(key, 0.0), s)
    return best


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


def _write_records(conn: Connection, rows: list[_Row]) -> None:
    fresh = [r for r in rows if r.db_id is None]
    changed = [r for r in rows if r.db_id is not None and r.changed]
    if changed:
        conn.execute(
            update(records)
            .where(records.c.id == bindparam("rid"))
            .values(
                person_id=bindparam("person"),
                clk=bindparam("clk_"),
                field_clks=bindparam("field_clks_"),
                block_keys=bindparam("block_keys_"),
                last_upload=bindparam("last"),
                last_activity=bindparam("last_activity_"),
                situation=bindparam("situation_"),
                project_type=bindparam("project_type_"),
                flags=bindparam("flags_"),
            ),
            [
                {
                    "rid": r.db_id,
                    "person": r.person,
                    "clk_": r.clk,
                    "field_clks_": r.field_clks,
                    "block_keys_": r.block_keys,
                    "last": r.last_upload,
                    **_activity_values(r, "_"),
                }
                for r in changed
            ],
        )
    if fresh:
        conn.execute(
            insert(records),
            [
                {
                    "agency": r.agency,
                    "record_id": r.record_id,
                    "person_id": r.person,
                    "first_upload": r.first_upload,
                    "last_upload": r.last_upload,
                    "clk": r.clk,
                    "field_clks": r.field_clks,
                    "block_keys": r.block_keys,
                    **_activity_values(r, ""),
                }
                for r in fresh
            ],
        )


def _activity_values(row: _Row, suffix: str) -> dict[str, Any]:
    names = ("last_activity", "situation", "project_type", "flags")
    return {name + suffix: value for name, value in zip(names, row.activity, strict=True)}
