"""Statuses and monthly figures through real ingests: a hand-made list of ten people over three
months, where every figure is worked out by hand in the comments."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, insert, select, update

from linkage.bynamelist import (
    StoreError,
    build_report,
    create_store,
    estimate_month,
    ingest,
    interval,
)
from linkage.bynamelist.monthly import month_statuses, refresh
from linkage.bynamelist.packed import pack as pack_statuses
from linkage.bynamelist.report import build_reports, render_csv, render_json, render_text
from linkage.bynamelist.status import MEASURES, POPULATIONS, Status
from linkage.bynamelist.store.schema import decisions, figures, meta, status_months
from linkage.formats.activity import ACTIVITY as SECTION
from linkage.formats.activity import AS_OF, Activity, Flag, Situation, pack
from linkage.formats.config import builtin_config_path
from linkage.formats.container import Block, ClkData, ClkWriter, Section
from linkage.matching.resolve import PeopleEstimate
from linkage.research.evaluation.longitudinal import encode_month
from linkage.research.synthetic.scenario import write_scenario

H, HOUSED, INST, DEAD = (
    Situation.HOMELESS,
    Situation.HOUSED,
    Situation.INSTITUTION,
    Situation.DECEASED,
)


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _upload(
    path: Path,
    template: ClkData,
    agency: str,
    as_of: str,
    rows: list[tuple[str, int, Activity]],
) -> Path:
    """An upload of ``rows``: (record id, whose encodings, activity)."""
    header = dataclasses.replace(
        template.header,
        agency=agency,
        sections=(*template.header.sections, Section(SECTION, 7, required=False)),
        extra={AS_OF: as_of},
    )
    picked = [src for _, src, _ in rows]
    sections = {k: v[picked] for k, v in template.sections.items()}
    sections[SECTION] = pack([a for _, _, a in rows])
    with ClkWriter(path, header) as writer:
        writer.write(Block(ids=[rid for rid, _, _ in rows], sections=sections))
    return path


NO_FLAGS = Flag(0)


def _seen(day: str, situation: Situation = H, flags: Flag = NO_FLAGS) -> Activity:
    return Activity(_day(day), situation, 1, flags)


NONE = Activity(None, Situation.UNKNOWN, None, NO_FLAGS)
VET = Flag.VETERAN


def _months(tmp_path: Path, t: ClkData) -> dict[str, list[Path]]:
    """Three months of two agencies, A and B; person k is template row k."""
    jan = [
        _upload(
            tmp_path / "a1.clk",
            t,
            "A",
            "2026-01-31",
            [
                ("a0", 0, _seen("2026-01-20")),  # active: newly identified
                ("a1", 1, _seen("2025-12-20", flags=VET)),  # active, a veteran
                ("a4", 4, _seen("2026-01-25")),  # with b4: one person, active
                ("a5", 5, _seen("2025-09-01")),  # 152 days: inactive, never on the list
                ("a6", 6, NONE),  # no activity: no status
            ],
        ),
        _upload(
            tmp_path / "b1.clk",
            t,
            "B",
            "2026-01-31",
            [
                ("b2", 2, _seen("2026-01-05")),  # active
                ("b3", 3, _seen("2026-01-15", HOUSED)),  # housed: not on the list
                ("b4", 4, _seen("2026-01-02")),
            ],
        ),
    ]
    feb = [
        _upload(
            tmp_path / "a2.clk",
            t,
            "A",
            "2026-02-28",
            [
                ("a0", 0, _seen("2026-02-10", HOUSED)),  # outflow: housed
                ("a1", 1, _seen("2025-12-20", flags=VET)),  # 70 days: still active
                ("a4", 4, _seen("2026-01-25")),
                ("a5", 5, _seen("2026-02-03")),  # on the list for the first time: new
                ("a6", 6, NONE),
                ("a8", 8, _seen("2026-02-05")),  # new
            ],
        ),
        _upload(
            tmp_path / "b2.clk",
            t,
            "B",
            "2026-02-28",
            [
                ("b2", 2, _seen("2026-01-05")),  # 54 days: active
                ("b3", 3, _seen("2026-02-20")),  # returned from housing
                ("b4", 4, _seen("2026-01-02")),
                ("b7", 7, _seen("2026-02-01")),  # new
                ("b9", 9, _seen("2026-02-11")),  # new (another person, for now)
            ],
        ),
    ]
    mar = [
        _upload(
            tmp_path / "a3.clk",
            t,
            "A",
            "2026-03-31",
            [
                ("a0", 0, _seen("2026-02-10", HOUSED)),
                ("a1", 1, _seen("2025-12-20", flags=VET)),  # 101 days: moved to inactive
                ("a4", 4, _seen("2026-03-15", DEAD)),  # no longer meets (deceased)
                ("a5", 5, _seen("2026-02-03")),
                ("a6", 6, NONE),
                ("a8", 8, _seen("2026-02-05")),
            ],
        ),
        _upload(
            tmp_path / "b3.clk",
            t,
            "B",
            "2026-03-31",
            [
                ("b2", 2, _seen("2026-03-03", INST)),  # no longer meets (institution)
                ("b3", 3, _seen("2026-02-20")),
                ("b4", 4, _seen("2026-01-02")),
                ("b7", 7, _seen("2026-03-30", flags=Flag.CHRONIC)),  # entered "chronic"
                # B found b9 was a8's person: its corrected encodings merge the two (a correction)
                ("b9", 8, _seen("2026-02-11")),
            ],
        ),
    ]
    return {"2026-01": jan, "2026-02": feb, "2026-03": mar}


def _store(tmp_path: Path, db: str, suppress_below: int = 0):
    """A store at ``db`` (SQLite or PostgreSQL) with the hmis config and a threshold."""
    config = tmp_path / "list.toml"
    text = builtin_config_path("hmis").read_text()
    config.write_text(text + f"\n[bynamelist]\nsuppress_below = {suppress_below}\n")
    return create_store(db, config)


def _figures(store, month: str) -> dict[str, dict[str, int]]:
    with store.engine.connect() as conn:
        out: dict[str, dict[str, int]] = {}
        q = select(figures.c.population, figures.c.measure, figures.c.value).where(
            figures.c.month == month
        )
        for p, m, v in conn.execute(q):
            out.setdefault(p, {})[m] = v
    return out


def _nonzero(row: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in row.items() if v}


def test_three_months_of_figures_worked_by_hand(tmp_path: Path, db: str, template) -> None:
    store = _store(tmp_path, db)
    months = _months(tmp_path, template)
    for month, files in months.items():
        ingest(store, files, month)
    jan, feb, mar = (_figures(store, m) for m in months)
    assert _nonzero(jan["all"]) == {"active": 4, "newly_identified": 4, "inflow": 4}
    assert _nonzero(jan["veterans"]) == {"active": 1, "newly_identified": 1, "inflow": 1}
    assert _nonzero(feb["all"]) == {
        "active": 8,
        "newly_identified": 4,
        "returned_from_housing": 1,
        "inflow": 5,
        "housed": 1,
        "outflow": 1,
    }
    # 4 active - 8 last month - 0 in + 3 out = -1: the merged duplicate, a correction
    assert _nonzero(mar["all"]) == {
        "active": 4,
        "moved_to_inactive": 1,
        "no_longer_meets": 2,
        "outflow": 3,
        "difference": -1,
    }
    assert _nonzero(mar["veterans"]) == {"moved_to_inactive": 1, "outflow": 1}
    assert _nonzero(mar["chronic"]) == {"active": 1, "entered": 1, "inflow": 1}
    with store.engine.connect() as conn:
        stored = month_statuses(conn, "2026-03")
    assert stored is not None
    counts = np.bincount(stored.status, minlength=6)
    # a0 housed; a1 inactive; a4+b4 deceased; b2 institution; b3, a5, b7, a8+b9 active;
    # a6 has no activity and no status row
    assert counts.tolist() == [0, 4, 1, 1, 1, 1]
    assert counts[Status.UNKNOWN] == 0
    report = build_report(store, "2026-03")
    assert report.rows["all"]["active_before"] == 8
    assert report.reliable["all"] is False  # off by 1 of 4, more than 1%
    assert report.reliable_streak == 0
    assert {a["agency"]: a["active_known"] for a in report.coverage} == {"A": 2, "B": 3}


def test_an_ingest_computes_what_the_store_alone_would(tmp_path: Path, db: str, template) -> None:
    """An ingest computes the month from the records it holds in memory; computed again from
    the store alone (as a correction does), each month comes out the same."""
    store = _store(tmp_path, db)
    for month, files in _months(tmp_path, template).items():
        ingest(store, files, month)
        with store.engine.connect() as conn:
            held = month_statuses(conn, month)
        kept = _figures(store, month)
        with store.engine.begin() as conn:
            refresh(conn, month, store.config.bynamelist)
            again = month_statuses(conn, month)
        assert held is not None and again is not None
        for column in ("people", "status", "flags", "listed"):
            assert getattr(again, column).tolist() == getattr(held, column).tolist()
        assert _figures(store, month) == kept


def test_history_is_frozen_and_late_months_refused(tmp_path: Path, db: str, template) -> None:
    store = _store(tmp_path, db)
    months = _months(tmp_path, template)
    for month, files in months.items():
        ingest(store, files, month)
    before = {m: _figures(store, m) for m in months}
    for month, files in months.items():  # re-ingesting every month changes nothing
        ingest(store, files, month)
    assert {m: _figures(store, m) for m in months} == before
    late = _upload(
        tmp_path / "late.clk", template, "C", "2026-02-28", [("c1", 1, _seen("2026-02-01"))]
    )
    with pytest.raises(
        StoreError, match="the list has reached 2026-03; an upload cannot go into 2026-02"
    ):
        ingest(store, [late], "2026-02")
    assert {m: _figures(store, m) for m in months} == before


def test_returns_are_told_from_first_listings_after_a_store_upgrade(
    tmp_path: Path, db: str, make_db, template
) -> None:
    """April: a1, inactive since March, is seen again (returned from inactive: listed in
    January and February); a6 is seen for the first time (newly identified). A second store
    with the same history, whose status rows carry no listed-before bits and no mark (as a
    store upgraded from schema 0003 does), reads its whole history once and agrees."""
    months = _months(tmp_path, template)
    april = [
        _upload(
            tmp_path / "a4.clk",
            template,
            "A",
            "2026-04-30",
            [("a1", 1, _seen("2026-04-20", flags=VET)), ("a6", 6, _seen("2026-04-02"))],
        )
    ]
    kept, upgraded = _store(tmp_path, db), _store(tmp_path, make_db())
    for store in (kept, upgraded):
        for month, files in months.items():
            ingest(store, files, month)
    with upgraded.engine.begin() as conn:
        for month in months:
            stored = month_statuses(conn, month)
            assert stored is not None
            bare = dataclasses.replace(stored, listed=np.zeros(len(stored), np.int64))
            conn.execute(
                update(status_months)
                .where(status_months.c.month == month)
                .values(**pack_statuses(bare))
            )
        conn.execute(delete(meta).where(meta.c.key == "listed_before_from"))
    for store in (kept, upgraded):
        ingest(store, april, "2026-04")
    apr = _figures(kept, "2026-04")
    assert _figures(upgraded, "2026-04") == apr
    # 4 active in March (b3, a5, b7, a8+b9) and nobody left since; a1 and a6 came
    assert _nonzero(apr["all"]) == {
        "active": 6,
        "newly_identified": 1,
        "returned_from_inactive": 1,
        "inflow": 2,
    }
    assert _nonzero(apr["veterans"]) == {
        "active": 1,
        "returned_from_inactive": 1,
        "inflow": 1,
    }
    for store, first in ((kept, "2026-01"), (upgraded, "2026-04")):
        with store.engine.connect() as conn:  # where the chain of listed_before starts
            mark = conn.execute(select(meta.c.value).where(meta.c.key == "listed_before_from"))
            assert mark.scalar_one() == first


def test_the_published_report_hides_small_cells(tmp_path: Path, db: str, template) -> None:
    store = _store(tmp_path, db, suppress_below=10)
    for month, files in _months(tmp_path, template).items():
        ingest(store, files, month)
    report = build_report(store, "2026-03")
    shown = [v for row in report.rows.values() for k, v in row.items() if k != "difference"]
    assert all(v is None or v == 0 or v >= 10 for v in shown)
    assert all(a["active_known"] is None and a["share"] is None for a in report.coverage)


def test_each_month_keeps_an_estimate_of_its_active_count(
    tmp_path: Path, make_db: Callable[[], str], template
) -> None:
    """Issue 20: every link of the hand-made list is sure (a person's records at two agencies
    are copies of one encoding, strangers share nothing), so the estimate is the active count
    itself with no spread, counting only people holding an active record (a4 + b4, deceased
    in March, still has b4's old activity: not counted). The report shows it in text, CSV and
    JSON, and hides it with the active count it would give away."""
    store = _store(tmp_path, make_db())
    months = _months(tmp_path, template)
    for month, files in months.items():
        ingest(store, files, month)
        assert build_report(store, month).active_estimate is None  # not yet estimated
        guess = estimate_month(store, month)
        report = build_report(store, month)
        active = report.rows["all"]["active"]
        assert guess is not None and guess.estimate == active
        assert report.active_estimate == {
            "estimate": active,
            "low": active,
            "high": active,
            "level": 0.9,
        }
    assert f"probabilities: {active} (90% interval {active} to {active})" in render_text(report)
    assert json.loads(render_json(report))["active_estimate"]["estimate"] == active
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    assert ["2026-03", "all", "active_high", str(active), "0"] in rows
    small = _store(tmp_path, make_db(), suppress_below=10)  # 4 active: hidden
    for month, files in months.items():
        ingest(small, files, month)
        estimate_month(small, month)
    hidden = build_report(small, "2026-03")
    assert hidden.rows["all"]["active"] is None and hidden.active_estimate is None
    assert ["2026-03", "all", "active_estimate", "", "1"] in csv.reader(
        io.StringIO(render_csv(hidden))
    )


def test_an_estimate_the_list_moved_past_is_not_kept(
    tmp_path: Path, db: str, template, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The estimate is computed outside the write lock: if a ruling (or an ingest, or a
    rollback) lands meanwhile, what it computed is not written over the list that moved on;
    and only the latest month is estimated."""
    store = _store(tmp_path, db)
    months = _months(tmp_path, template)
    first = next(iter(months))
    ingest(store, months[first], first)
    computed = interval.active_estimate

    def meanwhile(*args: Any, **kwargs: Any) -> PeopleEstimate | None:
        found = computed(*args, **kwargs)
        with store.engine.begin() as conn:  # another operator's ruling, committed
            conn.execute(
                insert(decisions).values(
                    kind="never",
                    agency_a="A",
                    record_a="a0",
                    agency_b="B",
                    record_b="b2",
                    decided_at=dt.datetime.now(dt.UTC),
                    note="",
                )
            )
        return found

    monkeypatch.setattr(interval, "active_estimate", meanwhile)
    assert estimate_month(store, first) is None
    assert build_report(store, first).active_estimate is None
    monkeypatch.undo()
    assert estimate_month(store, first) is not None  # once the list holds still
    second = list(months)[1]
    ingest(store, months[second], second)
    with pytest.raises(StoreError, match="not the list's latest month"):
        estimate_month(store, first)


def test_the_verdict_is_hidden_with_the_difference(tmp_path: Path, db: str) -> None:
    """20 active, then 10 newly identified and 5 housed: the outflow of 5 is hidden, so the
    difference of 0 is hidden second. "Reliable: yes" (within 1% of 25, under one person)
    would say the difference is 0 and give the outflow away: 20 + 10 - 25 + 0 = 5."""
    store = _store(tmp_path, db, suppress_below=10)
    row = dict.fromkeys(MEASURES, 0)
    months = {
        "2026-01": {**row, "active": 20, "newly_identified": 20, "inflow": 20},
        "2026-02": {**row, "active": 25, "newly_identified": 10, "inflow": 10},
    }
    months["2026-02"].update(housed=5, outflow=5)
    with store.engine.begin() as conn:
        conn.execute(
            insert(figures),
            [
                {"month": m, "population": p, "measure": k, "value": v if p == "all" else 0}
                for m, values in months.items()
                for p in POPULATIONS
                for k, v in values.items()
            ],
        )
    report = build_report(store, "2026-02")
    assert report.rows["all"]["outflow"] is None and report.rows["all"]["difference"] is None
    assert report.reliable["all"] is None
    assert report.reliable["youth"] is True  # all zeros: nothing hidden, judged
    assert report.reliable_streak is None and report.quality is None
    text = render_text(report)
    assert "reliable months in a row: *" in text
    assert text.split("\nreliable ")[1].split()[0] == "*"


def test_a_month_active_count_is_hidden_or_shown_as_next_month_last_month(
    tmp_path: Path, db: str, secret
) -> None:
    """One value in two published reports must be hidden in both or shown in both: shown in
    one, its hiding in the other would protect nothing. (On this community no active count
    is hidden second, so this holds the property over real months; the suppression unit
    test drives the mechanism.)"""
    scenario = write_scenario(tmp_path / "exports", 300, 3, months=5, seed=4)
    store = _store(tmp_path, db, suppress_below=30)
    for month in scenario.months:
        ingest(store, encode_month(scenario, month, store.config, secret, tmp_path / "up"), month)
    reports = build_reports(store, scenario.months)
    assert [r.month for r in reports] == scenario.months
    hidden_pairs = 0
    for report, following in itertools.pairwise(reports):
        assert following.previous == report.month
        for population in POPULATIONS:
            hidden = report.rows[population]["active"] is None
            assert hidden == (following.rows[population]["active_before"] is None)
            hidden_pairs += hidden
        assert build_report(store, following.month).rows == following.rows
    assert hidden_pairs
