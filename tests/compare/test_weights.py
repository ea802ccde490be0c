"""Fellegi-Sunter weights: agreement levels, value frequencies, EM, and the final probability."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.compare.pairs import field_scores_reference
from linkage.compare.weights import (
    LEVELS,
    Frequencies,
    estimate,
    field_levels,
    match_probability,
    value_frequencies,
)


def _filters(rng: np.random.Generator, n: int, nbytes: int, density: float) -> np.ndarray:
    return np.packbits(rng.random((n, nbytes * 8)) < density, axis=1)


@settings(deadline=None, max_examples=30)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 20),
    n_fields=st.integers(1, 4),
    empty=st.floats(0.0, 0.6),
)
def test_levels_bucket_the_field_dice(seed, n, n_fields, empty) -> None:
    rng = np.random.default_rng(seed)
    a = _filters(rng, n, n_fields * 16, 0.3)
    b = a.copy()
    b ^= _filters(rng, n, n_fields * 16, rng.uniform(0, 0.3))  # some near, some far
    for arr in (a, b):
        view = arr.reshape(n, n_fields, -1)
        view[rng.random((n, n_fields)) < empty] = 0
    ra, rb = rng.integers(0, n, 40), rng.integers(0, n, 40)
    got = field_levels(a, b, ra, rb, n_fields)
    for f in range(n_fields):
        cols = slice(f * 16, (f + 1) * 16)
        dice = field_scores_reference(a[:, cols], b[:, cols], ra, rb, 1)
        held = a[ra, cols].any(axis=1) & b[rb, cols].any(axis=1)
        want = np.where(held, np.sum(dice[:, None] < np.array(LEVELS)[None, :], axis=1), -1)
        assert np.array_equal(got[:, f], want)


def test_value_frequencies_count_identical_field_filters() -> None:
    rng = np.random.default_rng(1)
    common, rare, other = (_filters(rng, 1, 8, 0.4) for _ in range(3))
    first = np.concatenate([common] * 6 + [rare] + [np.zeros_like(common)])  # 7 hold field 0
    second = np.concatenate([other] * 8)
    freq = value_frequencies(np.concatenate([first, second], axis=1), 2)
    assert np.allclose(freq.share[:6, 0], 6 / 7)
    assert np.isclose(freq.share[6, 0], 1 / 7)
    assert freq.share[7, 0] == 0.0  # empty: no value
    assert np.allclose(freq.share[:, 1], 1.0)
    assert np.isclose(freq.agreement[0], (6 / 7) ** 2 + (1 / 7) ** 2)
    assert np.isclose(freq.agreement[1], 1.0)


def test_em_recovers_a_known_model() -> None:
    """Pairs drawn from a known two-class model: EM finds its m, u and match share."""
    rng = np.random.default_rng(7)
    m = np.array([[0.8, 0.1, 0.06, 0.04], [0.6, 0.25, 0.1, 0.05], [0.9, 0.04, 0.03, 0.03]])
    u = np.array([[0.02, 0.05, 0.23, 0.7], [0.1, 0.1, 0.3, 0.5], [0.3, 0.1, 0.1, 0.5]])
    n, share = 200_000, 0.3
    match = rng.random(n) < share
    levels = np.empty((n, 3), np.int8)
    for f in range(3):
        levels[match, f] = rng.choice(4, match.sum(), p=m[f])
        levels[~match, f] = rng.choice(4, (~match).sum(), p=u[f])
    levels[rng.random((n, 3)) < 0.1] = -1  # missing values carry no information
    model = estimate(levels)
    assert abs(model.prior - share) < 0.01
    assert np.abs(model.m - m).max() < 0.02
    assert np.abs(model.u - u).max() < 0.02
    weights = model.weights()
    assert np.all(weights[:, 0] > 0) and np.all(weights[:, 3] < 0)


def test_probability_rewards_rare_values_and_ignores_missing() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    match = rng.random(n) < 0.4
    levels = np.where(match[:, None], 0, rng.choice(4, (n, 2), p=[0.1, 0.1, 0.3, 0.5]))
    model = estimate(levels.astype(np.int8))
    # records 0-9 share a common first value, records 10 and 11 a rare one; field 1 all unique
    share = np.zeros((12, 2))
    share[:10, 0], share[10:, 0], share[:, 1] = 0.5, 0.01, 0.01
    freq = Frequencies(share, np.array([0.26, 0.01]))
    both_exact = np.zeros((3, 2), np.int8)
    both_exact[2, 1] = -1  # the third pair lacks field 1
    rows = np.array([10, 0, 10])  # rare, common, rare
    p = match_probability(both_exact, model, freq, rows)
    assert p[0] > p[1]  # the same agreement on a rarer value is more evidence
    assert p[2] < p[0]  # a missing field adds nothing: less evidence than agreeing
    plain = match_probability(both_exact, model)
    assert plain[0] == pytest.approx(plain[1])  # without frequencies, values do not matter
    # a value exactly as common as a random agreement leaves the weight as it was
    neutral = Frequencies(np.full((12, 2), 0.26), np.array([0.26, 0.26]))
    assert np.allclose(match_probability(both_exact, model, neutral, rows), plain)
    assert np.all((p >= 0) & (p <= 1))


def test_no_candidates_gives_the_starting_model() -> None:
    model = estimate(np.zeros((0, 3), np.int8))
    assert model.rounds == 0 and model.m.shape == (3, 4)
    assert len(match_probability(np.zeros((0, 3), np.int8), model)) == 0
