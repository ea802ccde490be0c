"""The CLI contract and every bad-input case from the encoder issue, run through main()."""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from linkage.cli import cli, main
from linkage.formats.container import read_clk


def run(args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["linkage", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def _copy(src: Path, dst_dir: Path) -> Path:
    dst = dst_dir / "Client.csv"
    shutil.copy(src, dst)
    return dst


def _insert_line(path: Path, index: int, line: str) -> None:
    """Put ``line`` at 0-based line ``index`` of a copied export (to break it on purpose)."""
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(index, line)
    path.write_text("".join(lines))


def _names_in(path: Path) -> set[str]:
    with open(path, newline="") as fh:
        # quality 99 rows may hold placeholders such as "Client", which are not identifying
        rows = [r for r in csv.DictReader(fh) if r["NameDataQuality"] == "1"]
    return {r["FirstName"] for r in rows if len(r["FirstName"]) > 3} | {
        r["LastName"] for r in rows if len(r["LastName"]) > 3
    }


def test_every_command_has_help_with_an_example(capsys, monkeypatch) -> None:
    commands = [
        [],
        ["keygen"],
        ["config"],
        ["config", "check"],
        ["encode"],
        ["inspect"],
        ["export"],
        ["match"],
        ["demo"],
        ["synth"],
        ["evaluate"],
        ["attack"],
        ["bnl"],
        ["bnl", "init"],
        ["bnl", "ingest"],
        ["bnl", "report"],
        ["bnl", "export"],
        ["bnl", "review"],
        ["bnl", "forget"],
        ["bnl", "counts"],
        ["bnl", "upgrade"],
    ]
    for cmd in commands:
        code, out, _ = run([*cmd, "--help"], capsys, monkeypatch)
        assert code == 0 and "Example" in out, cmd
    assert set(cli.commands) >= {
        "keygen",
        "config",
        "encode",
        "inspect",
        "export",
        "demo",
        "synth",
        "evaluate",
        "attack",
    }


def test_encode_end_to_end_and_inspect(network, key_file, tmp_path, capsys, monkeypatch) -> None:
    src = _copy(network[0], tmp_path)
    out = tmp_path / "north.clk"
    code, stdout, err = run(
        ["encode", src, "--secret-file", key_file, "--agency", "north", "-o", out],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    assert "HMIS FY2024" in stdout and "data quality" in stdout
    data = read_clk(out)
    assert data.header.agency == "north" and data.header.config_name == "hmis"
    assert len(data.ids) == len(src.read_text().splitlines()) - 1
    # nothing identifying is printed, and nothing identifying is in the upload
    names = _names_in(src)
    # (the header's own words are left out: Faker has a surname "Fields")
    header = data.header.to_json().decode().lower()
    blob = out.read_bytes().decode("latin-1").lower().replace(header, "")
    assert not any(n.lower() in stdout.lower() + err.lower() for n in names)
    assert not any(n.lower() in blob for n in names)
    code, stdout, _ = run(["inspect", out], capsys, monkeypatch)
    assert code == 0 and "checksum:          ok" in stdout and "popcount" in stdout


def test_encode_export_folder_adds_activity(
    network, key_file, tmp_path, capsys, monkeypatch
) -> None:
    from linkage.formats.activity import ACTIVITY, AS_OF, unpack

    folder = network[0].parent
    out = tmp_path / "north.clk"
    code, stdout, err = run(_encode_args(folder, key_file, out), capsys, monkeypatch)
    assert code == 0, err
    assert "activity as of 2026-10-31" in stdout  # Export.csv's ExportEndDate
    data = read_clk(out)
    section = data.header.section(ACTIVITY)
    assert section is not None and not section.required
    assert data.header.extra[AS_OF] == "2026-10-31"
    columns = unpack(data.sections[ACTIVITY])
    # every synthetic client has one open enrollment: its entry is the last activity, except
    # in an entry/exit shelter (type 0), where a bed is taken every night up to the export's end
    assert len(columns.last_activity) == len(data.ids) and columns.last_activity.min() > 0
    with open(folder / "Project.csv", newline="") as fh:
        kind = {row["ProjectID"]: row["ProjectType"] for row in csv.DictReader(fh)}
    entry = {}
    with open(folder / "Enrollment.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            shelter = kind[row["ProjectID"]] == "0"
            entry[row["PersonalID"]] = "2026-10-31" if shelter else row["EntryDate"]
    assert set(columns.project_type.tolist()) == {0, 1}
    days = [str(date.fromordinal(d)) for d in columns.last_activity.tolist()]
    assert days == [entry[i] for i in data.ids]
    # --as-of moves the day, and is refused for a plain file
    as_of = ("--as-of", "2026-06-30")
    code, _, err = run(_encode_args(folder, key_file, out, *as_of, "-q"), capsys, monkeypatch)
    assert code == 0, err
    assert read_clk(out).header.extra[AS_OF] == "2026-06-30"
    code, _, err = run(_encode_args(network[0], key_file, out, *as_of), capsys, monkeypatch)
    assert code == 2 and "--as-of needs INPUT to be an HMIS export folder" in err


def test_workers_give_identical_filters(network, key_file, tmp_path, capsys, monkeypatch) -> None:
    src = _copy(network[1], tmp_path)
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}.clk"
        code, _, err = run(
            [
                "encode",
                src,
                "--secret-file",
                key_file,
                "--agency",
                "a",
                "-o",
                out,
                "--workers",
                workers,
                "-q",
            ],
            capsys,
            monkeypatch,
        )
        assert code == 0, err
        outs.append(read_clk(out))
    assert outs[0].ids == outs[1].ids
    assert np.array_equal(outs[0].clks, outs[1].clks)


def test_secret_env_and_pseudonymous_ids(network, tmp_path, capsys, monkeypatch) -> None:
    from linkage.agency.encoding.keys import format_secret

    monkeypatch.setenv("LINKAGE_SECRET", format_secret(bytes(range(32))))
    src = _copy(network[0], tmp_path)
    out = tmp_path / "p.clk"
    code, _stdout, err = run(
        ["encode", src, "--agency", "north", "-o", out, "--pseudonymize-ids"], capsys, monkeypatch
    )
    assert code == 0, err
    data = read_clk(out)
    assert data.header.id_kind == "pseudonymous"
    idmap = (tmp_path / "p.clk.idmap.csv").read_text().splitlines()
    mapping = dict(line.split(",", 1) for line in idmap[1:])
    assert set(mapping) == set(data.ids)
    assert not set(mapping.values()) & set(data.ids)
    assert (tmp_path / "p.clk.idmap.csv").stat().st_mode & 0o077 == 0


def test_export_anonlink_json(network, key_file, tmp_path, capsys, monkeypatch) -> None:
    src = _copy(network[0], tmp_path)
    out = tmp_path / "a.clk"
    run(
        ["encode", src, "--secret-file", key_file, "--agency", "a", "-o", out, "-q"],
        capsys,
        monkeypatch,
    )
    code, _, _ = run(["export", out, "-o", tmp_path / "a.json"], capsys, monkeypatch)
    assert code == 0
    clks = json.loads((tmp_path / "a.json").read_text())["clks"]
    data = read_clk(out)
    assert len(clks) == len(data.ids)
    assert base64.b64decode(clks[3]) == data.clks[3].tobytes()


def _encode_args(src: Path, key: Path, out: Path, *extra: object) -> list[object]:
    return ["encode", src, "--secret-file", key, "--agency", "north", "-o", out, *extra]


def _assert_fails(args, capsys, monkeypatch, expected: str, out: Path | None = None) -> str:
    code, _stdout, err = run(args, capsys, monkeypatch)
    assert code != 0
    assert expected in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    if out is not None:
        assert not out.exists()
        assert not [p for p in out.parent.iterdir() if p.name.endswith(".part")]
    return err


def test_missing_columns_named(tmp_path, key_file, capsys, monkeypatch) -> None:
    src = tmp_path / "Client.csv"
    src.write_text("PersonalID,FirstName,LastName,NameDataQuality,DOB,SSN\n1,A,B,1,,\n")
    out = tmp_path / "x.clk"
    err = _assert_fails(
        _encode_args(src, key_file, out), capsys, monkeypatch, "missing required column(s)", out
    )
    assert "DOBDataQuality" in err and "SSNDataQuality" in err


def test_malformed_row_line_number_and_skip(
    network, tmp_path, key_file, capsys, monkeypatch
) -> None:
    src = _copy(network[0], tmp_path)
    _insert_line(src, 5, "999,only,three\n")
    row = src.read_text().splitlines(keepends=True)[8]
    _insert_line(src, 9, row.replace(",1,", ",7,", 1) if ",1," in row else row)
    lines = src.read_text().splitlines(keepends=True)
    out = tmp_path / "x.clk"
    err = _assert_fails(
        _encode_args(src, key_file, out), capsys, monkeypatch, f"{src}:6: row has 3 fields", out
    )
    assert "--on-error skip" in err
    code, stdout, err = run(
        _encode_args(src, key_file, out, "--on-error", "skip"), capsys, monkeypatch
    )
    assert code == 0, err
    assert "malformed rows skipped" in stdout and "wrong field count" in stdout
    assert len(read_clk(out).ids) >= len(lines) - 1 - 2


def test_invalid_quality_code_names_column_not_value(
    tmp_path, key_file, capsys, monkeypatch
) -> None:
    src = tmp_path / "Client.csv"
    src.write_text(
        "PersonalID,FirstName,LastName,NameDataQuality,SSN,SSNDataQuality,DOB,DOBDataQuality\n"
        "1,Zorblax,Quintaro,1,,99,,99\n2,Yvette,Quintaro,Zorblax,,99,,99\n"
    )
    out = tmp_path / "x.clk"
    err = _assert_fails(
        _encode_args(src, key_file, out, "--config", "configs/hmis.toml"),
        capsys,
        monkeypatch,
        ":3: column NameDataQuality holds a non-code value",
        out,
    )
    assert "Zorblax" not in err


def test_duplicate_ids_and_bad_quoting(tmp_path, key_file, capsys, monkeypatch) -> None:
    head = "PersonalID,FirstName,LastName,NameDataQuality,SSN,SSNDataQuality,DOB,DOBDataQuality\n"
    src = tmp_path / "Client.csv"
    src.write_text(head + "1,Ann,Lee,1,,99,,99\n2,Bo,Lee,1,,99,,99\n1,Cy,Lee,1,,99,,99\n")
    out = tmp_path / "x.clk"
    _assert_fails(
        _encode_args(src, key_file, out, "--config", "configs/hmis.toml"),
        capsys,
        monkeypatch,
        ":4: PersonalID repeats the id on line 2",
        out,
    )
    src.write_text(head + '1,"Ann"x,Lee,1,,99,,99\n')
    _assert_fails(
        _encode_args(src, key_file, out, "--config", "configs/hmis.toml"),
        capsys,
        monkeypatch,
        ":2: malformed CSV",
        out,
    )


def test_not_utf8_and_empty_file(tmp_path, key_file, capsys, monkeypatch) -> None:
    head = b"PersonalID,FirstName,LastName,NameDataQuality,SSN,SSNDataQuality,DOB,DOBDataQuality\n"
    src = tmp_path / "Client.csv"
    src.write_bytes(head + b"1,Ren\xe9,Lee,1,,99,,99\n")
    out = tmp_path / "x.clk"
    _assert_fails(_encode_args(src, key_file, out), capsys, monkeypatch, "not UTF-8", out)
    code, _, err = run(
        _encode_args(src, key_file, out, "--input-encoding", "cp1252", "-q"), capsys, monkeypatch
    )
    assert code == 0, err
    src.write_text("")
    before = out.read_bytes()
    _assert_fails(
        _encode_args(src, key_file, out, "--config", "configs/hmis.toml"),
        capsys,
        monkeypatch,
        "file is empty",
    )
    assert out.read_bytes() == before  # a failed run never damages an earlier output


def test_secret_problems(network, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("LINKAGE_SECRET", raising=False)
    monkeypatch.delenv("LINKAGE_SECRET_FILE", raising=False)
    src = _copy(network[0], tmp_path)
    out = tmp_path / "x.clk"
    empty = tmp_path / "empty.key"
    empty.write_text("")
    _assert_fails(_encode_args(src, empty, out), capsys, monkeypatch, "is empty", out)
    _assert_fails(
        _encode_args(src, tmp_path / "nope.key", out), capsys, monkeypatch, "not found", out
    )
    _assert_fails(
        ["encode", src, "--agency", "a", "-o", out], capsys, monkeypatch, "no secret given", out
    )
    code, _, err = run(
        ["encode", src, "--secret", "abc", "--agency", "a", "-o", out], capsys, monkeypatch
    )
    assert code != 0 and "No such option" in err


def test_config_errors(network, tmp_path, key_file, capsys, monkeypatch) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(Path("configs/hmis.toml").read_text() + "\nshoe_size = 9\n")
    _assert_fails(["config", "check", bad], capsys, monkeypatch, "unknown key 'shoe_size'")
    out = tmp_path / "x.clk"
    src = _copy(network[0], tmp_path)
    _assert_fails(
        _encode_args(src, key_file, out, "--config", bad),
        capsys,
        monkeypatch,
        "unknown key 'shoe_size'",
        out,
    )
    plain = tmp_path / "people.csv"
    plain.write_text("rec_id,given_name\n1,a\n")
    _assert_fails(
        _encode_args(plain, key_file, out), capsys, monkeypatch, "not an HMIS Client.csv", out
    )
    code, stdout, _ = run(["config", "check", "configs/febrl.toml"], capsys, monkeypatch)
    assert code == 0 and "fingerprint:" in stdout


def test_corrupt_clk_for_inspect(tmp_path, capsys, monkeypatch) -> None:
    bad = tmp_path / "bad.clk"
    bad.write_bytes(b"LNKCLK\r\n" + b"\x01\x00")
    _assert_fails(["inspect", bad], capsys, monkeypatch, "truncated")


def test_demo_runs_months_of_the_list_and_again(tmp_path, capsys, monkeypatch) -> None:
    args = ["demo", "--out", tmp_path / "demo", "--people", "80", "--months", "3"]
    for _ in range(2):  # a second run in the same folder starts the year again
        code, stdout, err = run(args, capsys, monkeypatch)
        assert code == 0, err
        assert stdout.count("actively homeless") >= 4  # one line a month, one in the report
        monthly = re.findall(r"actively homeless (\d+), estimated (\d+) \(truly (\d+)\)", stdout)
        assert len(monthly) == 3, stdout  # issue 20: each month's estimate beside the count
        assert "checksum:          ok" in stdout
        assert "By-name list, 2026-01 (compared with 2025-12)" in stdout
        assert "statuses right for" in stdout
        # issue 20: the count, the estimate and the truth side by side, and why
        count = re.search(
            r"9\. the count: the list holds ([\d,]+) people; a match of \S+ uploads decides "
            r"([\d,]+) and, from its probabilities, estimated ([\d,]+) \(90% interval "
            r"([\d,]+) to ([\d,]+)\); truly ([\d,]+)",
            stdout,
        )
        assert count, stdout
        low, high = (int(count[i].replace(",", "")) for i in (4, 5))
        assert low <= int(count[3].replace(",", "")) <= high
        assert "   where that match's overcount comes from: of the " in stdout
        # issue 22: a joint list, checked against the truth, and the notices sent
        joint = re.search(r"joint participants \(linkage bnl joint\), (\d+) of its own", stdout)
        assert joint and int(joint[1]) > 0, stdout
        assert "record_id,person_id,status,last_activity,partners" in stdout
        assert re.search(r"against the truth: \d+ of them are people both agencies serve", stdout)
        assert re.search(r"notices to agency_1 \(linkage bnl notices\): \d+ events", stdout)
    uploads = sorted((tmp_path / "demo" / "uploads").rglob("*.clk"))
    assert len(uploads) == 3 * 4
    code, stdout, err = run(
        ["bnl", "report", "--db", tmp_path / "demo" / "bynamelist.db", "--format", "json"],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    assert json.loads(stdout)["month"] == "2026-01"


def test_errors_from_worker_processes_stay_one_line(
    network, tmp_path, key_file, capsys, monkeypatch
) -> None:
    src = _copy(network[2], tmp_path)
    _insert_line(src, 40, "1,2\n")
    out = tmp_path / "x.clk"
    err = _assert_fails(
        _encode_args(src, key_file, out, "--workers", "2"),
        capsys,
        monkeypatch,
        f"{src}:41: row has 2 fields",
        out,
    )
    assert "--on-error skip" in err


def test_folder_and_broken_header(tmp_path, key_file, capsys, monkeypatch) -> None:
    out = tmp_path / "x.clk"
    folder = tmp_path / "export"
    folder.mkdir()
    _assert_fails(
        _encode_args(folder, key_file, out, "--config", "configs/hmis.toml"),
        capsys,
        monkeypatch,
        "export is a folder without a Client.csv",
        out,
    )
    src = tmp_path / "Client.csv"
    src.write_text('PersonalID,"FirstName"x,LastName\n1,a,b\n')
    _assert_fails(
        _encode_args(src, key_file, out, "--config", "configs/hmis.toml"),
        capsys,
        monkeypatch,
        ":1: malformed CSV header",
        out,
    )
