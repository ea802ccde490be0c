"""Many agencies in one month: 400 uploads of about 250 records each, ingested at once.

    python benchmarks/bench_agencies.py
    python benchmarks/bench_agencies.py --agencies 400 --records 250

A city coordinates hundreds of organisations; each sends a small upload. The month's ingest must
not grow with the number of files beyond their records: this prints the time and peak memory of
ingesting every upload of one month into a new store, beside the same records sent as four
uploads (the ratio is what matters: the same records, many more files), and the time of the
month's report and of its overlap table by agency. Uploads are encoded from a synthetic network
with activity, as ``linkage encode FOLDER/`` does, and cached between runs under the temp
folder.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from linkage.agency.encoding.keys import generate_secret
from linkage.agency.encoding.pipeline import encode_file
from linkage.agency.hmis.enrollments import activity_table
from linkage.bynamelist import build_report, create_store, ingest
from linkage.bynamelist.groups import overlap
from linkage.formats.config import builtin_config_path, load_config
from linkage.formats.container import Block, ClkWriter, read_clk
from linkage.research.synthetic.exports import write_network

MONTH = "2026-10"
#: The records of the many uploads, sent again as this many.
FEW = 4
#: The share of the people an agency serves: each person is known to about two of 400.
COVERAGE = 0.005


def uploads(agencies: int, records: int, seed: int) -> tuple[list[Path], list[Path]]:
    """The many agencies' uploads (cached), and the same records as ``FEW`` uploads."""
    folder = Path(tempfile.gettempdir()) / f"linkage-bench-agencies-{agencies}-{records}-{seed}-2"
    many = [folder / f"agency_{k + 1}.clk" for k in range(agencies)]
    few = [folder / f"few_{k + 1}.clk" for k in range(FEW)]
    if not (folder / "done").exists():
        coverage = COVERAGE
        people = max(10, round(records / coverage / 1.05))
        clients = write_network(folder / "exports", people, agencies, seed, coverage=coverage)
        config = load_config(builtin_config_path("hmis"))
        secret = generate_secret()
        for path, out in zip(clients, many, strict=True):
            table, _ = activity_table(path.parent)
            encode_file(config, secret, path, out, path.parent.name, activity=table)
        files = [read_clk(p) for p in many]
        per = -(-len(files) // FEW)
        for k, out in enumerate(few):
            part = files[k * per : (k + 1) * per]
            header = replace(part[0].header, agency=f"few_{k + 1}")
            with ClkWriter(out, header) as writer:
                for data in part:
                    ids = [f"{data.header.agency}/{i}" for i in data.ids]
                    writer.write(Block(ids, data.sections))
        (folder / "done").write_text("ok\n")
    return many, few


def _ingest(paths: list[Path], label: str, folder: Path) -> float:
    store = create_store(str(folder / f"{label}.db"), builtin_config_path("hmis"))
    started = time.perf_counter()
    done = ingest(store, paths, MONTH)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{label}: {len(paths)} uploads, {done.records:,} records, {done.people:,} people "
        f"ingested in {seconds:.1f}s; peak memory so far {peak:,.0f} MB"
    )
    started = time.perf_counter()
    build_report(store, MONTH)
    print(f"  the month's report in {time.perf_counter() - started:.2f}s")
    started = time.perf_counter()
    table = overlap(store, "agency", MONTH)
    print(
        f"  the overlap table ({len(table.known)} agencies, {len(table.shared):,} pairs) in "
        f"{time.perf_counter() - started:.2f}s"
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agencies", type=int, default=400)
    parser.add_argument("--records", type=int, default=250, help="records an agency, about")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    many, few = uploads(args.agencies, args.records, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        slow = _ingest(many, f"{len(many)} agencies", Path(tmp))
        fast = _ingest(few, f"the same records as {FEW}", Path(tmp))
    print(f"{len(many)} uploads / {FEW} uploads of the same records: {slow / fast:.2f}x")


if __name__ == "__main__":
    main()
