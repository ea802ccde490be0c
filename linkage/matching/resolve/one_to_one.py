"""The classic two-party mode: each record links to at most one record of the other party.

Greedy by score (best pair first, ties to the lower rows), as anonlink's solver does, so that
research comparisons with it are like for like.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from linkage.matching.resolve.clusters import dense_labels


def one_to_one(
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    threshold: float,
) -> npt.NDArray[np.int64]:
    """Indices of the accepted pairs: those at or above ``threshold``, taken best first, each
    record of either party used at most once."""
    strong = np.flatnonzero(scores >= threshold)
    order = strong[np.lexsort((rows_b[strong], rows_a[strong], -scores[strong]))]
    used_a: set[int] = set()
    used_b: set[int] = set()
    accepted: list[int] = []
    for p, i, j in zip(order.tolist(), rows_a[order].tolist(), rows_b[order].tolist(), strict=True):
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        accepted.append(p)
    return np.asarray(sorted(accepted), np.int64)


def one_to_one_labels(
    n: int,
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    accepted: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Entity labels of ``n`` records when each accepted pair (from :func:`one_to_one`) is one
    entity and every other record is its own."""
    labels = np.arange(n, dtype=np.int64)
    labels[rows_b[accepted]] = rows_a[accepted]
    return dense_labels(labels)
