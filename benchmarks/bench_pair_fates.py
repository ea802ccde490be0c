"""Where the true pairs go: each pair of records of one person, by what became of it.

    python benchmarks/bench_pair_fates.py --people 8000 --agencies 5 --seed 3
    python benchmarks/bench_pair_fates.py --config my-variant.toml   # an ablation

On a ``linkage synth`` network encoded with the default config and linked as ``linkage
match`` links it, every true pair (two records of one person, within or across agencies)
falls in one of:

- linked: its two records ended in one entity (directly or through others);
- never a candidate: no blocking key or Dice floor brought the pair up;
- scored below ``lower``;
- in the review band (``lower`` to ``upper``);
- scored at ``upper`` or more, yet split by the clustering (weak support, size cap).

It prints the shares with the run's pairwise precision, recall and count error: the
baseline that changes to candidates, comparisons and clustering are measured against.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from _network import encoded_network

from linkage.formats.config import load_config
from linkage.matching import Linker, load_uploads
from linkage.research.evaluation.fates import FATES, true_pair_fates
from linkage.research.evaluation.metrics import pairwise_quality


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=8000)
    parser.add_argument("--agencies", type=int, default=5)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument(
        "--config", default="hmis", help="a built-in config's name or a config file (ablations)"
    )
    args = parser.parse_args()
    config = load_config(args.config)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        network = encoded_network(folder, args.people, args.agencies, args.seed, args.noise, config)
        clients, paths, truth = network.clients, network.uploads, network.truth
        plain: dict[tuple[str, str], dict[str, str]] = {}
        for client in clients:  # synthetic rows, read only to say what the missed pairs differ in
            with open(client, newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    plain[client.parent.name, row["PersonalID"]] = row
        started = time.perf_counter()
        uploads, _ = load_uploads(paths)
        found = Linker(config).find(uploads)
        ra, rb = found.rows_a, found.rows_b
        scored = Linker(config).score(uploads, found)
        scores = scored.scores
        result = Linker(config).resolve(uploads, scored, estimate=True)
        seconds = time.perf_counter() - started
    rows = uploads.records()
    person = np.unique([truth[record] for record in rows], return_inverse=True)[1]
    labels = result.labels
    th = config.thresholds
    ta, tb, fate = true_pair_fates(labels, person, ra, rb, scores, th.upper, th.lower)
    counts = np.bincount(fate, minlength=len(FATES))
    kinds: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for a, b, f in zip(ta.tolist(), tb.tolist(), fate.tolist(), strict=True):
        if f:
            for kind in differences(plain[rows[a]], plain[rows[b]]):
                kinds[f][kind] += 1
    quality = pairwise_quality(labels, person)
    print(
        f"{args.people:,} people, {args.agencies} agencies, {len(labels):,} records, "
        f"seed {args.seed}, noise {args.noise}; {len(fate):,} true pairs; "
        f"linked in {seconds:.1f}s; {result.report.component_pairs:,} pairs scored inside "
        "components of strong pairs"
    )
    for f, name in enumerate(FATES):
        print(f"  {name:<34} {counts[f] / len(fate):7.1%}  ({counts[f]:,})")
    for f in (1, 2):  # never a candidate, below lower
        shown = sorted(kinds[f].items(), key=lambda kv: -kv[1])
        said = ", ".join(f"{k} {n / max(counts[f], 1):.0%}" for k, n in shown)
        print(f"  what the pairs {FATES[f]} differ in: {said}")
    people = quality.true_entities
    print(
        f"pairwise precision {quality.precision:.3f}, recall {quality.recall:.3f}, "
        f"F1 {quality.f1:.3f}; {quality.entities:,} entities for {people:,} people "
        f"({quality.count_error:+.1%})"
    )
    guess = result.report.people_estimate
    if guess is not None:
        print(
            f"people estimate {guess['estimate']:,.0f} ({guess['estimate'] / people - 1:+.1%}), "
            f"{guess['level']:.0%} interval {guess['low']:,.0f} to {guess['high']:,.0f}: "
            + ("holds" if guess["low"] <= people <= guess["high"] else "misses")
            + " the truth"
        )


def differences(x: dict[str, str], y: dict[str, str]) -> list[str]:
    """What two records of one person differ in, in the error model's terms (a pair may
    show several)."""
    first = (x["FirstName"].lower(), y["FirstName"].lower())
    last = (x["LastName"].lower(), y["LastName"].lower())
    out = []
    if first[0] == last[1] and last[0] == first[1] and first[0] != last[0]:
        out.append("names swapped")
    else:
        if first[0] != first[1]:
            out.append("first name")
        if last[0] != last[1]:
            out.append("last name")
    if "2" in (x["NameDataQuality"], y["NameDataQuality"]):
        out.append("alias or partial name")
    if x["DOB"] != y["DOB"]:
        dx, dy = x["DOB"].split("-"), y["DOB"].split("-")
        if len(dx) == len(dy) == 3 and dx[0] == dy[0] and dx[1:] == dy[:0:-1]:
            out.append("DOB day and month swapped")
        elif len(dx) == len(dy) == 3 and dx[1:] == dy[1:]:
            out.append("DOB year")
        else:
            out.append("DOB other")
    if not x["SSN"] or not y["SSN"]:
        out.append("SSN missing")
    elif x["SSN"] != y["SSN"]:
        out.append("SSN differs")
    return out or ["nothing visible"]


if __name__ == "__main__":
    main()
