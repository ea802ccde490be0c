"""Blocking benchmark: deduplicate a large synthetic network with keys and with LSH.

    python benchmarks/bench_blocking.py --records 1000000
    python benchmarks/bench_blocking.py --records 200000 --methods keys lsh all

Each method runs in its own process so that its peak memory (max RSS) is its own. Pair
completeness is measured against ground truth and reported as a ratio to all-pairs
comparison's: a true pair counts for all-pairs when its record-level Dice reaches the
candidate threshold (what all-pairs would have found, computed on the true pairs alone, so
5e11 comparisons are never needed), and for blocking when blocking found it. Encodings are
cached between runs under the temp folder.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from linkage.agency.encoding.keys import generate_secret
from linkage.agency.encoding.pipeline import encode_file
from linkage.formats.config import builtin_config_path, load_config
from linkage.research.evaluation.metrics import pairwise_quality
from linkage.research.synthetic.exports import truth_labels, write_network

AGENCIES = 3
COVERAGE = 0.5


def encoded_network(records: int, seed: int) -> Path:
    """A folder with agency_K.clk uploads and truth.csv, about ``records`` records in all,
    cached under the config's fingerprint (a new hmis means new encodings)."""
    config = load_config(builtin_config_path("hmis"))
    name = f"linkage-bench-blocking-{records}-{seed}-{config.fingerprint[:12]}"
    folder = Path(tempfile.gettempdir()) / name
    done = folder / "done"
    if not done.exists():
        people = int(records / (AGENCIES * COVERAGE * 1.05)) + 1
        clients = write_network(
            folder / "exports", people=people, agencies=AGENCIES, seed=seed, coverage=COVERAGE
        )
        secret = generate_secret()
        for path in clients:
            out = folder / f"{path.parent.name}.clk"
            encode_file(config, secret, path, out, path.parent.name, workers=2)
        done.write_text("ok\n")
    return folder


def run_one(folder: Path, method: str) -> dict[str, object]:
    """One method, in this process: time, memory, pair completeness."""
    import dataclasses

    from linkage.matching import Linker, load_uploads
    from linkage.matching.candidates.pairs import pair_dice

    base = load_config(builtin_config_path("hmis"))
    config = dataclasses.replace(base, match=dataclasses.replace(base.match, blocking=method))
    paths = sorted(folder.glob("agency_*.clk"))
    started = time.perf_counter()
    uploads, _ = load_uploads(paths)
    loaded = time.perf_counter()
    result = Linker(config).link(uploads)
    finished = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    records = zip((uploads.agencies[p] for p in uploads.party.tolist()), uploads.ids, strict=True)
    person = truth_labels(folder / "exports" / "truth.csv", records)
    order = np.argsort(person, kind="stable")  # rows of one person together, ascending
    groups = np.split(order, np.flatnonzero(np.diff(person[order])) + 1)
    pairs = np.array(
        [(a, b) for rows in groups for i, a in enumerate(rows.tolist()) for b in rows[i + 1 :]],
        np.int64,
    ).reshape(-1, 2)
    n = len(uploads.ids)
    quality = pairwise_quality(result.labels, person)
    reachable = pair_dice(uploads.clks, uploads.clks, pairs[:, 0], pairs[:, 1]) >= (
        config.thresholds.candidate
    )
    found_keys = np.isin(pairs[:, 0] * n + pairs[:, 1], result.rows_a * n + result.rows_b)
    return {
        "method": method,
        "records": n,
        "seconds_match": round(finished - loaded, 1),
        "seconds_total": round(finished - started, 1),
        "peak_mib": round(peak),
        "true_pairs": len(pairs),
        "pc_all_pairs": round(float(reachable.mean()), 4),
        "pc_blocked": round(float((found_keys & reachable).mean()), 4),
        "pc_ratio": round(float((found_keys & reachable).sum() / max(reachable.sum(), 1)), 4),
        "blocking": result.report.blocking,
        "entities": result.report.entities,
        "precision": round(quality.precision, 4),
        "recall": round(quality.recall, 4),
        "count_error": round(quality.count_error, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--methods", nargs="+", default=["keys", "lsh"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one method here
    args = parser.parse_args()
    folder = encoded_network(args.records, args.seed)
    if args.one:
        print(json.dumps(run_one(folder, args.one)))
        return
    print(f"network: {folder}")
    for method in args.methods:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--records",
                str(args.records),
                "--seed",
                str(args.seed),
                "--one",
                method,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        b = r["blocking"]
        print(
            f"{method:5s} {r['records']:,} records: match {r['seconds_match']}s "
            f"(with reading {r['seconds_total']}s), peak {r['peak_mib']} MiB, "
            f"PC {r['pc_blocked']:.4f} vs all-pairs {r['pc_all_pairs']:.4f} "
            f"-> ratio {r['pc_ratio']:.4f}; comparisons {b.get('comparisons', 0):,}, "
            f"RR {b.get('reduction_ratio', 0)}, oversized blocks {b.get('oversized_blocks', 0)}; "
            f"precision {r['precision']}, recall {r['recall']}, count error {r['count_error']:+.2%}"
        )


if __name__ == "__main__":
    main()
