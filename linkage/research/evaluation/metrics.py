"""Match quality against ground truth, counted over record pairs and over entities.

Pairwise precision and recall treat two records as linked when they share an entity, so a
clustering and a one-to-one linkage are measured the same way; the unduplicated-count error is
what a by-name list cares about (how many people we think there are versus how many there
were).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Quality:
    """Pairwise precision, recall and F1; entity counts found and true."""

    precision: float
    recall: float
    f1: float
    true_pairs: int
    found_pairs: int
    entities: int
    true_entities: int

    @property
    def count_error(self) -> float:
        """Relative error of the unduplicated count (positive: too many people)."""
        return (
            (self.entities - self.true_entities) / self.true_entities if self.true_entities else 0.0
        )


def _pairs(sizes: npt.NDArray[np.int64]) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_quality(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> Quality:
    """Compare two labellings of the same records (any integer labels)."""
    if found.shape != truth.shape:
        raise ValueError("both labellings must cover the same records")
    _, f = np.unique(found, return_inverse=True)
    _, t = np.unique(truth, return_inverse=True)
    both = np.unique(f.astype(np.int64) * (int(t.max(initial=0)) + 1) + t, return_counts=True)[1]
    tp = _pairs(both)
    fp_all = _pairs(np.bincount(f))
    tp_all = _pairs(np.bincount(t))
    precision = tp / fp_all if fp_all else 1.0
    recall = tp / tp_all if tp_all else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Quality(
        precision=precision,
        recall=recall,
        f1=f1,
        true_pairs=tp_all,
        found_pairs=fp_all,
        entities=int(f.max(initial=-1)) + 1,
        true_entities=int(t.max(initial=-1)) + 1,
    )


@dataclass(frozen=True)
class BCubed:
    """B-cubed precision and recall: per record, the share of its found cluster that is truly
    its person, and the share of its person that its found cluster holds, averaged over
    records. Unlike pair counts, one giant wrong cluster cannot dominate them."""

    precision: float
    recall: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def bcubed(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> BCubed:
    """B-cubed scores of ``found`` against ``truth`` (any integer labels, same records)."""
    if found.shape != truth.shape:
        raise ValueError("both labellings must cover the same records")
    if not len(found):
        return BCubed(1.0, 1.0)
    _, f = np.unique(found, return_inverse=True)
    _, t = np.unique(truth, return_inverse=True)
    joint = f.astype(np.int64) * (int(t.max()) + 1) + t
    _, cell, both = np.unique(joint, return_inverse=True, return_counts=True)
    overlap = both[cell]  # records sharing this record's found cluster and its person
    precision = float(np.mean(overlap / np.bincount(f)[f]))
    recall = float(np.mean(overlap / np.bincount(t)[t]))
    return BCubed(precision, recall)


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion (95% by default): unlike the normal
    approximation it stays inside [0, 1] and is honest for shares near 0 or 1, which is where
    precision and recall live."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    low = 0.0 if successes == 0 else max(0.0, float(centre - half))
    high = 1.0 if successes == trials else min(1.0, float(centre + half))
    return low, high


def true_pair_count(truth: npt.NDArray[np.int64], party: npt.NDArray[np.int32] | None) -> int:
    """Record pairs of one person: all of them, or only those across parties when ``party`` is
    given (one-to-one linkage cannot find the others)."""
    _, t = np.unique(truth, return_inverse=True)
    total = _pairs(np.bincount(t))
    if party is None:
        return total
    _, cell = np.unique(t.astype(np.int64) * (int(party.max()) + 1) + party, return_inverse=True)
    return total - _pairs(np.bincount(cell))
