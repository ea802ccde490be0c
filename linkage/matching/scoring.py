"""Fellegi-Sunter match weights on field filters, with term-frequency adjustment.

Averaging field-level Dice scores treats agreement on sex like agreement on an SSN, and
agreement on "Smith" like agreement on "Szczepanski". At a few thousand records that does not
matter; at a million, same-name strangers outnumber true duplicates and the average links them.
Weights fix both:

* each field's Dice score is put into an agreement level (exact, high, middle, low; missing
  when either record lacks the field, which then counts for nothing);
* ``u`` (how often two records of different people show each level) comes from random pairs of
  records, which at any useful size are almost all non-matches;
* ``m`` (how often two records of one person do) starts from typical error rates and is then
  re-estimated per field from "anchor" candidates: pairs whose *other* fields alone make them
  near-certain matches. EM over all candidates is the textbook route but fails here: candidates
  are chosen for being similar, so among them agreement and disagreement are strongly
  dependent, and EM duly learns that sharing a first name is evidence against a match;
* the prior starts at one true partner per record, 1 / (records - 1) for a random pair, so
  the evidence needed grows with the size of the community: a shared name and nothing else
  links two records among a thousand, but only goes to review among a million. It is then
  fitted to the data (:func:`fit_prior`): the expected true partners per record are the sum
  of the candidates' probabilities, so a community whose people each have three records
  (two partners per record, not one) is told so by its own pairs;
* exact agreement is worth more on a rare value than on a common one: equal values give equal
  field filters, so the coordinator counts how many records share each field filter (it can
  see that anyway) and replaces the field's average exact-agreement rate by this value's, as
  Splink does with its term-frequency adjustments;
* fields a config groups (first and last name) are also compared crosswise, so a swap is its
  own agreement rather than two disagreements (:class:`Comparisons`);
* a field that is part of another's value (a birth date's day and month beside its year)
  gets its own levels, so a swapped day and month or a year off by one is told from a
  stranger; where both parts agree exactly the pair is weighed once, on the whole value's
  own u and frequency, because a person's records and twins make one whole date recur far
  more than the product of its parts' rates says.

The score of a pair is its posterior match probability, in [0, 1], so the [thresholds] keep
their meaning: links at ``upper`` and above, review from ``lower``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from linkage.formats.config import Config
from linkage.matching.candidates.kernel import as_words
from linkage.matching.candidates.pairs import check_field_pairs, field_agreement_counts

#: Lower bounds of the agreement levels on field Dice, best first: exact, high, middle; below
#: the last is "low". Level index len(LEVELS) is low, -1 is missing. The middle bound sits
#: below the Dice of the commonest partial agreement where a config keeps the SSN one field
#: (hmis.toml splits off the last 4 instead), a last-4 SSN against the full one: 4 of
#: 9 digit tokens give 0.62 unhardened but about 0.58 once XOR-folding has cancelled and merged
#: bits, so a bound of 0.6 sent a third of those true pairs to "low" under the default config.
LEVELS = (1.0, 0.85, 0.55)
_N_LEVELS = len(LEVELS) + 1
#: m where the data cannot say better: exact, high, middle, low agreement between two records of
#: one person (typos, nicknames and swapped dates put a few in the lower levels).
DEFAULT_M = (0.85, 0.06, 0.05, 0.04)
#: Probabilities are kept inside [_EPS, 1 - _EPS] so that no level has an infinite weight.
_EPS = 1e-4
#: A candidate anchors field f when its other fields alone give it at least this posterior.
_ANCHOR = 0.999
#: Fewest anchors holding a field for its m to be estimated rather than left at DEFAULT_M.
_MIN_ANCHORS = 50
#: Rounds of re-estimating m from anchors (each round's weights choose the next anchors).
_ROUNDS = 3
#: Random pairs drawn to estimate u.
RANDOM_PAIRS = 1_000_000


@dataclass(frozen=True)
class WeightModel:
    """m and u per field and level (rows: fields; columns: exact, high, middle, low) and the
    prior log-odds of a match. ``weights()`` gives each level's log2 Bayes factor."""

    m: npt.NDArray[np.float64]
    u: npt.NDArray[np.float64]
    prior_bits: float
    anchored: tuple[bool, ...]
    #: (whole, part, column) of each joint column (see :class:`Comparisons`).
    joined: tuple[tuple[int, int, int], ...] = ()

    def weights(self) -> npt.NDArray[np.float64]:
        """log2(m / u) per field and level: what agreeing at that level is worth, in bits."""
        return np.asarray(np.log2(self.m / self.u), dtype=np.float64)


