"""The uploads a coordinator links: read, cross-checked, and laid side by side.

Every upload is a whole, verified ``.clk`` file. They can be linked together only if they
were encoded with one config and one secret, one file per agency; then their records become
one table (:class:`Uploads`) whose global rows every later stage names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt
from numpy.lib.format import open_memmap

from linkage.errors import ConfigError, ContainerError, InputError
from linkage.formats.config import Config, builtin_config_path, builtin_config_with, load_config
from linkage.formats.container import (
    BLOCK_KEYS,
    CLKS,
    FIELD_CLKS,
    ClkData,
    ClkReader,
    Header,
    read_clk,
    read_header,
)


@dataclass(frozen=True)
class Uploads:
    """Every upload's records side by side: global row r belongs to ``agencies[party[r]]``."""

    agencies: tuple[str, ...]
    ids: list[str]
    party: npt.NDArray[np.int32]
    clks: npt.NDArray[np.uint8]
    field_clks: npt.NDArray[np.uint8] | None
    block_keys: npt.NDArray[np.uint64] | None
    fields: tuple[str, ...]

    @property
    def n_fields(self) -> int:
        return len(self.fields)

    def records(self) -> list[tuple[str, str]]:
        """(agency, record id) of each global row: how results name records."""
        return [
            (self.agencies[p], rid) for p, rid in zip(self.party.tolist(), self.ids, strict=True)
        ]

    def take(self, rows: npt.NDArray[np.int64]) -> Uploads:
        """Some of the records (global rows ``rows``), the agencies kept as they are."""
        return Uploads(
            agencies=self.agencies,
            ids=[self.ids[i] for i in rows.tolist()],
            party=self.party[rows],
            clks=self.clks[rows],
            field_clks=None if self.field_clks is None else self.field_clks[rows],
            block_keys=None if self.block_keys is None else self.block_keys[rows],
            fields=self.fields,
        )

    @cached_property
    def density(self) -> float:
        """Mean share of bits set, from up to 20k filters (enough for two decimals)."""
        sample = self.clks[:20_000]
        return float(np.unpackbits(sample).mean()) if len(sample) else 0.0


def read_uploads(paths: Sequence[Path]) -> list[ClkData]:
    """Read and cross-check the uploads (one config, one secret, one file per agency); refuse
    anything that cannot be linked as a whole."""
    if not paths:
        raise InputError("no .clk files given", "pass one file per agency")
    files = [read_clk(Path(p)) for p in paths]
    _cross_check(paths, [d.header for d in files])
    return files


def _cross_check(paths: Sequence[Path], headers: Sequence[Header]) -> None:
    first, first_path = headers[0], paths[0]
    seen: dict[str, Path] = {}
    for path, h in zip(paths, headers, strict=True):
        if h.config_fingerprint != first.config_fingerprint:
            raise InputError(
                f"{path} was encoded with config fingerprint {h.config_fingerprint[:12]}..., "
                f"but {first_path} with {first.config_fingerprint[:12]}...",
                "every agency must encode with the same config; 'linkage inspect' shows it",
            )
        if h.key_check_value != first.key_check_value:
            raise InputError(
                f"{path} and {first_path} were encoded with different secrets "
                "(their key check values differ)",
                "every agency must encode with the one shared secret",
            )
        if h.agency in seen:
            raise InputError(
                f"{path} and {seen[h.agency]} both come from agency '{h.agency}'",
                "send one file per agency, encoded with distinct --agency names",
            )
        seen[h.agency] = path


def load_uploads(paths: Sequence[Path], spill: Path | None = None) -> tuple[Uploads, list[Header]]:
    """Read and cross-check the uploads, and lay their records side by side.

    The headers are read and cross-checked first (a mismatched upload is refused before any
    record is read); then each file's blocks are copied straight into their place in arrays
    sized from the headers' record counts, so the records are held once, not once per file
    and again side by side. A file is used only once its checksum is verified.

    With ``spill`` (a folder the caller owns and removes), the arrays are files there,
    memory-mapped: the operating system pages the filters in and out, so uploads larger than
    memory can be linked."""
    if not paths:
        raise InputError("no .clk files given", "pass one file per agency")
    opened = [read_header(Path(p)) for p in paths]
    headers = [h for h, _ in opened]
    _cross_check(paths, headers)
    counts = [count for _, count in opened]
    total = sum(counts)
    wanted = [CLKS] + [
        name for name in (FIELD_CLKS, BLOCK_KEYS) if all(h.section(name) for h in headers)
    ]
    arrays: dict[str, npt.NDArray[np.uint8]] = {}
    for name in wanted:
        widths = {s.width for h in headers for s in h.sections if s.name == name}
        if len(widths) != 1:
            raise InputError(
                f"the uploads' '{name}' sections differ in width, though their configs agree",
                "re-encode every agency's export with this version of linkage",
            )
        shape = (total, widths.pop())
        if spill is None:
            arrays[name] = np.empty(shape, np.uint8)
        else:  # a plain array over the mapped file (numba takes it as it takes any other)
            mapped = open_memmap(spill / f"{name}.npy", mode="w+", dtype=np.uint8, shape=shape)
            arrays[name] = np.asarray(mapped)
    ids: list[str] = []
    at = 0
    for path, header, count in zip(paths, headers, counts, strict=True):
        # the file is opened again: what it holds now must be what its header said then
        reader = ClkReader(Path(path))
        if reader.header != header:
            raise _changed(path)
        end = at + count
        for block in reader:
            n = len(block.ids)
            if at + n > end:
                raise _changed(path)
            ids.extend(block.ids)
            for name, array in arrays.items():
                array[at : at + n] = block.sections[name]
            at += n
        if at != end:
            raise _changed(path)
    party = np.repeat(np.arange(len(paths), dtype=np.int32), counts)
    keys = arrays.get(BLOCK_KEYS)
    uploads = Uploads(
        agencies=tuple(h.agency for h in headers),
        ids=ids,
        party=party,
        clks=arrays[CLKS],
        field_clks=arrays.get(FIELD_CLKS),
        block_keys=keys.view(np.uint64) if keys is not None and total > 0 else None,
        fields=headers[0].fields,
    )
    return uploads, headers


def _changed(path: Path) -> ContainerError:
    return ContainerError(
        f"{path}: changed while it was being read", "run again once the upload is complete"
    )


def config_for(headers: Sequence[Header], config_path: Path | None) -> Config:
    """The config to match with: the one given, else the built-in one the uploads name.
    Either way its fingerprint must be the uploads' (thresholds are not part of it)."""
    header = headers[0]
    if config_path is None:
        try:
            builtin = load_config(builtin_config_path(header.config_name))
        except ConfigError:
            builtin = None
        if builtin is None or builtin.fingerprint != header.config_fingerprint:
            builtin = builtin_config_with(header.config_fingerprint)
        if builtin is None:
            raise ConfigError(
                f"the uploads were encoded with a config named '{header.config_name}' "
                f"(fingerprint {header.config_fingerprint[:12]}...) that no built-in config "
                "matches",
                "pass --config with the config the agencies used",
            )
        return builtin
    config = load_config(config_path)
    if config.fingerprint != header.config_fingerprint:
        raise ConfigError(
            f"{config.source} (fingerprint {config.fingerprint[:12]}...) is not the config the "
            f"uploads were encoded with ({header.config_fingerprint[:12]}...)",
            "pass the config the agencies used; only [thresholds] and [match] may differ",
        )
    return config
