"""``linkage match``: the coordinator's job from uploaded ``.clk`` files to entities.

Load and cross-check the uploads (same config fingerprint, same key check value, one file per
agency, every file intact), find candidate pairs (all pairs, or blocking), score them, resolve
them into entities, and write ``entities.csv`` (every record), ``review.csv`` (pairs for a
person to decide) and ``summary.json``. Reads nothing but ``.clk`` files: no plaintext, no
secret.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt

from linkage._atomic import atomic_write
from linkage.errors import ConfigError, InputError
from linkage.formats.config import Config, builtin_config_path, builtin_config_with, load_config
from linkage.formats.container import BLOCK_KEYS, FIELD_CLKS, ClkData, read_clk
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

#: The Dice a pair should be found at with LSH's target probability (see lsh_parameters).
LSH_DESIGN_DICE = 0.8

Progress = Callable[[str], None]


@dataclass
class MatchReport:
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
class Uploads:
    """Every upload's records side by side: global row r belongs to ``agencies[party[r]]``."""

    agencies: tuple[str, ...]
    ids: list[str]
    party: npt.NDArray[np.int32]
    clks: npt.NDArray[np.uint8]
    field_clks: npt.NDArray[np.uint8] | None
    block_keys: npt.NDArray[np.uint64] | None
    fields: tuple[str, ...]

    @property
    def n_fields(self) -> int:
        return len(self.fields)

    def records(self) -> list[tuple[str, str]]:
        """(agency, record id) of each global row: how results name records."""
        return [
            (self.agencies[p], rid) for p, rid in zip(self.party.tolist(), self.ids, strict=True)
        ]

    def take(self, rows: npt.NDArray[np.int64]) -> Uploads:
        """Some of the records (global rows ``rows``), the agencies kept as they are."""
        return Uploads(
            agencies=self.agencies,
            ids=[self.ids[i] for i in rows.tolist()],
            party=self.party[rows],
            clks=self.clks[rows],
            field_clks=None if self.field_clks is None else self.field_clks[rows],
            block_keys=None if self.block_keys is None else self.block_keys[rows],
            fields=self.fields,
        )

    @cached_property
    def density(self) -> float:
        """Mean share of bits set, from up to 20k filters (enough for two decimals)."""
        sample = self.clks[:20_000]
        return float(np.unpackbits(sample).mean()) if len(sample) else 0.0


def read_uploads(paths: Sequence[Path]) -> list[ClkData]:
    """Read and cross-check the uploads (one config, one secret, one file per agency); refuse
    anything that cannot be linked as a whole."""
    if not paths:
        raise InputError("no .clk files given", "pass one file per agency")
    files = [read_clk(Path(p)) for p in paths]
    first, first_path = files[0].header, paths[0]
    seen: dict[str, Path] = {}
    for path, data in zip(paths, files, strict=True):
        h = data.header
        if h.config_fingerprint != first.config_fingerprint:
            raise InputError(
                f"{path} was encoded with config fingerprint {h.config_fingerprint[:12]}..., "
                f"but {first_path} with {first.config_fingerprint[:12]}...",
                "every agency must encode with the same config; 'linkage inspect' shows it",
            )
        if h.key_check_value != first.key_check_value:
            raise InputError(
                f"{path} and {first_path} were encoded with different secrets "
                "(their key check values differ)",
                "every agency must encode with the one shared secret",
            )
        if h.agency in seen:
            raise InputError(
                f"{path} and {seen[h.agency]} both come from agency '{h.agency}'",
                "send one file per agency, encoded with distinct --agency names",
            )
        seen[h.agency] = path
    return files


def load_uploads(paths: Sequence[Path]) -> tuple[Uploads, list[ClkData]]:
    """Read and cross-check the uploads, and lay their records side by side."""
    files = read_uploads(paths)
    first = files[0].header
    sizes = [len(d.ids) for d in files]
    party = np.repeat(np.arange(len(files), dtype=np.int32), sizes)
    clks = np.concatenate([d.clks for d in files]) if files else np.zeros((0, 0), np.uint8)
    has_fields = all(FIELD_CLKS in d.sections for d in files)
    field_clks = np.concatenate([d.sections[FIELD_CLKS] for d in files]) if has_fields else None
    has_keys = all(BLOCK_KEYS in d.sections for d in files)
    keys = (
        np.concatenate([d.sections[BLOCK_KEYS] for d in files]).view(np.uint64)
        if has_keys and len(party) > 0
        else None
    )
    ids = [rid for d in files for rid in d.ids]
    uploads = Uploads(
        agencies=tuple(d.header.agency for d in files),
        ids=ids,
        party=party,
        clks=clks,
        field_clks=field_clks,
        block_keys=keys,
        fields=first.fields,
    )
    return uploads, files


