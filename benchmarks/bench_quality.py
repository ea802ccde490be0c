"""Match quality side by side: linkage, plaintext Splink, and clkhash + anonlink, one run.

    pip install -e '.[bench]'     # Splink, clkhash, anonlink: a venv of their own
    python benchmarks/bench_quality.py --people 20000 --agencies 3 --noise 1 --seed 7

On one ``linkage synth`` network, each system deduplicates every agency's records at once:

- **linkage**: each agency's export encoded with the default config (as agencies do), then
  linked as ``linkage match`` links it;
- **Splink** (plaintext, DuckDB, the model a plaintext user would build): forename-surname,
  date of birth and SSN comparisons, the prior from exact matches, u by random sampling, m
  by expectation maximisation on two blocking rules, clusters at match probability 0.5;
- **clkhash + anonlink**: clkhash's record-level filters of the same fields, every pair of
  the union compared by anonlink's Dice, connected components at the threshold that gives
  anonlink its best F1 (flattering the peer).

It prints pairwise precision, recall and F1, the count error (entities against true
people), the error of linkage's people estimate (summary.json's) and seconds for each. A
system that is not installed is left out with a line saying so. The networks of this script
are the project's own generator; the steering side checks results on data from generators
we do not have, so nothing should be tuned to this output.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _network import encoded_network

from linkage.formats.config import builtin_config_path, load_config
from linkage.matching import Linker, load_uploads

Record = tuple[str, str]  # (agency, record id)
#: anonlink compares every pair of the union, this many records against the rest at a time,
#: keeping pairs at this Dice or more (its best threshold has been well above it)
_ANONLINK_CHUNK = 4000
_ANONLINK_FLOOR = 0.70


@dataclass(frozen=True)
class Result:
    system: str
    labels: dict[Record, object]
    seconds: float
    note: str = ""
    estimate: float | None = None  # the people estimate, where the system gives one


def ours(paths: list[Path]) -> Result:
    config = load_config(builtin_config_path("hmis"))
    started = time.perf_counter()
    uploads, _ = load_uploads(paths)
    result = Linker(config).link(uploads)
    took = time.perf_counter() - started
    labels = dict(zip(uploads.records(), result.labels.tolist(), strict=True))
    guess = result.report.people_estimate
    return Result("linkage (PPRL)", labels, took, estimate=guess["estimate"] if guess else None)


def _rows(clients: list[Path]) -> list[dict[str, str]]:
    out = []
    for client in clients:
        with open(client, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                out.append({**row, "agency": client.parent.name})
    return out


def splink(clients: list[Path]) -> Result | str:
    try:
        import pandas as pd
        import splink.comparison_library as cl
        from splink import Linker, SettingsCreator, block_on
        from splink.backends.duckdb import DuckDBAPI
    except ImportError:
        return "Splink: not installed (pip install -e '.[bench]')"

    def value(text: str, quality: str) -> str | None:
        return text.strip().lower() or None if quality in ("1", "2", "") else None

    frame = pd.DataFrame(
        {
            "unique_id": f"{r['agency']}|{r['PersonalID']}",
            "first_name": value(r["FirstName"], r["NameDataQuality"]),
            "surname": value(r["LastName"], r["NameDataQuality"]),
            "dob": value(r["DOB"], r["DOBDataQuality"]),
            "ssn": value(r["SSN"].replace("-", ""), r["SSNDataQuality"]),
        }
        for r in _rows(clients)
    )
    started = time.perf_counter()
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.ForenameSurnameComparison("first_name", "surname"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.LevenshteinAtThresholds("ssn", [1, 2]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("surname"),
            block_on("first_name"),
            block_on("dob"),
            block_on("ssn"),
        ],
    )
    linker = Linker(DuckDBAPI().register(frame), settings, log_level=None)
    # as Splink's tutorials train a model: the prior from exact matches, u by sampling
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob"), block_on("ssn", "dob")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("surname"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.5
    ).as_pandas_dataframe()
    took = time.perf_counter() - started
    labels: dict[Record, object] = {}
    for uid, cluster in zip(clusters["unique_id"], clusters["cluster_id"], strict=True):
        agency, record = str(uid).split("|", 1)
        labels[agency, record] = cluster
    return Result("Splink 5, plaintext, EM, p >= 0.5", labels, took)


def anonlink(clients: list[Path], truth: dict[Record, str]) -> Result | str:
    try:
        import anonlink as al
        from bench_encode import clkhash_schema
        from clkhash import clk
        from clkhash.schema import from_json_dict
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components
    except ImportError:
        return "clkhash + anonlink: not installed (pip install -e '.[bench]')"
    rows = _rows(clients)
    started = time.perf_counter()
    fields = [[r["FirstName"], r["LastName"], r["DOB"], r["SSN"], r["Man"]] for r in rows]
    filters = clk.generate_clks(fields, from_json_dict(clkhash_schema()), "secret", validate=False)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, len(filters), _ANONLINK_CHUNK):  # every pair, in bounded memory
        found = al.candidate_generation.find_candidate_pairs(
            [filters[start : start + _ANONLINK_CHUNK], filters[start:]],
            al.similarities.dice_coefficient_accelerated,
            _ANONLINK_FLOOR,
        )
        sims, _, (rows_a, rows_b) = found
        a = np.asarray(rows_a, np.int64) + start
        b = np.asarray(rows_b, np.int64) + start
        keep = a < b
        parts.append((np.asarray(sims)[keep], a[keep], b[keep]))
    scores, left, right = (np.concatenate([p[i] for p in parts]) for i in range(3))
    took = time.perf_counter() - started
    records = [(r["agency"], r["PersonalID"]) for r in rows]
    best: Result | None = None
    for threshold in np.arange(_ANONLINK_FLOOR, 0.96, 0.025):
        chosen = scores >= threshold
        graph = coo_matrix(
            (np.ones(int(chosen.sum())), (left[chosen], right[chosen])),
            shape=(len(rows), len(rows)),
        )
        _, components = connected_components(graph, directed=False)
        result = Result(
            f"clkhash + anonlink, components at {threshold:.3f}",
            dict(zip(records, components.tolist(), strict=True)),
            took,
        )
        if best is None or quality(result, truth)[2] > quality(best, truth)[2]:
            best = result
    assert best is not None
    return best


def _pairs(groups: Iterable[list[Record]]) -> set[tuple[Record, Record]]:
    out = set()
    for members in groups:
        members = sorted(members)
        out.update((a, b) for i, a in enumerate(members) for b in members[i + 1 :])
    return out


def quality(result: Result, truth: dict[Record, str]) -> tuple[float, float, float, float]:
    """Pairwise precision, recall, F1, and the count error (entities / people - 1)."""
    by_person: dict[str, list[Record]] = defaultdict(list)
    by_entity: dict[object, list[Record]] = defaultdict(list)
    for record, person in truth.items():
        by_person[person].append(record)
        by_entity[result.labels[record]].append(record)
    true, found = _pairs(by_person.values()), _pairs(by_entity.values())
    hit = len(true & found)
    precision = hit / len(found) if found else 1.0
    recall = hit / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, len(by_entity) / len(by_person) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20000)
    parser.add_argument("--agencies", type=int, default=3)
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = load_config(builtin_config_path("hmis"))
        network = encoded_network(folder, args.people, args.agencies, args.seed, args.noise, config)
        clients, truth = network.clients, network.truth
        results = [ours(network.uploads), splink(clients), anonlink(clients, truth)]
    print(
        f"{args.people:,} people, {args.agencies} agencies, {len(truth):,} records, "
        f"noise {args.noise}, seed {args.seed}"
    )
    print(
        f"  {'system':<44}{'precision':>10}{'recall':>8}{'F1':>8}{'count':>9}{'estimate':>10}"
        f"{'seconds':>9}"
    )
    people = len(set(truth.values()))
    for result in results:
        if isinstance(result, str):
            print(f"  {result}")
            continue
        precision, recall, f1, count = quality(result, truth)
        estimate = "—" if result.estimate is None else f"{result.estimate / people - 1:+.1%}"
        print(
            f"  {result.system:<44}{precision:>10.3f}{recall:>8.3f}{f1:>8.3f}"
            f"{count:>+9.1%}{estimate:>10}{result.seconds:>9.1f}"
        )


if __name__ == "__main__":
    main()
