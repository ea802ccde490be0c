"""Where the true pairs go: each pair of records of one person, by what became of it.

    python benchmarks/bench_pair_fates.py --people 8000 --agencies 5 --seed 3

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
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from linkage.config import builtin_config_path, load_config
from linkage.encoding.keys import generate_secret
from linkage.encoding.pipeline import encode_file
from linkage.evaluate.synth import write_network
from linkage.match import find_candidates, load_uploads, resolve_candidates, score_candidates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=8000)
    parser.add_argument("--agencies", type=int, default=5)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--noise", type=float, default=1.0)
    args = parser.parse_args()
    config = load_config(builtin_config_path("hmis"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clients = write_network(
            folder / "net", args.people, args.agencies, args.seed, noise=args.noise
        )
        secret = generate_secret()
        paths = []
        for client in clients:
            paths.append(folder / f"{client.parent.name}.clk")
            encode_file(config, secret, client, paths[-1], client.parent.name, workers=2)
        with open(folder / "net" / "truth.csv", newline="") as fh:
            truth = {(r["agency"], r["record_id"]): r["person_id"] for r in csv.DictReader(fh)}
        started = time.perf_counter()
        uploads, _ = load_uploads(paths)
        (ra, rb, dice), blocking = find_candidates(uploads, config, False)
        scores, model, _ = score_candidates(uploads, config, ra, rb, dice)
        result = resolve_candidates(uploads, config, (ra, rb, scores), blocking, model)
        seconds = time.perf_counter() - started
    person = [truth[record] for record in uploads.records()]
    members: dict[str, list[int]] = defaultdict(list)
    for row, who in enumerate(person):
        members[who].append(row)
    true_pairs = _pairs(members.values())
    scored = {(int(a), int(b)): float(s) for a, b, s in zip(ra, rb, scores, strict=True)}
    upper, lower = config.thresholds.upper, config.thresholds.lower
    labels = result.labels
    fates: dict[str, int] = defaultdict(int)
    for a, b in true_pairs:
        if labels[a] == labels[b]:
            fates["linked"] += 1
        elif (a, b) not in scored:
            fates["never a candidate"] += 1
        elif scored[a, b] < lower:
            fates["scored below lower"] += 1
        elif scored[a, b] < upper:
            fates["in the review band"] += 1
        else:
            fates["above upper, split by clustering"] += 1
    linked_pairs = _linked_pairs(labels)
    found = len(linked_pairs & true_pairs)
    precision = found / len(linked_pairs) if linked_pairs else 1.0
    recall = found / len(true_pairs) if true_pairs else 1.0
    entities = len(np.unique(labels))
    print(
        f"{args.people:,} people, {args.agencies} agencies, {len(labels):,} records, "
        f"seed {args.seed}, noise {args.noise}; {len(true_pairs):,} true pairs; "
        f"linked in {seconds:.1f}s"
    )
    for fate in (
        "linked",
        "never a candidate",
        "scored below lower",
        "in the review band",
        "above upper, split by clustering",
    ):
        print(f"  {fate:<34} {fates[fate] / len(true_pairs):7.1%}  ({fates[fate]:,})")
    people = len(members)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(
        f"pairwise precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}; "
        f"{entities:,} entities for {people:,} people ({entities / people - 1:+.1%})"
    )


def _linked_pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for row, label in enumerate(labels.tolist()):
        groups[label].append(row)
    return _pairs(groups.values())


def _pairs(groups: Iterable[list[int]]) -> set[tuple[int, int]]:
    """Every pair of rows within each group, low row first."""
    return {(a, b) for rows in groups for i, a in enumerate(rows) for b in rows[i + 1 :]}


if __name__ == "__main__":
    main()
