"""The quarterly review: each agency's own clients on the list with their status at each
month's end of the quarter, checked against the store and the truth; the task force's counts,
suppressed; a malformed quarter refused in one line."""

from __future__ import annotations

import pytest

from linkage.bynamelist import StoreError, build_report
from linkage.bynamelist.monthly import month_statuses
from linkage.bynamelist.quarterly import (
    quarter_months,
    review_list,
    task_force_counts,
)
from linkage.bynamelist.status import Status
from linkage.research.datasets import read_truth
from linkage.research.synthetic.scenario import read_statuses, write_scenario
from tests.bynamelist.conftest import scenario_store
from tests.test_cli import run

QUARTER = "2026Q1"  # the scenario's months 3 to 5 (it starts in 2025-11)


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    out = tmp_path_factory.mktemp("quarter")
    return write_scenario(out / "scenario", 300, 3, months=5, seed=4), out


@pytest.fixture()
def listed(year, db):
    scenario, out = year
    return scenario_store(db, scenario, out / "up")


def test_a_quarter_is_three_months_and_nothing_else_is() -> None:
    assert quarter_months("2026Q4") == ["2026-10", "2026-11", "2026-12"]
    assert quarter_months("2027Q1") == ["2027-01", "2027-02", "2027-03"]
    for bad in ("2026Q5", "2026Q0", "2026-Q1", "26Q1", "2026q1", ""):
        with pytest.raises(StoreError, match="is not a quarter"):
            quarter_months(bad)


def test_an_agency_reviews_its_own_clients_on_the_list(listed, year) -> None:
    scenario, _ = year
    months = quarter_months(QUARTER)
    rows = review_list(listed, "agency_1", QUARTER)
    assert rows and all(r.record_id.startswith("1") for r in rows)  # its own records only
    with listed.engine.connect() as conn:
        stored = {m: month_statuses(conn, m) for m in months}
    status_of = {
        m: dict(zip(s.person_ids(), s.status.tolist(), strict=True)) for m, s in stored.items()
    }
    for r in rows:
        expected = [Status(status_of[m].get(r.person_id, 0)) for m in months]
        assert r.statuses == tuple("" if s == Status.UNKNOWN else s.name.lower() for s in expected)
        assert any(s in (Status.ACTIVE, Status.INACTIVE) for s in expected)
        assert (r.changes == "") == (len({s for s in expected if s != Status.UNKNOWN}) <= 1)
        assert 1 <= r.months_on_list <= len(scenario.months)
    # where the list holds a person exactly, their statuses are the true ones
    truth = read_truth(scenario.truth)
    true_statuses = read_statuses(scenario.statuses)
    right = sum(
        r.statuses[-1]
        == true_statuses[months[-1]]
        .get(truth[("agency_1", r.record_id)], (Status.UNKNOWN, 0))[0]
        .name.lower()
        for r in rows
    )
    assert right > 0.9 * len(rows)


def test_the_task_force_gets_suppressed_counts_only(listed) -> None:
    months = quarter_months(QUARTER)
    counts = task_force_counts(listed, QUARTER)
    assert list(counts) == months
    threshold = listed.config.bynamelist.suppress_below
    for month, cells in counts.items():
        shown = [v for v in cells.values() if v is not None]
        assert all(v == 0 or v >= threshold for v in shown)  # no small count of people
        assert sum(v is None for v in cells.values()) != 1  # a lone hidden cell is given away
        active = build_report(listed, month).rows["all"]["active"]
        assert cells["active"] == active  # hidden or shown as the monthly report has it
        if all(v is not None for v in cells.values()):
            assert cells["total"] == sum(v for k, v in cells.items() if k != "total")
    with pytest.raises(StoreError, match="has no month of 2030Q1"):
        task_force_counts(listed, "2030Q1")


def test_the_command_writes_the_review_and_refuses_in_one_line(
    listed, tmp_path, capsys, monkeypatch
) -> None:
    db = listed.url
    target = tmp_path / "review.csv"
    base = ["bnl", "review-list", "--db", db, "--quarter", QUARTER]
    code, _, _ = run([*base, "--agency", "agency_1", "-o", target], capsys, monkeypatch)
    assert code == 0 and target.read_text().startswith(
        "record_id,person_id,2026-01,2026-02,2026-03,changes,months_on_list\n"
    )
    code, _, _ = run([*base, "--counts", "-o", tmp_path / "tf.csv"], capsys, monkeypatch)
    assert code == 0 and (tmp_path / "tf.csv").read_text().startswith("month,active,inactive")
    for args, expected in [
        (
            ["bnl", "review-list", "--db", db, "--quarter", "2026Q5", "--agency", "agency_1"],
            "is not a quarter",
        ),
        ([*base, "--agency", "agency_9"], "knows no agency 'agency_9'"),
    ]:
        code, _, err = run([*args, "-o", tmp_path / "no.csv"], capsys, monkeypatch)
        assert code == 2 and expected in err and len(err.strip().splitlines()) == 1
    for args in ([*base], [*base, "--agency", "agency_1", "--counts"]):  # usage, as click says
        code, _, err = run([*args, "-o", tmp_path / "no.csv"], capsys, monkeypatch)
        assert code == 2 and "Error: give --agency A or --counts" in err
    assert not (tmp_path / "no.csv").exists()
