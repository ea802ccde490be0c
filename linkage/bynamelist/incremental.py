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

import base64
import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from linkage.bynamelist.bulk import insert_rows, ordinals, read_rows, update_rows
from linkage.bynamelist.counts import is_count_only
from linkage.bynamelist.monthly import (
    RecordActivity,
    check_month,
    refresh,
    refuse_before_latest,
)
from linkage.bynamelist.packed import id_array
from linkage.bynamelist.rollback import Undo
from linkage.bynamelist.store import Store, StoreError, writing
from linkage.bynamelist.store.schema import (
    ACTIVITY_COLUMNS,
    ENCODING_COLUMNS,
    decisions,
    events,
    meta,
    people,
    records,
    review,
    uploads,
    withdrawn,
)
from linkage.formats.activity import ACTIVITY, AS_OF, NO_PROJECT, check, unpack
from linkage.formats.config import Config, builtin_config_with
from linkage.formats.container import BLOCK_KEYS, FIELD_CLKS, ClkData, ClkReader, Header
from linkage.matching import Candidates, Linker, Scored, Uploads, read_uploads
from linkage.matching.scoring import Comparisons, Population, population
from linkage.progress import Progress


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


def _check_against_store(store: Store, paths: Sequence[Path], files: list[ClkData]) -> None:
    """What the store adds to the cross-checks every set of uploads gets: the store's config,
    no record id twice (a record is keyed by agency and id for good), and activity that can
    be right."""
    for path, data in zip(paths, files, strict=True):
        _check_header(store, path, data.header)
        if len(set(data.ids)) != len(data.ids):
            raise _twice(path)
        _check_activity(path, data.header, data.sections.get(ACTIVITY))


def _check_header(store: Store, path: Path, header: Header) -> None:
    fingerprint = store.config.fingerprint
    if header.config_fingerprint != fingerprint:
        raise StoreError(
            f"{path} was encoded with config fingerprint {header.config_fingerprint[:12]}..., "
            f"the store links {store.config.name} ({fingerprint[:12]}...)",
            _encode_with(store.config),
        )


def _encode_with(config: Config) -> str:
    """What to tell an agency whose upload is not in the store's config."""
    builtin = builtin_config_with(config.fingerprint)
    if builtin is not None:
        return f"agencies must encode with the store's config: --config {builtin.name}"
    return f"agencies must encode with the config the store was made with ('{config.name}')"


def _twice(path: Path) -> StoreError:
    return StoreError(f"{path} holds a record id twice", "re-encode the agency's export")


def _check_activity(path: Path, header: Header, section: npt.NDArray[np.uint8] | None) -> None:
    if section is None:
        return
    as_of = _as_of(header)
    problem = check(unpack(section), as_of)
    if problem is not None or as_of is None:
        raise StoreError(
            f"{path}: its activity section holds {problem or 'no valid activity date'}",
            "re-encode the agency's export with this version of linkage",
        )


@dataclass(frozen=True)
class CheckedUpload:
    """What checking an upload found: its header, how many records it holds, its digest."""

    header: Header
    records: int
    digest: str


def check_upload(store: Store, path: Path, month: str) -> CheckedUpload:
    """An upload for ``month`` read and checked as an ingest would check it, without
    ingesting it: the container (checksum, version, every section against its header), the
    store's config and secret, unique record ids, the activity section and its month, and
    that it was not ingested for another month. For a service that must refuse a bad upload
    the moment it arrives, not when the month's ingest meets it.

    The file is read block by block and nothing of it is kept but 8 bytes a record (a
    digest of each record id, for the uniqueness check), so a large upload is checked in
    little memory."""
    reader = ClkReader(path)
    header = reader.header
    _check_header(store, path, header)
    refuse_month_past_activity([header], month)
    digests: list[npt.NDArray[np.uint64]] = []
    for block in reader:
        _check_activity(path, header, block.sections.get(ACTIVITY))
        digests.append(_id_digests(block.ids))
    digest = reader.digest
    ids = np.concatenate(digests) if digests else np.zeros(0, np.uint64)
    if len(np.unique(ids)) != len(ids):
        raise _twice(path)
    with store.engine.connect() as conn:
        key_check = _stored_key_check(conn)
        ingested_for: str | None = conn.execute(
            select(uploads.c.month).where(uploads.c.digest == digest)
        ).scalar()
    if key_check is not None and key_check != header.key_check_value:
        raise _secret_differs(f"{path} was")
    if ingested_for is not None and ingested_for != month:
        raise StoreError(
            f"{path} was already ingested for {ingested_for}", "send a fresh export for each month"
        )
    return CheckedUpload(header, len(ids), digest)


