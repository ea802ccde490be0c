"""The month's statuses, figures and agency coverage, computed inside an ingest's transaction.

Reads what the store holds (live people, their records' activity, last month's frozen
statuses and figures), runs the pure logic of :mod:`linkage.bynamelist.status`, and replaces
this month's rows, so a second upload in the same month recomputes the month and earlier
months never change.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, delete, func, insert, select

from linkage.bynamelist.bulk import day, insert_rows, read_rows
from linkage.bynamelist.schema import (
    coverage,
    figures,
    meta,
    people,
    records,
    statuses,
    uploads,
)
from linkage.bynamelist.status import (
    POPULATIONS,
    Month,
    Status,
    combine,
    with_difference,
)
from linkage.bynamelist.status import figures as month_figures
from linkage.bynamelist.status import statuses as person_statuses
from linkage.bynamelist.store import StoreError
from linkage.config import ByNameListSettings

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_month(month: str) -> str:
    """The month as given, once it is a real YYYY-MM."""
    if not _MONTH.match(month):
        raise StoreError(f"month '{month}' is not YYYY-MM", "for example --month 2026-10")
    return month


def month_end(month: str) -> _dt.date:
    """The last day of a YYYY-MM month."""
    year, mon = int(month[:4]), int(month[5:7])
    return _dt.date(year, mon, calendar.monthrange(year, mon)[1])


def latest_upload_month(conn: Connection) -> str | None:
    """The month of the list's latest upload (None before the first)."""
    found: str | None = conn.execute(select(func.max(uploads.c.month))).scalar()
    return found


def refuse_before_latest(conn: Connection, month: str, what: str, hint: str) -> None:
    """History is frozen: nothing may go into a month before the list's latest."""
    latest = latest_upload_month(conn)
    if latest is not None and month < latest:
        raise StoreError(
            f"the list has reached {latest}; {what} cannot go into {month}",
            hint.format(latest=latest),
        )


def refresh_latest(conn: Connection, settings: ByNameListSettings) -> None:
    """Recompute the latest month after a correction (a ruling, a withdrawal): corrections
    are carried into the current month."""
    month = latest_upload_month(conn)
    if month is not None:
        refresh(conn, month, settings)


def previous_month(conn: Connection, month: str) -> str | None:
    """The list's latest month before ``month`` (months without an ingest are skipped)."""
    query = select(func.max(figures.c.month)).where(figures.c.month < month)
    found: str | None = conn.execute(query).scalar()
    return found


def refresh(conn: Connection, month: str, settings: ByNameListSettings) -> None:
    """Recompute and store ``month``'s statuses, figures and coverage."""
    before_month = previous_month(conn, month)
    everyone = read_rows(conn, people, ["id", "merged_into"])
    live = [pid for pid, into in everyone if into is None]
    order = {pid: i for i, pid in enumerate(live)}
    survivor = {pid: into for pid, into in everyone if into is not None}
    found = read_rows(conn, records, ["person_id", "agency", "last_activity", "situation", "flags"])
    pids, agencies, days, situations, record_flags = (
        list(c) for c in (zip(*found, strict=True) if found else [()] * 5)
    )
    person = np.fromiter((order[p] for p in pids), np.int64, len(pids))
    last = np.fromiter((d.toordinal() if (d := day(v)) else 0 for v in days), np.int64, len(days))
    situation = np.array([s or 0 for s in situations], np.int64)
    flags = np.array([f or 0 for f in record_flags], np.int64)
    combined = combine(person, len(live), last, situation, flags)
    status_now = person_statuses(
        combined, month_end(month).toordinal(), settings.inactive_after_days
    )
    now = Month(status_now, combined.flags, status_now != Status.UNKNOWN)

    mark = conn.execute(select(meta.c.value).where(meta.c.key == _LISTED_FROM)).scalar()
    chained = before_month is not None and mark is not None and mark <= before_month
    before, listed = _month_of(conn, before_month, order, survivor)
    if before_month is not None and not chained:  # rows from before schema 0004
        listed = _listed_in_history(conn, month, order, survivor)
    ever = {name: (listed >> k) & 1 == 1 for k, name in enumerate(POPULATIONS)}
    published: dict[str, int] = {}
    if before_month is not None:
        query = select(figures.c.population, figures.c.value).where(
            figures.c.month == before_month, figures.c.measure == "active"
        )
        published = dict(conn.execute(query).all())
    table = with_difference(month_figures(now, before, ever), published)

    for t in (statuses, figures, coverage):
        conn.execute(delete(t).where(t.c.month == month))
    kept = np.flatnonzero(now.existed | (listed != 0))
    insert_rows(
        conn,
        statuses,
        ["month", "person_id", "status", "flags", "listed_before"],
        zip(
            [month] * len(kept),
            [live[i] for i in kept.tolist()],
            status_now[kept].tolist(),
            combined.flags[kept].tolist(),
            listed[kept].tolist(),
            strict=True,
        ),
    )
    if mark is None:
        conn.execute(insert(meta).values(key=_LISTED_FROM, value=month))
    conn.execute(
        insert(figures),
        [
            {"month": month, "population": name, "measure": measure, "value": value}
            for name, row in table.items()
            for measure, value in row.items()
        ],
    )
    _write_coverage(conn, month, agencies, person, status_now)


