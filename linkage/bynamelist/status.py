"""Statuses and monthly figures: the by-name list's logic, as pure functions on arrays.

A person's status at the end of a month comes from their records' activity (docs/hmis.md):

- the record with the latest activity says where the person is (on a tie, the most final
  situation: deceased, then housed, temporary, institution, homeless, unknown);
- housed, deceased, and institution or temporary (no longer literally homeless) are statuses
  of their own; otherwise the person is **active** when their latest activity is within the
  inactivity threshold of the month's last day (activity after that day counts as on it), and
  **inactive** when it is older;
- a person none of whose records carries activity has no status and is not on the list.

Populations are read from the records' flags (any record placing the person in one does):
veterans, youth, families, chronic, and single adults (neither youth nor in a family).

Month-to-month, for each population: **inflow** is returned from housing (housed last
month), entered the population (active last month but not in it: Canada's "aged in"),
returned from inactive (on that population's list in some earlier month), or else newly
identified (on it for the first time); **outflow** is housed, moved to inactive, or no
longer meets the criteria (no longer literally homeless, deceased, or out of the population). The
reliability difference, active - last month's active - inflow + outflow, is zero except for
corrections carried into the month: people merged as duplicates, records withdrawn.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linkage.formats.activity import Flag, Situation


class Status(enum.IntEnum):
    """A person's status at the end of a month (stored as these codes)."""

    UNKNOWN = 0  # no activity known: not on the list
    ACTIVE = 1
    INACTIVE = 2
    HOUSED = 3
    NOT_HOMELESS = 4  # in an institution or a temporary situation
    DECEASED = 5


#: Membership of each reported population, from a person's flags.
POPULATIONS: dict[str, Callable[[npt.NDArray[np.int64]], npt.NDArray[np.bool_]]] = {
    "all": lambda f: np.ones(len(f), np.bool_),
    "single_adults": lambda f: (f & (Flag.YOUTH | Flag.FAMILY)) == 0,
    "youth": lambda f: (f & Flag.YOUTH) != 0,
    "families": lambda f: (f & Flag.FAMILY) != 0,
    "veterans": lambda f: (f & Flag.VETERAN) != 0,
    "chronic": lambda f: (f & Flag.CHRONIC) != 0,
}
INFLOW = ("newly_identified", "returned_from_housing", "returned_from_inactive", "entered")
OUTFLOW = ("housed", "moved_to_inactive", "no_longer_meets")
MEASURES = ("active", *INFLOW, "inflow", *OUTFLOW, "outflow", "difference")


@dataclass(frozen=True)
class People:
    """Per-person attributes combined from their records."""

    last_activity: npt.NDArray[np.int64]  # ordinal; 0: no activity known
    situation: npt.NDArray[np.int64]
    flags: npt.NDArray[np.int64]


def combine(
    person: npt.NDArray[np.int64],
    n_people: int,
    last_activity: npt.NDArray[np.int64],
    situation: npt.NDArray[np.int64],
    flags: npt.NDArray[np.int64],
) -> People:
    """People's attributes from their records' (``person[i]`` is record i's person index):
    the latest activity, the situation of the record holding it, and all flags together."""
    last = np.zeros(n_people, np.int64)
    np.maximum.at(last, person, last_activity)
    sit = np.zeros(n_people, np.int64)
    at_latest = (last_activity == last[person]) & (last_activity > 0)
    # Situation codes run from unknown to deceased, so the largest is the most final
    np.maximum.at(sit, person[at_latest], situation[at_latest])
    fl = np.zeros(n_people, np.int64)
    np.bitwise_or.at(fl, person, flags)
    return People(last, sit, fl)


def statuses(people: People, month_end: int, inactive_after_days: int) -> npt.NDArray[np.int64]:
    """Each person's :class:`Status` on ``month_end`` (an ordinal)."""
    out = np.full(len(people.last_activity), Status.UNKNOWN, np.int64)
    seen = people.last_activity > 0
    recent = (month_end - people.last_activity) <= inactive_after_days
    homeless = np.isin(people.situation, [Situation.HOMELESS, Situation.UNKNOWN])
    out[seen & homeless & recent] = Status.ACTIVE
    out[seen & homeless & ~recent] = Status.INACTIVE
    out[seen & (people.situation == Situation.HOUSED)] = Status.HOUSED
    leaving = np.isin(people.situation, [Situation.INSTITUTION, Situation.TEMPORARY])
    out[seen & leaving] = Status.NOT_HOMELESS
    out[seen & (people.situation == Situation.DECEASED)] = Status.DECEASED
    return out


@dataclass(frozen=True)
class Month:
    """Everyone's status and flags at one month's end, and who had ever been on each
    population's list before it; arrays aligned on one person order."""

    status: npt.NDArray[np.int64]
    flags: npt.NDArray[np.int64]
    existed: npt.NDArray[np.bool_]  # had a status row that month (False: not yet known)


def figures(
    now: Month, before: Month, ever_listed: dict[str, npt.NDArray[np.bool_]]
) -> dict[str, dict[str, int]]:
    """The month's figures per population. ``before`` is the previous month's statuses of the
    same people (``existed`` False for people who were not known then), ``ever_listed[p]``
    whether each person was on population p's list in any month before this one."""
    out: dict[str, dict[str, int]] = {}
    active_now = now.status == Status.ACTIVE
    active_before = before.existed & (before.status == Status.ACTIVE)
    for name, member in POPULATIONS.items():
        listed = active_now & member(now.flags)
        was_listed = active_before & member(before.flags)
        came = listed & ~was_listed
        left = was_listed & ~listed
        entered = came & active_before
        from_housing = came & before.existed & (before.status == Status.HOUSED)
        rest = came & ~active_before & ~from_housing
        row = {
            "active": int(listed.sum()),
            "newly_identified": int((rest & ~ever_listed[name]).sum()),
            "returned_from_housing": int(from_housing.sum()),
            "returned_from_inactive": int((rest & ever_listed[name]).sum()),
            "entered": int(entered.sum()),
            "housed": int((left & (now.status == Status.HOUSED)).sum()),
            "moved_to_inactive": int((left & (now.status == Status.INACTIVE)).sum()),
        }
        row["no_longer_meets"] = int(left.sum()) - row["housed"] - row["moved_to_inactive"]
        row["inflow"] = sum(row[k] for k in INFLOW)
        row["outflow"] = sum(row[k] for k in OUTFLOW)
        out[name] = row
    return out


def with_difference(
    rows: dict[str, dict[str, int]], active_before: dict[str, int]
) -> dict[str, dict[str, int]]:
    """Add the reliability difference, from last month's published active counts (which
    include people since merged away or withdrawn: their disappearance is the correction)."""
    for name, row in rows.items():
        row["difference"] = (
            row["active"] - active_before.get(name, 0) - row["inflow"] + row["outflow"]
        )
    return rows


def reliable(row: dict[str, int], within: float) -> bool:
    """Whether a month's balance is off by at most ``within`` of its active count."""
    return abs(row["difference"]) <= within * row["active"]