def _id_digests(ids: list[str]) -> npt.NDArray[np.uint64]:
    """A 64-bit digest of each record id: equal ids, equal digests (and unequal ones collide
    once in 2**64, which refuses a good file, never takes a bad one)."""
    blake = hashlib.blake2b
    joined = b"".join(blake(i.encode(), digest_size=8).digest() for i in ids)
    return np.frombuffer(joined, np.uint64)


def _stored_key_check(conn: Connection) -> str | None:
    """The key check value of the secret the store's uploads were encoded with (None before
    the first upload)."""
    found: str | None = conn.execute(
        select(meta.c.value).where(meta.c.key == "key_check_value")
    ).scalar()
    return found


def _secret_differs(what: str) -> StoreError:
    return StoreError(
        f"{what} encoded with a different secret from the store's earlier uploads "
        "(key check values differ)",
        "every agency must encode with the community's one shared secret",
    )


def _as_of(header: Header) -> date | None:
    """The day an upload's activity runs to (None when it carries no activity, or a bad day)."""
    if header.section(ACTIVITY) is None:
        return None
    try:
        return date.fromisoformat(str(header.extra.get(AS_OF, "")))
    except ValueError:
        return None


def refuse_month_past_activity(headers: Sequence[Header], month: str) -> None:
    """A month later than the uploads' activity is a typo far more often than not, and the
    list cannot go back once it reaches a month (history is frozen): refused, unless the
    operator insists. Uploads without activity say nothing about their month."""
    days = [day for day in map(_as_of, headers) if day is not None]
    if days and month > max(days).strftime("%Y-%m"):
        raise StoreError(
            f"the uploads' activity runs to {max(days):%Y-%m}, but the month given is {month}",
            "give the month the exports are for; a list that reaches a month cannot go back "
            "before it",
        )


def _check_secret(conn: Connection, key_check: str) -> None:
    """The first upload fixes the store's secret (by its key check value); later ones must
    match it. Read and set inside the ingest's transaction."""
    stored = _stored_key_check(conn)
    if stored is None:
        conn.execute(insert(meta).values(key="key_check_value", value=key_check))
    elif stored != key_check:
        raise _secret_differs("the uploads were")


def ingest(
    store: Store,
    paths: Sequence[Path],
    month: str,
    progress: Progress | None = None,
    waiting: Progress | None = None,
    past_activity: bool = False,
) -> IngestReport:
    """Ingest one month's uploads (one .clk file per agency) in one transaction, which holds
    the store's write lock before it reads anything (``waiting`` is told when it must wait
    for another writer; ``progress`` by default). ``past_activity``: take a month later than
    the uploads' activity (see :func:`refuse_month_past_activity`)."""
    started = time.perf_counter()
    report = IngestReport(check_month(month))
    files = read_uploads(paths)
    _check_against_store(store, paths, files)
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
    report: IngestReport,
    progress: Progress | None,
) -> None:
    kept = Undo.begin(conn)  # before anything changes: the month can be undone exactly
    _check_secret(conn, fresh[0][0].header.key_check_value)
    for data, _, _ in fresh:
        if is_count_only(conn, data.header.agency):
            raise StoreError(
                f"{data.header.agency} is a count-only agency; it cannot send encoded records",
                "use another agency name for its encoded uploads",
            )
    if progress:
        progress("loading the store's records")
    table = load_records(conn)
    index = _index(table, {data.header.agency for data, _, _ in fresh})
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
                activity_as_of=_as_of(data.header),
            )
            .returning(uploads.c.id)
        ).scalar_one()
        upload_ids.append(upload_id)
        part, updated, skipped = _fold(table, index[data.header.agency], data, upload_id, gone)
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
    table = _Records.concat(parts)
    linked = _link_month(conn, store, table, report, progress)
    if linked is not None:
        rows, part, labels, result_pairs, review_rows, clerical = linked
        first_upload = min(upload_ids)
        _assign_people(conn, part, labels, result_pairs, clerical, first_upload, now, report, kept)
        table.set_people(rows, part.person)
        _replace_review(conn, part, review_rows, first_upload)
    existing = table.db_id > 0
    touched = existing & ((table.upload > 0) | table.moved)
    kept.before_records(
        conn, table.db_id[touched], table.db_id[existing & (table.upload > 0) & table.dirty]
    )
    _write_records(conn, table)
    drop_settled_pairs(conn)
    if progress:
        progress(f"statuses and figures for {month}")
    refresh(conn, month, store.config.bynamelist, table.activity_now())
    kept.save(conn, month, upload_ids, now)


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


