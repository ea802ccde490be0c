"""The store's records as one table of columns in memory: loaded once, new uploads folded in,
written back only where they changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, select

from linkage.bynamelist.bulk import ordinals, read_rows
from linkage.bynamelist.monthly import (
    RecordActivity,
)
from linkage.bynamelist.packed import id_array
from linkage.bynamelist.store import Store, StoreError
from linkage.bynamelist.store.schema import (
    ATTRIBUTE_COLUMNS,
    records,
)
from linkage.formats.activity import ACTIVITY, NO_PROJECT, unpack
from linkage.formats.consent import CONSENT, consented
from linkage.formats.container import BLOCK_KEYS, FIELD_CLKS, ClkData
from linkage.formats.household import HOUSEHOLD
from linkage.formats.household import unpack as unpack_households
from linkage.matching import Uploads

#: A record's attributes as the ingest holds them: last activity (ordinal day), situation,
#: project type, flags (-1 where the store keeps null: no activity known), consent (0 or 1),
#: household pseudonym (0: none known) and head of household (0 or 1).
NO_ACTIVITY = -1
#: The attributes' columns, in the order :data:`ATTRIBUTE_COLUMNS` names them.
DAY, SITUATION, PROJECT, FLAGS, CONSENT_AT, HOUSEHOLD_AT, HEAD_AT = range(7)


def id_digests(ids: list[str]) -> npt.NDArray[np.uint64]:
    """A 64-bit digest of each record id: equal ids, equal digests (and unequal ones collide
    once in 2**64, which refuses a good file, never takes a bad one)."""
    blake = hashlib.blake2b
    joined = b"".join(blake(i.encode(), digest_size=8).digest() for i in ids)
    return np.frombuffer(joined, np.uint64)


@dataclass
class Records:
    """Records column by column, as the linking sees them: the store's (in id order), then
    an ingest's new ones (``db_id`` 0). Whole columns of encodings, not a Python object per
    record: a million records load in seconds and are linked in place.

    ``upload`` and ``attributes`` are set where an upload of this ingest holds the record;
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
    attributes: npt.NDArray[np.int64]
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
        attributes: npt.NDArray[np.int64],
    ) -> Records:
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
            attributes=attributes,
            dirty=np.ones(n, np.bool_),
            moved=np.zeros(n, np.bool_),
        )

    def take(self, rows: npt.NDArray[np.int64]) -> Records:
        """The given rows, in that order (their arrays copied)."""
        picked = rows.tolist()
        return Records(
            db_id=self.db_id[rows],
            agency=[self.agency[i] for i in picked],
            record_id=[self.record_id[i] for i in picked],
            person=[self.person[i] for i in picked],
            clk=self.clk[rows],
            field_clks=None if self.field_clks is None else self.field_clks[rows],
            block_keys=None if self.block_keys is None else self.block_keys[rows],
            upload=self.upload[rows],
            attributes=self.attributes[rows],
            dirty=self.dirty[rows],
            moved=self.moved[rows],
        )

    @staticmethod
    def concat(parts: list[Records]) -> Records:
        """The parts one after the other (empty parts, such as an empty store's, add nothing)."""
        parts = [p for p in parts if len(p)] or parts[:1]
        if len(parts) == 1:
            return parts[0]

        def joined(column: str) -> Any:
            values = [getattr(p, column) for p in parts]
            if any(v is None for v in values):
                return None
            return np.concatenate(values)

        return Records(
            db_id=joined("db_id"),
            agency=[a for p in parts for a in p.agency],
            record_id=[r for p in parts for r in p.record_id],
            person=[x for p in parts for x in p.person],
            clk=joined("clk"),
            field_clks=joined("field_clks"),
            block_keys=joined("block_keys"),
            upload=joined("upload"),
            attributes=joined("attributes"),
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
        known = np.where(self.attributes == NO_ACTIVITY, 0, self.attributes)
        return RecordActivity(
            id_array(self.person),
            self.agency,
            known[:, DAY],
            known[:, SITUATION],
            known[:, FLAGS],
            known[:, HOUSEHOLD_AT],
            known[:, HEAD_AT] == 1,
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


def load_records(conn: Connection) -> Records:
    """The store's records, in id order, as columns (their stored activity too, so that the
    month's statuses need not read the records again)."""
    columns = ["id", "agency", "record_id", "person_id", "clk", "field_clks", "block_keys"]
    wanted = [*columns, *ATTRIBUTE_COLUMNS]
    found = read_rows(conn, records, wanted, order_by="id")
    n = len(found)
    values: list[Any] = [list(c) for c in zip(*found, strict=True)] if n else [[]] * len(wanted)
    db_id, agency, record_id, persons, clk, field_clks, block_keys = values[: len(columns)]
    attributes = np.full((n, len(ATTRIBUTE_COLUMNS)), NO_ACTIVITY, np.int64)
    days = ordinals(values[len(columns)])
    attributes[:, DAY] = np.where(days > 0, days, NO_ACTIVITY)
    for k, column in enumerate(values[len(columns) + 1 :], start=SITUATION):
        attributes[:, k] = [NO_ACTIVITY if v is None else v for v in column]
    return Records(
        db_id=np.array(db_id, np.int64),
        agency=agency,
        record_id=record_id,
        person=persons,
        clk=_blobs(clk),
        field_clks=_blobs(field_clks) if n else None,
        block_keys=_blobs(block_keys) if n else None,
        upload=np.zeros(n, np.int64),
        attributes=attributes,
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


def rows_by_record(table: Records, agencies: set[str]) -> dict[str, dict[str, int]]:
    """Row of each record id, per agency, for the agencies sending uploads now."""
    index: dict[str, dict[str, int]] = {a: {} for a in agencies}
    for i, (agency, rid) in enumerate(zip(table.agency, table.record_id, strict=True)):
        known = index.get(agency)
        if known is not None:
            known[rid] = i
    return index


def fold_upload(
    table: Records,
    known: dict[str, int],
    data: ClkData,
    upload_id: int,
    gone: set[tuple[str, str]],
) -> tuple[Records, int, int]:
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
    attributes = _attribute_array(data)
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
        table.attributes[old_rows] = attributes[old_pos]
    new = kept[at < 0]
    part = Records.fresh(
        agency,
        [data.ids[p] for p in new.tolist()],
        np.ascontiguousarray(data.clks[new]),
        None if fields is None else np.ascontiguousarray(fields[new]),
        None if keys is None else np.ascontiguousarray(keys[new]),
        upload_id,
        attributes[new],
    )
    return part, int(changed.sum()), len(data.ids) - len(kept)


def _same_rows(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    return np.asarray(np.all(a == b, axis=1), np.bool_)


def _attribute_array(data: ClkData) -> npt.NDArray[np.int64]:
    """Each record's attributes as the ingest holds them: activity all -1 without an activity
    section, consent 0 without a consent section, no household without a household section."""
    n = len(data.ids)
    out = np.full((n, len(ATTRIBUTE_COLUMNS)), NO_ACTIVITY, np.int64)
    out[:, CONSENT_AT] = consented(data.sections.get(CONSENT), n)
    out[:, HOUSEHOLD_AT] = out[:, HEAD_AT] = 0
    households = data.sections.get(HOUSEHOLD)
    if households is not None:
        members = unpack_households(households)
        out[:, HOUSEHOLD_AT], out[:, HEAD_AT] = members.household, members.head
    section = data.sections.get(ACTIVITY)
    if section is None:
        return out
    cols = unpack(section)
    out[:, DAY] = np.where(cols.last_activity > 0, cols.last_activity, NO_ACTIVITY)
    out[:, SITUATION] = cols.situation
    out[:, PROJECT] = np.where(cols.project_type == NO_PROJECT, NO_ACTIVITY, cols.project_type)
    out[:, FLAGS] = cols.flags
    return out


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
