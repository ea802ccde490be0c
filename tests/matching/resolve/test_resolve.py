"""Resolution: no chaining through one borderline pair, caps, one-to-one, review, warnings."""

from __future__ import annotations

import numpy as np
import pytest

from linkage.matching.resolve import (
    cluster,
    dense_labels,
    one_to_one,
    review_pairs,
    threshold_warnings,
    unscored_pairs,
)


def _pairs(items: list[tuple[int, int, float]]):
    ra = np.array([i for i, _, _ in items], np.int64)
    rb = np.array([j for _, j, _ in items], np.int64)
    sc = np.array([s for _, _, s in items], np.float64)
    return ra, rb, sc


def test_a_record_must_match_most_of_a_cluster() -> None:
    # 0-1 strong, 1-2 strong, but 0-2 unrelated: connected components would chain all three
    ra, rb, sc = _pairs([(0, 1, 0.95), (1, 2, 0.9), (0, 2, 0.1)])
    result = cluster(4, ra, rb, sc, 0.8, 0.7)
    assert result.labels[0] == result.labels[1] != result.labels[2]
    assert result.reasons == ("weak support",)
    assert result.refused.tolist() == [1]  # index into the supporting pairs
    # with the third side in the review band, the triangle holds together
    ra, rb, sc = _pairs([(0, 1, 0.95), (1, 2, 0.9), (0, 2, 0.72)])
    assert len(set(cluster(3, ra, rb, sc, 0.8, 0.7).labels.tolist())) == 1


def test_two_clusters_join_only_with_majority_support() -> None:
    # {0,1,2} and {3,4,5}, one bridge 2-3 above upper: refused; bridges between most members:
    # merged. (Merges go best pair first, so a bridge stronger than every pair inside both
    # clusters would be taken first; the chaining risk is the borderline bridge.)
    inside = [(0, 1, 0.9), (0, 2, 0.9), (1, 2, 0.9), (3, 4, 0.9), (3, 5, 0.9), (4, 5, 0.9)]
    ra, rb, sc = _pairs([*inside, (2, 3, 0.85)])
    labels = cluster(6, ra, rb, sc, 0.8, 0.7).labels
    assert len(set(labels.tolist())) == 2
    bridges = [(i, j, 0.85) for i in range(3) for j in range(3, 6)]
    ra, rb, sc = _pairs(inside + bridges)
    assert len(set(cluster(6, ra, rb, sc, 0.8, 0.7).labels.tolist())) == 1


def test_with_probabilities_a_merge_weighs_every_pair_between_the_clusters() -> None:
    # {0,1} is one person; 2 matches 0 strongly and 1 weakly (below lower): as a count of
    # pairs at lower, 1 of 2 is no majority; as probabilities, 0.97 + 0.1 of 2 pairs is
    ra, rb, sc = _pairs([(0, 1, 0.99), (0, 2, 0.97), (1, 2, 0.1)])
    counted = cluster(3, ra, rb, sc, 0.8, 0.7)
    assert counted.labels[2] != counted.labels[0] and counted.reasons == ("weak support",)
    weighed = cluster(3, ra, rb, sc, 0.8, 0.7, probabilities=True)
    assert len(set(weighed.labels.tolist())) == 1 and not weighed.reasons
    # still no chaining: a pair never compared counts as 0, a near-certain non-match as ~0
    for third in ([], [(1, 2, 0.01)]):
        ra, rb, sc = _pairs([(0, 1, 0.99), (0, 2, 0.97), *third])
        chained = cluster(3, ra, rb, sc, 0.8, 0.7, probabilities=True)
        assert chained.labels[2] != chained.labels[0] and chained.reasons == ("weak support",)
    # the evidence between whole clusters: {0,1,2} and {3,4}, one strong bridge and weak ones
    inside = [(0, 1, 0.99), (0, 2, 0.99), (1, 2, 0.99), (3, 4, 0.99)]
    bridges = [(2, 3, 0.9), (1, 3, 0.6), (0, 4, 0.6)]  # 2.1 of 6 pairs: refused
    assert len(set(cluster(5, *_pairs(inside + bridges), 0.8, 0.7, probabilities=True).labels)) == 2
    more = [*bridges, (2, 4, 0.5), (1, 4, 0.45)]  # 3.05 of 6: merged
    assert len(set(cluster(5, *_pairs(inside + more), 0.8, 0.7, probabilities=True).labels)) == 1