#: A record's activity as the ingest holds it: last activity (ordinal day), situation, project
#: type, flags; -1 where the store keeps null.
_NONE = -1


@dataclass
class _Records:
    """Records column by column, as the linking sees them: the store's (in id order), then
    an ingest's new ones (``db_id`` 0). Whole columns of encodings, not a Python object per
    record: a million records load in seconds and are linked in place.

    ``upload`` and ``activity`` are set where an upload of this ingest holds the record;
    ``dirty`` marks records whose encoding is new or changed (they must be linked), ``moved``
    those whose person changed (they must be written)."""

    db_id: npt.NDArray[np.int64]
    agency: list[str]
    record_id: list[str]
    person: list[str | None]
    clk: npt.NDArray[np.uint8]
    field_clks: npt.NDArray[np.uint8] | None
    block_keys: npt.NDArray[np.uint8] | None
    upload: npt.NDArray[np.int64]
    activity: npt.NDArray[np.int64]
    dirty: npt.NDArray[np.bool_]
    moved: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.db_id)

    @classmethod
    def fresh(
        cls,
        agency: str,
        ids: list[str],
        clk: npt.NDArray[np.uint8],
        field_clks: npt.NDArray[np.uint8] | None,
        block_keys: npt.NDArray[np.uint8] | None,
        upload: int,
        activity: npt.NDArray[np.int64],
    ) -> _Records:
        """An upload's new records: no person yet, all to be linked."""
        n = len(ids)
        return cls(
            db_id=np.zeros(n, np.int64),
            agency=[agency] * n,
            record_id=ids,
            person=[None] * n,
            clk=clk,
            field_clks=field_clks,
            block_keys=block_keys,
            upload=np.full(n, upload, np.int64),
            activity=activity,
            dirty=np.ones(n, np.bool_),
            moved=np.zeros(n, np.bool_),
        )

    def take(self, rows: npt.NDArray[np.int64]) -> _Records:
        """The given rows, in that order (their arrays copied)."""
        picked = rows.tolist()
        return _Records(
            db_id=self.db_id[rows],
            agency=[self.agency[i] for i in picked],
            record_id=[self.record_id[i] for i in picked],
            person=[self.person[i] for i in picked],
            clk=self.clk[rows],
            field_clks=None if self.field_clks is None else self.field_clks[rows],
            block_keys=None if self.block_keys is None else self.block_keys[rows],
            upload=self.upload[rows],
            activity=self.activity[rows],
            dirty=self.dirty[rows],
            moved=self.moved[rows],
        )

    @staticmethod
    def concat(parts: list[_Records]) -> _Records:
        """The parts one after the other (empty parts, such as an empty store's, add nothing)."""
        parts = [p for p in parts if len(p)] or parts[:1]
        if len(parts) == 1:
            return parts[0]

        def joined(column: str) -> Any:
            values = [getattr(p, column) for p in parts]
            if any(v is None for v in values):
                return None
            return np.concatenate(values)

        return _Records(
            db_id=joined("db_id"),
            agency=[a for p in parts for a in p.agency],
            record_id=[r for p in parts for r in p.record_id],
            person=[x for p in parts for x in p.person],
            clk=joined("clk"),
            field_clks=joined("field_clks"),
            block_keys=joined("block_keys"),
            upload=joined("upload"),
            activity=joined("activity"),
            dirty=joined("dirty"),
            moved=joined("moved"),
        )

    def set_people(self, rows: npt.NDArray[np.int64], persons: list[str | None]) -> None:
        """Give the rows their (possibly new) people, marking those that moved."""
        for i, pid in zip(rows.tolist(), persons, strict=True):
            if self.person[i] != pid:
                self.person[i] = pid
                self.moved[i] = True

    def activity_now(self) -> RecordActivity:
        """Every record's person and activity as the store now holds them (once written)."""
        known = np.where(self.activity == _NONE, 0, self.activity)
        return RecordActivity(
            id_array(self.person), self.agency, known[:, 0], known[:, 1], known[:, 3]
        )

    @property
    def keys(self) -> npt.NDArray[np.uint64] | None:
        """The blocking keys as the matcher reads them (records x keys)."""
        return None if self.block_keys is None else self.block_keys.view(np.uint64)

    def uploads(self, store: Store) -> Uploads:
        """The records as the matcher takes them (each agency a party)."""
        agencies = tuple(sorted(set(self.agency)))
        party_of = {a: i for i, a in enumerate(agencies)}
        return Uploads(
            agencies=agencies,
            ids=self.record_id,
            party=np.fromiter((party_of[a] for a in self.agency), np.int32, len(self)),
            clks=self.clk,
            field_clks=self.field_clks,
            block_keys=self.keys,
            fields=tuple(f.name for f in store.config.fields),
        )


