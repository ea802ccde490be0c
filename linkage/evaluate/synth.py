"""Synthetic HMIS exports with ground truth: a population seen by several agencies.

Names come from Faker's weighted locale tables (English US and French Canadian), never from real
records. Each agency sees a random subset of people; each of its records carries the kinds of
error that real homeless-service data has (domain.md), at rates scaled by ``noise``. The same
seed gives byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from faker import Faker
from nicknames import NickNamer

from linkage._atomic import atomic_write
from linkage.ingest.hmis import CLIENT_SIGNATURE

FY2024_CLIENT = [
    "PersonalID",
    "FirstName",
    "MiddleName",
    "LastName",
    "NameSuffix",
    "NameDataQuality",
    "SSN",
    "SSNDataQuality",
    "DOB",
    "DOBDataQuality",
    "AmIndAKNative",
    "Asian",
    "BlackAfAmerican",
    "HispanicLatinaeo",
    "MidEastNAfrican",
    "NativeHIPacific",
    "White",
    "RaceNone",
    "AdditionalRaceEthnicity",
    "Woman",
    "Man",
    "NonBinary",
    "CulturallySpecific",
    "Transgender",
    "Questioning",
    "DifferentIdentity",
    "GenderNone",
    "DifferentIdentityText",
    "VeteranStatus",
    "YearEnteredService",
    "YearSeparated",
    "WorldWarII",
    "KoreanWar",
    "VietnamWar",
    "DesertStorm",
    "AfghanistanOEF",
    "IraqOIF",
    "IraqOND",
    "OtherTheater",
    "MilitaryBranch",
    "DischargeStatus",
    "DateCreated",
    "DateUpdated",
    "UserID",
    "DateDeleted",
    "ExportID",
]
assert all(c in FY2024_CLIENT for c in CLIENT_SIGNATURE)

#: Base rate of each error per record at noise = 1.0 (documented in docs/synthetic-data.md).
ERROR_RATES = {
    "typo": 0.08,
    "nickname": 0.10,
    "street_name": 0.02,
    "hyphen_half": 0.5,
    "name_swap": 0.02,
    "day_month_swap": 0.03,
    "jan1_default": 0.03,
    "year_off_by_one": 0.02,
    "dob_missing": 0.06,
    "ssn_missing": 0.30,
    "ssn_last4": 0.25,
    "duplicate": 0.05,
}


@dataclass
class Person:
    """One true person."""

    first: str
    last: str
    dob: _dt.date
    ssn: str
    sex: int


def _ssn(rng: random.Random) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"


def make_people(n: int, seed: int) -> list[Person]:
    """A population with realistic name frequencies, ages 16-80 and some hyphenated surnames."""
    rng = random.Random(seed)
    fakers = {loc: Faker(loc) for loc in ("en_US", "fr_CA")}
    for i, fk in enumerate(fakers.values()):
        fk.seed_instance(seed * 7 + i)
    people = []
    for _ in range(n):
        fk = fakers["fr_CA" if rng.random() < 0.3 else "en_US"]
        sex = rng.randint(0, 1)
        first = fk.first_name_male() if sex else fk.first_name_female()
        last = fk.last_name()
        if rng.random() < 0.08:
            last = f"{last}-{fk.last_name()}"
        dob = _dt.date(1945, 1, 1) + _dt.timedelta(days=rng.randint(0, 365 * 63))
        people.append(Person(first, last, dob, _ssn(rng), sex))
    return people


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    op = rng.random()
    if op < 0.33:
        return text[:i] + text[i + 1 :]
    if op < 0.66:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice("aeioulnrst") + text[i + 1 :]


class _Recorder:
    """Applies the error model to one person to produce one agency record."""

    def __init__(self, rng: random.Random, noise: float) -> None:
        self.rng = rng
        self.rate = {k: min(1.0, v * noise) for k, v in ERROR_RATES.items()}
        self.nn = NickNamer()

    def hit(self, error: str) -> bool:
        return self.rng.random() < self.rate[error]

    def record(self, p: Person) -> dict[str, str]:
        rng = self.rng
        first, last, name_q = p.first, p.last, "1"
        if self.hit("nickname"):
            nicks = sorted(self.nn.nicknames_of(first))
            if nicks:
                first = rng.choice(nicks).capitalize()
        if "-" in last and rng.random() < self.rate["hyphen_half"]:
            last = rng.choice(last.split("-"))
        if self.hit("typo"):
            if rng.random() < 0.5:
                first = _typo(rng, first)
            else:
                last = _typo(rng, last)
        if self.hit("name_swap"):
            first, last = last, first
        if self.hit("street_name"):
            first, name_q = rng.choice(["Red", "Tex", "Shorty", "Doc", "Smokey"]), "2"
        dob, dob_q = p.dob.isoformat(), "1"
        if self.hit("dob_missing"):
            dob, dob_q = "", rng.choice(["8", "9", "99"])
        elif self.hit("jan1_default"):
            dob, dob_q = f"{p.dob.year}-01-01", "2"
        elif self.hit("day_month_swap") and p.dob.day <= 12:
            dob = f"{p.dob.year}-{p.dob.day:02d}-{p.dob.month:02d}"
        elif self.hit("year_off_by_one"):
            dob = f"{p.dob.year + rng.choice([-1, 1])}-{p.dob.month:02d}-{p.dob.day:02d}"
        ssn, ssn_q = p.ssn, "1"
        if self.hit("ssn_missing"):
            ssn, ssn_q = "", rng.choice(["8", "9", "99"])
        elif self.hit("ssn_last4"):
            ssn, ssn_q = "XXXXX" + p.ssn[-4:], "2"
        return {
            "FirstName": first,
            "LastName": last,
            "NameDataQuality": name_q,
            "SSN": ssn,
            "SSNDataQuality": ssn_q,
            "DOB": dob,
            "DOBDataQuality": dob_q,
            "Woman": "0" if p.sex else "1",
            "Man": "1" if p.sex else "0",
        }


def write_network(
    out_dir: Path, people: int, agencies: int, seed: int, noise: float = 1.0, coverage: float = 0.5
) -> list[Path]:
    """Write ``agency_K/Client.csv`` for each agency and ``truth.csv``; return the Client paths."""
    rng = random.Random(seed)
    population = make_people(people, seed)
    recorder = _Recorder(rng, noise)
    out_dir.mkdir(parents=True, exist_ok=True)
    truth = io.StringIO()
    truth_w = csv.writer(truth, lineterminator="\n")
    truth_w.writerow(["agency", "record_id", "person_id"])
    paths = []
    for a in range(agencies):
        name = f"agency_{a + 1}"
        buf = io.StringIO()
        w = csv.DictWriter(buf, FY2024_CLIENT, lineterminator="\n", restval="")
        w.writeheader()
        next_id = 1
        for pid, person in enumerate(population):
            if rng.random() >= coverage:
                continue
            copies = 2 if recorder.hit("duplicate") else 1
            for _ in range(copies):
                row = recorder.record(person)
                row.update(
                    PersonalID=f"{a + 1}{next_id:07d}",
                    DateCreated="2026-01-15 09:00:00",
                    DateUpdated="2026-01-15 09:00:00",
                    UserID="synth",
                    ExportID="1",
                )
                w.writerow(row)
                truth_w.writerow([name, row["PersonalID"], pid])
                next_id += 1
        path = out_dir / name / "Client.csv"
        path.parent.mkdir(exist_ok=True)
        with atomic_write(path) as fh:
            fh.write(buf.getvalue().encode())
        paths.append(path)
    with atomic_write(out_dir / "truth.csv") as fh:
        fh.write(truth.getvalue().encode())
    return paths


def truth_labels(path: Path, records: Iterable[tuple[str, str]]) -> npt.NDArray[np.int64]:
    """Person label (0..k-1) of each ``(agency, record_id)``, from a ``truth.csv`` written by
    :func:`write_network`: what match results are scored against."""
    with open(path, newline="") as fh:
        person = {(r["agency"], r["record_id"]): r["person_id"] for r in csv.DictReader(fh)}
    people = [person[record] for record in records]
    return np.unique(people, return_inverse=True)[1].astype(np.int64)
