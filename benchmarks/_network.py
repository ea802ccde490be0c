"""A synthetic network encoded as its agencies would encode it: where the quality benchmarks
start (bench_pair_fates, bench_estimate, bench_quality)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from linkage.agency.encoding.keys import generate_secret
from linkage.agency.encoding.pipeline import encode_file
from linkage.formats.config import Config
from linkage.research.synthetic.exports import write_network


@dataclass(frozen=True)
class Network:
    """Each agency's Client.csv and its upload, and the truth: (agency, record id) -> person."""

    clients: list[Path]
    uploads: list[Path]
    truth: dict[tuple[str, str], str]


def encoded_network(
    folder: Path, people: int, agencies: int, seed: int, noise: float, config: Config
) -> Network:
    """Write a ``linkage synth`` network into ``folder`` and encode each agency under one
    fresh secret."""
    clients = write_network(folder / "net", people, agencies, seed, noise=noise)
    secret = generate_secret()
    uploads = []
    for client in clients:
        uploads.append(folder / f"{client.parent.name}.clk")
        encode_file(config, secret, client, uploads[-1], client.parent.name, workers=2)
    with open(folder / "net" / "truth.csv", newline="") as fh:
        truth = {(r["agency"], r["record_id"]): r["person_id"] for r in csv.DictReader(fh)}
    return Network(clients, uploads, truth)
