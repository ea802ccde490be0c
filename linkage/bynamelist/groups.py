"""Groups of agencies, and how much of the list each agency and group knows and shares.

A city coordinates hundreds of organisations in geographic and population clusters, each of
which tracks its own trends; partners ask what share of all situations involve one partner.
Staff name the groups in the store (an agency may be in several). The overlap table answers,
for the list's actively homeless people at a month's end: how many each agency (or group)
knows and what share of the list that is, and how many people each pair of agencies (or
groups) both know (pairs that share nobody are left out). Every cell is a count of people:
one from 1 to ``suppress_below - 1`` is hidden, a share with it, every share when the list's
own active count is hidden in the monthly report (a share and its count would give the total
away), and a pair's count where the difference with either side's count would be such a
small number. Nothing in it is a record or a person.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations

from sqlalchemy import Connection, delete, insert, select

from linkage.bynamelist.agreements import refuse_unknown
from linkage.bynamelist.monthly import latest_upload_month, month_statuses
from linkage.bynamelist.report import build_report
from linkage.bynamelist.slices import month_people, survivors
from linkage.bynamelist.status import Status
from linkage.bynamelist.store import Store, StoreError, writing
from linkage.bynamelist.store.schema import agency_groups, events, records

#: What a group is drawn by.
KINDS = ("geographic", "population", "other")
#: A group's name: what a report heading and a file name can hold.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Group:
    """A named group of agencies."""

    name: str
    kind: str
    agencies: tuple[str, ...]


@dataclass(frozen=True)
class Overlap:
    """Who knows how much of a month's actively homeless people (None: suppressed)."""

    month: str
    by: str  # "agency" or "group"
    active: int | None  # the list's actively homeless, as the monthly report shows it
    known: dict[str, int | None]
    share: dict[str, float | None]
    shared: dict[tuple[str, str], int | None]  # each pair once, in name order


def add_to_group(store: Store, name: str, kind: str, agencies: Sequence[str]) -> Group:
    """Put ``agencies`` (known to the store) in the group ``name``, making it if it is new.
    Audited. Refused, nothing written, for a bad name or kind, an unknown agency, or a group
    of that name drawn by another kind."""
    if NAME.match(name) is None:
        raise StoreError(
            f"'{name[:64]}' is not a group name",
            "use up to 64 letters, digits, '.', '-' and '_', from a letter or digit",
        )
    if kind not in KINDS:
        raise StoreError(f"no group kind '{kind[:20]}'", f"give one of {', '.join(KINDS)}")
    members = sorted({a.strip() for a in agencies if a.strip()})
    if not members:
        raise StoreError("a group needs agencies", "name them: --agencies A,B")
    with writing(store) as conn:
        refuse_unknown(conn, members)
        existing = read_groups(conn).get(name)
        if existing is not None and existing.kind != kind:
            raise StoreError(f"group {name} is {existing.kind}, not {kind}")
        have = set(existing.agencies) if existing else set()
        new = [a for a in members if a not in have]
        if new:
            conn.execute(
                insert(agency_groups), [{"name": name, "kind": kind, "agency": a} for a in new]
            )
        _audit(conn, f"group {name} ({kind}): {', '.join(new) or 'nothing'} added")
        return read_groups(conn)[name]


def remove_from_group(store: Store, name: str, agencies: Sequence[str] = ()) -> None:
    """Take ``agencies`` out of group ``name`` (all of them, and so the group, without).
    Audited."""
    with writing(store) as conn:
        found = read_groups(conn).get(name)
        if found is None:
            raise StoreError(f"no group {name[:64]}", "see 'linkage bnl group list'")
        gone = sorted(set(agencies) & set(found.agencies)) if agencies else list(found.agencies)
        if agencies and not gone:
            raise StoreError(f"none of those agencies is in group {name}")
        conn.execute(
            delete(agency_groups).where(
                (agency_groups.c.name == name) & agency_groups.c.agency.in_(gone)
            )
        )
        _audit(conn, f"group {name}: {', '.join(gone)} taken out")


