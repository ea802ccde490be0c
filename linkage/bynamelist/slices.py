"""A group's own monthly figures: the list's people that the group's agencies know.

A geographic or population cluster tracks its own trends. Its figures are the list's, sliced:
at each month's end, the people (counted once, however many of the group's agencies know
them) with a record at one of its agencies by then (each record's first upload says since
when), with the statuses the list gave them that month. Inflow and outflow follow from the
slice's own month before (a person the group did not know then was not on its list then),
"newly identified" from whether the person was ever on the group's list before, and the
reliability difference from the group's own active count of the month before. People are
counted under today's ids, so a group of every agency is the list as it stands now: its
latest month's figures are the list's, and earlier months count people merged since as one.
Households likewise: the list's households as they stand now, made up of the group's people
(:func:`linkage.bynamelist.households.among`).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from sqlalchemy import Connection, select

from linkage.bynamelist.households import among, join
from linkage.bynamelist.households import figures as household_figures
from linkage.bynamelist.monthly import month_statuses, read_activity
from linkage.bynamelist.packed import id_array, positions
from linkage.bynamelist.status import POPULATIONS, Month, Status, with_difference
from linkage.bynamelist.status import figures as month_figures
from linkage.bynamelist.store.schema import figures, people, records, uploads


def group_figures(
    conn: Connection, agencies: Collection[str], last: str
) -> dict[str, dict[str, dict[str, int]]]:
    """The group's unsuppressed figures (population -> measure -> value) for each month of
    the list up to ``last``, oldest first."""
    now_is = survivors(conn)
    since = known_since(conn, agencies)
    held_now = read_activity(conn)
    ids, person = np.unique(held_now.person, return_inverse=True)
    joined = join(person.reshape(-1), len(ids), held_now.agency, held_now.household, held_now.head)
    months = sorted(
        m
        for (m,) in conn.execute(select(figures.c.month).distinct().where(figures.c.month <= last))
    )
    ever: dict[str, set[str]] = {name: set() for name in POPULATIONS}
    before_people: dict[str, tuple[Status, int]] = {}
    before_group: set[str] = set()
    active_before: dict[str, int] = {}
    out: dict[str, dict[str, dict[str, int]]] = {}
    for month in months:
        held = month_people(conn, month, now_is)
        group = sorted(p for p, first in since.items() if first <= month)
        now = _month(group, held, set(group))
        before = _month(group, before_people, before_group)
        listed_before = {
            name: np.fromiter((p in ever[name] for p in group), np.bool_, len(group))
            for name in POPULATIONS
        }
        rows = with_difference(month_figures(now, before, listed_before), active_before)
        mine = among(joined, positions(ids, id_array(group)))
        rows.update(household_figures(mine, now, before, active_before))
        out[month] = rows
        for name, member in POPULATIONS.items():
            on = (now.status == Status.ACTIVE) & member(now.flags)
            ever[name].update(p for p, yes in zip(group, on.tolist(), strict=True) if yes)
        before_people, before_group = held, set(group)
        active_before = {name: row["active"] for name, row in rows.items()}
    return out


def known_since(conn: Connection, agencies: Collection[str]) -> dict[str, str]:
    """The month from which the group of ``agencies`` knows each person (the first upload
    of its first record of them there), by today's person ids."""
    since: dict[str, str] = {}
    query = (
        select(records.c.person_id, uploads.c.month)
        .join(uploads, records.c.first_upload == uploads.c.id)
        .where(records.c.agency.in_(sorted(agencies)))
    )
    for person, month in conn.execute(query):
        if person not in since or month < since[person]:
            since[person] = month
    return since


def _month(group: list[str], held: dict[str, tuple[Status, int]], known: set[str]) -> Month:
    """The group's people's statuses in one month; a person the group did not know then, or
    the list had no status for, did not exist for the group that month."""
    status = np.zeros(len(group), np.int64)
    flags = np.zeros(len(group), np.int64)
    existed = np.zeros(len(group), np.bool_)
    for k, person in enumerate(group):
        found = held.get(person) if person in known else None
        if found is not None:
            status[k], flags[k], existed[k] = int(found[0]), found[1], True
    return Month(status, flags, existed)


def survivors(conn: Connection) -> dict[str, str]:
    """Where every person id ever given now lives (an absorbed person, in its survivor)."""
    into = dict(conn.execute(select(people.c.id, people.c.merged_into)).all())
    out: dict[str, str] = {}
    for pid in into:
        final, hops = pid, 0
        while into.get(final) is not None and hops < len(into):
            final, hops = into[final], hops + 1
        out[pid] = final
    return out


def month_people(
    conn: Connection, month: str, now_is: dict[str, str]
) -> dict[str, tuple[Status, int]]:
    """A month's statuses and flags by today's person ids (empty for a month the list does
    not have). Two people merged since are one: on the list if either was, active first,
    their flags together."""
    stored = month_statuses(conn, month)
    out: dict[str, tuple[Status, int]] = {}
    if stored is None:
        return out
    rows = zip(stored.person_ids(), stored.status.tolist(), stored.flags.tolist(), strict=True)
    for pid, code, flags in rows:
        if code == Status.UNKNOWN:
            continue
        person, status = now_is.get(pid, pid), Status(code)
        held = out.get(person)
        if held is None:
            out[person] = (status, int(flags))
        else:
            best = status if _RANK[status] < _RANK[held[0]] else held[0]
            out[person] = (best, held[1] | int(flags))
    return out


#: Which status stands for two people merged since: being on the list first.
_RANK = {
    s: k
    for k, s in enumerate(
        (Status.ACTIVE, Status.INACTIVE, Status.HOUSED, Status.NOT_HOMELESS, Status.DECEASED)
    )
}