def config_for(files: list[ClkData], config_path: Path | None) -> Config:
    """The config to match with: the one given, else the built-in one the files name. Either
    way its fingerprint must be the files' (thresholds are not part of it)."""
    header = files[0].header
    if config_path is None:
        try:
            builtin = load_config(builtin_config_path(header.config_name))
        except ConfigError:
            builtin = None
        if builtin is None or builtin.fingerprint != header.config_fingerprint:
            builtin = builtin_config_with(header.config_fingerprint)
        if builtin is None:
            raise ConfigError(
                f"the uploads were encoded with a config named '{header.config_name}' "
                f"(fingerprint {header.config_fingerprint[:12]}...) that no built-in config "
                "matches",
                "pass --config with the config the agencies used",
            )
        return builtin
    config = load_config(config_path)
    if config.fingerprint != header.config_fingerprint:
        raise ConfigError(
            f"{config.source} (fingerprint {config.fingerprint[:12]}...) is not the config the "
            f"uploads were encoded with ({header.config_fingerprint[:12]}...)",
            "pass the config the agencies used; only [thresholds] and [match] may differ",
        )
    return config


def find_candidates(
    uploads: Uploads,
    config: Config,
    two_party: bool,
    progress: Progress | None = None,
    *,
    fresh: npt.NDArray[np.bool_] | None = None,
    scale: int | None = None,
    whole_keys: npt.NDArray[np.uint64] | None = None,
) -> tuple[
    tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]], dict[str, object]
]:
    """Candidate pairs (global rows, low first) with record-level Dice >= the candidate
    threshold, or >= ``key_candidate`` when they share a specific blocking key, and how they
    were found.

    With ``fresh`` (deduplication only), just the pairs touching a fresh record. ``scale`` is
    the number of records the method and LSH tables are chosen for when ``uploads`` is part
    of a larger whole (default: its own size), and ``whole_keys`` that whole's blocking keys
    (a key is specific by how many records of the whole hold it), so that a part is searched
    as the whole would be."""
    pairs, stats = _floor_candidates(uploads, config, two_party, progress, fresh, scale)
    th = config.thresholds
    if uploads.block_keys is None or th.key_candidate >= th.candidate:
        return pairs, stats
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
    return (ra, rb, dice), stats


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
    report: MatchReport


def match_uploads(
    uploads: Uploads,
    config: Config,
    *,
    one_to_one_mode: bool = False,
    progress: Progress | None = None,
) -> MatchResult:
    """Find, score and resolve candidate pairs: the whole decision, with no file written."""
    (ra, rb, dice), blocking = find_candidates(uploads, config, one_to_one_mode, progress)
    scores, model, scorer = score_candidates(uploads, config, ra, rb, dice)
    return resolve_candidates(
        uploads,
        config,
        (ra, rb, scores),
        blocking,
        model,
        one_to_one_mode=one_to_one_mode,
        progress=progress,
        estimate=True,
        scorer=scorer,
    )


def score_candidates(
    uploads: Uploads,
    config: Config,
    ra: npt.NDArray[np.int64],
    rb: npt.NDArray[np.int64],
    dice: npt.NDArray[np.float64],
    *,
    population: Population | None = None,
    model: WeightModel | None = None,
    searched: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.float64], dict[str, object], PairScorer | None]:
    """The candidates' scores as the config asks (record Dice, mean field Dice, or match
    probability), the weight model as the summary reports it, and (with weights) a scorer
    for further pairs under the same model.

    With weights, ``population`` gives the statistics of a larger whole ``uploads`` belongs
    to, and ``model`` a model estimated before, used as it is (a by-name list scores a
    month's pairs with one model). ``searched`` marks the records whose every candidate is
    among the pairs (a by-name list's fresh records; default: all), from which the prior is
    fitted."""
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