def load_records(conn: Connection) -> _Records:
    """The store's records, in id order, as columns (their stored activity too, so that the
    month's statuses need not read the records again)."""
    columns = ["id", "agency", "record_id", "person_id", "clk", "field_clks", "block_keys"]
    found = read_rows(conn, records, [*columns, *ACTIVITY_COLUMNS], order_by="id")
    n = len(found)
    values: list[Any] = [list(c) for c in zip(*found, strict=True)] if n else [[]] * 11
    db_id, agency, record_id, persons, clk, field_clks, block_keys = values[:7]
    activity = np.full((n, 4), _NONE, np.int64)
    days = ordinals(values[7])
    activity[:, 0] = np.where(days > 0, days, _NONE)
    for k, column in enumerate(values[8:], start=1):
        activity[:, k] = [_NONE if v is None else v for v in column]
    return _Records(
        db_id=np.array(db_id, np.int64),
        agency=agency,
        record_id=record_id,
        person=persons,
        clk=_blobs(clk),
        field_clks=_blobs(field_clks) if n else None,
        block_keys=_blobs(block_keys) if n else None,
        upload=np.zeros(n, np.int64),
        activity=activity,
        dirty=np.zeros(n, np.bool_),
        moved=np.zeros(n, np.bool_),
    )


def _blobs(values: list[bytes | None]) -> Any:
    """Equal-length blobs as one (n, width) uint8 array; None when any is null."""
    if any(v is None for v in values):
        return None
    if not values:
        return np.zeros((0, 0), np.uint8)
    joined = b"".join(v for v in values if v is not None)
    return np.frombuffer(joined, np.uint8).reshape(len(values), -1).copy()


def _index(table: _Records, agencies: set[str]) -> dict[str, dict[str, int]]:
    """Row of each record id, per agency, for the agencies sending uploads now."""
    index: dict[str, dict[str, int]] = {a: {} for a in agencies}
    for i, (agency, rid) in enumerate(zip(table.agency, table.record_id, strict=True)):
        known = index.get(agency)
        if known is not None:
            known[rid] = i
    return index


