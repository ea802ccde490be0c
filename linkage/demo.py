"""``linkage demo``: the whole agency-side job on synthetic data, as a user would run it.

It generates a synthetic network, a shared secret, encodes each agency's export exactly as
``linkage encode`` does, then plays the coordinator exactly as ``linkage match`` does, and
finally (as a researcher would) scores the result against the ground truth.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from linkage.config import builtin_config_path, load_config
from linkage.encoding.keys import read_secret, write_secret
from linkage.encoding.pipeline import encode_file
from linkage.evaluate.metrics import Quality, pairwise_quality
from linkage.evaluate.synth import truth_labels, write_network
from linkage.inspect import summarize
from linkage.match import run_match, summary_lines


def run_demo(out: Path, people: int, agencies: int, seed: int) -> Iterator[str]:
    """Run the demo into ``out``, yielding progress lines for the terminal."""
    out.mkdir(parents=True, exist_ok=True)
    yield f"1. synthetic network: {people} people seen by {agencies} agencies (seed {seed})"
    clients = write_network(out / "exports", people=people, agencies=agencies, seed=seed)
    key = out / "community.key"
    if not key.exists():
        write_secret(key)
    yield f"2. shared secret: {key} (agencies only; never sent to the coordinator)"
    config = load_config(builtin_config_path("hmis"))
    yield f"3. config: {config.name}, fingerprint {config.fingerprint[:16]}..."
    secret = read_secret(key)
    uploads = out / "uploads"
    uploads.mkdir(exist_ok=True)
    for path in clients:
        agency = path.parent.name
        target = uploads / f"{agency}.clk"
        report = encode_file(config, secret, path, target, agency)
        missing = {k: v["missing"] for k, v in report.quality.items()}
        yield (
            f"   {agency}: {report.records} records -> {target} "
            f"(missing per field: {', '.join(f'{k} {v}' for k, v in missing.items())})"
        )
    yield "4. what the coordinator receives (first upload):"
    for line in summarize(uploads / f"{clients[0].parent.name}.clk"):
        yield "   " + line
    results = out / "results"
    paths = [uploads / f"{path.parent.name}.clk" for path in clients]
    matched = run_match(paths, results)
    yield "5. the coordinator links the uploads (linkage match):"
    for line in summary_lines(matched, results):
        yield "   " + line
    quality = _quality(results / "entities.csv", out / "exports" / "truth.csv")
    yield (
        f"6. against the ground truth: precision {quality.precision:.3f}, recall "
        f"{quality.recall:.3f}, F1 {quality.f1:.3f}; {quality.entities} people found for "
        f"{quality.true_entities} real ({quality.count_error:+.1%})"
    )
    yield f"done: uploads in {uploads}; results in {results}"


def _quality(entities: Path, truth: Path) -> Quality:
    with open(entities, newline="") as fh:
        rows = list(csv.DictReader(fh))
    found = np.unique([r["entity_id"] for r in rows], return_inverse=True)[1]
    return pairwise_quality(
        found, truth_labels(truth, ((r["agency"], r["record_id"]) for r in rows))
    )
