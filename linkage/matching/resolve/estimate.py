"""How many people the records hold, with an interval: the count as the model is sure of it.

The entities a run decides are one answer; the match probabilities say how sure each decision
was. A pair at 0.55 is linked, yet one time in two it is two people; a pair at 0.25 is not, yet
one time in four it is one. The estimate samples those decisions, entity by entity rather than
pair by pair (the pairs of one person are not independent: if A is B and B is C, A is C):

* a record of a multi-record entity stays in it with its best match probability to the
  entity's other records (if it is one of them, it is the person they are; its best-attached
  record, the core, always stays), and otherwise counts as a person of its own;
* two entities with candidate pairs between them are one person with the mean probability of
  those pairs.

Each draw takes every such decision at random with its probability and counts the people;
the draws' mean is the estimate and their spread the interval. With calibrated probabilities
(docs/matching.md) the estimate is unbiased for what the candidates can show. Pairs that
blocking never reached cannot be sampled: where blocking misses true pairs, the estimate is
high by as many people as those pairs would have merged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

#: A decision this sure (probability within this of 0 or 1) is taken as made.
SURE = 0.02
#: Draws taken: enough for the 5% and 95% quantiles to settle within a person or two.
DRAWS = 200


@dataclass(frozen=True)
class PeopleEstimate:
    """The expected number of distinct people and a ``level`` interval around it."""

    estimate: float
    low: float
    high: float
    level: float


def people_estimate(
    labels: npt.NDArray[np.int64],
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    probability: npt.NDArray[np.float64],
    *,
    counted: npt.NDArray[np.bool_] | None = None,
    level: float = 0.9,
    seed: int = 0,
) -> PeopleEstimate:
    """Estimate the people behind ``labels`` (the run's entities) from the candidates' match
    probabilities (see the module notes). Seeded: the same run gives the same interval.

    ``counted`` (default: every record) marks the records that make their person count: a
    by-name list counts the actively homeless, people holding an active record. A record
    that leaves its entity then counts only if it is itself counted, two entities that join
    lose a person only if both counted, and the entity a record leaves is taken to count as
    before (its other records rarely all differ from it)."""
    if not 0.0 < level < 1.0:
        raise ValueError("level must be in (0, 1)")
    entities = int(labels.max()) + 1 if len(labels) else 0
    held = np.ones(len(labels), np.bool_) if counted is None else counted
    if held.shape != labels.shape:
        raise ValueError("counted must mark each record")
    counts_entity = np.zeros(entities, np.bool_)
    counts_entity[labels[held]] = True
    counted_entities = np.count_nonzero(counts_entity)
    same = labels[rows_a] == labels[rows_b]
    others, stay = _staying(labels, rows_a[same], rows_b[same], probability[same], entities)
    stay = stay[held[others]]
    # a decision already near-sure adds its expected value and no spread
    leave = 1.0 - stay
    sure_leavers = float(np.count_nonzero(leave >= 1.0 - SURE))
    leave = leave[(leave > SURE) & (leave < 1.0 - SURE)]
    ea, eb, join = _joins(labels[rows_a[~same]], labels[rows_b[~same]], probability[~same])
    sure_joins = (ea[join >= 1.0 - SURE], eb[join >= 1.0 - SURE])
    unsure = (join > SURE) & (join < 1.0 - SURE)
    ea, eb, join = ea[unsure], eb[unsure], join[unsure]
    rng = np.random.default_rng(seed)
    counts = np.empty(DRAWS, np.float64)
    for d in range(DRAWS):
        left = np.count_nonzero(rng.random(len(leave)) < leave)
        taken = rng.random(len(join)) < join
        merged = _unions(
            np.concatenate([sure_joins[0], ea[taken]]),
            np.concatenate([sure_joins[1], eb[taken]]),
            counts_entity,
        )
        counts[d] = counted_entities + sure_leavers + left - merged
    tail = (1.0 - level) / 2
    low, high = np.quantile(counts, [tail, 1.0 - tail])
    return PeopleEstimate(float(counts.mean()), float(low), float(high), level)


def _staying(
    labels: npt.NDArray[np.int64],
    ra: npt.NDArray[np.int64],
    rb: npt.NDArray[np.int64],
    p: npt.NDArray[np.float64],
    entities: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Each record of a multi-record entity but its core, and the chance it belongs there:
    its best probability over its candidate pairs inside the entity (1 without any: it was
    put there by what a by-name list knew, not by a pair). The mean was tried first and
    split people that one weak pair to a typo-laden record had kept whole: on the 8k
    synthetic network it put the estimate 0.8 points above the entities, not below."""
    n = len(labels)
    best = np.full(n, -1.0)
    np.maximum.at(best, ra, p)
    np.maximum.at(best, rb, p)
    attached = np.where(best >= 0, best, 1.0)
    sizes = np.bincount(labels, minlength=entities)
    # the core: each entity's best-attached record, the first of them on a tie
    order = np.lexsort((np.arange(n), -attached, labels))
    first = np.concatenate(([True], labels[order][1:] != labels[order][:-1]))
    core = np.zeros(n, np.bool_)
    core[order[first]] = True
    others = np.flatnonzero(~core & (sizes[labels] > 1))
    return others, np.asarray(attached[others], np.float64)


def _joins(
    ea: npt.NDArray[np.int64], eb: npt.NDArray[np.int64], p: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Each pair of entities with candidate pairs between them, and the mean probability of
    those pairs: the chance the two are one person."""
    if not len(ea):
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0)
    lo, hi = np.minimum(ea, eb), np.maximum(ea, eb)
    width = int(hi.max()) + 1
    codes, inverse = np.unique(lo * width + hi, return_inverse=True)
    mean = np.bincount(inverse, p) / np.bincount(inverse)
    return codes // width, codes % width, mean


def _unions(
    a: npt.NDArray[np.int64], b: npt.NDArray[np.int64], counts: npt.NDArray[np.bool_]
) -> int:
    """How many counted people joining entity ``a[k]`` with ``b[k]`` takes away: the counted
    entities the edges touch less the groups holding one (a counted entity joined only to
    uncounted ones is still one counted person)."""
    if not len(a):
        return 0
    nodes, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    k = len(nodes)
    edges = coo_matrix((np.ones(len(a), np.int8), (inverse[: len(a)], inverse[len(a) :])), (k, k))
    _, group = connected_components(edges, directed=False)
    counted = counts[nodes]
    return int(np.count_nonzero(counted) - len(np.unique(group[counted])))