def list_groups(store: Store) -> list[Group]:
    """Every group, by name."""
    with store.engine.connect() as conn:
        return sorted(read_groups(conn).values(), key=lambda g: g.name)


def read_groups(conn: Connection) -> dict[str, Group]:
    """Every group, in the caller's transaction."""
    members: dict[str, list[str]] = defaultdict(list)
    kinds: dict[str, str] = {}
    for name, kind, agency in conn.execute(
        select(agency_groups.c.name, agency_groups.c.kind, agency_groups.c.agency).order_by(
            agency_groups.c.agency
        )
    ):
        members[name].append(agency)
        kinds[name] = kind
    return {n: Group(n, kinds[n], tuple(a)) for n, a in members.items()}


def overlap(store: Store, by: str = "agency", month: str | None = None) -> Overlap:
    """The overlap table of ``month`` (the list's latest without), by agency or by group."""
    if by not in ("agency", "group"):
        raise StoreError(f"overlap is by agency or by group, not '{by[:20]}'")
    with store.engine.connect() as conn:
        month = month or latest_upload_month(conn)
        if month is None or month_statuses(conn, month) is None:
            raise StoreError("the list has no such month", "ingest it with 'linkage bnl ingest'")
        # an earlier month's people under today's ids, as the records name them
        held = month_people(conn, month, survivors(conn))
        active = {p for p, (status, _) in held.items() if status == Status.ACTIVE}
        groups = read_groups(conn)
        in_groups: dict[str, set[str]] = defaultdict(set)
        for g in groups.values():
            for agency in g.agencies:
                in_groups[agency].add(g.name)
        units_of: dict[str, set[str]] = defaultdict(set)
        for agency, person in conn.execute(select(records.c.agency, records.c.person_id)):
            if person in active:
                units_of[person] |= {agency} if by == "agency" else in_groups[agency]
    if by == "group" and not groups:
        raise StoreError("the store has no groups", "name some with 'linkage bnl group add'")
    named = set(groups) if by == "group" else set()
    units = sorted({u for us in units_of.values() for u in us} | named)
    known = dict.fromkeys(units, 0)
    shared: dict[tuple[str, str], int] = defaultdict(int)
    for us in units_of.values():
        for u in us:
            known[u] += 1
        for pair in combinations(sorted(us), 2):
            shared[pair] += 1
    threshold = store.config.bynamelist.suppress_below
    published = build_report(store, month).rows["all"]["active"]

    def shown(n: int) -> int | None:
        return None if 0 < n < threshold else n

    def pair_shown(pair: tuple[str, str], n: int) -> int | None:
        """A pair's count, hidden also where it would give away the small number of people
        one of the two knows and the other does not (its known count less this)."""
        apart = (known[pair[0]] - n, known[pair[1]] - n)
        return None if any(0 < d < threshold for d in apart) else shown(n)

    known_shown = {u: shown(n) for u, n in known.items()}
    share = {
        u: None if n is None or not published else n / published for u, n in known_shown.items()
    }
    return Overlap(
        month,
        by,
        published,
        known_shown,
        share,
        {pair: pair_shown(pair, n) for pair, n in sorted(shared.items())},
    )


def overlap_csv(table: Overlap) -> str:
    """An overlap table as CSV: one row a unit (``shared_with`` blank), then one a pair; a
    suppressed cell is ``*``."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["month", table.by, "shared_with", "people", "share_of_list"])

    def cell(v: float | int | None, fmt: str = "{}") -> str:
        return "*" if v is None else fmt.format(v)

    for u, n in table.known.items():
        writer.writerow([table.month, u, "", cell(n), cell(table.share[u], "{:.3f}")])
    for (a, b), n in table.shared.items():
        writer.writerow([table.month, a, b, cell(n), ""])
    return text.getvalue()


def _audit(conn: Connection, reason: str) -> None:
    conn.execute(insert(events).values(at=datetime.now(UTC), kind="group", reason=reason))
