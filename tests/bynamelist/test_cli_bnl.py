"""linkage bnl from the command line: init, ingest, re-ingest and the one-line errors."""

from __future__ import annotations

from pathlib import Path

from linkage.config import builtin_config_path
from linkage.encoding.keys import generate_secret
from linkage.encoding.pipeline import encode_file
from tests.test_cli import run


def test_init_ingest_and_reingest(
    tmp_path: Path, network, hmis_config, capsys, monkeypatch
) -> None:
    secret = generate_secret()
    files = []
    for i, client in enumerate(network):
        files.append(tmp_path / f"a{i}.clk")
        encode_file(hmis_config, secret, client, files[-1], f"agency_{i + 1}")
    db = tmp_path / "bnl.db"
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


def test_errors_are_one_line(tmp_path: Path, network, hmis_config, capsys, monkeypatch) -> None:
    db = tmp_path / "bnl.db"
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