def _fold(
    table: _Records,
    known: dict[str, int],
    data: ClkData,
    upload_id: int,
    gone: set[tuple[str, str]],
) -> tuple[_Records, int, int]:
    """Fold one upload into the store's records: known ones refreshed in place (and marked
    dirty where their encoding changed), withdrawn ones left out (and counted). Returns the
    upload's new records, how many known ones changed encoding, and how many were left out."""
    agency = data.header.agency
    fields = data.sections.get(FIELD_CLKS)
    keys = data.sections.get(BLOCK_KEYS)
    mismatched = (fields is None) != (table.field_clks is None) or (keys is None) != (
        table.block_keys is None
    )
    if len(table) and mismatched:
        raise StoreError(
            f"the upload of {agency} carries other sections than the store's records",
            "re-encode the agency's export with this version of linkage",
        )
    activity = _activity_array(data)
    kept = np.array([p for p, rid in enumerate(data.ids) if (agency, rid) not in gone], np.int64)
    at = np.array([known.get(data.ids[p], -1) for p in kept.tolist()], np.int64)
    old_pos, old_rows = kept[at >= 0], at[at >= 0]
    changed = np.zeros(len(old_rows), np.bool_)
    if len(old_rows):  # (an empty store's columns have no width to index)
        changed |= ~_same_rows(table.clk[old_rows], data.clks[old_pos])
        if fields is not None and table.field_clks is not None:
            changed |= ~_same_rows(table.field_clks[old_rows], fields[old_pos])
        if keys is not None and table.block_keys is not None:
            changed |= ~_same_rows(table.block_keys[old_rows], keys[old_pos])
        rows, pos = old_rows[changed], old_pos[changed]
        table.clk[rows] = data.clks[pos]
        if fields is not None and table.field_clks is not None:
            table.field_clks[rows] = fields[pos]
        if keys is not None and table.block_keys is not None:
            table.block_keys[rows] = keys[pos]
        table.dirty[rows] = True
        table.upload[old_rows] = upload_id
        table.activity[old_rows] = activity[old_pos]
    new = kept[at < 0]
    part = _Records.fresh(
        agency,
        [data.ids[p] for p in new.tolist()],
        np.ascontiguousarray(data.clks[new]),
        None if fields is None else np.ascontiguousarray(fields[new]),
        None if keys is None else np.ascontiguousarray(keys[new]),
        upload_id,
        activity[new],
    )
    return part, int(changed.sum()), len(data.ids) - len(kept)


