"""Joint participants: which of an agency's own clients a partner also serves.

For case conferencing each agency needs its own list of the people it shares with a partner,
under its own record ids, and nothing of the partner's ids. A person is on agency A's list of
people shared with B when A and B both hold a record of them, both records' clients
consented to be named to partners (:mod:`linkage.formats.consent`), and a case-conferencing
agreement between A and B is in force (:mod:`linkage.bynamelist.agreements`). B asking gets
the same people under B's record ids. Each row gives the list's person id (the common name
the partners use at the table, never a record id of another agency), the person's status at
the list's latest month and their last activity on the list.

An agenda for a meeting of several agencies gives each its own list of the people it shares
with any other attendee under an agreement, the people most attendees share first.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, func, select

from linkage.bynamelist.agreements import NotAgreed, partners, refuse_unknown
from linkage.bynamelist.monthly import latest_upload_month
from linkage.bynamelist.slices import month_people
from linkage.bynamelist.status import Status
from linkage.bynamelist.store import Store, StoreError
from linkage.bynamelist.store.schema import records

CASE_CONFERENCING = "case_conferencing"
#: Rows of a joint list, as its CSV names them.
COLUMNS = ("record_id", "person_id", "status", "last_activity", "partners")
_CHUNK = 900


@dataclass(frozen=True)
class JointRow:
    """One of the agency's own records of a person it shares: ``partners`` is how many of
    the partners asked about also serve the person (with consent)."""

    record_id: str
    person_id: str
    status: str
    last_activity: date | None
    partners: int


def joint_list(
    store: Store, agency: str, partner: str, today: date | None = None
) -> list[JointRow]:
    """``agency``'s own consented records of people ``partner`` also serves with consent,
    in record-id order. Refused without a case-conferencing agreement in force today."""
    today = today or date.today()
    with store.engine.connect() as conn:
        refuse_unknown(conn, [agency, partner])
        if partner == agency:
            raise StoreError("a joint list is between an agency and another", "give --with B")
        if partner not in partners(conn, agency, CASE_CONFERENCING, today):
            raise NotAgreed(
                f"no case-conferencing agreement between {agency} and {partner} is in force "
                f"on {today.isoformat()}",
                "staff record one with 'linkage bnl agreement add'; nothing was named",
            )
        rows = _shared(conn, agency, {partner})
    return sorted(rows, key=lambda r: r.record_id)


def agenda(
    store: Store, agencies: Sequence[str], today: date | None = None
) -> dict[str, list[JointRow]]:
    """For a case conference of ``agencies``: each one's own consented records of people it
    shares with any other attendee under an agreement in force today, the people most
    attendees share first. Refused when an attendee has no such agreement with any other."""
    today = today or date.today()
    attendees = list(dict.fromkeys(a.strip() for a in agencies if a.strip()))
    if len(attendees) < 2:
        raise StoreError("an agenda is for two or more agencies", "name them: --agencies A,B,C")
    out: dict[str, list[JointRow]] = {}
    with store.engine.connect() as conn:
        refuse_unknown(conn, attendees)
        for agency in attendees:
            with_whom = partners(conn, agency, CASE_CONFERENCING, today) & set(attendees)
            if not with_whom:
                raise NotAgreed(
                    f"{agency} has no case-conferencing agreement in force with another "
                    f"attendee on {today.isoformat()}",
                    "leave it out of --agencies, or record an agreement; nothing was named",
                )
            rows = _shared(conn, agency, with_whom)
            out[agency] = sorted(rows, key=lambda r: (-r.partners, r.person_id, r.record_id))
    return out


def joint_csv(rows: Sequence[JointRow]) -> str:
    """A joint list as CSV text."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        day = r.last_activity.isoformat() if r.last_activity else ""
        writer.writerow([r.record_id, r.person_id, r.status, day, r.partners])
    return text.getvalue()


def _shared(conn: Connection, agency: str, others: set[str]) -> list[JointRow]:
    """``agency``'s consented records of people that consented records of ``others`` name."""
    own = records.alias("own")
    theirs = records.alias("theirs")
    query = (
        select(own.c.record_id, own.c.person_id, func.count(func.distinct(theirs.c.agency)))
        .join(theirs, own.c.person_id == theirs.c.person_id)
        .where(
            (own.c.agency == agency)
            & (own.c.consent == 1)
            & (theirs.c.consent == 1)
            & theirs.c.agency.in_(sorted(others))
        )
        .group_by(own.c.record_id, own.c.person_id)
    )
    found = conn.execute(query).all()
    people = sorted({pid for _, pid, _ in found})
    status = _statuses(conn, people)
    last = _last_activity(conn, people)
    return [
        JointRow(rid, pid, status.get(pid, Status.UNKNOWN).name.lower(), last.get(pid), n)
        for rid, pid, n in found
    ]


def _statuses(conn: Connection, people: list[str]) -> dict[str, Status]:
    """Each person's status at the list's latest month (absent: no status, off the list);
    that month's statuses are under today's ids, as every correction recomputes it."""
    month = latest_upload_month(conn)
    held = month_people(conn, month, {}) if month is not None else {}
    wanted = set(people)
    return {pid: status for pid, (status, _) in held.items() if pid in wanted}


def _last_activity(conn: Connection, people: list[str]) -> dict[str, date]:
    """Each person's latest day of service on the list, over all their records."""
    out: dict[str, date] = {}
    for at in range(0, len(people), _CHUNK):
        part = people[at : at + _CHUNK]
        query = (
            select(records.c.person_id, func.max(records.c.last_activity))
            .where(records.c.person_id.in_(part))
            .group_by(records.c.person_id)
        )
        for pid, day in conn.execute(query):
            if day is not None:
                out[pid] = day if isinstance(day, date) else date.fromisoformat(str(day))
    return out