@njit(cache=True, nogil=True, parallel=True)
def _levels(wa: Any, wb: Any, ra: Any, rb: Any, n_fields: int, bounds: Any, out: Any) -> None:
    per = wa.shape[1] // n_fields
    for p in prange(ra.shape[0]):
        i, j = ra[p], rb[p]
        for f in range(n_fields):
            shared, ca, cb = field_agreement_counts(wa, i, wb, j, f * per, (f + 1) * per)
            if ca == 0 or cb == 0:
                out[p, f] = -1
                continue
            dice = 2.0 * shared / (ca + cb)
            level = 0
            while level < bounds.shape[0] and dice < bounds[level]:
                level += 1
            out[p, f] = level


def field_levels(
    a: npt.NDArray[np.uint8],
    b: npt.NDArray[np.uint8],
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    n_fields: int,
) -> npt.NDArray[np.int8]:
    """Agreement level of each pair on each field: 0 exact, 1 high, 2 middle, 3 low, -1
    missing (either record lacks the field). ``a`` and ``b`` are field filters side by side,
    each a whole number of 64-bit words, as in the ``field_clks`` section."""
    ra, rb = check_field_pairs(a, b, rows_a, rows_b, n_fields)
    out = np.empty((len(ra), n_fields), np.int8)
    bounds = np.array(LEVELS, np.float64)
    _levels(as_words(a), as_words(b), ra, rb, n_fields, bounds, out)
    return out


@dataclass(frozen=True)
class Comparisons:
    """What the model weighs, column by column: each field against itself, then, for each
        pair of fields hashed alike (a config group), whether the two records hold those fields
        the other way round.

        A pair whose first and last names are swapped shows "low" on both names, which costs it
        some nine bits, and strangers who share a birth date show the same: the two cannot be
        told apart field by field. So the names are compared both ways, and when the crosswise
        alignment agrees at least "middle" on both fields (a swap with a typo in one name still
    reads as one) and better than the direct one, the
        fields take the crosswise levels and the swap column says "swapped" (level 0; "not
        swapped" is the low level). That column has its own m and u, so what a swap is worth is
        learnt like any other agreement.

        Last, one joint column per whole and part (a config's ``part_of``): "both exact"
        (level 0) or not (low). Where it says both, that column's weight stands for the two
        fields' exact weights, as if the whole value were one field."""

    n_fields: int
    crossed: tuple[tuple[int, int], ...] = ()
    joined: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, config: Config) -> Comparisons:
        """What a config's fields make: its fields, the pairs its groups cross, its parts."""
        return cls(len(config.fields), config.crossed, config.joined)

    @property
    def size(self) -> int:
        """Columns of levels: the fields, a swap column per crossed pair, a joint column per
        whole and part."""
        return self.n_fields + len(self.crossed) + len(self.joined)

    @property
    def joint_columns(self) -> tuple[tuple[int, int, int], ...]:
        """(whole, part, column) of each joint column."""
        first = self.n_fields + len(self.crossed)
        return tuple((f, g, first + k) for k, (f, g) in enumerate(self.joined))

    def levels(
        self,
        a: npt.NDArray[np.uint8],
        b: npt.NDArray[np.uint8],
        rows_a: npt.NDArray[np.int64],
        rows_b: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.int8]:
        """(pairs x size) levels: :func:`field_levels`, realigned where names are swapped."""
        direct = field_levels(a, b, rows_a, rows_b, self.n_fields)
        if not self.crossed and not self.joined:
            return direct
        out = np.empty((len(direct), self.size), np.int8)
        out[:, : self.n_fields] = direct
        for f, g, c in self.joint_columns:
            held = (direct[:, f] >= 0) & (direct[:, g] >= 0)
            both = (direct[:, f] == 0) & (direct[:, g] == 0)
            out[:, c] = np.where(held, np.where(both, 0, len(LEVELS)), -1)
        width = a.shape[1] // self.n_fields
        for k, (f, g) in enumerate(self.crossed):
            fa, ga = (np.ascontiguousarray(a[:, x * width : (x + 1) * width]) for x in (f, g))
            fb, gb = (np.ascontiguousarray(b[:, x * width : (x + 1) * width]) for x in (f, g))
            one = field_levels(fa, gb, rows_a, rows_b, 1)[:, 0]
            two = field_levels(ga, fb, rows_a, rows_b, 1)[:, 0]
            held = (one >= 0) & (two >= 0)
            ahead = one.astype(np.int16) + two < direct[:, f].astype(np.int16) + direct[:, g]
            swapped = held & (np.maximum(one, two) <= 2) & ahead
            out[swapped, f], out[swapped, g] = one[swapped], two[swapped]
            out[:, self.n_fields + k] = np.where(held, np.where(swapped, 0, len(LEVELS)), -1)
        return out


