"""Count-only agencies: checked files, kept apart from the list, reported as not deduplicated
and suppressed like every other cell."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkage.bynamelist import StoreError, build_report, ingest
from linkage.bynamelist.counts import read_counts
from linkage.bynamelist.report import render_text
from tests.bynamelist.test_monthly import _months, _seen, _store, _upload
from tests.test_cli import run


def _file(tmp_path: Path, text: str, name: str = "counts.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = "population,measure,value\nall,active,23\nall,newly_identified,4\nveterans,active,3\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pop,measure,value\nall,active,1\n", ":1: the header must be population,measure,value"),
        ("population,measure,value\nkids,active,1\n", ":2: unknown population 'kids'"),
        ("population,measure,value\nall,difference,1\n", ":2: unknown measure 'difference'"),
        ("population,measure,value\nall,active,-1\n", ":2: value must be a whole number"),
        ("population,measure,value\nall,active,1\nall,active,2\n", ":3: all active is given twice"),
        (
            "population,measure,value\nall,outflow,5\nall,housed,1\nall,moved_to_inactive,1\n"
            "all,no_longer_meets,1\n",
            "all outflow is not the sum of its kinds",
        ),
        ("population,measure,value\n", "holds no counts"),
    ],
)
def test_bad_counts_files_are_refused_with_where(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        read_counts(_file(tmp_path, text))


def test_counts_are_reported_apart_and_suppressed(tmp_path: Path, db: str, template) -> None:
    store = _store(tmp_path, db, suppress_below=10)
    months = _months(tmp_path, template)
    ingest(store, months["2026-01"], "2026-01")
    from linkage.bynamelist.counts import add_counts

    assert add_counts(store, "DV", "2026-01", _file(tmp_path, GOOD)) == 3
    report = build_report(store, "2026-01")
    assert report.count_only_agencies == ["DV"]
    everyone = report.count_only["all"]
    assert everyone["newly_identified"] is None  # 4: under 10
    # the list's own active count (4) is hidden; with 27 = 4 + 23 shown, 23 would give it
    # away, so the smaller of the two is hidden too
    assert report.rows["all"]["active"] is None
    assert (everyone["active"], everyone["active_with_list"]) == (None, 27)
    assert report.count_only["veterans"]["active"] is None
    assert "not deduplicated" in render_text(report)
    # sending again replaces; a count-only agency cannot send records, nor the reverse
    assert (
        add_counts(
            store,
            "DV",
            "2026-01",
            _file(tmp_path, "population,measure,value\nall,active,30\n", "b.csv"),
        )
        == 1
    )
    replaced = build_report(store, "2026-01").count_only["all"]
    assert set(replaced) == {"active", "active_with_list"} and replaced["active_with_list"] == 34
    dv = _upload(
        tmp_path / "dv.clk", template, "DV", "2026-01-31", [("d1", 1, _seen("2026-01-03"))]
    )
    with pytest.raises(StoreError, match="DV is a count-only agency"):
        ingest(store, [dv], "2026-01")
    with pytest.raises(StoreError, match="A sends encoded records"):
        add_counts(store, "A", "2026-01", _file(tmp_path, GOOD))
    ingest(store, months["2026-02"], "2026-02")
    with pytest.raises(StoreError, match="counts cannot go into 2026-01"):
        add_counts(store, "DV", "2026-01", _file(tmp_path, GOOD))


def test_counts_from_the_command_line(
    tmp_path: Path, db: str, template, capsys, monkeypatch
) -> None:
    store = _store(tmp_path, db, suppress_below=0)
    ingest(store, _months(tmp_path, template)["2026-01"], "2026-01")
    args = ["bnl", "counts", "--db", db, "--month", "2026-01", "--agency", "DV"]
    code, out, err = run([*args, _file(tmp_path, GOOD)], capsys, monkeypatch)
    assert code == 0 and "stored 3 counts of DV" in out, err
    code, out, _ = run(["bnl", "report", "--db", db], capsys, monkeypatch)
    assert "count-only agencies" in out and "list + theirs, active" in out
    line = next(x for x in out.splitlines() if x.startswith("  list + theirs"))
    assert line.split()[4] == "27"  # 23 counted + the list's 4, not deduplicated
    code, _, err = run([*args, _file(tmp_path, "x\n", "bad.csv")], capsys, monkeypatch)
    assert code == 2 and "bad.csv:1: the header must be" in err and "Traceback" not in err
