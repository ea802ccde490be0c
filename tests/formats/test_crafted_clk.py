"""Crafted `.clk` files: a valid upload with one header or section field changed and its
checksum recomputed (what a careless or hostile agency can send) is refused in one line
everywhere a `.clk` is read (inspect, match, the by-name list's ingest, the service's upload
check), or is read as the harmless file it still is. Never a traceback, a broadcast error or
an allocation sized by the file's own claims."""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkage.bynamelist import check_upload, create_store, ingest
from linkage.errors import LinkageError
from linkage.formats.config import builtin_config_path
from linkage.formats.container import END_MAGIC, MAGIC
from linkage.formats.summary import summarize
from linkage.matching import run_match

_PREAMBLE = struct.Struct("<8sHHIQ")


@dataclass
class Parts:
    """A .clk file taken apart: the preamble's fields, the header, and each block's record
    count with its sections' payloads, in header order."""

    version: int
    count: int
    header: dict[str, Any]
    blocks: list[tuple[int, list[bytes]]]


def take_apart(path: Path) -> Parts:
    raw = path.read_bytes()
    _, version, _, header_len, count = _PREAMBLE.unpack_from(raw)
    at = _PREAMBLE.size
    header = json.loads(raw[at : at + header_len])
    at += header_len
    blocks = []
    while True:
        (n,) = struct.unpack_from("<I", raw, at)
        at += 4
        if n == 0:
            break
        payloads = []
        for _ in header["sections"]:
            (length,) = struct.unpack_from("<Q", raw, at)
            payloads.append(raw[at + 8 : at + 8 + length])
            at += 8 + length
        blocks.append((n, payloads))
    return Parts(version, count, header, blocks)


def put_together(parts: Parts, path: Path, lengths: dict[int, int] | None = None) -> Path:
    """Write ``parts`` as a .clk with a correct checksum; ``lengths`` overrides the declared
    byte length of the first block's sections (by index), payloads unchanged."""
    header = json.dumps(parts.header, sort_keys=True, separators=(",", ":")).encode()
    body = b""
    for b, (n, payloads) in enumerate(parts.blocks):
        body += struct.pack("<I", n)
        for i, payload in enumerate(payloads):
            declared = (lengths or {}).get(i, len(payload)) if b == 0 else len(payload)
            body += struct.pack("<Q", declared) + payload
    body += struct.pack("<I", 0)
    preamble = _PREAMBLE.pack(MAGIC, parts.version, 0, len(header), parts.count)
    digest = hashlib.sha256(preamble + header + hashlib.sha256(body).digest()).digest()
    path.write_bytes(preamble + header + body + END_MAGIC + digest)
    return path


@pytest.fixture(scope="module")
def valid(month_files: list[Path]) -> Parts:
    parts = take_apart(month_files[0])
    assert parts.header["sections"] and parts.blocks
    return parts


#: Values a hostile header might hold in place of any field.
hostile = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.sampled_from([0, 1, 7, 9, 63, 1 << 20, 1 << 31, 1 << 36]),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["", "a\nb", "x" * 500, "agency_2", "\x1b[2J"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@st.composite
def crafted(draw: st.DrawFn, valid: Parts) -> tuple[Parts, dict[int, int]]:
    """One field of the valid file changed: a header key, a section's entry, the record
    count, or a section's declared length in the first block."""
    parts = Parts(valid.version, valid.count, json.loads(json.dumps(valid.header)), valid.blocks)
    lengths: dict[int, int] = {}
    where = draw(st.sampled_from(["header", "drop", "section", "count", "length"]))
    sections = parts.header["sections"]
    if where == "header":
        key = draw(st.sampled_from(sorted(parts.header)))
        parts.header[key] = draw(hostile)
    elif where == "drop":
        i = draw(st.integers(0, len(sections) - 1))
        del sections[i]
        parts.blocks = [(n, p[:i] + p[i + 1 :]) for n, p in parts.blocks]
    elif where == "section":
        i = draw(st.integers(0, len(sections) - 1))
        sections[i][draw(st.sampled_from(["name", "width", "required"]))] = draw(hostile)
    elif where == "count":
        parts.count = draw(st.integers(0, 1 << 64 - 1))
    else:
        i = draw(st.integers(0, len(sections) - 1))
        lengths[i] = draw(st.integers(0, 1 << 64 - 1))
    return parts, lengths


def _one_line_or_fine(what: str, call: Any) -> None:
    try:
        call()
    except LinkageError as err:
        assert "\n" not in err.one_line(), (what, err.one_line())


def test_a_crafted_upload_is_refused_in_one_line_wherever_it_is_read(
    valid: Parts, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("crafted")
    store = create_store(str(folder / "store.db"), builtin_config_path("hmis"))

    @given(change=crafted(valid))
    # the same 150 files on every run, so that CI never lands or fails on the luck of a draw;
    # to explore further by hand, set derandomize=False and run with --hypothesis-seed=N
    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    def refused_or_fine(change: tuple[Parts, dict[int, int]]) -> None:
        parts, lengths = change
        path = put_together(parts, folder / "agency_1.clk", lengths)
        _one_line_or_fine("inspect", lambda: summarize(path))
        _one_line_or_fine("match", lambda: run_match([path], folder / "out"))
        _one_line_or_fine("upload", lambda: check_upload(store, path, "2026-10"))
        _one_line_or_fine("ingest", lambda: ingest(store, [path], "2026-10"))

    try:
        refused_or_fine()
    finally:
        store.engine.dispose()


def test_the_valid_file_taken_apart_and_put_together_is_read_as_before(
    valid: Parts, month_files: list[Path], tmp_path: Path
) -> None:
    again = put_together(valid, tmp_path / "again.clk")
    assert again.read_bytes() == month_files[0].read_bytes()
