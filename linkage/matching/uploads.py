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

from linkage.errors import ConfigError, InputError
from linkage.formats.config import Config, builtin_config_path, builtin_config_with, load_config
from linkage.formats.container import BLOCK_KEYS, FIELD_CLKS, ClkData, read_clk


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
    first, first_path = files[0].header, paths[0]
    seen: dict[str, Path] = {}
    for path, data in zip(paths, files, strict=True):
        h = data.header
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
    return files


def load_uploads(paths: Sequence[Path]) -> tuple[Uploads, list[ClkData]]:
    """Read and cross-check the uploads, and lay their records side by side."""
    files = read_uploads(paths)
    first = files[0].header
    sizes = [len(d.ids) for d in files]
    party = np.repeat(np.arange(len(files), dtype=np.int32), sizes)
    clks = np.concatenate([d.clks for d in files]) if files else np.zeros((0, 0), np.uint8)
    has_fields = all(FIELD_CLKS in d.sections for d in files)
    field_clks = np.concatenate([d.sections[FIELD_CLKS] for d in files]) if has_fields else None
    has_keys = all(BLOCK_KEYS in d.sections for d in files)
    keys = (
        np.concatenate([d.sections[BLOCK_KEYS] for d in files]).view(np.uint64)
        if has_keys and len(party) > 0
        else None
    )
    ids = [rid for d in files for rid in d.ids]
    uploads = Uploads(
        agencies=tuple(d.header.agency for d in files),
        ids=ids,
        party=party,
        clks=clks,
        field_clks=field_clks,
        block_keys=keys,
        fields=first.fields,
    )
    return uploads, files


def config_for(files: list[ClkData], config_path: Path | None) -> Config:
    """The config to match with: the one given, else the built-in one the files name. Either
    way its fingerprint must be the files' (thresholds are not part of it)."""
    header = files[0].header
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
