"""One evaluation run: encode a labelled data set as agencies would, link it as the coordinator
would, and measure the result against what is known of the truth.

Everything a report shows is computed here and returned as plain data (numbers, lists,
dicts), so that the JSON file and the HTML page say the same thing.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from linkage.agency.encoding.keys import generate_secret
from linkage.agency.encoding.pipeline import encode_file
from linkage.errors import InputError
from linkage.formats.config import Config, load_config
from linkage.matching import Linker, MatchResult, Uploads, load_uploads
from linkage.progress import Progress
from linkage.research.datasets import Dataset
from linkage.research.evaluation.metrics import (
    bcubed,
    pairwise_quality,
    true_pair_count,
    wilson,
)

#: Thresholds of the sweep (match probability, or Dice for record/field scores).
SWEEP = tuple(round(0.05 * k, 2) for k in range(1, 20))
#: Bins of the score histograms.
HISTOGRAM_BINS = 50


@dataclass(frozen=True)
class Linked:
    """A method's scored candidate pairs (what the sweep and the histograms read)."""

    rows_a: npt.NDArray[np.int64]
    rows_b: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float64]


def resolve(
    n: int,
    rows_a: npt.NDArray[np.int64],
    rows_b: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    config: Config,
    upper: float,
    two_files: bool,
) -> npt.NDArray[np.int64]:
    """Entities from scored pairs with the matcher's own resolution step, at ``upper``."""
    return Linker(config, two_files).labels_at(n, rows_a, rows_b, scores, upper)


