"""linkage bnl from the command line: init, ingest, re-ingest and the one-line errors."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from linkage.agency.encoding.keys import generate_secret
from linkage.agency.encoding.pipeline import encode_file
from linkage.bynamelist import open_store
from linkage.bynamelist.store.schema import records
from linkage.formats.config import builtin_config_path
from tests.test_cli import run


@pytest.fixture()
def files(tmp_path: Path, network, hmis_config) -> list[Path]:
    """One upload per synthetic agency, under one shared secret."""
    secret = generate_secret()
    out = []
    for i, client in enumerate(network):
        out.append(tmp_path / f"a{i}.clk")
        encode_file(hmis_config, secret, client, out[-1], f"agency_{i + 1}")
    return out


def test_init_ingest_and_reingest(db: str, files, capsys, monkeypatch) -> None:
    code, out, _ = run(["bnl", "init", "--db", db], capsys, monkeypatch)
    assert code == 0 and "config hmis" in out
    code, out, _ = run(
        ["bnl", "ingest", "--db", db, "--month", "2026-10", *files], capsys, monkeypatch
    )
    assert code == 0
    people = int(out.split("the list holds ")[1].split(" people")[0].replace(",", ""))
    assert 0 < people < sum(int(line.split()[1]) for line in out.splitlines()[:3])
    code, out, _ = run(
        ["bnl", "ingest", "--db", db, "--month", "2026-10", *files], capsys, monkeypatch
    )
    assert code == 0 and out.count("already ingested: skipped") == 3
    assert f"the list holds {people:,} people" in out and "0 new people, 0 merges" in out


def test_errors_are_one_line(
    tmp_path: Path, db: str, network, hmis_config, capsys, monkeypatch
) -> None:
    code, _, err = run(
        ["bnl", "ingest", "--db", db, "--month", "2026-10", "x.clk"], capsys, monkeypatch
    )
    assert code == 2 and "no store at" in err and "linkage bnl init" in err
    run(["bnl", "init", "--db", db, "--config", builtin_config_path("febrl")], capsys, monkeypatch)
    code, _, err = run(["bnl", "init", "--db", db], capsys, monkeypatch)
    assert code == 2 and "already holds tables" in err and "Traceback" not in err
    code, _, err = run(
        ["bnl", "ingest", "--db", db, "--month", "Oct", "x.clk"], capsys, monkeypatch
    )
    assert code == 2 and "not YYYY-MM" in err
    upload = tmp_path / "a.clk"
    encode_file(
        hmis_config,
        generate_secret(),
        network[0],
        upload,
        "a",
    )
    code, _, err = run(
        ["bnl", "ingest", "--db", db, "--month", "2026-10", upload], capsys, monkeypatch
    )
    assert code == 2 and "config fingerprint" in err and len(err.strip().splitlines()) == 1
    assert "--config febrl" in err  # the store's config is built in: say which to encode with


def test_an_agency_gets_its_own_records_only(
    tmp_path: Path, make_db, network, files, capsys, monkeypatch
) -> None:
    # the community allows the count of other agencies; the fingerprint does not change
    config = tmp_path / "hmis-shared.toml"
    text = (
        builtin_config_path("hmis").read_text() + "\n[bynamelist]\nshare_known_elsewhere = true\n"
    )
    config.write_text(text)
    plain, shared_db = make_db(), make_db()
    for db, extra in ((plain, []), (shared_db, ["--config", config])):
        run(["bnl", "init", "--db", db, *extra], capsys, monkeypatch)
        code, _, err = run(
            ["bnl", "ingest", "--db", db, "--month", "2026-10", *files],
            capsys,
            monkeypatch,
        )
        assert code == 0, err
    out = tmp_path / "north.csv"
    code, _, _ = run(
        ["bnl", "export", "--db", plain, "--agency", "agency_1", "-o", out],
        capsys,
        monkeypatch,
    )
    assert code == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(network[0], newline="", encoding="utf-8") as fh:
        own = {r["PersonalID"] for r in csv.DictReader(fh)}
    assert set(rows[0]) == {"record_id", "person_id"}
    assert {r["record_id"] for r in rows} == own  # all of its records and nobody else's
    # the shared export adds a count that matches the store
    code, _, _ = run(
        ["bnl", "export", "--db", shared_db, "--agency", "agency_1", "-o", out],
        capsys,
        monkeypatch,
    )
    store = open_store(shared_db)
    with store.engine.connect() as conn:
        agencies: dict[str, set[str]] = {}
        for agency, pid in conn.execute(select(records.c.agency, records.c.person_id)):
            agencies.setdefault(pid, set()).add(agency)
    with open(out, newline="") as fh:
        shared = list(csv.DictReader(fh))
    assert {r["record_id"] for r in shared} == own
    assert all(
        int(r["other_agencies"]) == len(agencies[r["person_id"]] - {"agency_1"}) for r in shared
    )
    assert any(int(r["other_agencies"]) > 0 for r in shared)
    code, _, err = run(
        ["bnl", "export", "--db", plain, "--agency", "nobody", "-o", out],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "no records from agency 'nobody'" in err


def test_report_from_uploads_with_activity(
    tmp_path: Path, db: str, network, capsys, monkeypatch
) -> None:
    import json

    key = tmp_path / "k.key"
    run(["keygen", "-o", key], capsys, monkeypatch)
    uploads = []
    for i, client in enumerate(network):
        uploads.append(tmp_path / f"a{i}.clk")
        code, _, err = run(
            [
                "encode",
                client.parent,
                "--secret-file",
                key,
                "--agency",
                f"agency_{i + 1}",
                "-o",
                uploads[-1],
                "-q",
            ],
            capsys,
            monkeypatch,
        )
        assert code == 0, err
    run(["bnl", "init", "--db", db], capsys, monkeypatch)
    code, _, err = run(["bnl", "report", "--db", db], capsys, monkeypatch)
    assert code == 2 and "the list has no month yet" in err
    code, said, _ = run(
        ["bnl", "ingest", "--db", db, "--month", "2026-10", *uploads], capsys, monkeypatch
    )
    assert code == 0
    guessed = re.search(
        r"actively homeless, estimated from the links' probabilities: ([\d,]+) \(90% "
        r"interval ([\d,]+) to ([\d,]+)\)",
        said,
    )
    assert guessed, said
    code, out, err = run(["bnl", "report", "--db", db], capsys, monkeypatch)
    assert code == 0, err
    assert "By-name list, 2026-10 (first month)" in out and "actively homeless" in out
    assert guessed[0] in out  # the report shows what the ingest estimated
    for agency in ("agency_1", "agency_2", "agency_3"):
        assert f"{agency} " in out and "last upload 2026-10" in out
    code, out, _ = run(["bnl", "report", "--db", db, "--format", "json"], capsys, monkeypatch)
    data = json.loads(out)
    everyone = data["figures"]["all"]
    # the first month: everyone active is newly identified, and nothing flows out
    assert everyone["active"] == everyone["newly_identified"] == everyone["inflow"] > 0
    assert everyone["outflow"] == 0 and data["reliable"]["all"] is None
    target = tmp_path / "r.csv"
    code, out, _ = run(
        ["bnl", "report", "--db", db, "--format", "csv", "-o", target], capsys, monkeypatch
    )
    assert code == 0 and "wrote the 2026-10 report" in out
    with open(target, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["population"] for r in rows} >= {"all", "youth", "veterans", "families"}
    for r in rows:
        if r["suppressed"] == "1":
            assert r["value"] == ""
        elif r["measure"] != "difference":
            assert int(r["value"]) == 0 or int(r["value"]) >= 10
    code, _, err = run(["bnl", "report", "--db", db, "--month", "2026-09"], capsys, monkeypatch)
    assert code == 2 and "no figures for 2026-09" in err


def test_a_database_failure_mid_command_is_one_line_without_its_parameters(
    tmp_path: Path, files, capsys, monkeypatch
) -> None:
    db = str(tmp_path / "bnl.db")
    run(["bnl", "init", "--db", db], capsys, monkeypatch)
    import linkage.bynamelist as bynamelist

    def gone(*args, **kwargs):
        raise OperationalError("INSERT INTO records", {"record_id": "1000042"}, OSError("reset"))

    monkeypatch.setattr(bynamelist, "ingest", gone)
    code, _, err = run(
        ["bnl", "ingest", "--db", db, "--month", "2026-10", *files], capsys, monkeypatch
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "database failed (OSError)" in err and "rolled back" in err
    assert "1000042" not in err and "INSERT" not in err
