"""The synthetic network generator: determinism, ground truth, the error model and its rates."""

from __future__ import annotations

import csv
import datetime as _dt
import json
from pathlib import Path

import pytest

from linkage.agency.hmis import spec
from linkage.research.synthetic import exports as synth
from linkage.research.synthetic.exports import write_network
from linkage.research.synthetic.names import public_tables
from linkage.research.synthetic.noise import ERROR_RATES
from linkage.research.synthetic.population import make_population


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.csv"))}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    write_network(tmp_path / "a", people=400, agencies=2, seed=5)
    write_network(tmp_path / "b", people=400, agencies=2, seed=5)
    write_network(tmp_path / "c", people=400, agencies=2, seed=6)
    a, b, c = (_files(tmp_path / x) for x in "abc")
    assert a == b
    assert (tmp_path / "a/manifest.json").read_bytes() == (
        tmp_path / "b/manifest.json"
    ).read_bytes()
    # every generated file differs; Project.csv and Export.csv describe the agency, not people
    assert a.keys() == c.keys()
    assert all(a[k] != c[k] for k in a if not k.endswith(("Project.csv", "Export.csv")))


def test_truth_covers_every_record_and_enrollments_match_clients(tmp_path: Path) -> None:
    paths = write_network(tmp_path, people=500, agencies=3, seed=2)
    truth = _rows(tmp_path / "truth.csv")
    by_agency: dict[str, set[str]] = {}
    for row in truth:
        by_agency.setdefault(row["agency"], set()).add(row["record_id"])
    assert len({(r["agency"], r["record_id"]) for r in truth}) == len(truth)
    for path in paths:
        clients = _rows(path)
        enrollments = _rows(path.parent / "Enrollment.csv")
        ids = [r["PersonalID"] for r in clients]
        assert set(ids) == by_agency[path.parent.name] and len(set(ids)) == len(ids)
        assert [e["PersonalID"] for e in enrollments] == ids
        assert list(clients[0]) == spec.FY2024_CLIENT
        assert list(enrollments[0]) == spec.FY2024_ENROLLMENT
        for e in enrollments:
            entry = _dt.date.fromisoformat(e["EntryDate"])
            assert synth.EXPORT_DATE - _dt.timedelta(days=366) <= entry < synth.EXPORT_DATE
            assert e["LivingSituation"] in {str(c) for c, _ in synth._LIVING}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert sum(manifest["records"].values()) == len(truth)


def test_no_noise_gives_the_true_identities(tmp_path: Path) -> None:
    write_network(tmp_path, people=300, agencies=2, seed=4, noise=0.0)
    people = make_population(300, 4, noise=0.0)
    truth = {
        (r["agency"], r["record_id"]): int(r["person_id"]) for r in _rows(tmp_path / "truth.csv")
    }
    for agency in ("agency_1", "agency_2"):
        for row in _rows(tmp_path / agency / "Client.csv"):
            p = people.person(truth[(agency, row["PersonalID"])])
            assert (row["FirstName"], row["LastName"], row["DOB"], row["SSN"]) == (
                p.first,
                p.last,
                p.dob.isoformat(),
                p.ssn,
            )
            assert row["NameDataQuality"] == row["SSNDataQuality"] == row["DOBDataQuality"] == "1"
    for agency in ("agency_1", "agency_2"):
        persons = [
            truth[(agency, r["PersonalID"])] for r in _rows(tmp_path / agency / "Client.csv")
        ]
        assert len(persons) == len(set(persons))  # no duplicates without noise


def test_error_rates_are_applied_as_documented(tmp_path: Path) -> None:
    write_network(tmp_path, people=6000, agencies=2, seed=9)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    records = sum(manifest["records"].values())
    applied = manifest["errors_applied"]
    # unconditional per-record errors: within 4 standard errors of the documented rate
    for error in ("typo", "ssn_missing", "dob_missing", "name_swap", "street_name"):
        rate = ERROR_RATES[error]
        expected = records * rate * (1 - _earlier_share(error))
        assert abs(applied[error] - expected) < 4 * (expected**0.5) + 0.02 * expected, error
    assert applied["twin"] == pytest.approx(6000 * ERROR_RATES["twin"], rel=0.3)
    doubled = tmp_path / "x2"
    write_network(doubled, people=6000, agencies=2, seed=9, noise=2.0)
    again = json.loads((doubled / "manifest.json").read_text())["errors_applied"]
    assert again["typo"] > 1.6 * applied["typo"] and again["duplicate"] > 1.6 * applied["duplicate"]


def _earlier_share(error: str) -> float:
    """The share of records an earlier, exclusive branch of the same field takes first."""
    if error == "ssn_missing" or error == "dob_missing":
        return 0.0
    if error == "street_name":
        return ERROR_RATES["name_missing"]
    if error in ("typo", "name_swap"):
        return ERROR_RATES["name_missing"] + ERROR_RATES["street_name"]
    return 0.0


def test_twins_share_surname_and_birth_date_not_first_name() -> None:
    people = make_population(4000, 8)
    twins = [(i, int(j)) for i, j in enumerate(people.twin_of) if j >= 0]
    assert twins
    for i, j in twins:
        assert people.last[i] == people.last[j] and people.birth[i] == people.birth[j]
        assert people.first[i] != people.first[j]
        assert people.ssn[i] != people.ssn[j]


def test_population_follows_the_weighted_tables() -> None:
    people = make_population(20000, 1)
    table = public_tables()["last_name"]
    top = table.names[0]
    share = sum(1 for s in people.last if top in s.split("-")) / len(people)
    assert share == pytest.approx(table.probs[0], rel=0.25)
    assert any("-" in s for s in people.last)  # double surnames
    assert any(not s.isascii() for s in people.first + people.last)  # French accents


def test_a_failure_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = synth.client_row

    def failing(*args: object, **kwargs: object) -> list[str]:
        calls["n"] += 1
        if calls["n"] > 50:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(synth, "client_row", failing)
    with pytest.raises(RuntimeError):
        write_network(tmp_path, people=400, agencies=2, seed=1)
    assert not list(tmp_path.rglob("*.csv")) and not list(tmp_path.rglob("*.part"))


def test_an_hmis_row_refuses_a_name_that_is_not_a_column() -> None:
    row = synth.hmis_row(spec.FY2024_PROJECT, ProjectID="101", ProjectType="0")
    assert len(row) == len(spec.FY2024_PROJECT) and row[0] == "101"
    assert row[spec.FY2024_PROJECT.index("UserID")] == "synth"
    with pytest.raises(ValueError, match="not columns of this file: ProjectTyp"):
        synth.hmis_row(spec.FY2024_PROJECT, ProjectTyp="0")