def _same_rows(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    return np.asarray(np.all(a == b, axis=1), np.bool_)


def _activity_array(data: ClkData) -> npt.NDArray[np.int64]:
    """Each record's activity as the ingest holds it (all -1 without a section)."""
    out = np.full((len(data.ids), 4), _NONE, np.int64)
    section = data.sections.get(ACTIVITY)
    if section is None:
        return out
    cols = unpack(section)
    out[:, 0] = np.where(cols.last_activity > 0, cols.last_activity, _NONE)
    out[:, 1] = cols.situation
    out[:, 2] = np.where(cols.project_type == NO_PROJECT, _NONE, cols.project_type)
    out[:, 3] = cols.flags
    return out


Linked = tuple[
    npt.NDArray[np.int64],
    _Records,
    npt.NDArray[np.int64],
    tuple[Any, Any, Any],
    list[tuple[int, int, float, str]],
    set[tuple[str, str]],
]


def _link_month(
    conn: Connection,
    store: Store,
    table: _Records,
    report: IngestReport,
    progress: Progress | None,
) -> Linked | None:
    """Link what this ingest brought: the dirty records (new or re-encoded), with every
    record of each person a dirty record scores at least ``lower`` with (below it a pair
    counts for nothing) or a clerk's ruling names. Returns the table rows linked, those
    records, their entity labels, scored pairs, review pairs and clerical merges; None when
    there is nothing to link.

    The pairs among old records were scored before and left their people as they are; only
    the old pairs inside the people brought in are scored again, for the majority rule
    weighs whole people. Every pair is scored with one model: u, the value frequencies and
    the record count from the whole list, m from this month's candidates."""
    n = len(table)
    dirty = table.dirty
    if dirty.all():
        everyone = np.arange(n, dtype=np.int64)
        if progress:
            progress(f"linking {n:,} of the {n:,} records")
        return (everyone, table, *link_rows(conn, store, table, report, progress))
    ruled = _ruled_people(conn, table)
    if not dirty.any() and not ruled:
        return None
    config = store.config
    whole = table.uploads(store)
    pop = population_of(store, table)
    if progress:
        progress(f"finding the candidates of {int(dirty.sum()):,} new or changed records")
    linker = Linker(config, progress=progress)
    found = linker.score(whole, linker.find(whole, fresh=dirty), population=pop, searched=dirty)
    ra, rb, scores, scorer = found.rows_a, found.rows_b, found.scores, found.scorer
    counted = scores >= config.thresholds.lower
    touched = np.unique(np.concatenate([ra[counted], rb[counted]])).tolist()
    persons = {table.person[i] for i in touched} | ruled
    persons.discard(None)
    wanted = np.fromiter((p in persons for p in table.person), np.bool_, n)
    rows = np.flatnonzero(dirty | wanted).astype(np.int64)
    inside = np.zeros(n, np.bool_)
    inside[rows] = True
    keep = inside[ra] & inside[rb]
    ra, rb, scores = ra[keep], rb[keep], scores[keep]
    old = rows[~dirty[rows]]
    if len(old) > 1:  # the old pairs inside the people brought in
        inner = Linker(config).find(table.take(old).uploads(store), scale=n, whole_keys=table.keys)
        oa, ob = old[inner.rows_a], old[inner.rows_b]
        model = None if scorer is None else scorer.model
        os = linker.score(
            whole, Candidates(oa, ob, inner.dice, {}), population=pop, model=model
        ).scores
        ra, rb, scores = (
            np.concatenate([ra, oa]),
            np.concatenate([rb, ob]),
            np.concatenate([scores, os]),
        )
    at = np.full(n, -1, np.int64)
    at[rows] = np.arange(len(rows))  # rows ascend: a low row stays the low one
    part = table.take(rows)
    if progress:
        progress(f"linking {len(part):,} of the {n:,} records")
    labels, pairs, review_rows, clerical = link_rows(
        conn,
        store,
        part,
        report,
        progress,
        scored=Scored(
            at[ra],
            at[rb],
            scores,
            found.blocking,
            found.model,
            None if scorer is None else scorer.through(rows),
        ),
    )
    return rows, part, labels, pairs, review_rows, clerical


def _ruled_people(conn: Connection, table: _Records) -> set[str | None]:
    """The people holding a record a clerk's ruling names (rulings are few)."""
    d = decisions.c
    ruled = conn.execute(select(d.agency_a, d.record_a, d.agency_b, d.record_b)).all()
    if not ruled:
        return set()
    where = dict(zip(zip(table.agency, table.record_id, strict=True), table.person, strict=True))
    return {where.get((a, r)) for aa, ra, ab, rb in ruled for a, r in ((aa, ra), (ab, rb))}


def population_of(
    store: Store, table: _Records, rows: npt.NDArray[np.int64] | None = None
) -> Population | None:
    """What the weights take from every record when ``rows`` (default: all) are linked
    (None when the config does not score with weights)."""
    if store.config.match.score != "weights" or table.field_clks is None:
        return None
    return population(table.field_clks, Comparisons.of(store.config), rows)


def link_rows(
    conn: Connection,
    store: Store,
    part: _Records,
    report: IngestReport,
    progress: Progress | None,
    *,
    seed_groups: bool = True,
    population: Population | None = None,
    scale: int | None = None,
    whole_keys: npt.NDArray[np.uint64] | None = None,
    scored: Scored | None = None,
) -> tuple[
    npt.NDArray[np.int64],
    tuple[Any, Any, Any],
    list[tuple[int, int, float, str]],
    set[tuple[str, str]],
]:
    """Link ``part``'s records, each person's starting as one group (unless ``seed_groups``
    is off), with the clerk's rulings applied among them. Its candidate pairs are found and
    scored here unless ``scored`` brings them (with how they were found and the model);
    ``population`` and ``scale`` carry the whole list's statistics and size when ``part`` is
    only some of it."""
    n = len(part)
    index = {key: i for i, key in enumerate(zip(part.agency, part.record_id, strict=True))}
    persons = sorted({p for p in part.person if p is not None})
    person_label = {p: i for i, p in enumerate(persons)}
    groups = np.array(
        [
            person_label[p] if p is not None and seed_groups else len(persons) + i
            for i, p in enumerate(part.person)
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
            pa, pb = part.person[ia], part.person[ib]
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
    never = None
    if never_pairs:
        apart = np.array(never_pairs, np.int64)
        never = (apart[:, 0].copy(), apart[:, 1].copy())
    uploads = part.uploads(store)
    linker = Linker(store.config, progress=progress)
    if scored is None:
        scored = linker.score(
            uploads,
            linker.find(uploads, scale=scale, whole_keys=whole_keys),
            population=population,
        )
    result = linker.resolve(uploads, scored, groups=groups, never=never)
    report.warnings.extend(result.report.warnings)
    review_rows = [
        (int(result.rows_a[p]), int(result.rows_b[p]), float(result.scores[p]), why)
        for p, why in zip(result.review.tolist(), result.review_reasons, strict=True)
    ]
    return result.labels, (result.rows_a, result.rows_b, result.scores), review_rows, clerical


def _assign_people(
    conn: Connection,
    part: _Records,
    labels: npt.NDArray[np.int64],
    pairs: tuple[Any, Any, Any],
    clerical: set[tuple[str, str]],
    upload_id: int,
    now: datetime,
    report: IngestReport,
    kept: Undo,
) -> None:
    """Give each entity a person id: its one existing person's, the oldest of several (the
    others are merged into it, with the reason recorded), or a new one."""
    best = _best_pairs(part, labels, pairs)
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


#: Values per IN list (SQLite's default limit on bound parameters is 32,766).
_CHUNK = 10_000


def _best_pairs(
    part: _Records, labels: npt.NDArray[np.int64], pairs: tuple[Any, Any, Any]
) -> dict[tuple[str, str], float]:
    """Best score of a linked pair joining two different existing people."""
    best: dict[tuple[str, str], float] = {}
    ra, rb, sc = pairs
    same = labels[ra] == labels[rb]
    for a, b, s in zip(ra[same].tolist(), rb[same].tolist(), sc[same].tolist(), strict=True):
        pa, pb = part.person[a], part.person[b]
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


def _replace_review(
    conn: Connection,
    part: _Records,
    review_rows: list[tuple[int, int, float, str]],
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
                    "agency_a": part.agency[a],
                    "record_a": part.record_id[a],
                    "agency_b": part.agency[b],
                    "record_b": part.record_id[b],
                    "score": s,
                    "reason": why,
                    "upload_id": upload_id,
                }
                for a, b, s, why in review_rows
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


def _write_records(conn: Connection, table: _Records) -> None:
    """Write back what the ingest changed: new records; known ones an upload held (their
    encodings too where those changed); and any whose person changed."""
    existing = table.db_id > 0
    held = existing & (table.upload > 0)
    for mask, encodings in ((held & table.dirty, True), (held & ~table.dirty, False)):
        rows = np.flatnonzero(mask).tolist()
        columns = [
            "person_id",
            "last_upload",
            *ACTIVITY_COLUMNS,
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
                    *_activity_values(table.activity[i]),
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
        [*_KEYS, *ENCODING_COLUMNS, *ACTIVITY_COLUMNS],
        (
            (
                table.agency[i],
                table.record_id[i],
                table.person[i],
                int(table.upload[i]),
                int(table.upload[i]),
                *_encoding_values(table, i),
                *_activity_values(table.activity[i]),
            )
            for i in new
        ),
    )


_KEYS = ("agency", "record_id", "person_id", "first_upload", "last_upload")


def _encoding_values(table: _Records, i: int) -> tuple[bytes | None, ...]:
    columns = (table.clk, table.field_clks, table.block_keys)
    return tuple(None if column is None else column[i].tobytes() for column in columns)


def _activity_values(row: npt.NDArray[np.int64]) -> tuple[Any, ...]:
    day, situation, project, flags = (None if v == _NONE else int(v) for v in row.tolist())
    return (None if day is None else date.fromordinal(day), situation, project, flags)
