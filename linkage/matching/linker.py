"""The one linker: candidate pairs found, scored, resolved into entities, and the people
estimated. ``linkage match``, the by-name list's ingest and evaluation all link through a
:class:`Linker`; none repeats a stage.

The stages are separate methods because callers need the seams: the by-name list finds only
the pairs touching a month's new records, scores them with a model fitted to the whole list,
and resolves them with what clerks already ruled. Each stage returns a small dataclass
(:class:`Candidates`, :class:`Scored`, :class:`MatchResult`) that the next one takes.
Reads nothing but encodings: no plaintext, no secret.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from linkage.errors import InputError
from linkage.formats.config import Config
from linkage.matching.candidates import dice_candidates
from linkage.matching.candidates.blocking import (
    BlockingStats,
    KeyColumn,
    blocked_candidates,
    key_columns,
    lsh_columns,
    lsh_parameters,
)
from linkage.matching.candidates.pairs import field_scores
from linkage.matching.resolve import (
    cluster,
    one_to_one,
    one_to_one_labels,
    people_estimate,
    review_pairs,
    threshold_warnings,
    unscored_pairs,
)
from linkage.matching.scoring import (
    Comparisons,
    Frequencies,
    Population,
    WeightModel,
    estimate,
    fit_prior,
    match_probability,
)
from linkage.matching.scoring import population as population_of_records
from linkage.matching.uploads import Uploads
from linkage.progress import Progress

Rows = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Candidates:
    """Candidate pairs (global rows, low row first, sorted) with their record-level Dice, and
    how they were found (the summary's ``blocking``)."""

    rows_a: Rows
    rows_b: Rows
    dice: npt.NDArray[np.float64]
    blocking: dict[str, object]

    def __len__(self) -> int:
        return len(self.rows_a)


@dataclass(frozen=True)
class Scored:
    """Pairs scored as the config asks, before resolution: the pairs, how they were found,
    the weight model as the summary reports it, and a scorer for more pairs of the same
    records under that model (None unless the config scores with weights)."""

    rows_a: Rows
    rows_b: Rows
    scores: npt.NDArray[np.float64]
    blocking: dict[str, object]
    model: dict[str, object]
    scorer: PairScorer | None

    def __len__(self) -> int:
        return len(self.rows_a)


@dataclass(frozen=True)
class Linker:
    """Links encoded records under one config: ``link`` runs every stage; ``find``,
    ``score`` and ``resolve`` are the stages for callers that work between them.

    ``one_to_one`` links two files (each record to at most one of the other) instead of
    clustering any number of agencies' records into entities."""

    config: Config
    one_to_one: bool = False
    progress: Progress | None = None

    def link(self, uploads: Uploads) -> MatchResult:
        """Find, score and resolve candidate pairs, with the people estimate: the whole
        decision, no file written."""
        return self.resolve(uploads, self.score(uploads, self.find(uploads)), estimate=True)

    def find(
        self,
        uploads: Uploads,
        *,
        fresh: npt.NDArray[np.bool_] | None = None,
        scale: int | None = None,
        whole_keys: npt.NDArray[np.uint64] | None = None,
    ) -> Candidates:
        """Candidate pairs with record-level Dice >= the candidate threshold, or >=
        ``key_candidate`` when they share a specific blocking key.

        With ``fresh`` (deduplication only), just the pairs touching a fresh record.
        ``scale`` is the number of records the method and LSH tables are chosen for when
        ``uploads`` is part of a larger whole (default: its own size), and ``whole_keys``
        that whole's blocking keys (a key is specific by how many records of the whole hold
        it), so that a part is searched as the whole would be."""
        return _find(uploads, self.config, self.one_to_one, self.progress, fresh, scale, whole_keys)

    def score(
        self,
        uploads: Uploads,
        candidates: Candidates,
        *,
        population: Population | None = None,
        model: WeightModel | None = None,
        searched: npt.NDArray[np.bool_] | None = None,
    ) -> Scored:
        """The candidates scored as the config asks (record Dice, mean field Dice, or match
        probability).

        With weights, ``population`` gives the statistics of a larger whole ``uploads``
        belongs to, and ``model`` a model estimated before, used as it is (a by-name list
        scores a month's pairs with one model). ``searched`` marks the records whose every
        candidate is among the pairs (a by-name list's fresh records; default: all), from
        which the prior is fitted."""
        scores, described, scorer = _score(
            uploads, self.config, candidates, population, model, searched
        )
        return Scored(
            candidates.rows_a, candidates.rows_b, scores, candidates.blocking, described, scorer
        )

    def resolve(
        self,
        uploads: Uploads,
        scored: Scored,
        *,
        groups: Rows | None = None,
        never: tuple[Rows, Rows] | None = None,
        estimate: bool = False,
    ) -> MatchResult:
        """Scored pairs -> entities, review pairs and the run's report.

        ``groups`` and ``never`` (cluster mode only) carry what a by-name list already
        knows: records linked before, which stay together, and pairs a clerk ruled apart.
        ``estimate`` (cluster mode, match probabilities) adds the people estimate. The
        scorer, if any, scores the pairs inside the components of strong pairs that
        blocking never reached, before the merges weigh them."""
        return _resolve(
            uploads, self.config, scored, self.one_to_one, self.progress, groups, never, estimate
        )

    def labels_at(
        self, n: int, rows_a: Rows, rows_b: Rows, scores: npt.NDArray[np.float64], upper: float
    ) -> Rows:
        """Entities of ``n`` records from scored pairs by the resolution step alone, at
        another ``upper`` threshold: for a threshold sweep, or to resolve another system's
        scores (a plaintext baseline) exactly as ours are."""
        if self.one_to_one:
            accepted = one_to_one(rows_a, rows_b, scores, upper)
            return one_to_one_labels(n, rows_a, rows_b, accepted)
        settings = self.config.match
        return cluster(
            n,
            rows_a,
            rows_b,
            scores,
            upper,
            min(self.config.thresholds.lower, upper),
            max_cluster=settings.max_cluster,
            min_support=settings.min_support,
            probabilities=settings.score == "weights",
        ).labels


#: The Dice a pair should be found at with LSH's target probability (see lsh_parameters).
LSH_DESIGN_DICE = 0.8


@dataclass
class MatchSummary:
    """What a run did, in counts only (it goes to the terminal and to summary.json)."""

    mode: str
    records: dict[str, int]
    entities: int = 0
    multi_record_entities: int = 0
    cross_agency_entities: int = 0
    within_agency_duplicates: int = 0
    candidates: int = 0
    component_pairs: int = 0
    links: int = 0
    review: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    blocking: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    model: dict[str, object] = field(default_factory=dict)
    people_estimate: dict[str, float] | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class PairScorer:
    """Scores more pairs of the same records with the model a run fitted, so that pairs
    found after the fit (those a merge weighs that blocking never reached) are weighed on
    the same scale as the candidates. ``rows`` maps the rows a caller names to the rows the
    model's records are numbered by (a by-name list links part of its table)."""

    comparisons: Comparisons
    field_clks: npt.NDArray[np.uint8]
    model: WeightModel
    frequencies: Frequencies
    rows: npt.NDArray[np.int64] | None = None

    def __call__(
        self, rows_a: npt.NDArray[np.int64], rows_b: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        if self.rows is not None:
            rows_a, rows_b = self.rows[rows_a], self.rows[rows_b]
        levels = self.comparisons.levels(self.field_clks, self.field_clks, rows_a, rows_b)
        return match_probability(levels, self.model, self.frequencies, rows_a)

    def through(self, rows: npt.NDArray[np.int64]) -> PairScorer:
        """The same scorer for a caller who numbers the records ``rows`` names 0, 1, ..."""
        return replace(self, rows=rows if self.rows is None else self.rows[rows])


@dataclass(frozen=True)
class MatchResult:
    """Everything a run decided, in memory: entity label per global row, the scored candidate
    pairs, and which of them go to review (with why)."""

    labels: npt.NDArray[np.int64]
    rows_a: npt.NDArray[np.int64]
    rows_b: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float64]
    review: npt.NDArray[np.int64]
    review_reasons: list[str]
    report: MatchSummary


def _find(
    uploads: Uploads,
    config: Config,
    two_party: bool,
    progress: Progress | None,
    fresh: npt.NDArray[np.bool_] | None,
    scale: int | None,
    whole_keys: npt.NDArray[np.uint64] | None,
) -> Candidates:
    """See :meth:`Linker.find`."""
    pairs, stats = _floor_candidates(uploads, config, two_party, progress, fresh, scale)
    th = config.thresholds
    if uploads.block_keys is None or th.key_candidate >= th.candidate:
        return Candidates(*pairs, stats)
    keys = uploads.block_keys
    (ka, kb, kd), extra = blocked_candidates(
        uploads.clks,
        specific_keys(keys, keys if whole_keys is None else whole_keys, config.match.key_block),
        th.key_candidate,
        party=uploads.party if two_party else None,
        fresh=fresh,
        max_block=config.match.key_block,
    )
    ra, rb, dice = _union(pairs, (ka, kb, kd), len(uploads.ids))
    stats["key_candidates"] = len(ra) - len(pairs[0])
    done = stats["comparisons"]
    assert isinstance(done, int)
    stats["comparisons"] = done + extra.comparisons
    return Candidates(ra, rb, dice, stats)


def specific_keys(
    keys: npt.NDArray[np.uint64], whole: npt.NDArray[np.uint64], most: int
) -> Iterator[KeyColumn]:
    """The blocking-key columns with each key valid only where at most ``most`` records of
    ``whole`` hold it: a key shared by few is evidence in itself; one shared by many (a
    common surname code) is not, and its block would cost ``most``^2 pairs at a low floor."""
    for c, (name, column, valid) in enumerate(key_columns(keys)):
        held = whole[:, c]
        values, counts = np.unique(held[held != 0], return_counts=True)
        if not len(values):
            yield name, column, np.zeros(len(column), np.bool_)
            continue
        at = np.minimum(np.searchsorted(values, column), len(values) - 1)
        yield name, column, valid & (values[at] == column) & (counts[at] <= most)


def _union(
    a: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]],
    b: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]],
    n: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Two candidate lists as one, each pair once, sorted (low row, then high row)."""
    codes = np.concatenate([a[0] * n + a[1], b[0] * n + b[1]])
    dice = np.concatenate([a[2], b[2]])
    codes, first = np.unique(codes, return_index=True)
    return codes // max(n, 1), codes % max(n, 1), dice[first]


def _floor_candidates(
    uploads: Uploads,
    config: Config,
    two_party: bool,
    progress: Progress | None,
    fresh: npt.NDArray[np.bool_] | None,
    scale: int | None,
) -> tuple[
    tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]], dict[str, object]
]:
    """The pairs at or above the record-level candidate floor, by the configured method."""
    n = len(uploads.ids)
    size = n if scale is None else scale
    if fresh is not None and two_party:
        raise ValueError("fresh records apply to deduplication only")
    floor = config.thresholds.candidate
    method = config.match.blocking
    if method == "auto":
        if size <= config.match.all_pairs_limit:
            method = "all"
        else:
            # keys alone: at 1M records keys+lsh found 0.4% more reachable pairs, which moved
            # recall by 0.0006, for 3.6 times the time (docs/matching.md)
            method = "keys" if uploads.block_keys is not None else "lsh"
    if method in ("keys", "keys+lsh") and uploads.block_keys is None:
        raise InputError(
            "blocking = 'keys' but not every upload carries blocking keys",
            "have every agency encode with a config that defines [[blocking]], or use 'lsh'",
        )
    if progress:
        progress(f"finding candidate pairs among {n:,} records ({_METHOD_NAMES[method]})")
    if method == "all":
        if fresh is not None:
            return _fresh_pairs(uploads.clks, fresh, floor), {
                "method": "all pairs",
                "comparisons": int(fresh.sum()) * (n - 1),
            }
        if two_party:
            split = int(np.count_nonzero(uploads.party == 0))
            a, b = uploads.clks[:split], uploads.clks[split:]
            ra, rb, sc = dice_candidates(a, b, floor)
            rb = rb + split
            all_pairs = split * (n - split)
        else:
            ra, rb, sc = dice_candidates(uploads.clks, None, floor)
            all_pairs = n * (n - 1) // 2
        return (ra, rb, sc), {"method": "all pairs", "comparisons": all_pairs}
    columns: list[Iterable[KeyColumn]] = []
    if method in ("keys", "keys+lsh"):
        assert uploads.block_keys is not None
        columns.append(key_columns(uploads.block_keys))
    if method in ("lsh", "keys+lsh"):
        design = max(LSH_DESIGN_DICE, floor)
        sample, tables = lsh_parameters(size, uploads.clks.shape[1] * 8, uploads.density, design)
        columns.append(lsh_columns(uploads.clks, sample, tables))
    (ra, rb, sc), stats = blocked_candidates(
        uploads.clks,
        itertools.chain(*columns),
        floor,
        party=uploads.party if two_party else None,
        fresh=fresh,
        method=method,
    )
    return (ra, rb, sc), _blocking_summary(stats, n)


def _fresh_pairs(
    clks: npt.NDArray[np.uint8], fresh: npt.NDArray[np.bool_], floor: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """All pairs touching a fresh record with Dice >= ``floor``: the fresh records against
    everyone, each unordered pair once (low row first, sorted)."""
    rows = np.flatnonzero(fresh).astype(np.int64)
    fa, rb, sc = dice_candidates(clks[rows], clks, floor)
    ra = rows[fa]
    # a pair of two fresh records is found from both ends: keep it from its lower row
    keep = (ra != rb) & ~(fresh[rb] & (rb < ra))
    lo, hi, sc = np.minimum(ra, rb)[keep], np.maximum(ra, rb)[keep], sc[keep]
    order = np.lexsort((hi, lo))
    return lo[order], hi[order], sc[order]


_METHOD_NAMES = {
    "all": "all pairs",
    "keys": "blocking keys",
    "lsh": "LSH on the filters",
    "keys+lsh": "blocking keys and LSH",
}


def _blocking_summary(stats: BlockingStats, n: int) -> dict[str, object]:
    return {
        "method": _METHOD_NAMES[stats.method],
        "comparisons": stats.comparisons,
        "reduction_ratio": round(stats.reduction_ratio(n), 6),
        "blocks": stats.blocks,
        "oversized_blocks": stats.oversized_blocks,
        "records_in_oversized_blocks": stats.oversized_records,
    }


def _score(
    uploads: Uploads,
    config: Config,
    candidates: Candidates,
    population: Population | None,
    model: WeightModel | None,
    searched: npt.NDArray[np.bool_] | None,
) -> tuple[npt.NDArray[np.float64], dict[str, object], PairScorer | None]:
    """See :meth:`Linker.score`; also the weight model as the summary reports it, and (with
    weights) a scorer for further pairs under the same model."""
    ra, rb, dice = candidates.rows_a, candidates.rows_b, candidates.dice
    settings = config.match
    if settings.score == "record":
        return dice, {}, None
    if uploads.field_clks is None:
        raise InputError(
            "the config scores field by field, but the uploads carry no field filters",
            "set [match] score = 'record' in the config",
        )
    if settings.score == "fields":
        scores = field_scores(uploads.field_clks, uploads.field_clks, ra, rb, uploads.n_fields)
        return scores, {}, None
    comparisons = Comparisons.of(config)
    return _weighted_scores(uploads, comparisons, ra, rb, population, model, searched)


def _resolve(
    uploads: Uploads,
    config: Config,
    scored: Scored,
    one_to_one_mode: bool,
    progress: Progress | None,
    groups: Rows | None,
    never: tuple[Rows, Rows] | None,
    estimate: bool,
) -> MatchResult:
    """See :meth:`Linker.resolve`."""
    if one_to_one_mode and (groups is not None or never is not None):
        raise ValueError("starting groups and never pairs apply to cluster mode only")
    th, settings = config.thresholds, config.match
    ra, rb, scores, scorer = scored.rows_a, scored.rows_b, scored.scores, scored.scorer
    report = MatchSummary(
        mode="one-to-one" if one_to_one_mode else "cluster",
        records={
            a: int(np.count_nonzero(uploads.party == i)) for i, a in enumerate(uploads.agencies)
        },
        candidates=len(ra),
        blocking=scored.blocking,
        model=scored.model,
    )
    n = len(uploads.ids)
    if scorer is not None and not one_to_one_mode and settings.score == "weights":
        fa, fb = unscored_pairs(
            n, ra, rb, scores, th.upper, limit=2 * settings.max_cluster, groups=groups
        )
        report.component_pairs = len(fa)
        if len(fa):
            ra, rb = np.concatenate([ra, fa]), np.concatenate([rb, fb])
            scores = np.concatenate([scores, scorer(fa, fb)])
    if progress:
        progress(f"resolving {len(ra):,} candidate pairs into entities")
    if one_to_one_mode:
        accepted = one_to_one(ra, rb, scores, th.upper)
        labels = one_to_one_labels(n, ra, rb, accepted)
        report.links = len(accepted)
        refused: npt.NDArray[np.int64] = np.zeros(0, np.int64)
        reasons: tuple[str, ...] = ()
    else:
        result = cluster(
            n,
            ra,
            rb,
            scores,
            th.upper,
            th.lower,
            max_cluster=settings.max_cluster,
            min_support=settings.min_support,
            groups=groups,
            never=never,
            probabilities=settings.score == "weights",
        )
        labels, refused, reasons = result.labels, result.refused, result.reasons
        if estimate and settings.score == "weights":
            if progress:
                progress("estimating the people behind the uncertain pairs")
            guess = people_estimate(labels, ra, rb, scores)
            report.people_estimate = {
                "estimate": round(guess.estimate, 1),
                "low": guess.low,
                "high": guess.high,
                "level": guess.level,
            }
        report.links = int(np.count_nonzero((scores >= th.upper) & (labels[ra] == labels[rb])))
        for reason in reasons:
            report.refused[reason] = report.refused.get(reason, 0) + 1
    band = review_pairs(ra, rb, scores, labels, labels, th.upper, th.lower)
    chosen = np.concatenate([band, refused])
    why = ["review band"] * len(band) + list(reasons)
    report.review = len(chosen)
    _entity_counts(report, labels, uploads.party)
    report.warnings = threshold_warnings(scores, th.upper, th.lower, uploads.density)
    blocking = scored.blocking
    if blocking.get("oversized_blocks"):
        report.warnings.append(
            f"{blocking['oversized_blocks']} blocks were too large to compare "
            f"({blocking['records_in_oversized_blocks']} records in them); those records were "
            "compared through the other keys or tables only"
        )
    return MatchResult(labels, ra, rb, scores, chosen, why, report)


def _weighted_scores(
    uploads: Uploads,
    comparisons: Comparisons,
    ra: npt.NDArray[np.int64],
    rb: npt.NDArray[np.int64],
    population: Population | None = None,
    model: WeightModel | None = None,
    searched: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.float64], dict[str, object], PairScorer]:
    """Match probabilities from the Fellegi-Sunter model, the model as the summary reports
    it (per field: m, u and the weight in bits of each agreement level), and a scorer under
    the model."""
    field_clks = uploads.field_clks
    assert field_clks is not None
    levels = comparisons.levels(field_clks, field_clks, ra, rb)
    # a part scored against a larger whole (a by-name list's few people) says nothing of the
    # whole's pairs unless it says whose pairs are all there
    fitted = model is None and (population is None or searched is not None)
    if population is None:
        population = population_of_records(field_clks, comparisons)
    if model is None:
        model = estimate(levels, population.u, population.records, comparisons)
    if fitted:
        model, scores = fit_prior(
            levels, model, population.frequencies, ra, rb, population.records, searched
        )
    else:
        scores = match_probability(levels, model, population.frequencies, ra)
    table = model.weights()
    names = ("exact", "high", "middle", "low")
    described: dict[str, object] = {
        "prior_bits": round(model.prior_bits, 2),
        "fields": {
            name: {
                "m_from": "anchors" if model.anchored[f] else "defaults",
                **{
                    level: {
                        "m": round(float(model.m[f, k]), 5),
                        "u": round(float(model.u[f, k]), 5),
                        "weight": round(float(table[f, k]), 2),
                    }
                    for k, level in enumerate(names)
                },
            }
            for f, name in enumerate(comparison_names(uploads.fields, comparisons))
        },
    }
    return scores, described, PairScorer(comparisons, field_clks, model, population.frequencies)


def comparison_names(fields: Sequence[str], comparisons: Comparisons) -> list[str]:
    """How the summary names each column of the model: the fields, the swaps, the wholes."""
    swaps = [f"{fields[f]}/{fields[g]} swapped" for f, g in comparisons.crossed]
    wholes = [f"{fields[f]} and {fields[g]} both exact" for f, g in comparisons.joined]
    return [*fields, *swaps, *wholes]


def _entity_counts(
    report: MatchSummary, labels: npt.NDArray[np.int64], party: npt.NDArray[np.int32]
) -> None:
    if not len(labels):
        return
    sizes = np.bincount(labels)
    report.entities = len(sizes)
    report.multi_record_entities = int(np.count_nonzero(sizes > 1))
    pairs = np.unique(labels.astype(np.int64) * (int(party.max()) + 1) + party)
    agencies_per = np.bincount(pairs // (int(party.max()) + 1), minlength=len(sizes))
    report.cross_agency_entities = int(np.count_nonzero(agencies_per > 1))
    # records beyond the first of an entity within one agency
    report.within_agency_duplicates = int(len(labels) - len(pairs))
