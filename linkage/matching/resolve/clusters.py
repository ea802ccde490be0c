"""Pairs -> entities without chaining: a record joins a cluster only if it matches most of it.

Connected components over every pair above a threshold chains unrelated people together: one
borderline pair between two clusters merges them, and a common name can pull hundreds of records
into one "person". Here merges are taken best pair first, and two clusters merge only when

* the pair between them scores at or above ``upper``,
* the evidence between the whole clusters says so: the expected share of their record pairs
  that are one person is more than ``min_support`` (so a record must match most of a
  cluster, not just one member), and
* the merged cluster would hold at most ``max_cluster`` records.

With match probabilities (``probabilities=True``), the expected share is the mean
probability over all record pairs across the two clusters, a pair never compared counting
as 0. Without them (Dice scores, which are not probabilities), a pair counts 1 if it scores
at least ``lower``, else 0. Counting each pair by its probability rather than by a
threshold keeps the evidence of the pairs just below ``lower`` and weighs a bare majority
of weak pairs less than a strong one: on the synthetic networks it split fewer people and
merged no more strangers (docs/matching.md has the figures).

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
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

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
    probabilities: bool = False,
) -> Clustering:
    """Group ``n`` records into entities from scored pairs (each unordered pair at most once).

    Pairs below ``upper`` only support merges: by their probability where ``scores`` are
    match probabilities, else if they reach ``lower`` (see the module notes). Records
    sharing a label in ``groups`` start as one entity (a group may exceed ``max_cluster``;
    it then takes no more records). No entity will hold both records of a ``never`` pair.
    """
    if not 0.0 < lower <= upper <= 1.0:
        raise ValueError("thresholds need 0 < lower <= upper <= 1")
    if np.any(rows_a == rows_b):
        raise ValueError("a record cannot be paired with itself")
    parent = _starting_roots(n, groups)
    members: dict[int, list[int]] = {}
    if groups is not None:
        for r in np.flatnonzero(parent != np.arange(n)).tolist():
            members.setdefault(int(parent[r]), [int(parent[r])]).append(r)
    forbidden: dict[int, list[int]] = {}
    if never is not None:
        for a, b in zip(never[0].tolist(), never[1].tolist(), strict=True):
            if parent[a] == parent[b]:
                raise ValueError("a 'never' pair lies inside one of the starting groups")
            forbidden.setdefault(a, []).append(b)
            forbidden.setdefault(b, []).append(a)
    # Merges follow pairs at or above upper, so two clusters can only ever merge inside one
    # connected component of those pairs: a supporting pair between components is never
    # counted, and dropping those keeps the loop below to the pairs that matter (on a
    # million records, a few percent of the candidate pairs).
    ga, gb = parent[rows_a], parent[rows_b]
    component = _strong_components(n, ga, gb, scores >= upper)
    weight = scores if probabilities else (scores >= lower).astype(np.float64)
    support = (weight > 0) & (component[ga] == component[gb]) & (ga != gb)
    ra, rb, sc = rows_a[support], rows_b[support], scores[support]
    links = _cross_evidence(ga[support], gb[support], weight[support], n)

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
        for other, evidence in links.pop(small).items():
            if other == big:
                continue
            into[other] = into.get(other, 0.0) + evidence
            back = links[other]
            del back[small]
            back[big] = back.get(big, 0.0) + evidence
    return Clustering(
        labels=dense_labels(parent),
        refused=np.asarray(refused, np.int64),
        reasons=tuple(reasons),
    )


def unscored_pairs(
    n: int,
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    upper: float,
    *,
    limit: int,
    groups: npt.NDArray[np.int64] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The record pairs a merge could weigh that were never scored: those inside one
    connected component of the pairs at or above ``upper`` (records sharing a label in
    ``groups`` counting as joined), of at most ``limit`` records, in different starting
    groups and not among the given pairs. Returned low row first, in row order.

    Blocking leaves out the pairs of one person whose records differ most (a swapped name, a
    street name), and the merge rule counts a pair never compared as 0, so scoring these
    pairs too lets a merge weigh what the records say instead of assuming they disagree. The
    bound keeps the work linear: a component larger than a few people's records is a chain
    through common values, whose pairs are mostly strangers."""
    parent = _starting_roots(n, groups)
    component = _strong_components(n, parent[rows_a], parent[rows_b], scores >= upper)[parent]
    sizes = np.bincount(component)
    empty = np.zeros(0, np.int64)
    pieces_a, pieces_b = [empty], [empty]
    order = np.argsort(component, kind="stable")  # each component's rows ascending
    by_size = sizes[component[order]]
    for k in np.unique(sizes[(sizes >= 3) & (sizes <= limit)]).tolist():
        members = order[by_size == k].reshape(-1, k)
        i, j = np.triu_indices(k, 1)
        pieces_a.append(members[:, i].ravel())
        pieces_b.append(members[:, j].ravel())
    fa, fb = np.concatenate(pieces_a), np.concatenate(pieces_b)
    keep = parent[fa] != parent[fb]
    fa, fb = fa[keep], fb[keep]
    # only the scored pairs inside those components can be among them (a few of millions)
    chosen = np.zeros(n, np.bool_)
    chosen[fa] = chosen[fb] = True
    inside = chosen[rows_a] & chosen[rows_b]
    lo = np.minimum(rows_a[inside], rows_b[inside])
    hi = np.maximum(rows_a[inside], rows_b[inside])
    keep = ~np.isin(fa * np.int64(n) + fb, lo * np.int64(n) + hi)
    fa, fb = fa[keep], fb[keep]
    at = np.lexsort((fb, fa))
    return fa[at], fb[at]


def _starting_roots(n: int, groups: npt.NDArray[np.int64] | None) -> npt.NDArray[np.int64]:
    """Each record's starting cluster, named by its first record (its own row without
    ``groups``)."""
    if groups is None:
        return np.arange(n, dtype=np.int64)
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    return first[inverse].astype(np.int64)


def _strong_components(
    n: int,
    ga: npt.NDArray[np.int64],
    gb: npt.NDArray[np.int64],
    strong: npt.NDArray[np.bool_],
) -> npt.NDArray[np.int64]:
    """The connected component of each starting cluster (indexed by its root) over the
    ``strong`` pairs between clusters ``ga`` and ``gb``: the most a run of merges can join."""
    edges = (np.ones(int(strong.sum()), np.int8), (ga[strong], gb[strong]))
    _, component = connected_components(coo_matrix(edges, (n, n)), directed=False)
    return np.asarray(component, np.int64)


def _cross_evidence(
    ga: npt.NDArray[np.int64], gb: npt.NDArray[np.int64], weight: npt.NDArray[np.float64], n: int
) -> dict[int, dict[int, float]]:
    """Each pair of starting clusters' summed pair weights, both ways round. Summed in numpy
    first: the dictionaries then hold one entry per pair of clusters, not per pair of
    records."""
    lo, hi = np.minimum(ga, gb), np.maximum(ga, gb)
    keys, inverse = np.unique(lo * np.int64(n) + hi, return_inverse=True)
    sums = np.bincount(inverse, weights=weight, minlength=len(keys))
    links: dict[int, dict[int, float]] = {}
    for key, total in zip(keys.tolist(), sums.tolist(), strict=True):
        u, v = divmod(key, n)
        links.setdefault(u, {})[v] = total
        links.setdefault(v, {})[u] = total
    return links
