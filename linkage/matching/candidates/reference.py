"""The obviously-correct numpy reference for :func:`linkage.matching.candidates.dice_candidates`.

Materialises the whole score matrix, so it is for tests and small inputs only. The fast kernel
must return exactly what this returns, on any input.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Candidates = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]


def dice_scores(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    """Dice coefficient of every row of ``a`` with every row of ``b``; 0 where both are empty."""
    bits_a = np.unpackbits(a, axis=1).astype(np.int64)
    bits_b = np.unpackbits(b, axis=1).astype(np.int64)
    inter = bits_a @ bits_b.T
    denom = bits_a.sum(axis=1)[:, None] + bits_b.sum(axis=1)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(denom > 0, 2.0 * inter / np.maximum(denom, 1), 0.0)
    return scores


def dice_candidates_reference(
    a: npt.NDArray[np.uint8],
    b: npt.NDArray[np.uint8] | None = None,
    threshold: float = 0.8,
    k: int | None = None,
) -> Candidates:
    """Pairs scoring at least ``threshold``, sorted by (row in a, row in b).

    With ``k``, only each row's k best (ties: lower index first); in dedup mode (``b`` None)
    each unordered pair appears once, as (lower index, higher index), and never a self-pair;
    with ``k`` there, a pair is kept if it is among the k best of either of its records.
    """
    dedup = b is None
    other = a if b is None else b
    scores = dice_scores(a, other)
    if dedup:
        np.fill_diagonal(scores, -1.0)
    keep = scores >= threshold
    if k is not None:
        top = np.zeros_like(keep)
        for i in range(scores.shape[0]):
            cols = np.flatnonzero(keep[i])
            order = np.lexsort((cols, -scores[i, cols]))
            top[i, cols[order[:k]]] = True
        keep = top
    if dedup:
        keep = np.triu(keep | keep.T, k=1)
    rows, cols = np.nonzero(keep)
    return rows.astype(np.int64), cols.astype(np.int64), scores[rows, cols].astype(np.float64)