#: The meta key of the first month whose status rows carry ``listed_before``.
_LISTED_FROM = "listed_before_from"


def _listed(status: npt.NDArray[np.int64], flags: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The populations whose list each person is on (bit k: the k-th population)."""
    active = status == Status.ACTIVE
    bits = np.zeros(len(status), np.int64)
    for k, member in enumerate(POPULATIONS.values()):
        bits |= (active & member(flags)).astype(np.int64) << k
    return bits


def _month_of(
    conn: Connection, month: str | None, order: dict[str, int], survivor: dict[str, str]
) -> tuple[Month, npt.NDArray[np.int64]]:
    """A stored month's statuses of today's live people (absorbed and withdrawn people's rows
    have no place in today's order and are left out), and the populations each live person
    was listed in up to and including that month (an absorbed person's count for their
    survivor)."""
    n = len(order)
    status = np.zeros(n, np.int64)
    fl = np.zeros(n, np.int64)
    listed = np.zeros(n, np.int64)
    if month is None:
        return Month(status, fl, status != Status.UNKNOWN), listed
    found = read_rows(
        conn,
        statuses,
        ["person_id", "status", "flags", "listed_before"],
        where=("month", month),
    )
    if not found:
        return Month(status, fl, status != Status.UNKNOWN), listed
    pids, st, f, before = (list(c) for c in zip(*found, strict=True))
    at = np.fromiter((order.get(p, -1) for p in pids), np.int64, len(pids))
    st_, f_ = np.array(st, np.int64), np.array(f, np.int64)
    mine = at >= 0
    status[at[mine]], fl[at[mine]] = st_[mine], f_[mine]
    _add_listed(listed, order, survivor, pids, np.array(before, np.int64) | _listed(st_, f_))
    return Month(status, fl, status != Status.UNKNOWN), listed


def _listed_in_history(
    conn: Connection, month: str, order: dict[str, int], survivor: dict[str, str]
) -> npt.NDArray[np.int64]:
    """The populations each live person was listed in before ``month``, from the whole
    history: for status rows written before schema 0004, once."""
    listed = np.zeros(len(order), np.int64)
    query = select(statuses.c.person_id, statuses.c.status, statuses.c.flags).where(
        statuses.c.month < month, statuses.c.status == Status.ACTIVE
    )
    found = conn.execute(query).all()
    if found:
        pids, st, f = (list(c) for c in zip(*found, strict=True))
        bits = _listed(np.array(st, np.int64), np.array(f, np.int64))
        _add_listed(listed, order, survivor, pids, bits)
    return listed


def _add_listed(
    listed: npt.NDArray[np.int64],
    order: dict[str, int],
    survivor: dict[str, str],
    pids: list[str],
    bits: npt.NDArray[np.int64],
) -> None:
    """OR each row's population bits into its person's place today: an absorbed person's go
    to their survivor, a withdrawn person's nowhere."""
    heir = np.fromiter((order.get(survivor.get(p, p), -1) for p in pids), np.int64, len(pids))
    np.bitwise_or.at(listed, heir[heir >= 0], bits[heir >= 0])


def _write_coverage(
    conn: Connection,
    month: str,
    record_agency: Sequence[str],
    person: npt.NDArray[np.int64],
    status_now: npt.NDArray[np.int64],
) -> None:
    latest = dict(
        conn.execute(
            select(uploads.c.agency, func.max(uploads.c.month)).group_by(uploads.c.agency)
        ).all()
    )
    agency = np.array(record_agency, dtype=object)
    active = status_now[person] == Status.ACTIVE
    entries = []
    for name in sorted(latest):
        mine = agency == name
        entries.append(
            {
                "month": month,
                "agency": name,
                "last_month": latest[name],
                "records": int(mine.sum()),
                "active": len(np.unique(person[mine & active])),
            }
        )
    if entries:
        conn.execute(insert(coverage), entries)
