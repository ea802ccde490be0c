"""The month's statuses, figures and agency coverage, computed inside an ingest's transaction.

Reads what the store holds (live people, last month's frozen statuses and figures, and the
records' activity unless the ingest already holds it), runs the pure logic of
:mod:`linkage.bynamelist.status`, and replaces this month's rows, so a second upload in the
same month recomputes the month and earlier months never change. People are matched by id
at numpy speed (sorted id arrays), never one Python lookup per person.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, delete, func, insert, select

from linkage.bynamelist.bulk import ordinals, read_rows
from linkage.bynamelist.households import figures as household_figures
from linkage.bynamelist.households import join as join_households
from linkage.bynamelist.notices import write_notices
from linkage.bynamelist.packed import MonthStatuses, id_array, pack, positions, unpack
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
from linkage.bynamelist.store.schema import (
    coverage,
    figures,
    meta,
    people,
    records,
    status_months,
    uploads,
)
from linkage.formats.config import ByNameListSettings

#: ASCII digits only (``\d`` would take any script's digits, and ``int`` would read them).
YYYY_MM = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
_MONTH = re.compile(YYYY_MM)


def check_month(month: str) -> str:
    """The month as given, once it is a real YYYY-MM: the whole string (``re.match`` with
    ``$`` would let ``2026-10\n`` through, a month no report could find)."""
    if not _MONTH.fullmatch(month):
        raise StoreError(f"month {month!r} is not YYYY-MM", "for example --month 2026-10")
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


@dataclass(frozen=True)
class RecordActivity:
    """Every record's person, agency and activity (0 where none is known): what a month's
    statuses are computed from. An ingest hands over what it already holds in memory; a
    correction reads the store (:func:`read_activity`)."""

    person: npt.NDArray[np.bytes_]
    agency: list[str]
    last_activity: npt.NDArray[np.int64]  # ordinal day
    situation: npt.NDArray[np.int64]
    flags: npt.NDArray[np.int64]
    household: npt.NDArray[np.int64]  # the agency's household pseudonym; 0: none known
    head: npt.NDArray[np.bool_]


def read_activity(conn: Connection) -> RecordActivity:
    """The store's records as :class:`RecordActivity`."""
    wanted = ["person_id", "agency", "last_activity", "situation", "flags", "household", "head"]
    found = read_rows(conn, records, wanted)
    pids, agencies, days, situations, flags, households, heads = (
        list(c) for c in (zip(*found, strict=True) if found else [()] * len(wanted))
    )
    return RecordActivity(
        id_array(pids),
        agencies,
        ordinals(days),
        np.array([s or 0 for s in situations], np.int64),
        np.array([f or 0 for f in flags], np.int64),
        np.array(households, np.int64),
        np.array(heads, np.int64) == 1,
    )


def month_statuses(conn: Connection, month: str) -> MonthStatuses | None:
    """A stored month's statuses (None for a month the list has not computed)."""
    row = conn.execute(select(status_months).where(status_months.c.month == month)).mappings()
    found = row.first()
    return None if found is None else unpack(dict(found), month)


def refresh(
    conn: Connection,
    month: str,
    settings: ByNameListSettings,
    activity: RecordActivity | None = None,
    today: _dt.date | None = None,
) -> None:
    """Recompute and store ``month``'s statuses, figures (people's and households'),
    coverage and notices (from ``activity`` where the caller holds every record's, else from
    the store; notices under the agreements in force ``today``)."""
    before_month = previous_month(conn, month)
    people_now = _People.read(conn)
    held = read_activity(conn) if activity is None else activity
    person = positions(people_now.live, held.person)
    if bool(np.any(person < 0)):
        raise StoreError(
            "the store holds records of people it does not list as live",
            "restore the store from its backup",
        )
    n = len(people_now.live)
    combined = combine(person, n, held.last_activity, held.situation, held.flags)
    status_now = person_statuses(
        combined, month_end(month).toordinal(), settings.inactive_after_days
    )
    now = Month(status_now, combined.flags, status_now != Status.UNKNOWN)

    mark = conn.execute(select(meta.c.value).where(meta.c.key == _LISTED_FROM)).scalar()
    chained = before_month is not None and mark is not None and mark <= before_month
    before, listed = _month_of(conn, before_month, people_now)
    if before_month is not None and not chained:  # months from before schema 0004
        listed = _listed_in_history(conn, month, people_now)
    ever = {name: (listed >> k) & 1 == 1 for k, name in enumerate(POPULATIONS)}
    published: dict[str, int] = {}
    if before_month is not None:
        query = select(figures.c.population, figures.c.value).where(
            figures.c.month == before_month, figures.c.measure == "active"
        )
        published = dict(conn.execute(query).all())
    table = with_difference(month_figures(now, before, ever), published)
    joined = join_households(person, n, held.agency, held.household, held.head)
    table.update(household_figures(joined, now, before, published))

    for t in (status_months, figures, coverage):
        conn.execute(delete(t).where(t.c.month == month))
    kept = np.flatnonzero(now.existed | (listed != 0))
    stored = MonthStatuses(
        people_now.live[kept], status_now[kept], combined.flags[kept], listed[kept]
    )
    conn.execute(insert(status_months).values(month=month, **pack(stored)))
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
    _write_coverage(conn, month, held.agency, person, status_now)
    write_notices(
        conn,
        month,
        people_now.live,
        before.status if before_month is not None else None,
        status_now,
        today or _dt.date.today(),
    )


