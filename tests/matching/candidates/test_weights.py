"""Fellegi-Sunter weights: agreement levels, value frequencies, EM, and the final probability."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.matching import scoring as weights
from linkage.matching.candidates.pairs import field_scores_reference
from linkage.matching.scoring import (
    DEFAULT_M,
    LEVELS,
    Comparisons,
    Frequencies,
    estimate,
    field_levels,
    match_probability,
    random_pair_u,
    value_frequencies,
)

LOW = len(LEVELS)


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


def test_value_frequencies_tell_filters_one_bit_apart() -> None:
    """Values one bit apart (in any word of a filter) are counted apart, as an exact count of
    the filters' bytes does."""
    rng = np.random.default_rng(3)
    base = _filters(rng, 1, 32, 0.4)[0]
    values = np.repeat(base[None, :], 257, axis=0)
    for k in range(256):  # value k+1: base with bit k flipped (values of 0 and 1 bits alike)
        values[k + 1, k // 8] ^= np.uint8(1 << (k % 8))
    picked = rng.integers(0, len(values), 3000)
    fields = np.concatenate([values[picked], values[rng.permutation(picked)]], axis=1)
    freq = value_frequencies(fields, 2)
    for f, cols in enumerate((slice(0, 32), slice(32, 64))):
        keys = [row.tobytes() for row in fields[:, cols]]
        counts = Counter(keys)
        assert np.allclose(freq.share[:, f], [counts[k] / len(keys) for k in keys])


def test_u_comes_from_random_pairs() -> None:
    """Half the records hold one value, half another, field 1 is empty everywhere: random
    pairs agree exactly about half the time on field 0, and field 1 holds no information."""
    rng = np.random.default_rng(2)
    one, two = _filters(rng, 1, 8, 0.4), _filters(rng, 1, 8, 0.4)
    first = np.concatenate([one] * 500 + [two] * 500)
    fields = np.concatenate([first, np.zeros_like(first)], axis=1)
    u = random_pair_u(fields, Comparisons(2), pairs=20_000)
    assert abs(u[0, 0] - 0.5) < 0.03  # exact: the two values agree with themselves
    assert np.allclose(u.sum(axis=1), 1.0)
    assert np.allclose(u[1], 0.25)  # never held: uniform, so every level weighs nothing


def _simulated(rng: np.random.Generator, m: np.ndarray, u: np.ndarray, n: int, share: float):
    match = rng.random(n) < share
    levels = np.empty((n, len(m)), np.int8)
    for f in range(len(m)):
        levels[match, f] = rng.choice(4, match.sum(), p=m[f])
        levels[~match, f] = rng.choice(4, (~match).sum(), p=u[f])
    return levels, match


def test_m_is_learnt_from_anchor_pairs() -> None:
    """Candidates from a known model: m is recovered for each field from the pairs that the
    other fields make certain, and the weights separate matches from non-matches."""
    rng = np.random.default_rng(7)
    m = np.array([[0.7, 0.1, 0.1, 0.1], [0.9, 0.04, 0.03, 0.03], [0.8, 0.1, 0.05, 0.05]])
    u = np.array([[3e-3, 0.01, 0.03, 0.957], [5e-4, 3e-3, 5e-3, 0.9915], [1e-3, 0.02, 0.07, 0.909]])
    levels, match = _simulated(rng, m, u, 100_000, 0.2)
    model = estimate(levels, u, records=100)
    assert all(model.anchored)
    assert np.abs(model.m - m).max() < 0.03
    p = match_probability(levels, model)
    assert (p[match] >= 0.5).mean() > 0.95 and (p[~match] >= 0.5).mean() < 0.01


def test_more_records_need_more_evidence() -> None:
    """The prior is one partner per record: the same agreement that links two records among a
    thousand is not enough among a million."""
    u = np.tile(np.array([0.003, 0.002, 0.005, 0.99]), (2, 1))
    levels = np.array([[0, 0]], np.int8)  # two fields agree exactly, nothing else known
    small = match_probability(levels, estimate(levels, u, records=1_000))
    large = match_probability(levels, estimate(levels, u, records=1_000_000))
    assert small[0] > 0.5 > large[0]


def test_probability_rewards_rare_values_and_ignores_missing() -> None:
    u = np.tile(np.array([0.01, 0.02, 0.07, 0.9]), (2, 1))
    model = estimate(np.zeros((0, 2), np.int8), u, records=1000)
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


def test_no_candidates_keeps_the_default_m() -> None:
    u = np.tile(np.array([0.01, 0.02, 0.07, 0.9]), (3, 1))
    model = estimate(np.zeros((0, 3), np.int8), u, records=10)
    assert not any(model.anchored)
    assert np.allclose(model.m, DEFAULT_M)
    assert len(match_probability(np.zeros((0, 3), np.int8), model)) == 0


def test_many_fields_count_patterns_by_sorting(monkeypatch) -> None:
    """Ten fields have 5**10 possible patterns, too many for a dense table: the sorted count
    must give the same model and probabilities as the dense one."""
    rng = np.random.default_rng(4)
    u = np.tile(np.array([0.01, 0.02, 0.07, 0.9]), (10, 1))
    m = np.tile(np.array([0.8, 0.1, 0.05, 0.05]), (10, 1))
    levels, _ = _simulated(rng, m, u, 20_000, 0.3)
    levels[rng.random(levels.shape) < 0.1] = -1
    sorted_model = estimate(levels, u, records=500)
    sorted_p = match_probability(levels, sorted_model)
    monkeypatch.setattr(weights, "_DENSE_PATTERNS", 5**10)
    dense_model = estimate(levels, u, records=500)
    assert np.array_equal(dense_model.m, sorted_model.m)
    assert np.array_equal(match_probability(levels, dense_model), sorted_p)


def test_levels_refuse_bad_pairs_and_fields() -> None:
    a = np.zeros((3, 16), np.uint8)
    with pytest.raises(IndexError):
        field_levels(a, a, np.array([0, 3]), np.array([1, 1]), 2)
    with pytest.raises(ValueError, match="64-bit words"):
        field_levels(a, a, np.array([0]), np.array([1]), 3)


def test_the_prior_is_fitted_to_the_expected_true_pairs() -> None:
    """Issue 20: a record has as many true partners as its person has other records, not one
    by rule; the prior fitted to the pairs makes their probabilities add up to the true pairs
    there are."""
    from linkage.matching.scoring import WeightModel, fit_prior

    rng = np.random.default_rng(3)
    m = np.array([[0.7, 0.1, 0.1, 0.1], [0.9, 0.04, 0.03, 0.03], [0.8, 0.1, 0.05, 0.05]])
    u = np.array([[3e-3, 0.01, 0.03, 0.957], [5e-4, 3e-3, 5e-3, 0.9915], [1e-3, 0.02, 0.07, 0.909]])
    records = 1_000
    ra, rb = (x.astype(np.int64) for x in np.triu_indices(records, 1))  # every pair
    levels, match = _simulated(rng, m, u, len(ra), 0.003)  # about 3 partners per record
    # the true m and u, and the rule-of-thumb prior of one partner per record
    model = WeightModel(m, u, -float(np.log2(records - 1)), (True,) * 3)
    before = match_probability(levels, model).sum()
    fitted, p = fit_prior(levels, model, None, ra, rb, records)
    truth = match.sum()
    assert abs(p.sum() - truth) < 0.1 * truth
    assert abs(p.sum() - truth) < 0.5 * abs(before - truth)
    assert fitted.prior_bits > model.prior_bits + 1
    # only some records searched (a by-name list's fresh ones): their pairs tell the same
    fresh = np.zeros(records, bool)
    fresh[: records // 3] = True
    touching = fresh[ra] | fresh[rb]
    part, _ = fit_prior(levels[touching], model, None, ra[touching], rb[touching], records, fresh)
    assert abs(part.prior_bits - fitted.prior_bits) < 0.3


def test_a_whole_and_its_part_agreeing_are_weighed_once_on_the_whole() -> None:
    """Year and birthday (field 0 and its part, field 1) of one date: where both agree, the
    pair takes the joint column's weight and the whole date's frequency, not the two parts'
    rates multiplied (a person's own records and twins make a whole date recur more)."""
    rng = np.random.default_rng(4)
    year, other_year, day, other_day = (_filters(rng, 1, 8, 0.4) for _ in range(4))
    # records 0-3 share year and day (one date four times); 4-5 the year and another day;
    # 6 another year with the first day; 7 holds the year but no day (missing)
    years = np.concatenate([year] * 6 + [other_year, year])
    days = np.concatenate([day] * 4 + [other_day] * 2 + [day, np.zeros_like(day)])
    fields = np.concatenate([years, days], axis=1)
    comparisons = Comparisons(2, joined=((0, 1),))
    assert comparisons.size == 3 and comparisons.joint_columns == ((0, 1, 2),)
    ra, rb = np.array([0, 0, 0, 0]), np.array([1, 4, 6, 7])
    levels = comparisons.levels(fields, fields, ra, rb)
    assert levels[:, 2].tolist() == [0, LOW, LOW, -1]  # both, year only, day only, missing
    freq = value_frequencies(fields, 2, comparisons.joined)
    assert np.allclose(freq.share[:4, 2], 4 / 7)  # the whole date: 4 of the 7 holding both
    assert np.isclose(freq.share[4, 2], 2 / 7) and freq.share[7, 2] == 0.0
    u = np.array([[0.2, 0.01, 0.01, 0.78], [0.05, 0.01, 0.01, 0.93], [0.002, 1e-4, 1e-4, 0.9978]])
    m = np.array([[0.9, 0.04, 0.03, 0.03], [0.85, 0.05, 0.05, 0.05], [0.8, 1e-4, 1e-4, 0.1998]])
    assert estimate(levels, u, 8, comparisons).joined == comparisons.joint_columns
    model = weights.WeightModel(m, u, -10.0, (True,) * 3, comparisons.joint_columns)
    table = model.weights()
    bits = np.log2(match_probability(levels, model) / (1 - match_probability(levels, model)))
    assert bits[0] == pytest.approx(-10.0 + table[2, 0])  # the joint weight alone
    assert bits[1] == pytest.approx(-10.0 + table[0, 0] + table[1, 3])  # year exact, day low
    assert bits[2] == pytest.approx(-10.0 + table[0, 3] + table[1, 0])  # day exact, year low
    assert bits[3] == pytest.approx(-10.0 + table[0, 0])  # day missing: the year alone
    # with frequencies, both agreeing is adjusted by the whole date's share, not the parts'
    tf = match_probability(levels, model, freq, ra)
    tf_bits = np.log2(tf / (1 - tf))
    assert tf_bits[0] == pytest.approx(bits[0] + np.log2(freq.agreement[2] / (4 / 7)))
    assert tf_bits[1] == pytest.approx(bits[1] + np.log2(freq.agreement[0] / freq.share[0, 0]))
