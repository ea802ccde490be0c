"""Fellegi-Sunter match weights on field filters, with term-frequency adjustment.

Averaging field-level Dice scores treats agreement on sex like agreement on an SSN, and
agreement on "Smith" like agreement on "Szczepanski". At a few thousand records that does not
matter; at a million, same-name strangers outnumber true duplicates and the average links them.
Weights fix both:

* each field's Dice score is put into an agreement level (exact, high, middle, low; missing
  when either record lacks the field, which then counts for nothing);
* for each field and level, ``m`` (how often a true match shows it) and ``u`` (how often a
  non-match among the candidates does) and the share of matches among the candidates are
  estimated by expectation-maximisation (Winkler's EM for the Fellegi-Sunter model). It runs on
  the counts of each distinct pattern of levels, a few thousand at most, whatever the number of
  pairs, so it costs nothing next to the comparisons;
* exact agreement is worth more on a rare value than on a common one: equal values give equal
  field filters, so the coordinator counts how many records share each field filter (it can
  see that anyway) and shifts the exact-level weight by log2(average frequency / frequency of
  this value), as Splink does with its term-frequency adjustments.

The score of a pair is its posterior match probability among the candidates, in [0, 1], so
the [thresholds] keep their meaning: links at ``upper`` and above, review from ``lower``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from linkage.compare.kernel import _popcount, _words

#: Lower bounds of the agreement levels on field Dice, best first: exact, high, middle; below
#: the last is "low". Level index len(LEVELS) is low, -1 is missing.
LEVELS = (1.0, 0.85, 0.6)
_N_LEVELS = len(LEVELS) + 1
#: Probabilities are kept inside [_EPS, 1 - _EPS] so that no level has an infinite weight.
_EPS = 1e-4
#: EM stops when no parameter moves by more than this, or after _ROUNDS rounds.
_TOLERANCE = 1e-7
_ROUNDS = 200


@dataclass(frozen=True)
class WeightModel:
    """An estimated model: ``m`` and ``u`` per field and level (rows: fields; columns: exact,
    high, middle, low), the share of matches among the candidates, and how many EM rounds it
    took. ``weights()`` gives each level's log2 Bayes factor, for reports and charts."""

    m: npt.NDArray[np.float64]
    u: npt.NDArray[np.float64]
    prior: float
    rounds: int

    def weights(self) -> npt.NDArray[np.float64]:
        """log2(m / u) per field and level: what agreeing at that level is worth, in bits."""
        return np.asarray(np.log2(self.m / self.u), dtype=np.float64)


@njit(cache=True, nogil=True, parallel=True)
def _levels(wa: Any, wb: Any, ra: Any, rb: Any, n_fields: int, bounds: Any, out: Any) -> None:
    per = wa.shape[1] // n_fields
    for p in prange(ra.shape[0]):
        i, j = ra[p], rb[p]
        for f in range(n_fields):
            shared = 0
            ca = 0
            cb = 0
            for w in range(f * per, (f + 1) * per):
                x = wa[i, w]
                y = wb[j, w]
                shared += _popcount(x & y)
                ca += _popcount(x)
                cb += _popcount(y)
            if ca == 0 or cb == 0:
                out[p, f] = -1
                continue
            dice = 2.0 * shared / (ca + cb)
            level = 0
            while level < bounds.shape[0] and dice < bounds[level]:
                level += 1
            out[p, f] = level


def field_levels(
    a: npt.NDArray[np.uint8],
    b: npt.NDArray[np.uint8],
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    n_fields: int,
) -> npt.NDArray[np.int8]:
    """Agreement level of each pair on each field: 0 exact, 1 high, 2 middle, 3 low, -1
    missing (either record lacks the field). ``a`` and ``b`` are field filters side by side,
    each a whole number of 64-bit words, as in the ``field_clks`` section."""
    if n_fields < 1 or a.shape[1] % (8 * n_fields):
        raise ValueError("each field filter must be a whole number of 64-bit words")
    out = np.empty((len(rows_a), n_fields), np.int8)
    bounds = np.array(LEVELS, np.float64)
    _levels(_words(a), _words(b), rows_a, rows_b, n_fields, bounds, out)
    return out


@dataclass(frozen=True)
class Frequencies:
    """How common each record's value of each field is: ``share[r, f]`` is the share of the
    records holding field f whose field filter equals record r's (0 where r lacks it), and
    ``agreement[f]`` the chance that two random records holding f agree exactly (the sum of
    squared shares), the yardstick a value's share is measured against."""

    share: npt.NDArray[np.float64]
    agreement: npt.NDArray[np.float64]