#: The meta key of the first month whose statuses carry ``listed`` bits.
_LISTED_FROM = "listed_before_from"


@dataclass(frozen=True)
class _People:
    """Today's live people (ids sorted), and where every id ever given now lives: a merged
    person's in their survivor (merges point straight at the final survivor)."""

    live: npt.NDArray[np.bytes_]
    ever: npt.NDArray[np.bytes_]  # every id, sorted
    heir: npt.NDArray[np.int64]  # each of ``ever``'s position in ``live``

    @classmethod
    def read(cls, conn: Connection) -> _People:
        found = read_rows(conn, people, ["id", "merged_into"])
        ids = id_array([p for p, _ in found])
        into = id_array([m for _, m in found])
        order = np.argsort(ids)
        ever, into = ids[order], into[order]
        alive = into == b""
        live = ever[alive]
        return cls(live, ever, positions(live, np.where(alive, ever, into)))

    def heirs(self, ids: npt.NDArray[np.bytes_]) -> npt.NDArray[np.int64]:
        """Each id's place today: its own, its survivor's, or -1 (an id the store no longer
        holds)."""
        at = positions(self.ever, ids)
        return np.where(at >= 0, self.heir[np.maximum(at, 0)], -1)


def _listed(status: npt.NDArray[np.int64], flags: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The populations whose list each person is on (bit k: the k-th population)."""
    active = status == Status.ACTIVE
    bits = np.zeros(len(status), np.int64)
    for k, member in enumerate(POPULATIONS.values()):
        bits |= (active & member(flags)).astype(np.int64) << k
    return bits


def _month_of(
    conn: Connection, month: str | None, people_now: _People
) -> tuple[Month, npt.NDArray[np.int64]]:
    """A stored month's statuses of today's live people (absorbed people have no place in
    today's order and are left out), and the populations each live person was listed in up
    to and including that month (an absorbed person's count for their survivor)."""
    n = len(people_now.live)
    status = np.zeros(n, np.int64)
    fl = np.zeros(n, np.int64)
    listed = np.zeros(n, np.int64)
    stored = None if month is None else month_statuses(conn, month)
    if stored is not None:
        at = positions(people_now.live, stored.people)
        mine = at >= 0
        status[at[mine]], fl[at[mine]] = stored.status[mine], stored.flags[mine]
        _add_listed(
            listed, people_now, stored.people, stored.listed | _listed(stored.status, stored.flags)
        )
    return Month(status, fl, status != Status.UNKNOWN), listed


def _listed_in_history(conn: Connection, month: str, people_now: _People) -> npt.NDArray[np.int64]:
    """The populations each live person was listed in before ``month``, from the whole
    history: for months stored before schema 0004, once."""
    listed = np.zeros(len(people_now.live), np.int64)
    query = select(status_months.c.month).where(status_months.c.month < month)
    for earlier in conn.execute(query).scalars().all():
        stored = month_statuses(conn, earlier)
        if stored is not None:
            _add_listed(listed, people_now, stored.people, _listed(stored.status, stored.flags))
    return listed


def _add_listed(
    listed: npt.NDArray[np.int64],
    people_now: _People,
    ids: npt.NDArray[np.bytes_],
    bits: npt.NDArray[np.int64],
) -> None:
    """OR each id's population bits into its place today: an absorbed person's go to their
    survivor."""
    heir = people_now.heirs(ids)
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
