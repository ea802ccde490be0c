"""Pairs -> entities without chaining: a record joins a cluster only if it matches most of it.

Connected components over every pair above a threshold chains unrelated people together: one
borderline pair between two clusters merges them, and a common name can pull hundreds of records
into one "person". Here merges are taken best pair first, and two clusters merge only when

* the pair between them scores at or above ``upper``,
* more than ``min_support`` of all record pairs across the two clusters score at least
  ``lower`` (so a record must match a majority of a cluster, not just one member), and
* the merged cluster would hold at most ``max_cluster`` records.

A by-name list re-links every month, so the function can start from ``groups`` (each person's
records as linked before: never split here, only grown or merged under the same rules) and
honour ``never`` pairs (a clerk's "not the same person": no merge may put them in one entity).

A refused merge is not forgotten: the pair is reported so that it goes to clerical review.
The cross-cluster counts live in one dictionary per cluster and the smaller cluster's is merged
into the larger's, so the whole run is O(pairs log records).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Why a pair above ``upper`` did not merge its two clusters.
REFUSED_SUPPORT = "weak support"
REFUSED_SIZE = "size cap"
REFUSED_NEVER = "never merge"


@dataclass(frozen=True)
class Clustering:
    """Entity label per record (0..n_entities-1, numbered by first record) and the pairs at or
    above ``upper`` whose merge was refused, with the reason for each."""

    labels: npt.NDArray[np.int64]
    refused: npt.NDArray[np.int64]
    reasons: tuple[str, ...]

    @property
    def n_entities(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0


def dense_labels(root: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Labels 0..k-1 for any grouping, numbered in order of each group's first record, so that
    the same grouping always gets the same numbers."""
    _, first, inverse = np.unique(root, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse]


def cluster(
    n: int,
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    upper: float,
    lower: float,
    *,
    max_cluster: int = 20,
    min_support: float = 0.5,
    groups: npt.NDArray[np.int64] | None = None,
    never: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None,
) -> Clustering:
    """Group ``n`` records into entities from scored pairs (each unordered pair at most once).

    Pairs below ``lower`` are ignored; pairs in [lower, upper) only support merges. Records
    sharing a label in ``groups`` start as one entity (a group may exceed ``max_cluster``;
    it then takes no more records). No entity will hold both records of a ``never`` pair.
    """
    if not 0.0 < lower <= upper <= 1.0:
        raise ValueError("thresholds need 0 < lower <= upper <= 1")
    if np.any(rows_a == rows_b):
        raise ValueError("a record cannot be paired with itself")
    parent = np.arange(n, dtype=np.int64)
    members: dict[int, list[int]] = {}
    if groups is not None:
        _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
        parent = first[inverse].astype(np.int64)
        for r in np.flatnonzero(parent != np.arange(n)).tolist():
            members.setdefault(int(parent[r]), [int(parent[r])]).append(r)
    forbidden: dict[int, list[int]] = {}
    if never is not None:
        for a, b in zip(never[0].tolist(), never[1].tolist(), strict=True):
            if parent[a] == parent[b]:
                raise ValueError("a 'never' pair lies inside one of the starting groups")
            forbidden.setdefault(a, []).append(b)
            forbidden.setdefault(b, []).append(a)
    # An entity with no pair at or above upper never joins anyone, so a supporting pair that
    # touches one can never be counted: dropping those keeps the loop below to the records
    # that matter (on a million records, a few percent of the candidate pairs).
    strong = np.zeros(n, bool)
    strong_pairs = scores >= upper
    strong[parent[rows_a[strong_pairs]]] = True
    strong[parent[rows_b[strong_pairs]]] = True
    ga, gb = parent[rows_a], parent[rows_b]
    support = (scores >= lower) & strong[ga] & strong[gb] & (ga != gb)
    ra, rb, sc = rows_a[support], rows_b[support], scores[support]
    links: dict[int, dict[int, int]] = {}
    for u, v in zip(ga[support].tolist(), gb[support].tolist(), strict=True):
        lu = links.setdefault(u, {})
        lu[v] = lu.get(v, 0) + 1
        lv = links.setdefault(v, {})
        lv[u] = lv.get(u, 0) + 1

    def kept_apart(small: int, big: int) -> bool:
        return any(
            parent[other] == big
            for r in members.get(small, [small])
            for other in forbidden.get(r, ())
        )

    def size(c: int) -> int:
        return len(members[c]) if c in members else 1

    refused: list[int] = []
    reasons: list[str] = []
    top = np.flatnonzero(sc >= upper)
    order = top[np.lexsort((rb[top], ra[top], -sc[top]))]
    index = np.flatnonzero(support)
    for p in order.tolist():
        cu, cv = int(parent[ra[p]]), int(parent[rb[p]])
        if cu == cv:
            continue
        su, sv = size(cu), size(cv)
        if su + sv > max_cluster:
            refused.append(int(index[p]))
            reasons.append(REFUSED_SIZE)
            continue
        if links[cu].get(cv, 0) <= min_support * su * sv:
            refused.append(int(index[p]))
            reasons.append(REFUSED_SUPPORT)
            continue
        big, small = (cu, cv) if len(links[cu]) >= len(links[cv]) else (cv, cu)
        if forbidden and kept_apart(small, big):
            refused.append(int(index[p]))
            reasons.append(REFUSED_NEVER)
            continue
        moved = members.pop(small, [small])
        members.setdefault(big, [big]).extend(moved)
        parent[moved] = big
        into = links[big]
        del into[small]
        for other, count in links.pop(small).items():
            if other == big:
                continue
            into[other] = into.get(other, 0) + count
            back = links[other]
            del back[small]
            back[big] = back.get(big, 0) + count
    return Clustering(
        labels=dense_labels(parent),
        refused=np.asarray(refused, np.int64),
        reasons=tuple(reasons),
    )
