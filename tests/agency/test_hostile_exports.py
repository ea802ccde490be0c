"""Exports an agency's system (or a careless hand) can produce, each refused or warned about
in one line with nothing half-written: every row unusable, no rows at all, old Mac line
endings, an unknown text encoding, a header of absurd width, a secret file others can read."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.test_cli import run


@pytest.fixture()
def rows(network: list[Path]) -> list[list[str]]:
    with open(network[0], newline="", encoding="utf-8-sig") as fh:
        return list(csv.reader(fh))


def _encode(capsys, monkeypatch, source: Path, key: Path, *extra: object) -> tuple[int, str]:
    out = source.with_suffix(".clk")
    code, _, err = run(
        ["encode", source, "--secret-file", key, "--agency", "a", "-o", out, *extra],
        capsys,
        monkeypatch,
    )
    assert code == 0 or not out.exists()
    return code, err


def test_exports_with_nothing_usable_are_refused_and_write_nothing(
    tmp_path: Path, rows: list[list[str]], key_file: Path, capsys, monkeypatch
) -> None:
    header, body = rows[0], rows[1:]
    cases = {
        "short.csv": (
            [",".join(header)] + [",".join(r[:3]) for r in body],
            "every one of its",
        ),
        "header-only.csv": ([",".join(header)], "holds no rows after its header"),
    }
    for name, (lines, said) in cases.items():
        source = tmp_path / name
        source.write_text("\n".join(lines) + "\n")
        code, err = _encode(capsys, monkeypatch, source, key_file, "--on-error", "skip")
        assert code == 2 and err.count("\n") == 1 and said in err, err
    mac = tmp_path / "mac.csv"
    mac.write_text("\r".join(",".join(r) for r in rows) + "\r", newline="")
    code, err = _encode(capsys, monkeypatch, mac, key_file)
    assert code == 2 and "carriage return alone" in err and err.count("\n") == 1
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(5000)) + "\n1\n")
    code, err = _encode(capsys, monkeypatch, wide, key_file, "--config", "configs/febrl.toml")
    assert code == 2 and "the header has 5,000 columns" in err
    assert not list(tmp_path.glob("*.clk")) and not list(tmp_path.glob(".*.part"))


def test_an_unknown_text_encoding_is_named(
    network: list[Path], key_file: Path, capsys, monkeypatch
) -> None:
    code, err = _encode(capsys, monkeypatch, network[0], key_file, "--input-encoding", "bogus")
    assert code == 2 and "'bogus' is not a text encoding" in err and "Traceback" not in err


def test_a_secret_file_others_can_read_is_warned_about(
    tmp_path: Path, network: list[Path], key_file: Path, capsys, monkeypatch
) -> None:
    source = tmp_path / "Client.csv"
    source.write_bytes(network[0].read_bytes())
    code, err = _encode(capsys, monkeypatch, source, key_file, "-q")
    assert code == 0 and "warning" not in err  # keygen writes it 0600
    key_file.chmod(0o644)
    code, err = _encode(capsys, monkeypatch, source, key_file, "-q")
    assert code == 0
    assert f"warning: the secret file {key_file} can be read or changed by other users" in err
    assert f"chmod 600 {key_file}" in err


def test_an_unclosed_quote_on_the_last_line_is_skipped_not_a_crash(
    tmp_path: Path, rows: list[list[str]], key_file: Path, capsys, monkeypatch
) -> None:
    """The quote swallows the rest of the file, so the last block holds no good row."""
    source = tmp_path / "Client.csv"
    with open(source, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
        fh.write('"unclosed,' + ",".join(rows[1][1:]) + "\n")
    code, err = _encode(capsys, monkeypatch, source, key_file, "--on-error", "skip", "-q")
    assert code == 0, err
    from linkage.formats.container import read_clk

    assert len(read_clk(source.with_suffix(".clk")).ids) == len(rows) - 1
