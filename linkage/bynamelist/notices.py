"""Notices: agencies that serve a person together are told when something happens to them.

A partner that flags the people it knows are clients of another agency wants that agency told
when something happens: the person reappears after going inactive, returns from housing,
goes inactive, or is housed. Each month's statuses say it: an event is a change of a person's
status from the list's month before to this one (:data:`EVENTS`). The notice goes to each
agency that holds a consented record of the person and shares a notification agreement in
force with another agency that does too, once for each of its own records, under its own
record id and the list's person id; never a partner's record id, and nothing about a person
who did not consent at both ends.

Notices are part of the month: computed with its statuses whenever they are (each ingest of
the month, and each correction carried into it), replacing what was there, so an event is
told once however often the month is recomputed; a rollback of the month takes them away.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, delete, insert, select

from linkage.bynamelist.agreements import in_force, joined_to, read_agreements, refuse_unknown
from linkage.bynamelist.status import Status
from linkage.bynamelist.store import Store
from linkage.bynamelist.store.schema import notices, records

NOTIFICATION = "notification"
#: Each event, as the change of status from the month before that makes it.
EVENTS: dict[str, tuple[frozenset[Status], Status]] = {
    "reappeared": (frozenset({Status.INACTIVE}), Status.ACTIVE),
    "returned_from_housing": (frozenset({Status.HOUSED}), Status.ACTIVE),
    "inactive": (frozenset({Status.ACTIVE}), Status.INACTIVE),
    "housed": (frozenset({Status.ACTIVE, Status.INACTIVE}), Status.HOUSED),
}
#: A notice as its CSV names its columns.
COLUMNS = ("month", "record_id", "person_id", "event")
_CHUNK = 900


@dataclass(frozen=True)
class Notice:
    """One event told to one agency, about one of its own records."""

    month: str
    record_id: str
    person_id: str
    event: str


def events(before: npt.NDArray[np.int64], now: npt.NDArray[np.int64]) -> list[tuple[int, str]]:
    """(position, event) for each person whose status changed from ``before`` to ``now`` in
    a way :data:`EVENTS` names."""
    out: list[tuple[int, str]] = []
    for name, (was, becomes) in EVENTS.items():
        hit = np.isin(before, [int(s) for s in was]) & (now == int(becomes))
        out.extend((int(i), name) for i in np.flatnonzero(hit))
    return sorted(out)


def write_notices(
    conn: Connection,
    month: str,
    people: npt.NDArray[np.bytes_],
    before: npt.NDArray[np.int64] | None,
    now: npt.NDArray[np.int64],
    today: date,
) -> int:
    """Replace ``month``'s notices with those its statuses make (``people[i]`` has status
    ``before[i]`` in the month before, None for the list's first month, and ``now[i]``);
    returns how many there are."""
    conn.execute(delete(notices).where(notices.c.month == month))
    agreed = in_force(read_agreements(conn), NOTIFICATION, today)
    if before is None or not agreed:
        return 0
    happened = {people[i].decode("ascii"): name for i, name in events(before, now)}
    held = _consented_records(conn, sorted(happened))
    rows = []
    for person, own in held.items():
        agencies = {agency for agency, _ in own}
        for agency, record_id in own:
            if joined_to(agreed, agency) & agencies:
                rows.append(
                    {
                        "month": month,
                        "agency": agency,
                        "record_id": record_id,
                        "person_id": person,
                        "event": happened[person],
                    }
                )
    if rows:
        conn.execute(insert(notices), rows)
    return len(rows)


def notices_for(store: Store, agency: str, since: str | None = None) -> list[Notice]:
    """``agency``'s notices, of ``since`` (a YYYY-MM month its caller has checked) and later
    months (all without), oldest first."""
    query = select(notices.c.month, notices.c.record_id, notices.c.person_id, notices.c.event)
    query = query.where(notices.c.agency == agency)
    if since is not None:
        query = query.where(notices.c.month >= since)
    with store.engine.connect() as conn:
        refuse_unknown(conn, [agency])
        found = conn.execute(query.order_by(notices.c.month, notices.c.record_id)).all()
    return [Notice(*row) for row in found]


def notices_csv(found: Sequence[Notice]) -> str:
    """Notices as CSV text."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for n in found:
        writer.writerow([n.month, n.record_id, n.person_id, n.event])
    return text.getvalue()


def _consented_records(conn: Connection, people: list[str]) -> dict[str, list[tuple[str, str]]]:
    """(agency, record id) of each person's consented records."""
    out: dict[str, list[tuple[str, str]]] = {}
    for at in range(0, len(people), _CHUNK):
        part = people[at : at + _CHUNK]
        query = select(records.c.person_id, records.c.agency, records.c.record_id).where(
            records.c.person_id.in_(part) & (records.c.consent == 1)
        )
        for person, agency, record_id in conn.execute(query):
            out.setdefault(person, []).append((agency, record_id))
    return out
