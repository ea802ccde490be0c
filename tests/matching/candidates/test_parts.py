"""A last 4 in place of a full SSN (SSNDataQuality 2) weighed as an agreement of its own
(issue 20), not as the vague "middle" level strangers' SSNs reach by chance."""

from __future__ import annotations

import csv
import datetime as _dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from linkage.agency.encoding.pipeline import encode_file
from linkage.formats.config import load_config
from linkage.matching import Linker, config_for, load_uploads
from linkage.research.synthetic.exports import write_network

TODAY = _dt.date(2026, 11, 1)


@dataclass(frozen=True)
class Run:
    """One network matched under one config: each record's person, entity and SSNDataQuality."""

    person: npt.NDArray[np.str_]
    label: npt.NDArray[np.int64]
    quality: npt.NDArray[np.str_]
    model: dict[str, Any]

    def mixed_pairs(self) -> tuple[int, int]:
        """(true pairs with a last 4 only (code 2) on one record and a full SSN (1) on the
        other, how many of them are linked)."""
        code = self.quality
        a, b = np.triu_indices(len(self.person), 1)
        mixed = (self.person[a] == self.person[b]) & (
            ((code[a] == "2") & (code[b] == "1")) | ((code[a] == "1") & (code[b] == "2"))
        )
        return int(mixed.sum()), int((self.label[a[mixed]] == self.label[b[mixed]]).sum())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """A network larger than the suite's (the weights are fitted on a few thousand records),
    matched under 0.4's hmis and 0.3's."""
    out = tmp_path_factory.mktemp("parts")
    network = write_network(out / "network", people=3000, agencies=3, seed=5)
    with open(out / "network" / "truth.csv", newline="") as fh:
        truth = {(r["agency"], r["record_id"]): r["person_id"] for r in csv.DictReader(fh)}
    quality: dict[tuple[str, str], str] = {}
    for client in network:
        with open(client, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):  # synthetic rows: only the quality code is read
                quality[client.parent.name, row["PersonalID"]] = row["SSNDataQuality"]
    found = {}
    for name in ("hmis", "hmis-3"):
        config = load_config(name)
        paths = []
        for client in network:
            paths.append(out / f"{name}-{client.parent.name}.clk")
            encode_file(
                config, bytes(range(32)), client, paths[-1], client.parent.name, today=TODAY
            )
        uploads, headers = load_uploads(paths)
        result = Linker(config_for(headers, None)).link(uploads)
        records = uploads.records()
        found[name] = Run(
            person=np.array([truth[r] for r in records]),
            label=result.labels,
            quality=np.array([quality[r] for r in records]),
            model=result.report.model,
        )
    return found


def test_a_last_4_against_a_full_ssn_is_its_own_agreement(runs) -> None:
    pairs, linked = runs["hmis"].mixed_pairs()
    old_pairs, old_linked = runs["hmis-3"].mixed_pairs()
    assert pairs == old_pairs >= 300
    # the last 4 agreeing is worth what its rarity says, well above the one-field config's
    # "middle" level, where it was mixed with strangers' SSNs that share five digits
    last4 = runs["hmis"].model["fields"]["ssn_last4"]["exact"]["weight"]
    assert last4 > runs["hmis-3"].model["fields"]["ssn"]["middle"]["weight"] + 3.0
    assert linked > old_linked
