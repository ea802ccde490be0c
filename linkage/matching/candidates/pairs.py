"""Scores of given pairs: record-level Dice, and the field score that classifies candidates.

Candidate pairs come from :func:`linkage.matching.candidates.dice_candidates` or from blocking;
these functions score exactly those pairs (no matrix). The field score is the mean, over the
fields that both records hold, of the Dice coefficient of their field-level filters. A field
missing on either side is left out of the mean rather than counted as a disagreement (or, worse,
as an agreement of two empty filters), which is what record-level Dice cannot do: there a
missing SSN lowers the score of a true pair. On FEBRL4 with 15k unrelated records per side, the
field score separates true from false pairs far better than record-level Dice (see
docs/matching.md).

Numpy references beside the numba paths, as for the kernel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from linkage.matching.candidates.kernel import as_words, intersection_count, word_popcount


@njit(cache=True, nogil=True, parallel=True)
def _pair_dice(wa: Any, wb: Any, ra: Any, rb: Any, out: Any) -> None:
    for p in prange(ra.shape[0]):
        i, j = ra[p], rb[p]
        # a row's popcount is its intersection with itself: one vectorised routine for all three
        total: int = intersection_count(wa, i, wa, i) + intersection_count(wb, j, wb, j)
        out[p] = 2.0 * intersection_count(wa, i, wb, j) / total if total else 0.0


@njit(cache=True, nogil=True, inline="always")
def field_agreement_counts(
    wa: Any, i: int, wb: Any, j: int, start: int, stop: int
) -> tuple[int, int, int]:
    """Shared bits and each side's bits of rows i and j over words [start, stop): one field."""
    shared = 0
    ca = 0
    cb = 0
    for w in range(start, stop):
        x = wa[i, w]
        y = wb[j, w]
        shared += word_popcount(x & y)
        ca += word_popcount(x)
        cb += word_popcount(y)
    return shared, ca, cb


@njit(cache=True, nogil=True, parallel=True)
def _field_mean(wa: Any, wb: Any, ra: Any, rb: Any, n_fields: int, out: Any) -> None:
    per = wa.shape[1] // n_fields
    for p in prange(ra.shape[0]):
        i, j = ra[p], rb[p]
        acc = 0.0
        held = 0
        for f in range(n_fields):
            shared, ca, cb = field_agreement_counts(wa, i, wb, j, f * per, (f + 1) * per)
            if ca and cb:
                acc += 2.0 * shared / (ca + cb)
                held += 1
        out[p] = acc / held if held else 0.0


def _check(
    a: npt.NDArray[np.uint8],
    b: npt.NDArray[np.uint8],
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    ra = np.ascontiguousarray(rows_a, dtype=np.int64)
    rb = np.ascontiguousarray(rows_b, dtype=np.int64)
    if ra.shape != rb.shape or ra.ndim != 1:
        raise ValueError("rows_a and rows_b must be 1-D arrays of the same length")
    if a.shape[1] != b.shape[1]:
        raise ValueError("a and b must hold filters of the same length")
    for rows, arr in ((ra, a), (rb, b)):
        if rows.size and (rows.min() < 0 or rows.max() >= arr.shape[0]):
            raise IndexError("a pair names a row that does not exist")
    return ra, rb


def check_field_pairs(
    a: npt.NDArray[np.uint8],
    b: npt.NDArray[np.uint8],
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    n_fields: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The pair checks of :func:`pair_dice`, and that each field is whole 64-bit words."""
    if n_fields < 1 or a.shape[1] % (8 * n_fields):
        raise ValueError("each field filter must be a whole number of 64-bit words")
    return _check(a, b, rows_a, rows_b)


def pair_dice(
    a: npt.NDArray[np.uint8],
    b: npt.NDArray[np.uint8],
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Record-level Dice of each pair (a[rows_a[p]], b[rows_b[p]]); 0 for two empty filters."""
    ra, rb = _check(a, b, rows_a, rows_b)
    out = np.empty(len(ra), np.float64)
    _pair_dice(as_words(a), as_words(b), ra, rb, out)
    return out


def field_scores(
    a: npt.NDArray[np.uint8],
    b: npt.NDArray[np.uint8],
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    n_fields: int,
) -> npt.NDArray[np.float64]:
    """Mean field-level Dice of each pair over the fields both records hold (0 if none).

    ``a`` and ``b`` hold each record's field filters side by side (the ``field_clks`` section
    of a .clk file); each field's filter must be a whole number of 64-bit words.
    """
    ra, rb = check_field_pairs(a, b, rows_a, rows_b, n_fields)
    out = np.empty(len(ra), np.float64)
    _field_mean(as_words(a), as_words(b), ra, rb, n_fields, out)
    return out


def field_scores_reference(
    a: npt.NDArray[np.uint8],
    b: npt.NDArray[np.uint8],
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    n_fields: int,
) -> npt.NDArray[np.float64]:
    """Numpy reference for :func:`field_scores`."""
    xa = a[rows_a].reshape(len(rows_a), n_fields, -1)
    xb = b[rows_b].reshape(len(rows_b), n_fields, -1)
    ca = np.bitwise_count(xa).sum(axis=2).astype(np.int64)
    cb = np.bitwise_count(xb).sum(axis=2).astype(np.int64)
    shared = np.bitwise_count(xa & xb).sum(axis=2).astype(np.int64)
    held = (ca > 0) & (cb > 0)
    dice = np.where(held, 2.0 * shared / np.maximum(ca + cb, 1), 0.0)
    count = held.sum(axis=1)
    return np.where(count > 0, dice.sum(axis=1) / np.maximum(count, 1), 0.0)