def default_m(comparisons: Comparisons) -> npt.NDArray[np.float64]:
    """m where the data cannot say better: DEFAULT_M for each field, for a swap column that
    one pair of records in a hundred has its names the other way round, and for a joint
    column that a whole agrees when each part does, as if they erred apart."""
    m = np.tile(np.array(DEFAULT_M), (comparisons.size, 1))
    m[comparisons.n_fields : comparisons.n_fields + len(comparisons.crossed)] = _SWAP_M
    both = DEFAULT_M[0] ** 2
    for _, _, c in comparisons.joint_columns:
        m[c] = (both, _EPS, _EPS, 1.0 - both - 2 * _EPS)
    return m


#: Default m of a swap column: swapped, (two unused levels), not swapped.
_SWAP_M = (0.01, 1e-4, 1e-4, 0.9898)


@dataclass(frozen=True)
class Frequencies:
    """How common each record's value of each field is: ``share[r, f]`` is the share of the
    records holding field f whose field filter equals record r's (0 where r lacks it), and
    ``agreement[f]`` the chance that two random records holding f agree exactly (the sum of
    squared shares), the yardstick a value's share is measured against. Columns past the
    fields are the wholes of :class:`Comparisons`' joint columns, in their order."""

    share: npt.NDArray[np.float64]
    agreement: npt.NDArray[np.float64]


def value_frequencies(
    fields: npt.NDArray[np.uint8], n_fields: int, joined: tuple[tuple[int, int], ...] = ()
) -> Frequencies:
    """Count identical field filters (equal values encode to equal filters), field by field,
    through a 64-bit digest of each filter: sorting digests instead of whole filters is
    several times faster at a million records, and two of a million distinct filters share a
    digest about once in ten million runs (merging two values' counts when they do). A whole
    and its part are counted together, over the records that hold both."""
    words = as_words(fields)
    per = words.shape[1] // n_fields
    n = len(words)
    blocks = [words[:, f * per : (f + 1) * per] for f in range(n_fields)]
    columns: list[tuple[npt.NDArray[np.uint64], ...]] = [(b,) for b in blocks]
    columns += [(blocks[f], blocks[g]) for f, g in joined]
    share = np.zeros((n, n_fields + len(joined)), np.float64)
    agreement = np.zeros(n_fields + len(joined), np.float64)
    for f, parts in enumerate(columns):
        present = np.logical_and.reduce([p.any(axis=1) for p in parts])
        held = int(present.sum())
        if not held:
            continue
        rows = np.flatnonzero(present)
        digest = _digest(np.concatenate([p[rows] for p in parts], axis=1))
        _, group, counts = np.unique(digest, return_inverse=True, return_counts=True)
        sizes = counts / held
        share[rows, f] = sizes[group]
        agreement[f] = float(np.sum(sizes**2))
    return Frequencies(share, agreement)