def value_frequencies(fields: npt.NDArray[np.uint8], n_fields: int) -> Frequencies:
    """Count identical field filters (equal values encode to equal filters), field by field."""
    words = _words(fields)
    per = words.shape[1] // n_fields
    n = len(words)
    share = np.zeros((n, n_fields), np.float64)
    agreement = np.zeros(n_fields, np.float64)
    for f in range(n_fields):
        block = words[:, f * per : (f + 1) * per]
        present = block.any(axis=1)
        held = int(present.sum())
        if not held:
            continue
        rows = np.flatnonzero(present)
        # equal filters sort together; lexsort on the words is exact (no hash collisions)
        order = rows[np.lexsort(block[rows].T[::-1])]
        sorted_block = block[order]
        starts = np.concatenate(([True], (sorted_block[1:] != sorted_block[:-1]).any(axis=1)))
        group = np.cumsum(starts) - 1
        sizes = np.bincount(group) / held
        share[order, f] = sizes[group]
        agreement[f] = float(np.sum(sizes**2))
    return Frequencies(share, agreement)


def estimate(levels: npt.NDArray[np.int8]) -> WeightModel:
    """m, u and the share of matches among candidate pairs, by EM on their level patterns.

    Starts from "matches mostly agree exactly, non-matches mostly do not" so that the two
    classes cannot swap; a field missing from a pair carries no information either way."""
    n_fields = levels.shape[1]
    if not len(levels):
        return WeightModel(_start_m(n_fields), _start_u(n_fields), 0.5, 0)
    code = np.zeros(len(levels), np.int64)
    for f in range(n_fields):
        code = code * (_N_LEVELS + 1) + (levels[:, f].astype(np.int64) + 1)
    patterns, counts = np.unique(code, return_counts=True)
    table = np.empty((len(patterns), n_fields), np.int64)  # level + 1; 0 is missing
    rest = patterns.copy()
    for f in range(n_fields - 1, -1, -1):
        table[:, f] = rest % (_N_LEVELS + 1)
        rest //= _N_LEVELS + 1
    weight = counts.astype(np.float64)
    m, u, prior = _start_m(n_fields), _start_u(n_fields), 0.5
    rounds = 0
    while rounds < _ROUNDS:
        rounds += 1
        like_m = np.full(len(table), prior)
        like_u = np.full(len(table), 1.0 - prior)
        for f in range(n_fields):
            held = table[:, f] > 0
            like_m[held] *= m[f, table[held, f] - 1]
            like_u[held] *= u[f, table[held, f] - 1]
        g = like_m / (like_m + like_u)
        new_prior = float(np.clip((weight * g).sum() / weight.sum(), _EPS, 1.0 - _EPS))
        new_m, new_u = np.empty_like(m), np.empty_like(u)
        for f in range(n_fields):
            for level in range(_N_LEVELS):
                at = table[:, f] == level + 1
                new_m[f, level] = (weight[at] * g[at]).sum()
                new_u[f, level] = (weight[at] * (1.0 - g[at])).sum()
        new_m = _normalise(new_m)
        new_u = _normalise(new_u)
        moved = max(
            float(np.abs(new_m - m).max()), float(np.abs(new_u - u).max()), abs(new_prior - prior)
        )
        m, u, prior = new_m, new_u, new_prior
        if moved < _TOLERANCE:
            break
    return WeightModel(m, u, prior, rounds)


def _start_m(n_fields: int) -> npt.NDArray[np.float64]:
    return np.tile(np.array([0.7, 0.15, 0.1, 0.05]), (n_fields, 1))


def _start_u(n_fields: int) -> npt.NDArray[np.float64]:
    return np.tile(np.array([0.05, 0.1, 0.25, 0.6]), (n_fields, 1))


def _normalise(counts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Rows to probabilities within [_EPS, 1 - _EPS]; a field no pair holds keeps uniform."""
    totals = counts.sum(axis=1, keepdims=True)
    probs = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 1.0 / _N_LEVELS)
    probs = np.clip(probs, _EPS, 1.0 - _EPS)
    return np.asarray(probs / probs.sum(axis=1, keepdims=True), dtype=np.float64)


def match_probability(
    levels: npt.NDArray[np.int8],
    model: WeightModel,
    freq: Frequencies | None = None,
    rows: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.float64]:
    """Posterior match probability of each pair among the candidates.

    With value frequencies and each pair's row on one side (``rows``; on exact agreement both
    records hold the same value), exact agreement on a value is worth log2(agreement / share)
    more than the field's exact-level weight: positive for a rare name, negative for a common
    one, zero on average over random agreements."""
    w = np.full(len(levels), np.log2(model.prior / (1.0 - model.prior)))
    table = model.weights()
    for f in range(levels.shape[1]):
        at = levels[:, f]
        held = at >= 0
        w[held] += table[f, at[held]]
        if freq is None or rows is None:
            continue
        exact = np.flatnonzero(at == 0)
        share = freq.share[rows[exact], f]
        w[exact] += np.log2(freq.agreement[f] / np.maximum(share, 1e-12))
    return np.asarray(1.0 / (1.0 + np.exp2(-w)), dtype=np.float64)
