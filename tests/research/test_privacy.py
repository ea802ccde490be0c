"""The privacy trade-off over several secrets: rows hold means, the cost is paired per secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkage.formats.config import load_config
from linkage.research.datasets import load_dataset
from linkage.research.evaluation.experiment import evaluate
from linkage.research.evaluation.html_report import write_report
from linkage.research.evaluation.privacy import summary, tradeoff
from linkage.research.synthetic.exports import write_network


def test_repeats_average_over_secrets_and_pair_the_cost(tmp_path: Path) -> None:
    write_network(tmp_path / "net", people=300, agencies=2, seed=5)
    dataset = load_dataset(str(tmp_path / "net"), tmp_path / "work")
    base = load_config(dataset.config)
    rows = tradeoff(
        dataset,
        base,
        tmp_path / "work",
        ["none", "xor_fold"],
        repeats=2,
        attacks=["frequency", "pattern"],
    )
    by = {r["hardening"]: r for r in rows}
    for r in rows:
        assert r["repeats"] == 2 and len(r["f1_runs"]) == 2
        assert r["f1"] == pytest.approx(sum(r["f1_runs"]) / 2)
        assert len(r["count_runs"]) == 2
        assert r["count_error"] == pytest.approx(sum(r["count_runs"]) / 2)
        assert set(r["attacks"]) == {"frequency", "pattern"}
        for attack in r["attacks"].values():
            rate = attack["reidentified"]
            assert 0.0 <= rate["low"] <= rate["mean"] <= rate["high"] <= 1.0
    assert by["xor_fold"]["default"] and not by["none"]["default"]
    s = summary(rows)
    costs = [n - x for n, x in zip(by["none"]["f1_runs"], by["xor_fold"]["f1_runs"], strict=True)]
    assert s["f1_cost"] == pytest.approx(sum(costs) / 2)
    assert s["f1_cost_range"] == [min(costs), max(costs)]
    # the summary is the strongest attack's, for records and first names alike
    kind = s["strongest"]
    assert s["reidentified"] == by["xor_fold"]["attacks"][kind]["reidentified"]
    assert all(
        s["reidentified"]["mean"] >= a["reidentified"]["mean"]
        for a in by["xor_fold"]["attacks"].values()
    )
    assert s["first_names"] == by["xor_fold"]["attacks"][kind]["fields"]["first_name"]
    counts = [
        abs(x) - abs(n)
        for n, x in zip(by["none"]["count_runs"], by["xor_fold"]["count_runs"], strict=True)
    ]
    assert s["count_cost"] == pytest.approx(sum(counts) / 2)
    data = evaluate(dataset, tmp_path / "work", baseline=False)
    data["privacy"] = {"rows": rows, "summary": s}
    _, page = write_report(data, tmp_path / "r")
    html = page.read_text()
    assert "mean of 2 secrets" in html and f"the strongest attack ({kind})" in html
    assert html.count("<td>pattern</td>") == 2 and html.count("<td>frequency</td>") == 2


def test_repeats_must_be_positive_and_attacks_known(tmp_path: Path) -> None:
    write_network(tmp_path / "net", people=50, agencies=2, seed=5)
    dataset = load_dataset(str(tmp_path / "net"), tmp_path / "work")
    with pytest.raises(ValueError, match="at least 1"):
        tradeoff(dataset, load_config(dataset.config), tmp_path / "work", ["none"], repeats=0)
    with pytest.raises(ValueError, match="unknown attack 'guess'"):
        tradeoff(dataset, load_config(dataset.config), tmp_path / "w", ["none"], attacks=["guess"])
    with pytest.raises(ValueError, match="at least one attack"):
        tradeoff(dataset, load_config(dataset.config), tmp_path / "w", ["none"], attacks=[])
