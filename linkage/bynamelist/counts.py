"""Count-only agencies: aggregate figures from agencies that may not share even encodings.

Victim-service (domestic-violence) providers may not put identifying data anywhere, encrypted
or not (docs/hmis.md). They send, each month, a small CSV of their own figures::

    population,measure,value
    all,active,23
    all,newly_identified,4
    ...

Populations and measures are the report's (the reliability difference excepted). The counts
cannot be deduplicated against the list, so reports show them apart and say so; nothing else
in the store is touched by them.
"""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import Connection, delete, func, insert, select

from linkage.bynamelist.monthly import check_month, refuse_before_latest
from linkage.bynamelist.status import INFLOW, MEASURES, OUTFLOW, POPULATIONS
from linkage.bynamelist.store import Store, StoreError, writing
from linkage.bynamelist.store.schema import counts, records

COUNTED = tuple(m for m in MEASURES if m != "difference")
_HINT = "columns population,measure,value; see docs/bynamelist.md"


def read_counts(path: Path) -> dict[tuple[str, str], int]:
    """The cells of a counts file, checked: known names, whole non-negative numbers, each
    cell once, totals equal to their kinds where both are given."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise StoreError(f"{path}: cannot be read ({exc.__class__.__name__})", _HINT) from None
    if not rows or [c.strip() for c in rows[0]] != ["population", "measure", "value"]:
        raise StoreError(f"{path}:1: the header must be population,measure,value", _HINT)
    cells: dict[tuple[str, str], int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 3:
            raise StoreError(f"{path}:{line}: has {len(row)} fields, not 3", _HINT)
        population, measure, value = (c.strip() for c in row)
        if population not in POPULATIONS:
            raise StoreError(
                f"{path}:{line}: unknown population '{population}'",
                f"one of {', '.join(POPULATIONS)}",
            )
        if measure not in COUNTED:
            raise StoreError(
                f"{path}:{line}: unknown measure '{measure}'", f"one of {', '.join(COUNTED)}"
            )
        if not value.isdigit():
            raise StoreError(f"{path}:{line}: value must be a whole number of people, 0 or more")
        if (population, measure) in cells:
            raise StoreError(f"{path}:{line}: {population} {measure} is given twice")
        cells[(population, measure)] = int(value)
    for population in POPULATIONS:
        for total, kinds in (("inflow", INFLOW), ("outflow", OUTFLOW)):
            given = [cells.get((population, k)) for k in kinds]
            whole = cells.get((population, total))
            if whole is not None and None not in given and whole != sum(g or 0 for g in given):
                raise StoreError(f"{path}: {population} {total} is not the sum of its kinds")
    if not cells:
        raise StoreError(f"{path}: holds no counts", _HINT)
    return cells


def add_counts(store: Store, agency: str, month: str, path: Path) -> int:
    """Store (or replace) a count-only agency's figures for ``month``; returns the cells."""
    check_month(month)
    cells = read_counts(path)
    with writing(store) as conn:
        encoded = conn.execute(
            select(func.count()).select_from(records).where(records.c.agency == agency)
        ).scalar_one()
        if encoded:
            raise StoreError(
                f"{agency} sends encoded records; an agency is count-only or not at all",
                "use another agency name for counts, or withdraw its records first",
            )
        refuse_before_latest(conn, month, "counts", "send them with --month {latest}")
        conn.execute(delete(counts).where((counts.c.month == month) & (counts.c.agency == agency)))
        conn.execute(
            insert(counts),
            [
                {"month": month, "agency": agency, "population": p, "measure": m, "value": v}
                for (p, m), v in cells.items()
            ],
        )
    return len(cells)


def is_count_only(conn: Connection, agency: str) -> bool:
    """Whether ``agency`` has sent counts (and so may not send encoded records)."""
    query = select(func.count()).select_from(counts).where(counts.c.agency == agency)
    return bool(conn.execute(query).scalar_one())


def month_counts(conn: Connection, month: str) -> tuple[list[str], dict[str, dict[str, int]]]:
    """The count-only agencies of ``month`` and their figures summed, per population."""
    query = select(counts.c.agency, counts.c.population, counts.c.measure, counts.c.value).where(
        counts.c.month == month
    )
    agencies: set[str] = set()
    summed: dict[str, dict[str, int]] = {}
    for agency, population, measure, value in conn.execute(query):
        agencies.add(agency)
        row = summed.setdefault(population, {})
        row[measure] = row.get(measure, 0) + value
    return sorted(agencies), summed
