"""Consent at the agency: read from a yes/no column or a list of ids, carried as one byte a
record in the .clk file's consent section; bad values are refused in one line, nothing
written."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from linkage.agency.consent import read_consent_list
from linkage.agency.encoding.pipeline import encode_file
from linkage.errors import InputError
from linkage.formats.consent import CONSENT
from linkage.formats.container import read_clk
from tests.test_cli import run


def _rows(client: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(client, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _with_column(client: Path, out: Path, value) -> Path:
    """A copy of ``client`` with a Consent column holding ``value(i)`` for row i."""
    fields, rows = _rows(client)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*fields, "Consent"])
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow({**row, "Consent": value(i)})
    return out


def _consent(path: Path) -> dict[str, int]:
    data = read_clk(path)
    return dict(zip(data.ids, data.sections[CONSENT].reshape(-1).tolist(), strict=True))


def test_a_column_says_yes_or_no_in_any_case(tmp_path, network, hmis_config, secret) -> None:
    words = ["yes", "No", "YES", "", " Yes ", "no"]
    source = _with_column(network[0], tmp_path / "c.csv", lambda i: words[i % len(words)])
    summary = encode_file(
        hmis_config, secret, source, tmp_path / "a.clk", "a", consent_column="Consent"
    )
    _, rows = _rows(network[0])
    expected = {r["PersonalID"]: int(i % len(words) in (0, 2, 4)) for i, r in enumerate(rows)}
    assert _consent(tmp_path / "a.clk") == expected
    assert summary.consented == sum(expected.values())


def test_a_list_of_ids_marks_those_records(tmp_path, network, hmis_config, secret) -> None:
    _, rows = _rows(network[0])
    chosen = [r["PersonalID"] for r in rows[::4]]
    listing = tmp_path / "ids.txt"
    listing.write_text("PersonalID\n" + "\n\n".join(chosen) + "\nnobody-here\n")
    consent = read_consent_list(listing, "PersonalID")
    summary = encode_file(
        hmis_config, secret, network[0], tmp_path / "a.clk", "a", consent_list=consent
    )
    marked = _consent(tmp_path / "a.clk")
    assert {i for i, v in marked.items() if v} == set(chosen)
    assert summary.consented == len(set(chosen))
    assert summary.consent_unmatched == 1  # said, not silently dropped


def test_pseudonymised_records_keep_their_consent(tmp_path, network, hmis_config, secret) -> None:
    source = _with_column(network[0], tmp_path / "c.csv", lambda i: "yes" if i % 2 else "no")
    out, id_map = tmp_path / "a.clk", tmp_path / "a.map"
    encode_file(hmis_config, secret, source, out, "a", id_map=id_map, consent_column="Consent")
    with open(id_map, newline="") as fh:
        real = {r["pseudonym"]: r["record_id"] for r in csv.DictReader(fh)}
    _, rows = _rows(network[0])
    expected = {r["PersonalID"]: i % 2 for i, r in enumerate(rows)}
    assert {real[p]: v for p, v in _consent(out).items()} == expected


def test_without_consent_there_is_no_section(tmp_path, network, hmis_config, secret) -> None:
    summary = encode_file(hmis_config, secret, network[0], tmp_path / "a.clk", "a")
    assert CONSENT not in read_clk(tmp_path / "a.clk").sections
    assert summary.consented is None


def test_a_value_other_than_yes_or_no_is_refused_with_nothing_written(
    tmp_path, network, hmis_config, secret
) -> None:
    source = _with_column(network[0], tmp_path / "c.csv", lambda i: "maybe" if i == 5 else "yes")
    with pytest.raises(InputError) as refused:
        encode_file(hmis_config, secret, source, tmp_path / "a.clk", "a", consent_column="Consent")
    said = refused.value.one_line()
    assert "c.csv:7" in said and "column Consent" in said and "no, yes" in said
    assert "maybe" not in said  # a cell is never echoed: it might be a name
    assert not (tmp_path / "a.clk").exists()


def test_a_list_with_commas_is_refused_and_an_empty_one_consents_no_one(
    tmp_path, network, hmis_config, secret
) -> None:
    listing = tmp_path / "ids.txt"
    listing.write_text("100001,yes\n")
    with pytest.raises(InputError, match=r"ids\.txt:1: a consent list holds one record id a line"):
        read_consent_list(listing, "PersonalID")
    listing.write_bytes(b"\xff\xfe1\x00")
    with pytest.raises(InputError, match="the consent list is not UTF-8 text"):
        read_consent_list(listing, "PersonalID")
    with pytest.raises(InputError, match="no such consent list"):
        read_consent_list(tmp_path / "gone.txt", "PersonalID")
    listing.write_text("PersonalID\n\n")
    empty = read_consent_list(listing, "PersonalID")
    summary = encode_file(
        hmis_config, secret, network[0], tmp_path / "a.clk", "a", consent_list=empty
    )
    assert summary.consented == 0 and not any(_consent(tmp_path / "a.clk").values())


def test_the_command_line_reads_consent_and_refuses_both_sources(
    tmp_path, network, key_file, capsys, monkeypatch
) -> None:
    source = _with_column(network[0], tmp_path / "c.csv", lambda i: "yes" if i < 10 else "no")
    args = ["encode", source, "--secret-file", key_file, "--agency", "a"]
    column = ["--consent-column", "Consent"]
    code, out, _ = run([*args, "-o", tmp_path / "a.clk", *column], capsys, monkeypatch)
    assert code == 0 and "10 of " in out and "consent to be named to partners" in out
    assert sum(_consent(tmp_path / "a.clk").values()) == 10
    listing = tmp_path / "ids.txt"
    listing.write_text("1\n")
    both = [*args, "-o", tmp_path / "b.clk", *column, "--consent-ids", listing]
    code, _, err = run(both, capsys, monkeypatch)
    assert code == 2 and "not both" in err
    code, _, err = run(
        [*args, "-o", tmp_path / "b.clk", "--consent-column", "Agreed"], capsys, monkeypatch
    )
    assert code == 2 and "missing required column(s): Agreed" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b.clk").exists()
