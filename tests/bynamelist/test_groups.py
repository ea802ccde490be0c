"""Groups of agencies and the overlap table: each agency's and group's share of the list and
each pair's shared people, unduplicated, suppressed so that no small count can be read or
worked out, and never a record or a person."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from sqlalchemy import func, select

from linkage.bynamelist import StoreError, create_store, ingest
from linkage.bynamelist.groups import (
    add_to_group,
    list_groups,
    overlap,
    overlap_csv,
    remove_from_group,
)
from linkage.bynamelist.monthly import month_statuses
from linkage.bynamelist.quarterly import task_force_counts
from linkage.bynamelist.report import build_group_report
from linkage.bynamelist.slices import group_figures
from linkage.bynamelist.status import Status
from linkage.bynamelist.store.schema import agency_groups, coverage, figures, records
from linkage.formats.config import builtin_config_path
from linkage.research.synthetic.scenario import write_scenario
from tests.bynamelist.conftest import scenario_store
from tests.test_cli import run


@pytest.fixture()
def listed(db, month_files):
    store = create_store(db, builtin_config_path("hmis"))
    ingest(store, month_files, "2026-10")
    return store


def _truth_of_store(store):
    """Active people known to each agency, from the store directly."""
    with store.engine.connect() as conn:
        stored = month_statuses(conn, "2026-10")
        held = conn.execute(select(records.c.agency, records.c.person_id)).all()
    active = {
        p
        for p, s in zip(stored.person_ids(), stored.status.tolist(), strict=True)
        if s == Status.ACTIVE
    }
    known: dict[str, set[str]] = defaultdict(set)
    for agency, person in held:
        if person in active:
            known[agency].add(person)
    return active, known


def test_groups_are_made_listed_and_emptied_with_bad_input_refused(listed) -> None:
    group = add_to_group(listed, "downtown", "geographic", ["agency_1", "agency_2"])
    assert group.agencies == ("agency_1", "agency_2")
    add_to_group(listed, "downtown", "geographic", ["agency_3"])
    add_to_group(listed, "youth", "population", ["agency_1"])  # an agency in two groups
    assert [(g.name, g.agencies) for g in list_groups(listed)] == [
        ("downtown", ("agency_1", "agency_2", "agency_3")),
        ("youth", ("agency_1",)),
    ]
    for call, expected in [
        (lambda: add_to_group(listed, "bad name!", "geographic", ["agency_1"]), "not a group"),
        (lambda: add_to_group(listed, "x", "weather", ["agency_1"]), "no group kind"),
        (lambda: add_to_group(listed, "x", "other", ["agency_9"]), "knows no agency"),
        (lambda: add_to_group(listed, "youth", "geographic", ["agency_2"]), "is population"),
        (lambda: remove_from_group(listed, "nowhere"), "no group nowhere"),
    ]:
        with pytest.raises(StoreError, match=expected):
            call()
    with listed.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(agency_groups)).scalar() == 4
    remove_from_group(listed, "downtown", ["agency_3"])
    remove_from_group(listed, "youth")
    assert [(g.name, g.agencies) for g in list_groups(listed)] == [
        ("downtown", ("agency_1", "agency_2"))
    ]


def test_the_overlap_by_agency_is_the_lists_own_counts_suppressed(listed) -> None:
    active, known = _truth_of_store(listed)
    table = overlap(listed, "agency")
    threshold = listed.config.bynamelist.suppress_below
    assert table.active == len(active)
    for agency, people in known.items():
        n = len(people)
        assert table.known[agency] == (None if 0 < n < threshold else n)
        if table.known[agency] is not None:
            assert table.share[agency] == pytest.approx(n / len(active))
    for (a, b), n in table.shared.items():
        both = len(known[a] & known[b])
        apart = (len(known[a]) - both, len(known[b]) - both)
        small = 0 < both < threshold or any(0 < d < threshold for d in apart)
        assert n == (None if small else both)
    assert any(n is not None for n in table.shared.values())


def test_a_group_counts_each_person_once(listed) -> None:
    _, known = _truth_of_store(listed)
    add_to_group(listed, "north", "geographic", ["agency_1", "agency_2"])
    add_to_group(listed, "south", "geographic", ["agency_2", "agency_3"])
    table = overlap(listed, "group")
    north = known["agency_1"] | known["agency_2"]
    south = known["agency_2"] | known["agency_3"]
    assert table.known == {"north": len(north), "south": len(south)}
    both = len(north & south)
    small = any(
        0 < d < listed.config.bynamelist.suppress_below
        for d in (len(north) - both, len(south) - both)
    )
    assert table.shared == {("north", "south"): None if small else both}
    assert both < len(known["agency_1"]) + len(known["agency_2"])  # once, not per agency


def test_no_cell_names_a_record_or_gives_a_small_count_away(listed) -> None:
    table = overlap(listed, "agency")
    text = overlap_csv(table)
    with listed.engine.connect() as conn:
        held = conn.execute(select(records.c.record_id, records.c.person_id)).all()
    words = set(re.split(r"[,\n]", text))
    assert not words & {r for r, _ in held} and not words & {p for _, p in held}
    threshold = listed.config.bynamelist.suppress_below
    for value in re.findall(r"(?m)^[^,]*,[^,]*,[^,]*,(\d+),", text):
        assert int(value) == 0 or int(value) >= threshold
    for (a, b), n in table.shared.items():
        for side in (a, b):
            if n is not None and table.known[side] is not None:
                assert not 0 < table.known[side] - n < threshold


def test_the_commands_write_the_overlap_and_refuse_in_one_line(
    listed, tmp_path, capsys, monkeypatch
) -> None:
    db = listed.url
    code, out, _ = run(
        ["bnl", "group", "add", "--db", db, "--name", "north", "--agencies", "agency_1,agency_2"],
        capsys,
        monkeypatch,
    )
    assert code == 0 and "group north (geographic): agency_1, agency_2" in out
    target = tmp_path / "overlap.csv"
    code, _, _ = run(
        ["bnl", "overlap", "--db", db, "--by", "group", "-o", target], capsys, monkeypatch
    )
    assert code == 0 and target.read_text().startswith("month,group,shared_with,people,")
    code, _, err = run(
        ["bnl", "group", "add", "--db", db, "--name", "x", "--agencies", "agency_7"],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "knows no agency 'agency_7'" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(
        ["bnl", "overlap", "--db", db, "--month", "2026-11", "-o", tmp_path / "no.csv"],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "no such month" in err and not (tmp_path / "no.csv").exists()


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    out = tmp_path_factory.mktemp("group-months")
    return write_scenario(out / "scenario", 300, 3, months=4, seed=12), out


@pytest.fixture()
def history(months, db):
    scenario, out = months
    return scenario_store(db, scenario, out / "up"), scenario


def test_a_group_of_every_agency_is_the_list_as_it_stands(history) -> None:
    store, scenario = history
    latest = scenario.months[-1]
    with store.engine.connect() as conn:
        sliced = group_figures(conn, scenario.agencies, latest)
        stored = conn.execute(
            select(figures.c.population, figures.c.measure, figures.c.value).where(
                figures.c.month == latest
            )
        ).all()
    assert list(sliced) == scenario.months
    for population, measure, value in stored:
        # the difference and (households') active before: against last month's published
        # count, people and households since merged
        if measure not in ("difference", "active_before"):
            assert sliced[latest][population][measure] == value, (population, measure)
    assert sliced[latest]["all"]["inflow"] > 0 and sliced[latest]["all"]["outflow"] > 0


def test_a_group_of_one_agency_counts_the_people_it_knows(history) -> None:
    store, scenario = history
    latest = scenario.months[-1]
    with store.engine.connect() as conn:
        sliced = group_figures(conn, ["agency_2"], latest)
        knows = conn.execute(
            select(coverage.c.active).where(
                (coverage.c.month == latest) & (coverage.c.agency == "agency_2")
            )
        ).scalar()
    assert sliced[latest]["all"]["active"] == knows
    with store.engine.connect() as conn:
        whole = group_figures(conn, scenario.agencies, latest)
    assert sliced[latest]["all"]["active"] < whole[latest]["all"]["active"]


def test_a_groups_report_is_suppressed_and_named(history, tmp_path, capsys, monkeypatch):
    store, scenario = history
    add_to_group(store, "north", "geographic", ["agency_1", "agency_2"])
    latest = scenario.months[-1]
    report = build_group_report(store, "north", ["agency_1", "agency_2"], latest)
    threshold = store.config.bynamelist.suppress_below
    for row in report.rows.values():
        for measure, value in row.items():
            if value is not None and measure != "difference":
                assert value == 0 or value >= threshold
    assert report.coverage == [] and report.active_estimate is None
    code, out, _ = run(
        ["bnl", "report", "--db", store.url, "--group", "north"], capsys, monkeypatch
    )
    assert code == 0 and out.startswith(f"By-name list of group north, {latest}")
    code, _, err = run(
        ["bnl", "report", "--db", store.url, "--group", "south"], capsys, monkeypatch
    )
    assert code == 2 and "no group south" in err


def test_the_task_force_counts_a_group_as_its_agencies_know_it(history) -> None:
    store, scenario = history
    quarter = "2026Q1"  # the scenario's third and fourth months (it starts in 2025-11)
    every = add_to_group(store, "everyone", "other", scenario.agencies)
    one = add_to_group(store, "one", "other", ["agency_3"])
    whole = task_force_counts(store, quarter)
    assert task_force_counts(store, quarter, every)["2026-02"] == whole["2026-02"]
    small = task_force_counts(store, quarter, one)
    for month, cells in small.items():
        for name, value in cells.items():
            if value is not None and whole[month][name] is not None:
                assert value <= whole[month][name]
    assert any(
        v is not None and v < whole[m]["total"]
        for m, c in small.items()
        for v in [c["total"]]
        if whole[m]["total"] is not None
    )