def quality_dict(labels: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> dict[str, Any]:
    """Pairwise and B-cubed quality and the unduplicated count of ``labels`` against
    ``truth``, as the report shows them."""
    q = pairwise_quality(labels, truth)
    b = bcubed(labels, truth)
    return {
        "precision": q.precision,
        "recall": q.recall,
        "f1": q.f1,
        "bcubed_precision": b.precision,
        "bcubed_recall": b.recall,
        "bcubed_f1": b.f1,
        "entities": q.entities,
        "true_entities": q.true_entities,
        "count_error": q.count_error,
        "found_pairs": q.found_pairs,
        "true_pairs": q.true_pairs,
    }


def sweep(
    linked: Linked,
    truth: npt.NDArray[np.int64],
    config: Config,
    two_files: bool,
    all_true: int,
) -> dict[str, Any]:
    """Quality at each threshold of :data:`SWEEP`: once as pairs (how many candidate pairs at
    or above the threshold are true, and how many true pairs they find), once after resolution
    into entities (what setting ``upper`` to that value would give). ``all_true`` is the number
    of true pairs the mode can find (:func:`true_pair_count`)."""
    n = len(truth)
    same = truth[linked.rows_a] == truth[linked.rows_b]
    rows = []
    for t in SWEEP:
        above = linked.scores >= t
        tp = int(np.count_nonzero(above & same))
        found = int(np.count_nonzero(above))
        labels = resolve(n, linked.rows_a, linked.rows_b, linked.scores, config, t, two_files)
        q = pairwise_quality(labels, truth)
        rows.append(
            {
                "threshold": t,
                "pair_precision": tp / found if found else 1.0,
                "pair_recall": tp / all_true if all_true else 1.0,
                "precision": q.precision,
                "recall": q.recall,
                "f1": q.f1,
                "count_error": q.count_error,
            }
        )
    return {"rows": rows}


def histograms(linked: Linked, truth: npt.NDArray[np.int64]) -> dict[str, Any]:
    """Score histograms of candidate pairs, true matches and non-matches apart."""
    same = truth[linked.rows_a] == truth[linked.rows_b]
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    scores = np.clip(linked.scores, 0.0, 1.0)
    return {
        "edges": edges.round(4).tolist(),
        "matches": np.histogram(scores[same], edges)[0].tolist(),
        "non_matches": np.histogram(scores[~same], edges)[0].tolist(),
    }


#: Bins of the calibration chart: tenths of probability.
CALIBRATION_BINS = 10


def calibration(scores: npt.NDArray[np.float64], same: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """Per tenth of match probability: how many candidates scored there, their mean
    probability and the share that are truly one person. Calibrated, the two agree."""
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    which = np.clip(np.digitize(scores, edges) - 1, 0, CALIBRATION_BINS - 1)
    pairs = np.bincount(which, minlength=CALIBRATION_BINS)
    total = np.bincount(which, weights=scores, minlength=CALIBRATION_BINS).astype(np.float64)
    true = np.bincount(which, weights=same.astype(np.float64), minlength=CALIBRATION_BINS)

    def share(x: npt.NDArray[np.float64]) -> list[float | None]:  # None: no pair in the bin
        return [float(v) / k if k else None for v, k in zip(x, pairs.tolist(), strict=True)]

    return {
        "edges": edges.tolist(),
        "pairs": pairs.tolist(),
        "mean_probability": share(total),
        "true_share": share(true.astype(np.float64)),
    }


def cluster_sizes(labels: npt.NDArray[np.int64]) -> dict[str, int]:
    """How many entities hold 1, 2, 3... records."""
    if not len(labels):
        return {}
    sizes, counts = np.unique(np.bincount(labels), return_counts=True)
    return {str(int(s)): int(c) for s, c in zip(sizes, counts, strict=True) if s > 0}


def _entity_pairs(
    labels: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every record pair inside an entity (entities are capped in size, so this stays small)."""
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    a: list[npt.NDArray[np.int64]] = []
    b: list[npt.NDArray[np.int64]] = []
    for group in np.split(order, bounds):
        if len(group) > 1:
            i, j = np.triu_indices(len(group), 1)
            a.append(group[i])
            b.append(group[j])
    if not a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(a), np.concatenate(b)


def sampled_estimates(
    labels: npt.NDArray[np.int64], truth: npt.NDArray[np.int64], size: int, seed: int
) -> dict[str, Any]:
    """What a clerical sample of ``size`` linked pairs and ``size`` true pairs would estimate,
    with 95% Wilson intervals: precision from the linked pairs a reviewer confirms, recall from
    the true pairs the linkage found. Beside the full-truth figures it shows how far a sample
    of that size can be trusted."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"sample_size": size}
    linked_a, linked_b = _entity_pairs(labels)
    true_a, true_b = _entity_pairs(truth)
    for name, (a, b), hit in (
        ("precision", (linked_a, linked_b), truth),
        ("recall", (true_a, true_b), labels),
    ):
        k = min(size, len(a))
        pick = rng.choice(len(a), size=k, replace=False) if k else np.zeros(0, np.int64)
        good = int(np.count_nonzero(hit[a[pick]] == hit[b[pick]]))
        low, high = wilson(good, k)
        out[name] = {"estimate": good / k if k else None, "low": low, "high": high, "pairs": k}
    return out


def labelled_estimates(
    labels: npt.NDArray[np.int64],
    index: dict[tuple[str, str], int],
    path: Path,
) -> dict[str, Any]:
    """Precision and recall from a file of hand-labelled pairs (``agency_a, record_a,
    agency_b, record_b, match`` with match 1 or 0), with 95% Wilson intervals. Estimates are
    unbiased only if the pairs were drawn at random (docs/evaluation.md)."""
    # a labelled match that was linked counts for precision and for recall alike
    linked_true = linked_all = true_all = rows = 0
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"agency_a", "record_a", "agency_b", "record_b", "match"}
        if not need <= set(reader.fieldnames or ()):
            raise InputError(
                f"{path}: a labels file needs the columns {', '.join(sorted(need))}",
                "one row per reviewed pair, match 1 (same person) or 0",
            )
        for line, row in enumerate(reader, start=2):
            try:
                a = index[(row["agency_a"], row["record_a"])]
                b = index[(row["agency_b"], row["record_b"])]
            except KeyError:
                raise InputError(
                    f"{path}:{line}: the pair names a record that is not in the data set",
                    "check agency names and record ids against the uploads",
                ) from None
            if row["match"] not in ("0", "1"):
                raise InputError(f"{path}:{line}: column match must be 1 or 0")
            is_match, linked = row["match"] == "1", labels[a] == labels[b]
            rows += 1
            linked_all += int(linked)
            linked_true += int(linked and is_match)
            true_all += int(is_match)
    p_low, p_high = wilson(linked_true, linked_all)
    r_low, r_high = wilson(linked_true, true_all)
    return {
        "labelled_pairs": rows,
        "precision": {
            "estimate": linked_true / linked_all if linked_all else None,
            "low": p_low,
            "high": p_high,
            "pairs": linked_all,
        },
        "recall": {
            "estimate": linked_true / true_all if true_all else None,
            "low": r_low,
            "high": r_high,
            "pairs": true_all,
        },
    }


def encode_dataset(dataset: Dataset, config: Config, folder: Path, secret: bytes) -> list[Path]:
    """Encode every source as its agency would (``linkage encode``); return the uploads."""
    folder.mkdir(parents=True, exist_ok=True)
    uploads = []
    for agency, path in dataset.sources:
        target = folder / f"{agency}.clk"
        encode_file(config, secret, path, target, agency)
        uploads.append(target)
    return uploads


def truth_for(dataset: Dataset, uploads: Uploads) -> npt.NDArray[np.int64]:
    """The true person of each upload row, as labels 0..k-1."""
    people = [dataset.person(agency, rid) for agency, rid in uploads.records()]
    return np.unique(people, return_inverse=True)[1].astype(np.int64)


def link_encoded(
    dataset: Dataset, config: Config, work: Path, two_files: bool, secret: bytes | None = None
) -> tuple[Uploads, MatchResult, float]:
    """Encode and match; return the uploads, the match result and the seconds it took."""
    started = time.perf_counter()
    paths = encode_dataset(dataset, config, work / "uploads", secret or generate_secret())
    uploads, _ = load_uploads(paths)
    result = Linker(config, two_files).link(uploads)
    return uploads, result, time.perf_counter() - started


def evaluate(
    dataset: Dataset,
    work: Path,
    *,
    config_path: Path | None = None,
    one_to_one_mode: bool | None = None,
    baseline: bool = True,
    sample: int = 0,
    labels_path: Path | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the whole evaluation; return the report's data."""
    config = load_config(config_path or dataset.config)
    two_files = dataset.two_files if one_to_one_mode is None else one_to_one_mode
    if two_files and len(dataset.sources) != 2:
        raise InputError("one-to-one evaluation needs exactly two sources")
    say = progress or (lambda _: None)
    say(f"encoding and linking {dataset.name} with config {config.name}")
    uploads, result, seconds = link_encoded(dataset, config, work, two_files)
    n = len(uploads.ids)
    report: dict[str, Any] = {
        "dataset": dataset.name,
        "config": {
            "name": config.name,
            "fingerprint": config.fingerprint,
            "source": str(config.source),
        },
        "mode": "one-to-one" if two_files else "cluster",
        "records": n,
        "agencies": list(uploads.agencies),
        "thresholds": {"upper": config.thresholds.upper, "lower": config.thresholds.lower},
        "seconds": {"encode_and_match": round(seconds, 2)},
        "match": {"candidates": len(result.rows_a), "review": result.report.review},
    }
    linked = Linked(result.rows_a, result.rows_b, result.scores)
    report["cluster_sizes"] = {"found": cluster_sizes(result.labels)}
    if labels_path is not None:
        index = {record: i for i, record in enumerate(uploads.records())}
        report["labelled"] = labelled_estimates(result.labels, index, labels_path)
    if dataset.truth is None:
        return report
    truth = truth_for(dataset, uploads)
    party = uploads.party if two_files else None
    report["linkage"] = quality_dict(result.labels, truth)
    report["cluster_sizes"]["true"] = cluster_sizes(truth)
    same = truth[result.rows_a] == truth[result.rows_b]
    all_true = true_pair_count(truth, party)
    comparisons = int(str(result.report.blocking.get("comparisons", 0)))
    all_pairs = _all_pairs(uploads, two_files)
    report["blocking"] = {
        "method": result.report.blocking.get("method"),
        "comparisons": comparisons,
        "candidates": len(result.rows_a),
        "pair_completeness": int(np.count_nonzero(same)) / all_true if all_true else 1.0,
        "reduction_ratio": 1.0 - comparisons / all_pairs if all_pairs else 0.0,
    }
    say("sweeping thresholds")
    report["sweep"] = sweep(linked, truth, config, two_files, all_true)
    report["histogram"] = histograms(linked, truth)
    if config.match.score == "weights":
        report["calibration"] = calibration(linked.scores, same)
    guess = result.report.people_estimate
    if guess is not None:
        people = report["linkage"]["true_entities"]
        report["people_estimate"] = {
            **guess,
            "true": people,
            "error": guess["estimate"] / people - 1 if people else 0.0,
            "holds": guess["low"] <= people <= guess["high"],
        }
    if sample:
        report["sampled"] = sampled_estimates(result.labels, truth, sample, seed)
    if baseline:
        say("linking the plaintext with recordlinkage (baseline)")
        report["baseline"] = plaintext_baseline(dataset, uploads, truth, config, two_files, seed)
    return report


def _all_pairs(uploads: Uploads, two_files: bool) -> int:
    n = len(uploads.ids)
    if two_files:
        first = int(np.count_nonzero(uploads.party == 0))
        return first * (n - first)
    return n * (n - 1) // 2


def plaintext_baseline(
    dataset: Dataset,
    uploads: Uploads,
    truth: npt.NDArray[np.int64],
    config: Config,
    two_files: bool,
    seed: int,
) -> dict[str, Any]:
    """The recordlinkage baseline on the same records, resolved the same way."""
    from linkage.research.evaluation.baseline import link_plaintext, plaintext_frame

    frame, agencies = plaintext_frame(dataset)
    order = {(a, r): i for i, (a, r) in enumerate(zip(agencies, frame["record_id"], strict=True))}
    # the baseline's rows follow the CSV files; map them onto the uploads' rows
    to_upload = np.empty(len(order), np.int64)
    for i, record in enumerate(uploads.records()):
        to_upload[order[record]] = i
    party = uploads.party[to_upload] if two_files else None
    pairs = link_plaintext(frame, truth[to_upload], party, seed=seed)
    a, b = to_upload[pairs.rows_a], to_upload[pairs.rows_b]
    n = len(truth)
    out: dict[str, Any] = {
        "method": "recordlinkage: blocking on surname soundex, birth date and first name; "
        "Jaro-Winkler and exact comparisons; logistic regression on "
        f"{pairs.labelled:,} labelled candidate pairs",
        "comparisons": pairs.comparisons,
        "seconds": round(pairs.seconds, 2),
    }
    labels = resolve(n, a, b, pairs.probability, config, 0.5, two_files)
    out["linkage"] = quality_dict(labels, truth)
    rule = resolve(n, a, b, pairs.rule.astype(np.float64), config, 0.5, two_files)
    out["two_of_three"] = quality_dict(rule, truth)
    return out
