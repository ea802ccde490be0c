"""Comparison-core benchmark: our Dice kernel against anonlink on the same filters, in one run.

    python benchmarks/bench_compare.py --size 20000
    python benchmarks/bench_compare.py --size 100000 --thresholds 0.7 0.8

Filters are real encodings (configs/hmis.toml) of a synthetic two-agency network, so popcounts
and similarities look like production data. Rates are all pairs (n x m) per second, pruned or
not, for both tools. anonlink is measured only when installed (``pip install anonlink``), and is
skipped at a threshold whose candidate count would not fit in memory (it holds every candidate).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from linkage.agency.encoding.keys import generate_secret
from linkage.agency.encoding.pipeline import encode_file
from linkage.formats.config import builtin_config_path, load_config
from linkage.formats.container import read_clk
from linkage.matching.candidates import dice_candidates
from linkage.research.synthetic.exports import write_network


def encoded_network(size: int, seed: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Two agencies' record-level filters, at least ``size`` each (cached between runs)."""
    folder = Path(tempfile.gettempdir()) / f"linkage-bench-compare-{size}-{seed}"
    outs = [folder / f"agency_{i}.clk" for i in (1, 2)]
    if not all(p.exists() for p in outs):
        people = int(size / 0.7 / 1.05) + 1
        clients = write_network(folder, people=people, agencies=2, seed=seed, coverage=0.72)
        config = load_config(builtin_config_path("hmis"))
        secret = generate_secret()
        for path, out in zip(clients, outs, strict=True):
            encode_file(config, secret, path, out, path.parent.name, workers=2)
    a, b = (read_clk(p).clks for p in outs)
    return a[:size], b[:size]


def time_ours(
    a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8], threshold: float, threads: int
) -> tuple[float, int]:
    dice_candidates(a[:64], b[:64], threshold, threads=threads)  # compile outside the clock
    start = time.perf_counter()
    rows, _, _ = dice_candidates(a, b, threshold, threads=threads)
    return time.perf_counter() - start, len(rows)


def time_anonlink(
    a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8], threshold: float
) -> tuple[float, int] | None:
    try:
        from anonlink.candidate_generation import find_candidate_pairs
        from anonlink.similarities import dice_coefficient_accelerated
        from bitarray import bitarray
    except ImportError:
        return None

    def bits(rows: npt.NDArray[np.uint8]) -> list[bitarray]:
        out = []
        for row in rows:
            ba = bitarray(endian="big")
            ba.frombytes(row.tobytes())
            out.append(ba)
        return out

    data = [bits(a), bits(b)]
    start = time.perf_counter()
    scores, _, _ = find_candidate_pairs(data, dice_coefficient_accelerated, threshold)
    return time.perf_counter() - start, len(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000, help="records on each side")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.7, 0.8])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--anonlink-max",
        type=int,
        default=30_000_000,
        help="skip anonlink above this many candidates (memory)",
    )
    args = parser.parse_args()
    a, b = encoded_network(args.size, args.seed)
    pairs = len(a) * len(b)
    print(f"{len(a)} x {len(b)} filters of {a.shape[1] * 8} bits ({pairs:.2e} pairs)")
    for threshold in args.thresholds:
        t1, n1 = time_ours(a, b, threshold, threads=1)
        t2, n2 = time_ours(a, b, threshold, threads=2)
        assert n1 == n2
        print(f"threshold {threshold}: {n1:,} candidates")
        print(f"  linkage 1 thread:  {pairs / t1:.2e} pairs/s")
        print(f"  linkage 2 threads: {pairs / t2:.2e} pairs/s  ({t1 / t2:.2f}x one thread)")
        if n1 > args.anonlink_max:
            print(f"  anonlink: skipped ({n1:,} candidates, over --anonlink-max)")
            continue
        result = time_anonlink(a, b, threshold)
        if result is None:
            print("  anonlink: not installed (pip install anonlink) - no ratio")
            continue
        ta, na = result
        agree = "same candidate count" if na == n1 else f"DIFFERENT count: {na:,}"
        print(f"  anonlink 1 thread: {pairs / ta:.2e} pairs/s  ({agree})")
        print(f"  linkage / anonlink: {ta / t1:.2f}x on 1 thread, {ta / t2:.2f}x on 2 threads")


if __name__ == "__main__":
    main()
