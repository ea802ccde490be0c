"""Pairwise quality on labellings whose counts are worked out by hand."""

from __future__ import annotations

import numpy as np

from linkage.evaluate.metrics import pairwise_quality


def test_perfect_and_split_and_merged() -> None:
    truth = np.array([0, 0, 0, 1, 1, 2])  # true pairs: 3 + 1 = 4
    assert pairwise_quality(truth * 7 + 1, truth).f1 == 1.0
    split = np.array([0, 0, 5, 1, 1, 2])  # finds 0-1 and 3-4 only: 2 of 4, no false one
    q = pairwise_quality(split, truth)
    assert (q.precision, q.recall, q.entities, q.true_entities) == (1.0, 0.5, 4, 3)
    merged = np.zeros(6, np.int64)  # 15 pairs found, 4 true
    q = pairwise_quality(merged, truth)
    assert (q.precision, q.recall) == (4 / 15, 1.0)
    assert q.count_error == (1 - 3) / 3
