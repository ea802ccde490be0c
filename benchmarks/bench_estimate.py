"""The people estimate against the truth over many seeds: its error and how often its 90%
interval holds the true number of people.

    python benchmarks/bench_estimate.py --people 8000 --agencies 5 --seeds 10

Each seed is a fresh ``linkage synth`` network encoded with the default config under a fresh
secret and linked as ``linkage match`` links it. Printed per seed: the entities decided, the
estimate and its interval, the true number of people; then the mean errors and the interval's
coverage (the goal: within 1%, and holding the truth in at least 9 of 10 seeds).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _network import encoded_network

from linkage.formats.config import builtin_config_path, load_config
from linkage.matching import Linker, load_uploads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=8000)
    parser.add_argument("--agencies", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--noise", type=float, default=1.0)
    args = parser.parse_args()
    config = load_config(builtin_config_path("hmis"))
    held, count_errors, estimate_errors = 0, [], []
    print(f"{args.people:,} people, {args.agencies} agencies, noise {args.noise}")
    for seed in range(1, args.seeds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            network = encoded_network(folder, args.people, args.agencies, seed, args.noise, config)
            uploads, _ = load_uploads(network.uploads)
            truth = network.truth
            result = Linker(config).link(uploads)
        people = len({truth[record] for record in uploads.records()})
        guess = result.report.people_estimate
        assert guess is not None
        inside = guess["low"] <= people <= guess["high"]
        held += inside
        count_errors.append(result.report.entities / people - 1)
        estimate_errors.append(guess["estimate"] / people - 1)
        print(
            f"  seed {seed:>2}: {result.report.entities:,} entities ({count_errors[-1]:+.1%}), "
            f"estimate {guess['estimate']:,.0f} ({estimate_errors[-1]:+.1%}), 90% interval "
            f"{guess['low']:,.0f} to {guess['high']:,.0f}, truly {people:,}"
            + ("" if inside else "  (misses)")
        )
    n = len(count_errors)
    print(
        f"mean count error {sum(count_errors) / n:+.2%}, mean estimate error "
        f"{sum(estimate_errors) / n:+.2%}; the interval held the truth in {held} of {n} seeds"
    )


if __name__ == "__main__":
    main()
