"""linkage synth, evaluate and attack from the command line, as a researcher runs them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.test_cli import run


def _pairs(network: Path) -> list[list[str]]:
    """Labelled pairs from the truth: 20 of one person, 20 of two people."""
    with open(network / "truth.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_person: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_person.setdefault(r["person_id"], []).append(r)
    same = [v[:2] for v in by_person.values() if len(v) >= 2][:20]
    apart = [[rows[i], rows[i + 1]] for i in range(0, 400, 20)]
    out = []
    for a, b in same + apart:
        out.append(
            [
                a["agency"],
                a["record_id"],
                b["agency"],
                b["record_id"],
                "1" if a["person_id"] == b["person_id"] else "0",
            ]
        )
    return out


def test_synth_evaluate_attack_end_to_end(tmp_path: Path, capsys, monkeypatch) -> None:
    network = tmp_path / "network"
    code, out, err = run(["synth", network, "--people", "600", "--seed", "4"], capsys, monkeypatch)
    assert code == 0, err
    assert (network / "agency_3" / "Enrollment.csv").exists() and (network / "truth.csv").exists()

    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["agency_a", "record_a", "agency_b", "record_b", "match"])
        w.writerows(_pairs(network))
    report = tmp_path / "report"
    code, out, err = run(
        ["evaluate", network, "--sample", "50", "--labels", labels, "--report", report],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    data = json.loads((report / "metrics.json").read_text())
    assert data["linkage"]["f1"] > 0.85 and data["linkage"]["true_entities"] <= 600
    assert f"F1 {data['linkage']['f1']:.4f}" in out and "plaintext recordlinkage" in out
    assert data["labelled"]["recall"]["pairs"] == 20
    assert 0.0 <= data["labelled"]["precision"]["low"] <= data["labelled"]["precision"]["high"]
    assert len(data["sweep"]["rows"]) == 19 and data["baseline"]["linkage"]["f1"] > 0.5

    code, out, err = run(["attack", network, "--hardening", "xor_fold"], capsys, monkeypatch)
    assert code == 0, err
    assert "xor_fold *" in out and "%" in out
    assert {line.split()[2] for line in out.splitlines() if "xor_fold *" in line} == {
        "frequency",
        "pattern",
        "graph",
    }
    code, out, err = run(
        ["attack", network, "--hardening", "salt", "--attack", "graph"], capsys, monkeypatch
    )
    assert code == 0, err
    assert [line.split()[:2] for line in out.splitlines()[1:]] == [["salt", "graph"]]


def test_evaluate_bad_inputs_are_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    code, _, err = run(["evaluate", tmp_path / "nowhere"], capsys, monkeypatch)
    assert code != 0 and "neither a folder nor one of febrl1" in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    code, _, err = run(["evaluate", tmp_path / "empty"], capsys, monkeypatch)
    assert code != 0 and "no agency folders" in err
    network = tmp_path / "net"
    run(["synth", network, "--people", "100", "-q"], capsys, monkeypatch)
    labels = tmp_path / "labels.csv"
    labels.write_text("agency_a,record_a,agency_b,record_b,match\nagency_1,nope,agency_2,x,1\n")
    code, _, err = run(
        ["evaluate", network, "--no-baseline", "--labels", labels], capsys, monkeypatch
    )
    assert code != 0 and f"{labels}:2" in err and err.count("\n") == 1
    for text, expected in (
        ("a,b\n1,2\n", "a labels file needs the columns"),
        (
            "agency_a,record_a,agency_b,record_b,match\nagency_1,10000001,agency_1,10000002,yes\n",
            f"{labels}:2: column match must be 1 or 0",
        ),
    ):
        labels.write_text(text)
        code, _, err = run(
            ["evaluate", network, "--no-baseline", "--labels", labels], capsys, monkeypatch
        )
        assert code != 0 and expected in err and err.count("\n") == 1
    code, _, err = run(["attack", network, "--hardening", "rot13"], capsys, monkeypatch)
    assert code != 0 and "unknown hardening setting 'rot13'" in err
    (network / "truth.csv").unlink()
    code, _, err = run(["attack", network], capsys, monkeypatch)
    assert code != 0 and "no truth.csv" in err and err.count("\n") == 1
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, _, err = run(["synth", blocker, "--people", "10", "-q"], capsys, monkeypatch)
    assert code != 0 and err.startswith("error: cannot access") and "Traceback" not in err


def test_evaluate_febrl4_beats_the_plaintext_baseline_goal(capsys, monkeypatch) -> None:
    code, out, err = run(["evaluate", "febrl4"], capsys, monkeypatch)
    assert code == 0, err
    lines = {line.split("  ")[1].strip(): line for line in out.splitlines() if "F1" in line}
    ours = float(lines["linkage (encoded)"].split("F1 ")[1].split()[0])
    plain = float(lines["plaintext recordlinkage"].split("F1 ")[1].split()[0])
    assert ours >= 0.997 and plain >= 0.97


def test_synth_months_writes_a_history_and_refuses_snapshot_options(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    out = tmp_path / "year"
    code, _, err = run(
        ["synth", out, "--months", "3", "--people", "60", "--agencies", "2", "--start", "2026-11"],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    assert sorted(p.name for p in out.glob("month_*")) == [
        "month_2026-11",
        "month_2026-12",
        "month_2027-01",
    ]
    assert sorted(p.name for p in (out / "month_2027-01").iterdir()) == ["agency_1", "agency_2"]
    with open(out / "statuses.csv", newline="") as fh:
        months = {row["month"] for row in csv.DictReader(fh)}
    assert months == {"2026-11", "2026-12", "2027-01"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["months"] == ["2026-11", "2026-12", "2027-01"]
    for bad, message in (
        (["--coverage", "0.3"], "--coverage applies to a snapshot"),
        (["--start", "2026-13"], "Invalid value for --start"),
        (["--people", "1"], "--people must be at least 2 for a history"),
    ):
        code, _, err = run(
            ["synth", tmp_path / "other", "--months", "2", *bad], capsys, monkeypatch
        )
        assert code == 2 and message in err, bad
        assert not (tmp_path / "other").exists()
