"""Pairwise quality on labellings whose counts are worked out by hand."""

from __future__ import annotations

import numpy as np

from linkage.research.evaluation.metrics import pairwise_quality


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


def test_bcubed_by_hand() -> None:
    from linkage.research.evaluation.metrics import bcubed

    truth = np.array([0, 0, 0, 1, 1, 2])
    assert (bcubed(truth, truth).precision, bcubed(truth, truth).recall) == (1.0, 1.0)
    merged = bcubed(np.zeros(6, np.int64), truth)  # per record: 3/6, 3/6, 3/6, 2/6, 2/6, 1/6
    assert merged.precision == (3 * 3 / 6 + 2 * 2 / 6 + 1 / 6) / 6 and merged.recall == 1.0
    split = bcubed(np.arange(6), truth)  # per record: 1/3 x3, 1/2 x2, 1
    assert split.precision == 1.0 and split.recall == (3 * (1 / 3) + 2 * 0.5 + 1) / 6


def test_wilson_interval_contains_the_share_and_narrows() -> None:
    from linkage.research.evaluation.metrics import wilson

    low, high = wilson(95, 100)
    assert low < 0.95 < high and low >= 0.0 and high <= 1.0
    low2, high2 = wilson(950, 1000)
    assert high2 - low2 < high - low
    assert wilson(100, 100)[1] == 1.0 and wilson(100, 100)[0] > 0.95
    assert wilson(0, 0) == (0.0, 1.0)


def test_true_pairs_across_parties_only() -> None:
    from linkage.research.evaluation.metrics import true_pair_count

    truth = np.array([0, 0, 0, 1, 1])
    party = np.array([0, 1, 1, 0, 0], np.int32)
    assert true_pair_count(truth, None) == 4
    assert true_pair_count(truth, party) == 2  # 0-1, 0-2; 1-2 and 3-4 share a party
