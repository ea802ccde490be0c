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
from sqlalchemy import Connection, delete, func, insert, select, update

from linkage.bynamelist.bulk import day, insert_rows, read_rows, update_rows
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
    everyone = read_rows(conn, people, ["id", "merged_into", "ever_listed"])
    bits = _fold_listed(conn, before_month, {pid: listed for pid, _, listed in everyone})
    live = [pid for pid, into, _ in everyone if into is None]
    order = {pid: i for i, pid in enumerate(live)}
    listed = np.zeros(len(live), np.int64)
    for pid, into, _ in everyone:
        at = order.get(into or pid)
        if bits[pid] and at is not None:
            listed[at] |= bits[pid]
    ever = {name: (listed >> k) & 1 == 1 for k, name in enumerate(POPULATIONS)}
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
    before = _month_of(conn, before_month, order)
    published: dict[str, int] = {}
    if before_month is not None:
        query = select(figures.c.population, figures.c.value).where(
            figures.c.month == before_month, figures.c.measure == "active"
        )
        published = dict(conn.execute(query).all())
    table = with_difference(month_figures(now, before, ever), published)

    for t in (statuses, figures, coverage):
        conn.execute(delete(t).where(t.c.month == month))
    kept = np.flatnonzero(now.existed)
    insert_rows(
        conn,
        statuses,
        ["month", "person_id", "status", "flags"],
        zip(
            [month] * len(kept),
            [live[i] for i in kept.tolist()],
            status_now[kept].tolist(),
            combined.flags[kept].tolist(),
            strict=True,
        ),
    )
    conn.execute(
        insert(figures),
        [
            {"month": month, "population": name, "measure": measure, "value": value}
            for name, row in table.items()
            for measure, value in row.items()
        ],
    )
    _write_coverage(conn, month, agencies, person, status_now)


#: The meta key of the last month folded into ``people.ever_listed``.
_LISTED_THROUGH = "ever_listed_through"


def _fold_listed(conn: Connection, through: str | None, bits: dict[str, int]) -> dict[str, int]:
    """Bring each person's ``ever_listed`` bits (given, by id) up to month ``through``: the
    months since the last fold (every month, the first time) are read from the frozen
    statuses and the people whose bits grow are written. Returns the bits as they now are.
    History before ``through`` never changes, so a month refreshed twice folds nothing new."""
    if through is None:
        return bits
    mark = conn.execute(select(meta.c.value).where(meta.c.key == _LISTED_THROUGH)).scalar()
    if mark is not None and mark >= through:
        return bits
    query = select(statuses.c.person_id, statuses.c.flags).where(
        statuses.c.month <= through, statuses.c.status == Status.ACTIVE
    )
    if mark is not None:
        query = query.where(statuses.c.month > mark)
    found = conn.execute(query).all()
    if found:
        flags = np.array([f for _, f in found], np.int64)
        codes = np.zeros(len(found), np.int64)
        for k, member in enumerate(POPULATIONS.values()):
            codes |= member(flags).astype(np.int64) << k
        grown: dict[str, int] = {}
        for (pid, _), code in zip(found, codes.tolist(), strict=True):
            had = grown.get(pid, bits[pid])
            if had | code != had:
                grown[pid] = had | code
        update_rows(conn, people, "id", ["ever_listed"], ((c, p) for p, c in grown.items()))
        bits.update(grown)
    if mark is None:
        conn.execute(insert(meta).values(key=_LISTED_THROUGH, value=through))
    else:
        conn.execute(update(meta).where(meta.c.key == _LISTED_THROUGH).values(value=through))
    return bits


def _month_of(conn: Connection, month: str | None, order: dict[str, int]) -> Month:
    """A stored month's statuses of today's live people (absorbed and withdrawn people's rows
    have no place in today's order and are left out)."""
    n = len(order)
    status = np.zeros(n, np.int64)
    fl = np.zeros(n, np.int64)
    existed = np.zeros(n, np.bool_)
    if month is not None:
        query = select(statuses.c.person_id, statuses.c.status, statuses.c.flags).where(
            statuses.c.month == month
        )
        for pid, st, f in conn.execute(query):
            at = order.get(pid)
            if at is not None:
                status[at], fl[at], existed[at] = st, f, True
    return Month(status, fl, existed)


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
