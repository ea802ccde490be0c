"""A month's statuses as one row of compressed columns instead of a row per person.

At a million people a row per person per month cost more than the rest of a month's ingest
(a million inserts and a million reads every month, and about 65 MB a month on disk). The
month's statuses are only ever read whole (the next month's figures, the evaluation), so
they are kept as four arrays over the month's people sorted by id, each compressed: about
a twentieth of the space, written and read in well under a second.

``layout`` numbers the format, as clkhash versions its schema: a store written by a later
linkage with another layout is refused with a clear message rather than misread.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from linkage.bynamelist.store import StoreError

#: The only layout this linkage writes and reads.
LAYOUT = 1
#: Person ids are at most 16 ASCII characters (``people.id``).
ID_DTYPE = np.dtype("S16")
_COLUMNS: dict[str, np.dtype[Any]] = {
    "status": np.dtype("<i1"),
    "flags": np.dtype("<i2"),
    "listed": np.dtype("<i2"),
}


@dataclass(frozen=True)
class MonthStatuses:
    """Each person's status, flags and earlier listings at one month's end, over the month's
    people sorted by id. ``listed`` bit k: the person was on the k-th population's list
    (``status.POPULATIONS``) in an earlier month."""

    people: npt.NDArray[np.bytes_]
    status: npt.NDArray[np.int64]
    flags: npt.NDArray[np.int64]
    listed: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.people)

    def person_ids(self) -> list[str]:
        """The people's ids as text."""
        return [p.decode("ascii") for p in self.people.tolist()]


def pack(month: MonthStatuses) -> dict[str, object]:
    """The month as the columns of a ``status_months`` row (without the month itself)."""
    order = np.argsort(month.people, kind="stable")
    people = month.people[order]
    if len(people) > 1 and bool(np.any(people[1:] == people[:-1])):
        raise ValueError("a person appears twice in one month's statuses")
    row: dict[str, object] = {
        "layout": LAYOUT,
        "people_count": len(people),
        "people": zlib.compress(people.astype(ID_DTYPE).tobytes(), 1),
    }
    for name, dtype in _COLUMNS.items():
        values = getattr(month, name)[order]
        row[name] = zlib.compress(values.astype(dtype).tobytes(), 1)
    return row


def unpack(row: dict[str, object], where: str) -> MonthStatuses:
    """A ``status_months`` row's month; ``where`` names it in the error for a row this
    linkage cannot read (a later layout, or damaged columns)."""
    if row["layout"] != LAYOUT:
        raise StoreError(
            f"the statuses of {where} are in layout {row['layout']}, which this linkage "
            f"cannot read (it reads layout {LAYOUT})",
            "use the linkage version that wrote the store, or a later one",
        )
    n = row["people_count"]
    assert isinstance(n, int)
    try:
        people = np.frombuffer(_raw(row["people"]), ID_DTYPE)
        columns = {
            name: np.frombuffer(_raw(row[name]), dtype).astype(np.int64)
            for name, dtype in _COLUMNS.items()
        }
    except (zlib.error, ValueError) as err:
        raise StoreError(
            f"the statuses of {where} are damaged ({err})",
            "restore the store from its backup",
        ) from None
    if any(len(c) != n for c in (people, *columns.values())):
        raise StoreError(
            f"the statuses of {where} are damaged (columns of unequal length)",
            "restore the store from its backup",
        )
    return MonthStatuses(people, columns["status"], columns["flags"], columns["listed"])


def _raw(value: object) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise ValueError("a column is not binary")
    return zlib.decompress(bytes(value))


def positions(
    sorted_ids: npt.NDArray[np.bytes_], ids: npt.NDArray[np.bytes_]
) -> npt.NDArray[np.int64]:
    """Where each of ``ids`` stands in ``sorted_ids`` (-1 where it is absent): the lookup of
    a million ids at numpy speed instead of a dict's."""
    if not len(sorted_ids):
        return np.full(len(ids), -1, np.int64)
    at = np.searchsorted(sorted_ids, ids).astype(np.int64)
    inside = at < len(sorted_ids)
    found = np.zeros(len(ids), np.bool_)
    found[inside] = sorted_ids[at[inside]] == ids[inside]
    return np.where(found, at, -1)


def id_array(ids: list[str] | list[str | None]) -> npt.NDArray[np.bytes_]:
    """Person ids (None as empty) as the fixed-width array the packed columns hold."""
    return np.array([p or "" for p in ids], dtype=ID_DTYPE)