def test_cluster_size_is_capped() -> None:
    n = 10
    items = [(i, j, 0.9) for i in range(n) for j in range(i + 1, n)]
    ra, rb, sc = _pairs(items)
    result = cluster(n, ra, rb, sc, 0.8, 0.7, max_cluster=4)
    assert np.bincount(result.labels).max() <= 4
    assert "size cap" in result.reasons


def test_labels_are_dense_and_ordered_by_first_record() -> None:
    ra, rb, sc = _pairs([(3, 4, 0.9), (0, 4, 0.2)])
    labels = cluster(5, ra, rb, sc, 0.8, 0.7).labels
    assert labels.tolist() == [0, 1, 2, 3, 3]
    assert dense_labels(np.array([7, 7, 2, 9, 2])).tolist() == [0, 0, 1, 2, 1]
    with pytest.raises(ValueError):
        cluster(2, *_pairs([(1, 1, 0.9)]), 0.8, 0.7)


def test_one_to_one_is_greedy_by_score() -> None:
    # a0 likes b0 (0.9) and b1 (0.95); a1 likes b1 (0.93): greedy takes a0-b1, then nothing
    # for a1 (b1 used), and a0-b0 is not taken (a0 used)
    ra, rb, sc = _pairs([(0, 0, 0.9), (0, 1, 0.95), (1, 1, 0.93), (2, 2, 0.5)])
    accepted = one_to_one(ra, rb, sc, 0.8)
    assert accepted.tolist() == [1]
    assert one_to_one(ra, rb, sc, 0.4).tolist() == [1, 3]


def test_review_pairs_are_band_pairs_left_apart() -> None:
    ra, rb, sc = _pairs([(0, 1, 0.75), (2, 3, 0.72), (0, 2, 0.95), (4, 5, 0.5)])
    labels = np.array([0, 1, 0, 2, 3, 4])
    chosen = review_pairs(ra, rb, sc, labels, labels, 0.8, 0.7)
    assert chosen.tolist() == [0, 1]  # best first; 4-5 is below the band
    labels[1] = 0
    assert review_pairs(ra, rb, sc, labels, labels, 0.8, 0.7).tolist() == [1]


def test_threshold_warnings() -> None:
    rng = np.random.default_rng(0)
    good = np.concatenate([rng.uniform(0.5, 0.6, 5000), rng.uniform(0.9, 1.0, 500)])
    assert threshold_warnings(good, 0.8, 0.7, 0.35) == []
    crowded = np.concatenate([rng.normal(0.8, 0.03, 5000), rng.uniform(0.9, 1.0, 100)])
    assert any(
        "sits where scores are dense" in w for w in threshold_warnings(crowded, 0.8, 0.7, 0.35)
    )
    assert any(
        "no pair reached" in w
        for w in threshold_warnings(good, 0.99, 0.7, 0.35)
        + threshold_warnings(good[good < 0.9], 0.9, 0.7, 0.35)
    )
    band = np.concatenate([rng.uniform(0.7, 0.8, 800), rng.uniform(0.8, 1.0, 100)])
    assert any("review band" in w for w in threshold_warnings(band, 0.8, 0.7, 0.35))
    assert any("dense" in w for w in threshold_warnings(good, 0.8, 0.7, 0.7))


def test_one_to_one_labels_make_each_accepted_pair_one_entity() -> None:
    from linkage.matching.resolve import one_to_one_labels

    # global rows: party a is 0-2, party b is 3-4; a1-b4 is the best pair, then a0-b3
    ra, rb, sc = _pairs([(0, 3, 0.9), (1, 4, 0.95), (1, 3, 0.92), (2, 4, 0.3)])
    labels = one_to_one_labels(5, ra, rb, one_to_one(ra, rb, sc, 0.8))
    assert labels.tolist() == [0, 1, 2, 0, 1]


