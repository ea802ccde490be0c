"""Blocking: exactly the above-threshold pairs that share a block, each once; caps reported."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.matching.candidates import dice_candidates
from linkage.matching.candidates.blocking import (
    blocked_candidates,
    key_columns,
    lsh_columns,
    lsh_parameters,
)
from linkage.matching.candidates.reference import dice_scores


def _noisy_copies(rng: np.random.Generator, n: int, flip: float) -> np.ndarray:
    base = rng.random((n, 1024)) < 0.35
    noise = rng.random((n, 1024)) < flip
    return np.packbits(np.concatenate([base, base ^ noise]), axis=1)


def _brute(x, keys, valid, threshold, party=None, max_block=10**9):
    scores = dice_scores(x, x)
    pop = np.bitwise_count(x).sum(axis=1)
    want = set()
    for c in range(keys.shape[1]):
        # a block's size counts the records it compares: empty filters are never compared
        values, counts = np.unique(keys[valid[:, c] & (pop > 0), c], return_counts=True)
        small = set(values[counts <= max_block].tolist())
        for i in range(len(x)):
            for j in range(i + 1, len(x)):
                same = valid[i, c] and valid[j, c] and keys[i, c] == keys[j, c]
                cross = party is None or party[i] != party[j]
                usable = pop[i] > 0 and pop[j] > 0
                wanted = same and cross and usable and keys[i, c] in small
                if wanted and scores[i, j] >= threshold:
                    want.add((i, j))
    return want, scores


@settings(deadline=None, max_examples=30)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 40),
    n_keys=st.integers(1, 3),
    threshold=st.sampled_from([0.2, 0.5, 0.8]),
    two_party=st.booleans(),
    fresh_share=st.sampled_from([None, 0.0, 0.3, 1.0]),
    max_block=st.sampled_from([2, 5, 1000]),
)
def test_blocked_pairs_are_exactly_the_shared_block_pairs(
    seed, n, n_keys, threshold, two_party, fresh_share, max_block
) -> None:
    rng = np.random.default_rng(seed)
    x = np.packbits(rng.random((n, 64)) < rng.random(), axis=1)
    keys = rng.integers(0, 4, (n, n_keys)).astype(np.uint64)
    valid = rng.random((n, n_keys)) < 0.8
    party = rng.integers(0, 2, n).astype(np.int32) if two_party else None
    fresh = None if fresh_share is None else rng.random(n) < fresh_share
    columns = [(f"k{c}", keys[:, c].copy(), valid[:, c].copy()) for c in range(n_keys)]
    (ra, rb, sc), stats = blocked_candidates(
        x, columns, threshold, party=party, fresh=fresh, max_block=max_block
    )
    want, scores = _brute(x, keys, valid, threshold, party, max_block)
    if fresh is not None:  # only pairs touching a fresh record; blocks sized by everyone
        want = {(i, j) for i, j in want if fresh[i] or fresh[j]}
    got = list(zip(ra.tolist(), rb.tolist(), strict=True))
    assert len(got) == len(set(got)) == stats.candidates
    assert set(got) == want
    assert np.array_equal(sc, scores[ra, rb])
    assert got == sorted(got)


def test_oversized_blocks_are_skipped_and_counted() -> None:
    rng = np.random.default_rng(1)
    x = _noisy_copies(rng, 50, 0.02)  # row i and row i + 50 are near copies
    keys = np.ones((100, 2), np.uint64)  # key 1 puts everyone in one block
    keys[:, 1] = np.arange(100) % 50 + 1  # key 2 puts each pair of copies together
    (ra, rb, _), stats = blocked_candidates(x, key_columns(keys), 0.8, max_block=10)
    assert stats.oversized_blocks == 1 and stats.oversized_records == 100
    assert set(zip(ra.tolist(), rb.tolist(), strict=True)) == {(i, i + 50) for i in range(50)}
    assert stats.comparisons == 50
    assert 0.98 < stats.reduction_ratio(100) < 1.0


def test_fresh_mode_scores_only_pairs_touching_a_fresh_record() -> None:
    rng = np.random.default_rng(3)
    x = _noisy_copies(rng, 200, 0.02)  # row i and row i + 200 are near copies
    keys = (np.arange(400) % 20 + 1).astype(np.uint64)[:, None]  # 20 blocks of 20
    fresh = np.zeros(400, bool)
    fresh[[0, 5, 390]] = True
    (ra, rb, _), stats = blocked_candidates(x, key_columns(keys), 0.8, fresh=fresh)
    assert set(zip(ra.tolist(), rb.tolist(), strict=True)) == {(0, 200), (5, 205), (190, 390)}
    assert stats.blocks == 3  # blocks 1, 6 and 11 hold a fresh record
    assert stats.comparisons == 3 * 19  # each fresh record against the rest of its block


def test_lsh_finds_near_copies_with_far_fewer_comparisons() -> None:
    rng = np.random.default_rng(2)
    n = 2000
    x = _noisy_copies(rng, n // 2, 0.04)
    sample, tables = lsh_parameters(n, 1024, 0.35, 0.8)
    (ra, rb, _), stats = blocked_candidates(x, lsh_columns(x, sample, tables), 0.7)
    assert len(stats.per_key) == tables
    full = dice_candidates(x, None, 0.7)
    found = set(zip(ra.tolist(), rb.tolist(), strict=True))
    allpairs = set(zip(full[0].tolist(), full[1].tolist(), strict=True))
    assert found <= allpairs
    assert len(found) >= 0.99 * len(allpairs)
    assert stats.reduction_ratio(n) > 0.9


def test_lsh_parameters_follow_the_risk() -> None:
    small = lsh_parameters(10_000, 1024, 0.35, 0.8)
    large = lsh_parameters(1_000_000, 1024, 0.35, 0.8)
    assert large[0] > small[0]  # more records: more bits, or buckets fill with strangers
    loose = lsh_parameters(1_000_000, 1024, 0.35, 0.7)
    assert loose[1] > large[1]  # lower design Dice: more tables for the same recall
    columns = list(lsh_columns(np.zeros((3, 8), np.uint8), 10, 4))
    assert len(columns) == 4 and all(key.shape == (3,) for _, key, _ in columns)
