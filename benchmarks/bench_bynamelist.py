"""By-name-list benchmark: a month's new records ingested into a large store, and its report.

    python benchmarks/bench_bynamelist.py --people 1000000 --new 50000
    python benchmarks/bench_bynamelist.py --people 100000 --new 50000 --db postgresql://...

The store is filled in a first month with three agencies' exports of a synthetic network
(each agency serves half the people: about 1.5 records a person), encoded with activity as
``linkage encode FOLDER/`` does. The second month brings ``--new`` records of a fourth agency
(half of them people already on the list). Printed: the time and peak memory of each ingest
and of the active count estimate that follows it (outside the ingest's transaction), and the
time of the second month's report, against the issue's bounds (60 s for the
month's ingest at a million people, 5 s for the report). Encodings are cached between runs
under the temp folder; the store is made afresh each run.
"""

from __future__ import annotations

import argparse
import csv
import resource
import shutil
import tempfile
import time
from pathlib import Path

from linkage.agency.encoding.keys import generate_secret
from linkage.agency.encoding.pipeline import encode_file
from linkage.agency.hmis.enrollments import activity_table
from linkage.bynamelist import build_report, create_store, estimate_month, ingest
from linkage.formats.config import builtin_config_path, load_config
from linkage.research.synthetic.exports import write_network

AGENCIES = 4
INGEST_BOUND_S = 60.0
REPORT_BOUND_S = 5.0


def uploads(people: int, new: int, seed: int) -> tuple[list[Path], Path]:
    """Month one's three uploads and month two's upload of ``new`` records (cached)."""
    folder = Path(tempfile.gettempdir()) / f"linkage-bench-bnl-{people}-{new}-{seed}"
    done = folder / "done"
    first = [folder / f"agency_{k}.clk" for k in range(1, AGENCIES)]
    second = folder / f"agency_{AGENCIES}.clk"
    if not done.exists():
        clients = write_network(folder / "exports", people, AGENCIES, seed, coverage=0.5)
        config = load_config(builtin_config_path("hmis"))
        secret = generate_secret()
        fresh = clients[-1].parent
        with open(fresh / "Client.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        with open(fresh / "Client.csv", "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows[: new + 1])  # the header and the first ``new``
        for path, out in zip(clients, [*first, second], strict=True):
            table, _ = activity_table(path.parent)
            encode_file(config, secret, path, out, path.parent.name, workers=2, activity=table)
        done.write_text("ok\n")
    return first, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--db", help="a PostgreSQL URL (default: a SQLite file in the temp folder)")
    args = parser.parse_args()
    started = time.perf_counter()
    first, second = uploads(args.people, args.new, args.seed)
    print(f"uploads ready in {time.perf_counter() - started:.0f}s")
    work = Path(tempfile.mkdtemp(prefix="linkage-bench-bnl-"))
    try:
        store = create_store(args.db or str(work / "list.db"), builtin_config_path("hmis"))
        for month, files in (("2026-09", first), ("2026-10", [second])):
            report = ingest(store, files, month)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{month}: ingested {sum(f['records'] for f in report.files):,} records "
                f"({report.records:,} in the store, {report.people:,} people) in "
                f"{report.seconds:.1f}s; peak memory so far {peak:,.0f} MB"
            )
            started = time.perf_counter()
            guess = estimate_month(store, month)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            said = "none" if guess is None else f"{guess.estimate:,.0f}"
            print(
                f"  its active count estimate ({said}), after the ingest's commit, in "
                f"{time.perf_counter() - started:.1f}s; peak memory so far {peak:,.0f} MB"
            )
        print(
            f"month's ingest / {INGEST_BOUND_S:.0f}s bound (set for 1,000,000 people): "
            f"{report.seconds / INGEST_BOUND_S:.2f}"
        )
        started = time.perf_counter()
        build_report(store, "2026-10")
        took = time.perf_counter() - started
        print(f"report in {took:.2f}s; report / bound: {took / REPORT_BOUND_S:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
