"""Where the true pairs went: what became of each pair of records of one person.

An overcount is made of true pairs left apart, and each was left apart at one step: blocking
never brought it up, the model scored it below ``lower``, it waits in the review band, or it
scored at ``upper`` and the clustering still kept its records apart. Knowing which step lost
the most says what to mend (and the demo says it in one sentence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class PairFates:
    """How many true pairs met each fate; they add up to ``true_pairs``."""

    true_pairs: int
    linked: int
    never_candidate: int
    below_lower: int
    review_band: int
    split: int

    @property
    def apart(self) -> int:
        """True pairs whose records ended in different entities."""
        return self.true_pairs - self.linked

    def sentence(self) -> str:
        """Where the pairs left apart went, in one sentence."""
        if not self.apart:
            return "every true pair was linked"
        parts = [
            (self.never_candidate, "were never compared (no shared key, filters too unlike)"),
            (
                self.below_lower,
                "scored below the review band (too little agreed to tell them from strangers)",
            ),
            (self.review_band, "wait in the review band"),
            (self.split, "scored high but were kept apart by the clustering"),
        ]
        said = "; ".join(
            f"{n / self.apart:.0%} {what}" for n, what in sorted(parts, key=lambda p: -p[0]) if n
        )
        return f"of the {self.apart:,} true pairs left apart, {said}"


#: The fates, in the order :func:`true_pair_fates` numbers them.
FATES = (
    "linked",
    "never a candidate",
    "scored below lower",
    "in the review band",
    "above upper, split by clustering",
)


def true_pair_fates(
    labels: npt.NDArray[np.int64],
    truth: npt.NDArray[np.int64],
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    upper: float,
    lower: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int8]]:
    """Every true pair (two records with one ``truth`` label; low row, high row) and its
    fate, an index into :data:`FATES`, given the run's entity ``labels`` and its scored
    candidates (each unordered pair once)."""
    n = len(labels)
    ta, tb = _true_pairs(truth)
    codes = np.minimum(rows_a, rows_b) * n + np.maximum(rows_a, rows_b)
    order = np.argsort(codes)
    sorted_codes = codes[order]
    wanted = ta * n + tb
    at = np.minimum(np.searchsorted(sorted_codes, wanted), max(len(codes) - 1, 0))
    found = (sorted_codes[at] == wanted) if len(codes) else np.zeros(len(wanted), np.bool_)
    score = np.where(found, scores[order][at] if len(codes) else 0.0, -1.0)
    fate = np.select(
        [labels[ta] == labels[tb], ~found, score < lower, score < upper], [0, 1, 2, 3], 4
    ).astype(np.int8)
    return ta, tb, fate


def pair_fates(
    labels: npt.NDArray[np.int64],
    truth: npt.NDArray[np.int64],
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    upper: float,
    lower: float,
) -> PairFates:
    """How many true pairs met each fate (see :func:`true_pair_fates`)."""
    _, _, fate = true_pair_fates(labels, truth, rows_a, rows_b, scores, upper, lower)
    linked, never, below, band, split = np.bincount(fate, minlength=len(FATES)).tolist()
    return PairFates(len(fate), linked, never, below, band, split)


def _true_pairs(
    truth: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every pair of rows sharing a truth label, low row first."""
    order = np.argsort(truth, kind="stable")
    ordered = truth[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    sizes = np.diff(np.append(starts, len(truth)))
    a: list[npt.NDArray[np.int64]] = []
    b: list[npt.NDArray[np.int64]] = []
    for size in np.unique(sizes[sizes > 1]).tolist():
        groups = starts[sizes == size]
        i, j = np.triu_indices(size, 1)
        rows_i = order[groups[:, None] + i[None, :]].ravel()
        rows_j = order[groups[:, None] + j[None, :]].ravel()
        a.append(np.minimum(rows_i, rows_j))
        b.append(np.maximum(rows_i, rows_j))
    if not a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(a).astype(np.int64), np.concatenate(b).astype(np.int64)
