"""The people estimate (issue 20): the count as sure as the match probabilities make it."""

from __future__ import annotations

import numpy as np
import pytest

from linkage.matching.resolve import people_estimate


def _pairs(*triples: tuple[int, int, float]):
    ra = np.array([a for a, _, _ in triples], np.int64)
    rb = np.array([b for _, b, _ in triples], np.int64)
    return ra, rb, np.array([p for _, _, p in triples])


def test_sure_decisions_give_the_entities_and_no_spread() -> None:
    labels = np.array([0, 0, 1, 2], np.int64)
    guess = people_estimate(labels, *_pairs((0, 1, 0.999), (1, 2, 0.001), (2, 3, 0.0)))
    assert guess.estimate == guess.low == guess.high == 3


def test_a_merge_and_a_split_count_as_likely_as_their_probabilities() -> None:
    # two single records at 0.3 (not linked) and one entity of two held together at 0.6
    labels = np.array([0, 1, 2, 2], np.int64)
    guess = people_estimate(labels, *_pairs((0, 1, 0.3), (2, 3, 0.6)))
    # 2 - 0.3 (the merge) + 1 + 0.4 (the split) = 3.1
    assert guess.estimate == pytest.approx(3.1, abs=0.1)
    assert guess.low == 2 and guess.high == 4 and guess.level == 0.9


def test_a_merge_is_judged_on_all_the_pairs_between_two_entities() -> None:
    # a record against a three-record entity: pairs 0.9, 0.1, 0.2 -> one person with 0.4
    labels = np.array([0, 0, 0, 1], np.int64)
    inside = [(0, 1, 1.0), (0, 2, 1.0), (1, 2, 1.0)]
    guess = people_estimate(labels, *_pairs(*inside, (0, 3, 0.9), (1, 3, 0.1), (2, 3, 0.2)))
    assert guess.estimate == pytest.approx(2 - 0.4, abs=0.08)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_with_calibrated_probabilities_the_interval_holds_the_truth(seed: int) -> None:
    """Draw a world from the probabilities (each uncertain pair of single records is one
    person with its probability) many times: the estimate is unbiased and the 90% interval
    holds the true count about nine times in ten."""
    rng = np.random.default_rng(seed)
    pairs = 300
    ra = np.arange(0, 2 * pairs, 2, dtype=np.int64)
    rb = ra + 1
    p = rng.uniform(0.05, 0.95, pairs)
    labels = np.arange(2 * pairs, dtype=np.int64)  # nothing linked
    guess = people_estimate(labels, ra, rb, p, seed=seed)
    truths = 2 * pairs - (rng.random((500, pairs)) < p).sum(axis=1)
    assert abs(guess.estimate - truths.mean()) < 2.0
    held = ((truths >= guess.low) & (truths <= guess.high)).mean()
    assert 0.84 <= held <= 0.96
    assert people_estimate(labels, ra, rb, p, seed=seed) == guess  # seeded: reproducible


def test_a_record_stays_on_its_strongest_link() -> None:
    """Records of one person are one person: a record that surely matches one member of its
    entity belongs to it, whatever its weak pair to another member (a typo-laden record)."""
    labels = np.array([0, 0, 0], np.int64)
    guess = people_estimate(labels, *_pairs((0, 1, 1.0), (0, 2, 0.9), (1, 2, 0.1)))
    assert guess.estimate == pytest.approx(1.1, abs=0.06)  # not 1 + (1 - 0.5)


def test_only_people_holding_a_counted_record_are_counted() -> None:
    """The actively homeless: entity 0 (records 0, 1) is active through record 0; entity 1
    (record 2) is active; entity 2 (record 3) is not. A split of record 1 (inactive) adds no
    active person, a join of the two active entities takes one away, and a join with the
    inactive one takes none."""
    labels = np.array([0, 0, 1, 2], np.int64)
    counted = np.array([True, False, True, False])
    pairs = _pairs((0, 1, 0.5), (0, 2, 0.999), (2, 3, 0.999))
    everyone = people_estimate(labels, *pairs)
    active = people_estimate(labels, *pairs, counted=counted)
    assert everyone.estimate == pytest.approx(1.5, abs=0.1)  # all three joined, maybe split
    assert active.estimate == active.low == active.high == 1
    with pytest.raises(ValueError, match="each record"):
        people_estimate(labels, *pairs, counted=counted[:3])