def test_starting_groups_are_never_split_and_grow_by_majority() -> None:
    groups = np.array([0, 0, 2, 3], np.int64)  # records 0 and 1 were linked before
    # nothing pairs 0 with 1 now: they stay together anyway
    result = cluster(4, *_pairs([(2, 3, 0.1)]), 0.8, 0.7, groups=groups)
    assert result.labels[0] == result.labels[1]
    # record 2 matches one of the two only: 1 supporting pair of 2 is no majority
    result = cluster(4, *_pairs([(0, 2, 0.95), (1, 2, 0.1)]), 0.8, 0.7, groups=groups)
    assert result.labels[2] != result.labels[0] and result.reasons == ("weak support",)
    result = cluster(4, *_pairs([(0, 2, 0.95), (1, 2, 0.75)]), 0.8, 0.7, groups=groups)
    assert result.labels[2] == result.labels[0] == result.labels[1] != result.labels[3]


def test_never_pairs_stay_apart_even_through_a_third_record() -> None:
    never = (np.array([0], np.int64), np.array([1], np.int64))
    result = cluster(2, *_pairs([(0, 1, 0.99)]), 0.8, 0.7, never=never)
    assert result.labels[0] != result.labels[1] and result.reasons == ("never merge",)
    # 2 matches both strongly: it may join one of them, never bridge the two
    ra, rb, sc = _pairs([(0, 2, 0.97), (1, 2, 0.96), (0, 1, 0.9)])
    result = cluster(3, ra, rb, sc, 0.8, 0.7, never=never)
    assert result.labels[0] != result.labels[1]
    assert result.labels[2] == result.labels[0]  # the best pair came first
    assert "never merge" in result.reasons


def test_a_never_pair_inside_a_starting_group_is_refused() -> None:
    never = (np.array([0], np.int64), np.array([1], np.int64))
    with pytest.raises(ValueError, match="inside one of the starting groups"):
        cluster(2, *_pairs([]), 0.8, 0.7, groups=np.array([5, 5], np.int64), never=never)


def test_the_pairs_a_merge_weighs_that_were_never_scored() -> None:
    # 0-1-2 chained by strong pairs, 0-2 never scored: the one pair a merge would count as 0
    ra, rb, sc = _pairs([(0, 1, 0.99), (2, 1, 0.9), (3, 4, 0.95), (5, 6, 0.2)])
    fa, fb = unscored_pairs(7, ra, rb, sc, 0.8, limit=40)
    assert list(zip(fa.tolist(), fb.tolist(), strict=True)) == [(0, 2)]  # 3-4: a pair, nothing
    # a pair scored already is not scored again, whichever way round it was given
    ra2, rb2, sc2 = _pairs([(0, 1, 0.99), (2, 1, 0.9), (2, 0, 0.1)])
    assert len(unscored_pairs(3, ra2, rb2, sc2, 0.8, limit=40)[0]) == 0
    # a component over the limit is a chain through common values: left alone
    assert len(unscored_pairs(7, ra, rb, sc, 0.8, limit=2)[0]) == 0
    # records linked before join a component and are not paired with each other
    groups = np.array([0, 0, 2, 3, 4, 5, 6], np.int64)
    fa, fb = unscored_pairs(7, *_pairs([(1, 2, 0.95), (2, 3, 0.9)]), 0.8, limit=40, groups=groups)
    assert list(zip(fa.tolist(), fb.tolist(), strict=True)) == [(0, 2), (0, 3), (1, 3)]


def test_scoring_the_unscored_pairs_lets_a_person_whose_records_differ_join() -> None:
    # 2 matches 1 strongly; 0 and 2 differ too much for blocking to pair them. Counted as 0
    # the merge is refused; scored, the pair's own evidence (0.4) carries it
    ra, rb, sc = _pairs([(0, 1, 0.99), (1, 2, 0.9)])
    apart = cluster(3, ra, rb, sc, 0.8, 0.3, probabilities=True)
    assert apart.labels[2] != apart.labels[0] and apart.reasons == ("weak support",)
    fa, fb = unscored_pairs(3, ra, rb, sc, 0.8, limit=40)
    # scored at 0.4 the pair carries the merge; a stranger's pair, near 0, still does not
    for score, together in ((0.4, True), (0.01, False)):
        result = cluster(
            3,
            np.concatenate([ra, fa]),
            np.concatenate([rb, fb]),
            np.append(sc, score),
            0.8,
            0.3,
            probabilities=True,
        )
        assert bool(result.labels[2] == result.labels[0]) is together
