"""Households on the list: people joined through the households the agencies record them in.

A by-name list counts "every individual or household experiencing homelessness". Each agency
sends, per record, a keyed pseudonym of the household of its client's latest enrollment and
whether the client heads it (:mod:`linkage.formats.household`). A household id means
something only at its agency, so the coordinator joins them through their members: a person
and each (agency, household) one of their records names are nodes, and a household on the
list is a connected component. A mother and child enrolled together at a shelter and the
mother alone at an outreach team are one household; a person none of whose records names a
household is a household alone.

The month's figures, for all households and for families (a household one of whose members'
records says family: a child of the head of household in it):

- **active**: households with a member actively homeless at the month's end;
- **inflow** and **outflow**: households active now none of whose members was active last
  month, and the reverse (the household as it is now: people joined into it since count for
  it last month too);
- **persons** (families only): the actively homeless people in active family households,
  "persons in families";
- **several_heads**: active households with two or more heads, people each recorded as a head
  of household. A couple is recorded as head and partner, so two heads mean two households
  joined, by a person who moved between them or by a false link: the staff's cue to look;
- **difference**: active - last month's active - inflow + outflow, non-zero where households
  were joined or split since (a merge, a split, a new enrollment), as people's difference is
  where people were merged.

Pure functions on arrays, as :mod:`linkage.bynamelist.status` is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from linkage.bynamelist.status import Month, Status
from linkage.formats.activity import Flag

#: The household rows of a month's figures (stored beside the people's populations), and
#: each row's measures.
ROWS: dict[str, tuple[str, ...]] = {
    "hh_all": ("active", "inflow", "outflow", "several_heads", "difference"),
    "hh_families": ("active", "inflow", "outflow", "persons", "several_heads", "difference"),
}


@dataclass(frozen=True)
class Households:
    """Each person's household (``label[p]`` in 0..count-1) and each person's being recorded as
    a head of household by any of their records."""

    label: npt.NDArray[np.int64]
    count: int
    head: npt.NDArray[np.bool_]

    @classmethod
    def grouped(cls, groups: npt.ArrayLike, head: npt.ArrayLike) -> Households:
        """People grouped by any labels (equal labels, one household), numbered afresh."""
        _, inverse = np.unique(np.asarray(groups), return_inverse=True)
        label = inverse.reshape(-1).astype(np.int64)
        return cls(label, int(label.max()) + 1 if len(label) else 0, np.asarray(head, np.bool_))


def join(
    person: npt.NDArray[np.int64],
    n_people: int,
    agency: Sequence[str],
    household: npt.NDArray[np.int64],
    head: npt.NDArray[np.bool_],
) -> Households:
    """The households of ``n_people`` people from their records (record i: ``person[i]``, its
    ``agency[i]``, that agency's ``household[i]`` pseudonym, 0 for none, and ``head[i]``)."""
    named = np.flatnonzero(household != 0)
    codes = {name: k for k, name in enumerate(sorted(set(agency)))}
    agency_code = np.fromiter((codes[agency[i]] for i in named.tolist()), np.int64, len(named))
    pairs = np.stack([agency_code, household[named]], axis=1)
    _, node = np.unique(pairs, axis=0, return_inverse=True)
    node = node.reshape(-1)
    size = n_people + (int(node.max()) + 1 if len(node) else 0)
    graph = coo_matrix(
        (np.ones(len(named), np.int8), (person[named], n_people + node)), shape=(size, size)
    )
    _, components = connected_components(graph, directed=False)
    heads = np.zeros(n_people, np.bool_)
    heads[person[head]] = True
    return Households.grouped(components[:n_people], heads)


def among(households: Households, members: npt.NDArray[np.int64]) -> Households:
    """The households of some of the people (``members``, positions in ``households``'
    order), as those people make them up: a group's view of the list's households."""
    return Households.grouped(households.label[members], households.head[members])


def figures(
    households: Households, now: Month, before: Month, published: dict[str, int]
) -> dict[str, dict[str, int]]:
    """The month's household rows (:data:`ROWS`), with ``active_before``: last month's
    published active count where there is one (``published``), else the count of the
    households as they are now (the first month with households)."""
    label, count = households.label, households.count

    def any_member(of: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        out = np.zeros(count, np.bool_)
        out[label[of]] = True
        return out

    active_now = any_member(now.status == Status.ACTIVE)
    active_before = any_member(before.existed & (before.status == Status.ACTIVE))
    several = np.bincount(label[households.head], minlength=count) >= 2
    family_now = any_member((now.flags & Flag.FAMILY) != 0)
    family_before = any_member(before.existed & ((before.flags & Flag.FAMILY) != 0))
    out: dict[str, dict[str, int]] = {}
    for name, listed, was_listed in (
        ("hh_all", active_now, active_before),
        ("hh_families", active_now & family_now, active_before & family_before),
    ):
        row = {
            "active_before": published.get(name, int(was_listed.sum())),
            "active": int(listed.sum()),
            "inflow": int((listed & ~was_listed).sum()),
            "outflow": int((was_listed & ~listed).sum()),
        }
        if "persons" in ROWS[name]:
            row["persons"] = int((listed[label] & (now.status == Status.ACTIVE)).sum())
        row["several_heads"] = int((listed & several).sum())
        row["difference"] = row["active"] - row["active_before"] - row["inflow"] + row["outflow"]
        out[name] = row
    return out
