"""The evaluation report: written atomically, and rendered by a real browser with every chart
loaded and the headline numbers on the page.

The browser test needs Debian's chromium and chromium-driver (the ``browser`` fixture).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from linkage.formats.config import load_config
from linkage.research.datasets import load_dataset
from linkage.research.evaluation.experiment import evaluate
from linkage.research.evaluation.html_report import write_report
from linkage.research.evaluation.privacy import summary, tradeoff
from linkage.research.synthetic.exports import write_network


@pytest.fixture(scope="module")
def report_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("net")
    write_network(folder, people=500, agencies=3, seed=3)
    dataset = load_dataset(str(folder), folder / "work")
    data = evaluate(dataset, folder / "work", sample=100)
    rows = tradeoff(dataset, load_config(dataset.config), folder / "work", ["none", "xor_fold"])
    data["privacy"] = {"rows": rows, "summary": summary(rows)}
    return data


def test_metrics_json_round_trips_and_page_holds_the_numbers(report_data, tmp_path: Path) -> None:
    metrics, page = write_report(report_data, tmp_path / "report")
    assert json.loads(metrics.read_text()) == json.loads(json.dumps(report_data))
    text = page.read_text()
    assert f"{report_data['linkage']['f1']:.4f}" in text
    assert text.count("data:image/png;base64,") == 5
    # issue 20: the calibration chart's data, and the estimate against the truth
    c = report_data["calibration"]
    assert sum(c["pairs"]) == report_data["match"]["candidates"]
    assert all(t is None or 0.0 <= t <= 1.0 for t in c["true_share"])
    g = report_data["people_estimate"]
    assert g["true"] == report_data["linkage"]["true_entities"]
    assert f"{g['estimate']:,.0f} estimated" in text and f"truly {g['true']:,}" in text
    assert not list((tmp_path / "report").glob("*.part"))


def test_report_renders_in_chromium(report_data, tmp_path: Path, browser) -> None:
    _, page = write_report(report_data, tmp_path / "report")
    browser.get(page.resolve().as_uri())
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])"
    )
    assert len(images) == 5
    assert "Calibration" in [alt for _, _, alt in images]
    assert all(done and width > 100 for done, width, _ in images), images
    body = browser.find_element("tag name", "body").text
    assert f"{report_data['linkage']['f1']:.4f}" in body
    assert f"{report_data['linkage']['precision']:.4f}" in body
    headline = browser.find_element("id", "privacy-headline").text
    assert "re-identify" in headline and "%" in headline
