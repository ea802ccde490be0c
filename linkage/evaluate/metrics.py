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
