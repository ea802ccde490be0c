"""The quarterly review: the housing status of every person on the list, month by month.

A task force reviews the list at least quarterly. Each agency brings its own clients: for
every record of its that names a person on the list during the quarter, the person's status
at each month's end, what changed within the quarter, and how many months the person has
been on the list (active or inactive) up to the quarter's end. Statuses are the list's (over
all the person's records, as the monthly figures use them); the agency sees only its own
record ids. The task force itself gets counts only (for the whole list, or for the people a
group's agencies know): people by status at each month's end,
suppressed like the monthly report (no count from 1 to ``suppress_below - 1``, and the cells
that would give one away), with the report's own active counts hidden or shown as it hid or
showed them.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from linkage.bynamelist.agreements import refuse_unknown
from linkage.bynamelist.groups import Group
from linkage.bynamelist.report import build_group_reports, build_reports
from linkage.bynamelist.slices import known_since, month_people, survivors
from linkage.bynamelist.status import Status
from linkage.bynamelist.store import Store, StoreError
from linkage.bynamelist.store.schema import records, status_months
from linkage.bynamelist.suppress import suppress

#: A quarter as ``YYYYQn``.
QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
#: The statuses that put a person on the list.
ON_LIST = frozenset({Status.ACTIVE, Status.INACTIVE})
#: The statuses the task force's counts give, in order.
COUNTED = (Status.ACTIVE, Status.INACTIVE, Status.HOUSED, Status.NOT_HOMELESS, Status.DECEASED)


@dataclass(frozen=True)
class ReviewRow:
    """One of the agency's records of a person on the list during the quarter."""

    record_id: str
    person_id: str
    statuses: tuple[str, ...]  # at each month's end of the quarter ("" before the list had it)
    changes: str  # "active to housed (2026-11)"; "" when nothing changed
    months_on_list: int


def quarter_months(quarter: str) -> list[str]:
    """The three months of ``YYYYQn``; refused in one line otherwise."""
    found = QUARTER.match(quarter.strip())
    if found is None:
        raise StoreError(
            f"'{quarter[:20]}' is not a quarter", "give it as YYYYQn with n from 1 to 4: 2026Q4"
        )
    year, q = int(found[1]), int(found[2])
    return [f"{year:04d}-{3 * (q - 1) + k:02d}" for k in (1, 2, 3)]


def review_list(store: Store, agency: str, quarter: str) -> list[ReviewRow]:
    """``agency``'s records of people on the list during ``quarter``, in record-id order."""
    months = quarter_months(quarter)
    with store.engine.connect() as conn:
        refuse_unknown(conn, [agency])
        now_is = survivors(conn)
        history = conn.execute(
            select(status_months.c.month).where(status_months.c.month <= months[-1])
        ).scalars()
        by_month = {m: _statuses(conn, m, now_is) for m in sorted({*history, *months})}
        own = conn.execute(
            select(records.c.record_id, records.c.person_id)
            .where(records.c.agency == agency)
            .order_by(records.c.record_id)
        ).all()
    on_list = Counter(p for held in by_month.values() for p, s in held.items() if s in ON_LIST)
    rows = []
    for record_id, person in own:
        seen = [by_month[m].get(person) for m in months]
        if not any(s in ON_LIST for s in seen):
            continue
        rows.append(
            ReviewRow(
                record_id,
                person,
                tuple("" if s is None else s.name.lower() for s in seen),
                _changes(months, seen),
                on_list.get(person, 0),
            )
        )
    return rows


def task_force_counts(
    store: Store, quarter: str, group: Group | None = None
) -> dict[str, dict[str, int | None]]:
    """People by status at each month's end of ``quarter`` (None: suppressed), for the
    months the list has; the total is of everyone with a status. With ``group``, only the
    people its agencies knew by each month (:mod:`linkage.bynamelist.slices`)."""
    months = quarter_months(quarter)
    threshold = store.config.bynamelist.suppress_below
    with store.engine.connect() as conn:
        now_is = survivors(conn)
        by_month = {m: _statuses(conn, m, now_is) for m in months}
        have = {m for (m,) in conn.execute(select(status_months.c.month))}
        since = known_since(conn, group.agencies) if group is not None else None
    present = [m for m in months if m in have]
    reports = (
        build_reports(store, present)
        if group is None
        else build_group_reports(store, group.name, group.agencies, present)
    )
    out: dict[str, dict[str, int | None]] = {}
    for month, report in zip(present, reports, strict=True):
        cells = {s.name.lower(): 0 for s in COUNTED}
        for person, status in by_month[month].items():
            if since is not None and since.get(person, "9999-99") > month:
                continue
            if status in COUNTED:
                cells[status.name.lower()] += 1
        cells["total"] = sum(cells.values())
        published = report.rows["all"]["active"]
        hidden = suppress(
            cells,
            [frozenset(cells)],
            threshold,
            [s.name.lower() for s in COUNTED] + ["total"],
            hidden_before=["active"] if published is None else [],
            published=["active"] if published is not None else [],
        )
        out[month] = {name: None if name in hidden else value for name, value in cells.items()}
    if not out:
        raise StoreError(f"the list has no month of {quarter}", "ingest the quarter's months first")
    return out


def review_csv(rows: Sequence[ReviewRow], months: Sequence[str]) -> str:
    """An agency's review list as CSV text."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["record_id", "person_id", *months, "changes", "months_on_list"])
    for r in rows:
        writer.writerow([r.record_id, r.person_id, *r.statuses, r.changes, r.months_on_list])
    return text.getvalue()


def counts_csv(counts: dict[str, dict[str, int | None]]) -> str:
    """The task force's counts as CSV text (a suppressed cell is ``*``)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    names = [*(s.name.lower() for s in COUNTED), "total"]
    writer.writerow(["month", *names])
    for month, cells in counts.items():
        writer.writerow([month, *("*" if cells[n] is None else cells[n] for n in names)])
    return text.getvalue()


def _statuses(conn: Connection, month: str, now_is: dict[str, str]) -> dict[str, Status]:
    return {p: s for p, (s, _) in month_people(conn, month, now_is).items()}


def _changes(months: list[str], seen: list[Status | None]) -> str:
    """What changed within the quarter, in words (from one known status to the next)."""
    said = []
    last: Status | None = None
    for month, now in zip(months, seen, strict=True):
        if now is None:
            continue
        if last is not None and now != last:
            said.append(f"{last.name.lower()} to {now.name.lower()} ({month})")
        last = now
    return "; ".join(said)
