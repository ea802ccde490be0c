from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from linkage.errors import ContainerError
from linkage.formats.container import (
    CLKS,
    IDS,
    Block,
    ClkWriter,
    Header,
    Section,
    read_clk,
    read_header,
)


def _header(extra_sections: tuple[Section, ...] = ()) -> Header:
    return Header(
        config_fingerprint="ab" * 32,
        config_name="t",
        key_check_value="cd" * 16,
        agency="north",
        created="2026-11-01T00:00:00+00:00",
        filter_length=64,
        field_length=0,
        fields=("a",),
        sections=(Section(IDS, 0), Section(CLKS, 8), *extra_sections),
    )


def _write(path: Path, n: int = 25, header: Header | None = None, block: int = 10) -> np.ndarray:
    header = header or _header()
    rng = np.random.default_rng(n)
    filters = rng.integers(0, 256, (n, 8), dtype=np.uint8)
    with ClkWriter(path, header) as w:
        for s in range(0, n, block):
            sections = {
                sec.name: rng.integers(0, 256, (min(block, n - s), sec.width), np.uint8)
                for sec in header.sections
                if sec.name not in (IDS, CLKS)
            }
            sections[CLKS] = filters[s : s + block]
            w.write(
                Block(ids=[f"id-{i}-é" for i in range(s, min(s + block, n))], sections=sections)
            )
    return filters


def test_roundtrip_in_blocks(tmp_path: Path) -> None:
    path = tmp_path / "a.clk"
    filters = _write(path)
    data = read_clk(path)
    assert data.ids == [f"id-{i}-é" for i in range(25)]
    assert np.array_equal(data.clks, filters)
    header, count = read_header(path)
    assert count == 25 and header.agency == "north"
    assert bytes.fromhex(data.digest) == path.read_bytes()[-32:]  # the trailer's checksum


def test_empty_upload_roundtrips(tmp_path: Path) -> None:
    path = tmp_path / "e.clk"
    _write(path, n=0)
    assert read_clk(path).clks.shape == (0, 8)


@pytest.mark.parametrize("cut", [0, 10, 30, 200, -40, -20, -1])
def test_truncation_is_detected(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "a.clk"
    _write(path)
    raw = path.read_bytes()
    path.write_bytes(raw[:cut])
    with pytest.raises(ContainerError):
        read_clk(path)


def test_every_flipped_byte_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.clk"
    _write(path, n=5, block=3)
    raw = bytearray(path.read_bytes())
    for i in range(len(raw)):
        tampered = bytearray(raw)
        tampered[i] ^= 0x01
        path.write_bytes(bytes(tampered))
        with pytest.raises(ContainerError):
            read_clk(path)


def test_text_mode_mangling_and_foreign_files(tmp_path: Path) -> None:
    path = tmp_path / "a.clk"
    _write(path)
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))
    with pytest.raises(ContainerError, match="text-mode"):
        read_clk(path)
    path.write_text("PersonalID,FirstName\n1,x\n")
    with pytest.raises(ContainerError, match=r"not a \.clk file"):
        read_clk(path)
    with pytest.raises(ContainerError, match="not found"):
        read_clk(tmp_path / "missing.clk")


def test_optional_unknown_sections_are_skipped_required_ones_refused(tmp_path: Path) -> None:
    path = tmp_path / "opt.clk"
    filters = _write(path, header=_header((Section("activity_v9", 3, required=False),)))
    assert np.array_equal(read_clk(path).clks, filters)
    path = tmp_path / "req.clk"
    _write(path, header=_header((Section("quantum", 2, required=True),)))
    with pytest.raises(ContainerError, match="section 'quantum'"):
        read_clk(path)


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.clk"
    with pytest.raises(RuntimeError), ClkWriter(path, _header()) as w:
        w.write(Block(ids=["1"], sections={CLKS: np.zeros((1, 8), np.uint8)}))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
