"""Where true pairs go (issue 20): each pair of one person's records gets exactly one fate."""

from __future__ import annotations

import numpy as np

from linkage.research.evaluation.fates import pair_fates


def test_each_true_pair_gets_one_fate() -> None:
    # people: {0, 1, 2}, {3, 4}, {5, 6}, {7}; entities: {0, 1}, {2}, {3}, {4}, {5}, {6}, {7}
    truth = np.array([0, 0, 0, 1, 1, 2, 2, 3], np.int64)
    labels = np.array([0, 0, 1, 2, 3, 4, 5, 6], np.int64)
    ra = np.array([0, 1, 4, 5, 0], np.int64)
    rb = np.array([1, 2, 3, 6, 7], np.int64)  # (4, 3): given high row first
    scores = np.array([0.99, 0.1, 0.4, 0.7, 0.9])
    fates = pair_fates(labels, truth, ra, rb, scores, upper=0.5, lower=0.3)
    assert fates.true_pairs == 5  # 3 + 1 + 1
    assert fates.linked == 1  # (0, 1)
    assert fates.below_lower == 1  # (1, 2) at 0.1
    assert fates.never_candidate == 1  # (0, 2)
    assert fates.review_band == 1  # (3, 4) at 0.4
    assert fates.split == 1  # (5, 6) at 0.7, apart
    assert fates.apart == 4
    said = fates.sentence()
    assert said.startswith("of the 4 true pairs left apart, 25% ") and said.count("25%") == 4


def test_nothing_apart_says_so() -> None:
    truth = np.array([0, 0, 1], np.int64)
    fates = pair_fates(
        truth, truth, np.array([0]), np.array([1]), np.array([0.9]), upper=0.5, lower=0.3
    )
    assert fates.linked == fates.true_pairs == 1
    assert fates.sentence() == "every true pair was linked"