def _digest(block: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """A 64-bit digest of each row of words: each word folded in, then mixed by
    splitmix64's finaliser (every input bit reaches every output bit)."""
    h = np.zeros(len(block), np.uint64)
    for k in range(block.shape[1]):
        h = (h ^ block[:, k]) + np.uint64(0x9E3779B97F4A7C15)
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h


@dataclass(frozen=True)
class Population:
    """What the weights take from all the records when only some of them are linked (a
    by-name list links a month's new records and the people they touch): the record count
    for the prior, u from random pairs of all records, and the value frequencies of all
    records, with ``frequencies.share`` given for the linked rows only."""

    records: int
    u: npt.NDArray[np.float64]
    frequencies: Frequencies


def population(
    fields: npt.NDArray[np.uint8],
    comparisons: Comparisons,
    rows: npt.NDArray[np.int64] | None = None,
) -> Population:
    """The population statistics of all the records' field filters, for linking ``rows``
    (default: all of them)."""
    freq = value_frequencies(fields, comparisons.n_fields, comparisons.joined)
    if rows is not None:
        freq = Frequencies(freq.share[rows], freq.agreement)
    return Population(records=len(fields), u=random_pair_u(fields, comparisons), frequencies=freq)


def random_pair_u(
    fields: npt.NDArray[np.uint8],
    comparisons: Comparisons,
    pairs: int = RANDOM_PAIRS,
    seed: int = 0,
) -> npt.NDArray[np.float64]:
    """u per comparison and level: the share of each level among random pairs of distinct
    records holding the field. (A pair of one person turns up about once in n random
    pairs.)"""
    n, size = len(fields), comparisons.size
    if n < 2:
        return _normalise(np.ones((size, _N_LEVELS)))
    rng = np.random.default_rng(seed)
    ra = rng.integers(0, n, pairs)
    rb = (ra + rng.integers(1, n, pairs)) % n
    levels = comparisons.levels(fields, fields, ra, rb)
    counts = np.zeros((size, _N_LEVELS))
    for f in range(size):
        held = levels[:, f] >= 0
        counts[f] = np.bincount(levels[held, f], minlength=_N_LEVELS)
    return _normalise(counts + 0.5)  # a level never drawn is rare, not impossible


def estimate(
    levels: npt.NDArray[np.int8],
    u: npt.NDArray[np.float64],
    records: int,
    comparisons: Comparisons | None = None,
) -> WeightModel:
    """m per comparison from anchor candidates (see the module notes), with ``u`` from random
    pairs and the prior of one true partner per record among ``records``. Works on the
    distinct patterns of levels (a few thousand at most) and their counts, not on each
    pair."""
    n_fields = levels.shape[1]
    comparisons = comparisons or Comparisons(n_fields)
    joined = comparisons.joint_columns
    prior_bits = -float(np.log2(max(records - 1, 1)))
    m = default_m(comparisons)
    anchored = [False] * n_fields
    codes = _pattern_codes(levels)
    counts = np.bincount(codes, minlength=_N_PATTERNS**n_fields).astype(np.float64)
    seen = np.flatnonzero(counts)
    table, weight = _pattern_levels(seen, n_fields), counts[seen]
    need = np.log2(_ANCHOR / (1.0 - _ANCHOR))
    for _ in range(_ROUNDS):
        per_field = _field_weights(table, np.log2(m / u), joined)
        total = prior_bits + per_field.sum(axis=1)
        new_m = m.copy()
        for f in range(n_fields):
            own = _own_columns(f, joined)
            anchors = (total - per_field[:, own].sum(axis=1) >= need) & (table[:, f] >= 0)
            if weight[anchors].sum() < _MIN_ANCHORS:
                continue
            by_level = np.bincount(table[anchors, f], weight[anchors], minlength=_N_LEVELS)
            new_m[f] = _normalise(np.asarray(by_level + 0.5, np.float64)[None, :])[0]
            anchored[f] = True
        m = new_m
    return WeightModel(m, u, prior_bits, tuple(anchored), joined)


def _own_columns(column: int, joined: tuple[tuple[int, int, int], ...]) -> list[int]:
    """The columns whose weight holds this column's agreement, left out when choosing the
    anchors that estimate its m: itself, and a whole, its part and their joint column
    together (a pair agreeing on the whole carries that weight in the joint column)."""
    own = {column}
    for whole, part, joint in joined:
        if column in (whole, part, joint):
            own |= {whole, part, joint}
    return sorted(own)


#: Values a field takes in a pattern: missing or one of the levels.
_N_PATTERNS = _N_LEVELS + 1
#: Up to this many possible patterns (9 fields), they are counted in a dense table.
_DENSE_PATTERNS = 1 << 21


def _pattern_codes(levels: npt.NDArray[np.int8]) -> npt.NDArray[np.int64]:
    """Each pair's levels as one integer (base _N_PATTERNS, missing as 0)."""
    codes = np.zeros(len(levels), np.int64)
    for f in range(levels.shape[1]):
        codes = codes * _N_PATTERNS + (levels[:, f] + 1)
    return codes


def _patterns(
    codes: npt.NDArray[np.int64], n_fields: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Distinct pattern codes, each pair's index among them, and how many pairs show each.
    A dense table while the patterns possible are few; sorting beyond that (many fields)."""
    if _N_PATTERNS**n_fields <= _DENSE_PATTERNS:
        counts = np.bincount(codes, minlength=_N_PATTERNS**n_fields)
        distinct = np.flatnonzero(counts)
        index = np.zeros(len(counts), np.int64)
        index[distinct] = np.arange(len(distinct))
        return distinct, index[codes], counts[distinct].astype(np.float64)
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    first = np.ones(len(ordered), np.bool_)  # each pattern's first pair (none if no pairs)
    first[1:] = ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(first)
    inverse = np.empty(len(codes), np.int64)
    inverse[order] = np.cumsum(first) - 1
    sizes = np.diff(np.append(starts, len(codes))).astype(np.float64)
    return ordered[starts], inverse, sizes


def _pattern_levels(codes: npt.NDArray[np.int64], n_fields: int) -> npt.NDArray[np.int8]:
    """The inverse of _pattern_codes."""
    out = np.empty((len(codes), n_fields), np.int8)
    rest = codes.copy()
    for f in range(n_fields - 1, -1, -1):
        out[:, f] = rest % _N_PATTERNS - 1
        rest //= _N_PATTERNS
    return out


def _field_weights(
    levels: npt.NDArray[np.int8],
    table: npt.NDArray[np.float64],
    joined: tuple[tuple[int, int, int], ...] = (),
) -> npt.NDArray[np.float64]:
    """Each row's weight from each column (0 where it is missing). Where a whole and its
    part both agree exactly, the joint column carries the weight and the two fields none;
    elsewhere the joint column adds nothing."""
    out = np.zeros(levels.shape, np.float64)
    for f in range(levels.shape[1]):
        held = levels[:, f] >= 0
        out[held, f] = table[f, levels[held, f]]
    for whole, part, joint in joined:
        both = levels[:, joint] == 0
        out[both, whole] = out[both, part] = 0.0
        out[~both, joint] = 0.0
    return out


def _normalise(counts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Rows to probabilities within [_EPS, 1 - _EPS]."""
    probs = np.clip(counts / counts.sum(axis=1, keepdims=True), _EPS, 1.0 - _EPS)
    return np.asarray(probs / probs.sum(axis=1, keepdims=True), dtype=np.float64)


def match_probability(
    levels: npt.NDArray[np.int8],
    model: WeightModel,
    freq: Frequencies | None = None,
    rows: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.float64]:
    """Posterior match probability of each pair.

    With value frequencies and each pair's row on one side (``rows``; on exact agreement both
    records hold the same value), exact agreement on a value is worth log2(agreement / share)
    more than the field's exact-level weight: positive for a rare name, negative for a common
    one, zero on average over random agreements."""
    return _probability(model.prior_bits + _evidence(levels, model, freq, rows))


def _evidence(
    levels: npt.NDArray[np.int8],
    model: WeightModel,
    freq: Frequencies | None,
    rows: npt.NDArray[np.int64] | None,
) -> npt.NDArray[np.float64]:
    """Each pair's evidence in bits, the prior left out."""
    n_fields = levels.shape[1]
    # weights per pattern of levels, then one lookup per pair: no (pairs x fields) floats
    seen, inverse, _ = _patterns(_pattern_codes(levels), n_fields)
    table = _pattern_levels(seen, n_fields)
    by_pattern = _field_weights(table, model.weights(), model.joined).sum(axis=1)
    w = by_pattern[inverse]
    if freq is not None and rows is not None:
        fields = freq.share.shape[1] - len(model.joined)  # a swap column has no value
        exact = [levels[:, f] == 0 for f in range(fields)]
        for whole, part, joint in model.joined:
            both = levels[:, joint] == 0
            exact[whole] &= ~both
            exact[part] &= ~both
            exact.append(both)
        for f, agree in enumerate(exact):
            hit = np.flatnonzero(agree)
            share = freq.share[rows[hit], f]
            w[hit] += np.log2(freq.agreement[f] / np.maximum(share, 1e-12))
    return np.asarray(w, np.float64)


def _probability(bits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp2(-bits)), dtype=np.float64)


#: Rounds of fitting the prior to the candidates' expected true pairs (it settles in two or
#: three: each round moves the probabilities less than the last).
PRIOR_ROUNDS = 4


def fit_prior(
    levels: npt.NDArray[np.int8],
    model: WeightModel,
    freq: Frequencies | None,
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    records: int,
    searched: npt.NDArray[np.bool_] | None = None,
) -> tuple[WeightModel, npt.NDArray[np.float64]]:
    """The model with its prior fitted to the candidates, and their probabilities under it.

    The prior is the chance that a random pair of the ``records`` is one person: a searched
    record's expected true partners (its share of the candidates' probabilities) over the
    records it could pair with. ``searched`` marks the records whose every candidate pair is
    given (a by-name list gives only the pairs of its fresh records); default: all. ``freq``
    is as :func:`match_probability` takes it, for the ``rows_a`` side."""
    if searched is None:
        ends = np.full(len(rows_a), 2.0)
        count = records
    else:
        ends = searched[rows_a].astype(np.float64) + searched[rows_b]
        count = int(searched.sum())
    evidence = _evidence(levels, model, freq, rows_a)
    prior = model.prior_bits
    scores = _probability(prior + evidence)
    if count == 0 or records < 2:
        return model, scores
    for _ in range(PRIOR_ROUNDS):
        partners = float(np.dot(scores, ends)) / count
        share = min(max(partners / (records - 1), 1e-12), 0.5)
        prior = float(np.log2(share / (1 - share)))
        scores = _probability(prior + evidence)
    return replace(model, prior_bits=prior), scores
