"""Households joined through their members, their monthly figures (pure functions), and the
list's households from a simulated community's uploads: kept only as pseudonyms, reported
suppressed, and crafted sections refused."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from sqlalchemy import func, select

from linkage.agency.encoding.keys import generate_secret
from linkage.bynamelist import StoreError, create_store, ingest
from linkage.bynamelist.households import among, figures, join
from linkage.bynamelist.ingestion import check_upload
from linkage.bynamelist.report import (
    build_group_report,
    build_report,
    render_csv,
    render_json,
    render_text,
)
from linkage.bynamelist.status import Month, Status
from linkage.bynamelist.store.schema import records
from linkage.formats.activity import Flag
from linkage.formats.config import builtin_config_path
from linkage.formats.container import Block, ClkWriter, read_clk
from linkage.formats.household import HOUSEHOLD
from linkage.formats.household import unpack as unpack_households
from linkage.research.datasets import read_truth
from linkage.research.evaluation.longitudinal import encode_month
from linkage.research.synthetic.scenario import read_households, write_scenario
from tests.bynamelist.conftest import dump, scenario_store
from tests.test_cli import run

A, N, H = Status.ACTIVE, Status.INACTIVE, Status.HOUSED  # N: not seen lately (inactive)
FAM = int(Flag.FAMILY)


def _join(records: list[tuple[int, str, int, bool]], n: int):
    person, agency, household, head = zip(*records, strict=True)
    return join(
        np.array(person, np.int64),
        n,
        list(agency),
        np.array(household, np.int64),
        np.array(head, np.bool_),
    )


def _month(status: list[int], flags: list[int] | None = None, existed: bool = True) -> Month:
    n = len(status)
    return Month(
        np.array(status, np.int64),
        np.array(flags or [0] * n, np.int64),
        np.full(n, existed, np.bool_),
    )


def test_households_join_across_agencies_through_their_members() -> None:
    # people 0 (parent) and 1 (child) at the shelter; 0 alone at outreach with 2; 3 alone;
    # the outreach team's household 7 and the shelter's 7 are different households
    joined = _join(
        [
            (0, "shelter", 7, True),
            (1, "shelter", 7, False),
            (0, "outreach", 9, False),
            (2, "outreach", 9, True),
            (3, "outreach", 7, True),
            (4, "drop-in", 0, False),  # no household named: alone
            (5, "drop-in", 0, False),
        ],
        6,
    )
    label = joined.label.tolist()
    assert label[0] == label[1] == label[2]
    assert len({label[0], label[3], label[4], label[5]}) == 4
    assert joined.count == 4
    assert joined.head.tolist() == [True, False, True, True, False, False]


def test_household_figures_count_a_household_once_and_flag_two_heads() -> None:
    joined = _join(
        [
            (0, "shelter", 7, True),
            (1, "shelter", 7, False),
            (0, "outreach", 9, False),
            (2, "outreach", 9, True),
            (3, "outreach", 5, True),
            (4, "outreach", 6, True),
        ],
        5,
    )
    before = _month([A, N, N, H, A], [FAM, FAM, 0, 0, 0])
    now = _month([A, A, N, A, H], [FAM, FAM, 0, 0, 0])
    rows = figures(joined, now, before, {})
    # households: {0, 1, 2} active both months, {3} comes in, {4} goes out
    assert rows["hh_all"] == {
        "active_before": 2,
        "active": 2,
        "inflow": 1,
        "outflow": 1,
        "several_heads": 1,  # 0 and 2 each head a household the list joined
        "difference": 0,
    }
    fam = rows["hh_families"]
    assert (fam["active"], fam["inflow"], fam["outflow"], fam["persons"]) == (1, 0, 0, 2)
    # last month's published count stands for active_before; the gap is the difference
    assert figures(joined, now, before, {"hh_all": 3})["hh_all"]["difference"] == -1


def test_a_household_is_new_when_none_of_its_members_was_known() -> None:
    joined = _join([(0, "a", 1, True), (1, "a", 1, False)], 2)
    rows = figures(joined, _month([A, A]), _month([0, 0], existed=False), {})
    assert rows["hh_all"]["inflow"] == rows["hh_all"]["active"] == 1
    assert rows["hh_all"]["active_before"] == 0


def test_a_group_sees_the_households_its_people_make_up() -> None:
    joined = _join([(0, "a", 1, True), (1, "a", 1, False), (2, "b", 4, True)], 3)
    mine = among(joined, np.array([1, 2], np.int64))
    assert mine.count == 2 and mine.label.tolist() == [0, 1]
    assert mine.head.tolist() == [False, True]


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    out = tmp_path_factory.mktemp("household-months")
    return write_scenario(out / "scenario", 300, 3, months=3, seed=21), out


@pytest.fixture()
def listed(year, db):
    scenario, out = year
    return scenario_store(db, scenario, out / "up"), scenario


def _household_ids(scenario) -> set[str]:
    found = set()
    for folder in scenario.exports(scenario.months[-1]):
        with open(folder / "Enrollment.csv", newline="") as fh:
            found |= {r["HouseholdID"] for r in csv.DictReader(fh)}
    return found


def test_the_store_keeps_households_as_pseudonyms_and_never_their_ids(listed, db) -> None:
    store, scenario = listed
    with store.engine.connect() as conn:
        held = conn.execute(
            select(records.c.agency, records.c.record_id, records.c.household, records.c.head)
        ).all()
    truth = read_truth(scenario.truth)
    true_household = read_households(scenario.households)
    by_pseudonym: dict[tuple[str, int], set[str]] = {}
    for agency, rid, household, _ in held:
        assert household > 0  # every record of a scenario export names its household
        by_pseudonym.setdefault((agency, household), set()).add(
            true_household[truth[agency, rid]][0]
        )
    assert all(len(h) == 1 for h in by_pseudonym.values())  # one pseudonym, one true household
    assert sum(head for *_, head in held) > len(held) // 2
    ids = {h for h in _household_ids(scenario) if len(h) >= 5}
    stored = {v for rows in dump(db).values() for row in rows for v in row if isinstance(v, str)}
    assert ids and not ids & stored
    uploads = sorted((year_uploads := scenario.folder.parent / "up").rglob("*.clk"))
    assert uploads, year_uploads
    payload = b"".join(p.read_bytes() for p in uploads)
    assert not [h for h in ids if h.encode() in payload]


def test_the_report_gives_households_suppressed_in_every_format(listed) -> None:
    store, scenario = listed
    report = build_report(store, scenario.months[-1])
    assert set(report.households) == {"hh_all", "hh_families"}
    threshold = store.config.bynamelist.suppress_below
    for row in report.households.values():
        for measure, value in row.items():
            assert measure == "difference" or value is None or value == 0 or value >= threshold
        balance = [row[k] for k in ("active", "active_before", "inflow", "outflow", "difference")]
        assert sum(v is None for v in balance) != 1  # a lone hidden cell could be worked out
    row = report.households["hh_all"]
    assert row["active"] is not None and row["active"] <= report.rows["all"]["active"]
    text = render_text(report)
    assert "households:" in text and "hh_families" in text
    lines = list(csv.reader(io.StringIO(render_csv(report))))
    assert [scenario.months[-1], "hh_all", "active", str(row["active"]), "0"] in lines
    assert json.loads(render_json(report))["households"] == report.households
    group = build_group_report(store, "all", scenario.agencies, scenario.months[-1])
    for name, mine in group.households.items():
        for measure in ("active", "inflow", "outflow", "several_heads"):
            assert mine[measure] == report.households[name][measure], (name, measure)


def test_a_crafted_household_section_is_refused_with_nothing_written(year, tmp_path, db) -> None:
    scenario, _ = year
    secret = generate_secret()
    store = create_store(db, builtin_config_path("hmis"))
    good = encode_month(scenario, scenario.months[0], store.config, secret, tmp_path)[0]
    data = read_clk(good)
    for column, value, problem in (
        (8, 2, "head-of-household bytes other than 0 and 1"),
        (7, 0x80, "household pseudonyms outside 63 bits"),
    ):
        section = data.sections[HOUSEHOLD].copy()
        section[0, column] = value
        crafted = tmp_path / f"crafted-{column}.clk"
        with ClkWriter(crafted, data.header) as writer:
            writer.write(Block(data.ids, {**data.sections, HOUSEHOLD: section}))
        for attempt in (
            lambda path=crafted: check_upload(store, path, scenario.months[0]),
            lambda path=crafted: ingest(store, [path], scenario.months[0]),
        ):
            with pytest.raises(StoreError, match=f"household section holds {problem}"):
                attempt()
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(records)).scalar() == 0


def test_inspect_counts_an_uploads_households(year, tmp_path, capsys, monkeypatch) -> None:
    scenario, _ = year
    config = create_store(str(tmp_path / "s.db"), builtin_config_path("hmis")).config
    upload = encode_month(scenario, scenario.months[-1], config, generate_secret(), tmp_path)[0]
    members = unpack_households(read_clk(upload).sections[HOUSEHOLD])
    code, out, _ = run(["inspect", upload], capsys, monkeypatch)
    named = members.household[members.household != 0]
    line = (
        f"households:        {len(named)} records name one, {len(np.unique(named))} "
        f"households, {int(members.head.sum())} heads"
    )
    assert code == 0 and line in out.splitlines()
    assert len(np.unique(named)) < len(named)  # families: two records, one household


def test_household_rows_fit_the_figures_table() -> None:
    """SQLite ignores a VARCHAR's length and PostgreSQL does not: a row name must fit."""
    from linkage.bynamelist.households import ROWS
    from linkage.bynamelist.store.schema import figures as figures_table

    for name, measures in ROWS.items():
        assert len(name) <= figures_table.c.population.type.length
        assert all(len(m) <= figures_table.c.measure.type.length for m in measures)
