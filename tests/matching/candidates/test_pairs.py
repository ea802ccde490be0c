"""Pair scoring (record Dice and the field score) against the numpy references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.matching.candidates.pairs import field_scores, field_scores_reference, pair_dice
from linkage.matching.candidates.reference import dice_scores


def _filters(rng: np.random.Generator, n: int, nbytes: int, density: float) -> np.ndarray:
    return np.packbits(rng.random((n, nbytes * 8)) < density, axis=1)


@settings(deadline=None, max_examples=40)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 30),
    n_fields=st.integers(1, 5),
    words=st.integers(1, 4),
    density=st.floats(0.0, 1.0),
    empty=st.floats(0.0, 1.0),
)
def test_field_scores_match_reference(seed, n, n_fields, words, density, empty) -> None:
    rng = np.random.default_rng(seed)
    a = _filters(rng, n, n_fields * words * 8, density)
    b = _filters(rng, n, n_fields * words * 8, density)
    # blank whole fields at random: missing values must be left out, not scored
    for arr in (a, b):
        blank = rng.random((n, n_fields)) < empty
        view = arr.reshape(n, n_fields, -1)
        view[blank] = 0
    ra = rng.integers(0, n, 50)
    rb = rng.integers(0, n, 50)
    got = field_scores(a, b, ra, rb, n_fields)
    want = field_scores_reference(a, b, ra, rb, n_fields)
    assert np.allclose(got, want, rtol=0, atol=1e-12)
    assert np.array_equal(pair_dice(a, b, ra, rb), dice_scores(a, b)[ra, rb])


def test_missing_field_neither_helps_nor_hurts() -> None:
    rng = np.random.default_rng(3)
    name = _filters(rng, 1, 32, 0.3)
    other = _filters(rng, 1, 32, 0.3)
    a = np.concatenate([name, other], axis=1)  # two fields
    b_missing = np.concatenate([name, np.zeros_like(other)], axis=1)
    b_wrong = np.concatenate([name, _filters(rng, 1, 32, 0.3)], axis=1)
    rows = np.zeros(1, np.int64)
    assert field_scores(a, b_missing, rows, rows, 2)[0] == 1.0
    assert field_scores(a, b_wrong, rows, rows, 2)[0] < 0.8
    # record-level Dice is hurt by the missing field: what the field score is for
    assert pair_dice(a, b_missing, rows, rows)[0] < 0.7


def test_bad_pairs_are_refused() -> None:
    a = np.zeros((3, 16), np.uint8)
    with pytest.raises(IndexError):
        field_scores(a, a, np.array([0]), np.array([3]), 2)
    with pytest.raises(ValueError):
        field_scores(a, a, np.array([0]), np.array([1]), 3)
    with pytest.raises(ValueError):
        pair_dice(a, a, np.array([0, 1]), np.array([1]))
