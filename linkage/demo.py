"""``linkage demo``: the whole agency-side job on synthetic data, as a user would run it.

It grows with the project: today it generates a synthetic network, a shared secret, and encodes
each agency's export exactly as ``linkage encode`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from linkage.config import builtin_config_path, load_config
from linkage.encoding.keys import read_secret, write_secret
from linkage.encoding.pipeline import encode_file
from linkage.evaluate.synth import write_network
from linkage.inspect import summarize


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
    yield f"done: uploads in {uploads}; ground truth in {out / 'exports' / 'truth.csv'}"