def resolve_candidates(
    uploads: Uploads,
    config: Config,
    pairs: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]],
    blocking: dict[str, object],
    model: dict[str, object],
    *,
    one_to_one_mode: bool = False,
    progress: Progress | None = None,
    groups: npt.NDArray[np.int64] | None = None,
    never: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None,
    estimate: bool = False,
    scorer: Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], npt.NDArray[np.float64]]
    | None = None,
) -> MatchResult:
    """Scored pairs -> entities, review pairs and the run's report.

    ``groups`` and ``never`` (cluster mode only) carry what a by-name list already knows:
    records linked before, which stay together, and pairs a clerk ruled apart. ``estimate``
    (cluster mode, scores that are match probabilities) adds the people estimate to the
    report. ``scorer`` (cluster mode, match probabilities) scores the pairs inside the
    components of strong pairs that blocking never reached, before the merges weigh them."""
    if one_to_one_mode and (groups is not None or never is not None):
        raise ValueError("starting groups and never pairs apply to cluster mode only")
    th, settings = config.thresholds, config.match
    ra, rb, scores = pairs
    report = MatchReport(
        mode="one-to-one" if one_to_one_mode else "cluster",
        records={
            a: int(np.count_nonzero(uploads.party == i)) for i, a in enumerate(uploads.agencies)
        },
        candidates=len(ra),
        blocking=blocking,
        model=model,
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


#: What ``linkage match`` writes into its output folder.
OUTPUT_FILES = ("entities.csv", "review.csv", "summary.json")


def run_match(
    paths: Sequence[Path],
    out_dir: Path,
    *,
    config_path: Path | None = None,
    one_to_one_mode: bool = False,
    progress: Progress | None = None,
) -> MatchReport:
    """Link and deduplicate the uploads in ``paths``; write the results into ``out_dir``."""
    started = time.perf_counter()
    if one_to_one_mode and len(paths) != 2:
        raise InputError(
            f"--one-to-one links exactly two files; {len(paths)} were given",
            "drop --one-to-one to link and deduplicate any number of agencies",
        )
    if progress:
        progress(f"reading {len(paths)} upload(s)")
    uploads, files = load_uploads(paths)
    config = config_for(files, config_path)
    result = match_uploads(uploads, config, one_to_one_mode=one_to_one_mode, progress=progress)
    report = result.report
    out_dir.mkdir(parents=True, exist_ok=True)
    entities, review, summary = (out_dir / name for name in OUTPUT_FILES)
    _write_entities(entities, uploads, result.labels)
    _write_review(review, uploads, result)
    report.seconds = round(time.perf_counter() - started, 3)
    with atomic_write(summary) as fh:
        fh.write(json.dumps(asdict(report), indent=2).encode() + b"\n")
    return report


def _estimate_lines(report: MatchReport) -> list[str]:
    guess = report.people_estimate
    if guess is None:
        return []
    return [
        f"  people: {guess['estimate']:,.0f} estimated from the match probabilities, "
        f"{guess['level']:.0%} interval {guess['low']:,.0f} to {guess['high']:,.0f} "
        f"(the {report.entities:,} entities are the best single answer)"
    ]


def _entity_counts(
    report: MatchReport, labels: npt.NDArray[np.int64], party: npt.NDArray[np.int32]
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


def entity_ids(labels: npt.NDArray[np.int64]) -> list[str]:
    """``E`` and a zero-padded number: sortable, and meaningless outside this run."""
    width = max(6, len(str(int(labels.max()) + 1))) if len(labels) else 6
    return [f"E{label + 1:0{width}d}" for label in labels.tolist()]


def _write_entities(path: Path, uploads: Uploads, labels: npt.NDArray[np.int64]) -> None:
    with atomic_write(path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        w = csv.writer(text, lineterminator="\n")
        w.writerow(["agency", "record_id", "entity_id"])
        w.writerows(
            (agency, rid, entity)
            for (agency, rid), entity in zip(uploads.records(), entity_ids(labels), strict=True)
        )
        text.flush()
        text.detach()


def _write_review(path: Path, uploads: Uploads, result: MatchResult) -> None:
    ra, rb, scores = result.rows_a, result.rows_b, result.scores
    with atomic_write(path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        w = csv.writer(text, lineterminator="\n")
        w.writerow(["agency_a", "record_id_a", "agency_b", "record_id_b", "score", "reason"])
        for p, reason in zip(result.review.tolist(), result.review_reasons, strict=True):
            i, j = int(ra[p]), int(rb[p])
            w.writerow(
                [
                    uploads.agencies[uploads.party[i]],
                    uploads.ids[i],
                    uploads.agencies[uploads.party[j]],
                    uploads.ids[j],
                    f"{scores[p]:.4f}",
                    reason,
                ]
            )
        text.flush()
        text.detach()


def summary_lines(report: MatchReport, output: Path) -> list[str]:
    """The one-screen summary of a match run."""
    total = sum(report.records.values())
    lines = [
        f"matched {total:,} records from {len(report.records)} agencies "
        f"({report.mode} mode) in {report.seconds:.1f}s",
        "  records: " + ", ".join(f"{a} {n:,}" for a, n in report.records.items()),
        f"  candidates: {report.candidates:,} pairs by {report.blocking['method']}"
        + (
            f" ({report.blocking['key_candidates']:,} of them through a specific blocking key "
            "alone)"
            if report.blocking.get("key_candidates")
            else ""
        ),
        f"  entities: {report.entities:,} ({report.multi_record_entities:,} with several records, "
        f"{report.cross_agency_entities:,} seen by several agencies, "
        f"{report.within_agency_duplicates:,} duplicate records within an agency)",
        *_estimate_lines(report),
        f"  links: {report.links:,} automatic; {report.review:,} pairs to review",
    ]
    if "reduction_ratio" in report.blocking:
        lines.append(
            f"  blocking: {report.blocking['comparisons']:,} comparisons, "
            f"reduction ratio {report.blocking['reduction_ratio']:.6f}"
        )
    if report.refused:
        why = ", ".join(f"{n} {r}" for r, n in sorted(report.refused.items()))
        lines.append(f"  merges refused (sent to review): {why}")
    lines.extend(f"warning: {w}" for w in report.warnings)
    lines.append(f"wrote {output / 'entities.csv'}, {output / 'review.csv'}, summary.json")
    return lines
