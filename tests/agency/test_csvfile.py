from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkage.agency.csvfile import BlockReader, DuplicateIds, id_hashes, make_layout, parse_block
from linkage.agency.hmis.client import detect_version, looks_like_client_csv
from linkage.errors import InputError

cell = st.text(alphabet='ab ,"\n\r\té', max_size=8)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    rows=st.lists(st.lists(cell, min_size=3, max_size=3), max_size=25),
    block=st.integers(1, 64),
)
def test_blocks_never_split_a_record(tmp_path: Path, rows, block: int) -> None:
    """Whatever the block size, quoted newlines, commas and quotes survive intact and every
    row keeps the physical line number csv.reader gives it."""
    buf = io.StringIO()
    writer = csv.writer(buf)  # "\r\n" endings: fields holding \r or \n get quoted
    writer.writerow(["id", "a", "b"])
    body = [[f"r{i}", *r[1:]] for i, r in enumerate(rows)]
    writer.writerows(body)
    path = tmp_path / "x.csv"
    path.write_bytes(buf.getvalue().encode())
    reference = csv.reader(io.StringIO(buf.getvalue(), newline=""))
    next(reference)
    expected_lines = []
    for _ in reference:
        expected_lines.append(reference.line_num)
    with BlockReader(path) as reader:
        layout = make_layout(path, reader.header, "id", ["a", "b"], encoding="utf-8")
        ids, cols_a, lines = [], [], []
        for data, first in reader.blocks(block):
            chunk, _ = parse_block(data, first, layout)
            ids += chunk.ids
            cols_a += chunk.columns[0]
            lines += chunk.lines
    assert ids == [r[0] for r in body]
    assert cols_a == [r[1] for r in body]
    assert lines == expected_lines


def test_header_checks(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    with pytest.raises(InputError, match="appears twice"):
        make_layout(path, ["id", "a", "a"], "id", ["a"])
    with pytest.raises(InputError, match="missing required column"):
        make_layout(path, ["id"], "id", ["a", "b"])
    layout = make_layout(path, ["id", "a"], "id", ["a"], optional=["Sex"])
    assert layout.present == (True, False)


def test_deleted_rows_are_counted_not_encoded(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    layout = make_layout(
        path, ["id", "a", "DateDeleted"], "id", ["a"], deleted_column="DateDeleted"
    )
    chunk, stats = parse_block(b"1,x,\n2,y,2025-01-01\n3,z,\n", 2, layout)
    assert chunk.ids == ["1", "3"] and stats.deleted == 1 and chunk.lines == [2, 4]


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    layout = make_layout(tmp_path / "x.csv", ["id", "a"], "id", ["a"])
    dup = DuplicateIds(tmp_path / "x.csv", "id")
    for data, line in ((b"1,a\n2,b\n", 2), (b"3,c\n2,d\n", 4)):
        chunk = parse_block(data, line, layout)[0]
        dup.add(id_hashes(chunk.ids), np.array(chunk.lines))
    with pytest.raises(InputError, match=":5: id repeats the id on line 3"):
        dup.check()


def test_hmis_versions() -> None:
    base = ["PersonalID", "FirstName", "LastName", "NameDataQuality", "DOB", "SSN"]
    assert detect_version([*base, "Woman", "Man", "HispanicLatinaeo"]) == "FY2024"
    assert detect_version([*base, "Sex", "HispanicLatinao"]) == "FY2026"
    assert detect_version(["rec_id", "given_name"]) is None
    assert looks_like_client_csv(["PersonalID", "FirstName", "LastName"])


def test_id_keys_are_exact_for_short_ids_and_stable() -> None:
    short = id_hashes(["1", "10", "1000000", "0000001"])
    assert len(set(short.tolist())) == 4
    mixed = id_hashes(["1", "a-long-record-id-1", "a-long-record-id-2"])
    assert len(set(mixed.tolist())) == 3
    assert mixed[0] == short[0]  # same id, same key, whatever else is in the block
    assert (mixed[1:] < 0).all()  # hashed keys carry the top bit
