"""Synthetic HMIS exports with ground truth: a population seen by several agencies.

Names come from Faker's weighted locale tables (English US and French Canadian, see
:mod:`linkage.research.synthetic.names`), never from real records. Each agency sees a random subset
of the
population and writes a FY2024 ``Client.csv``, ``Enrollment.csv``, ``Project.csv`` and
``Export.csv``; every record carries the
kinds of error real homeless-service data has (docs/hmis.md), each at a documented rate scaled by
``noise`` (docs/synthetic-data.md). ``truth.csv`` maps (agency, PersonalID) to the true person.

The same arguments give byte-identical files. The population is held as arrays (a few dozen
bytes a person); records are streamed to disk, so memory does not grow with the agency files.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from anyascii import anyascii
from nicknames import NickNamer

from linkage._atomic import atomic_write
from linkage.agency.hmis.spec import FY2024_CLIENT, FY2024_ENROLLMENT, FY2024_EXPORT, FY2024_PROJECT
from linkage.research.datasets import read_truth
from linkage.research.synthetic.names import FRENCH_SHARE, locale_tables

#: Rate of each error at noise = 1.0. Most are per record; ``hyphen_half`` applies to hyphenated
#: surnames only, ``accent_dropped`` to names with accents only, ``twin`` per person, and
#: ``duplicate`` is the chance that an agency holds a second record of a person it serves.
#: docs/synthetic-data.md gives the source of each figure.
ERROR_RATES: dict[str, float] = {
    "nickname": 0.10,
    "typo": 0.08,
    "phonetic": 0.04,
    "hyphen_half": 0.5,
    "accent_dropped": 0.3,
    "name_swap": 0.02,
    "street_name": 0.02,
    "name_missing": 0.01,
    "day_month_swap": 0.03,
    "jan1_default": 0.03,
    "dob_1900": 0.005,
    "year_off_by_one": 0.02,
    "dob_missing": 0.06,
    "ssn_missing": 0.30,
    "ssn_last4": 0.25,
    "ssn_placeholder": 0.02,
    "ssn_typo": 0.02,
    "duplicate": 0.05,
    "twin": 0.015,
}

#: Share of people with a hyphenated (double) surname.
HYPHENATED = 0.08
#: The day every export was taken; entry dates fall in the twelve months before it.
EXPORT_DATE = _dt.date(2026, 11, 1)
_BIRTH_FROM = _dt.date(1945, 1, 1).toordinal()
_BIRTH_DAYS = 365 * 63

#: Street names and aliases recorded with NameDataQuality 2. Not a name table: a handful of
#: the code names outreach workers record, so that they collide across unrelated people.
_ALIASES = ("Red", "Tex", "Shorty", "Doc", "Smokey", "Slim", "Bear", "Lucky", "Chief", "Blue")
_PLACEHOLDERS = (("Unknown", "Unknown"), ("Anonymous", "Client"), ("John", "Doe"))
_SSN_PLACEHOLDERS = ("000000000", "999999999", "123456789", "111111111", "078051120")
#: Spelling by ear: one rule applied where it fits (Catherine -> Katherine, Philip -> Filip).
_PHONETIC = (
    ("ph", "f"),
    ("f", "ph"),
    ("ck", "k"),
    ("c", "k"),
    ("k", "c"),
    ("y", "i"),
    ("i", "y"),
    ("ee", "ea"),
    ("ou", "ow"),
    ("s", "z"),
    ("th", "t"),
    ("ll", "l"),
    ("nn", "n"),
    ("ie", "y"),
    ("ey", "y"),
    ("er", "ar"),
)
#: Columns every generated row fills the same way.
_BOOKKEEPING = {"UserID": "synth", "ExportID": "1"}
#: (project type, share of the agency's enrollments) for each kind of agency, dealt round robin.
_AGENCY_PROJECTS = (
    ((0, 0.7), (1, 0.3)),  # emergency shelter
    ((4, 1.0),),  # street outreach
    ((11, 0.6), (6, 0.4)),  # day shelter and services
    ((2, 0.5), (13, 0.5)),  # transitional housing and rapid re-housing
    ((14, 1.0),),  # coordinated entry
)
#: Prior living situation at entry: mostly homeless (1xx), some institutional (2xx) and
#: temporary (3xx), a few from housing (4xx).
_LIVING = (
    (116, 0.35),
    (101, 0.30),
    (118, 0.03),
    (312, 0.08),
    (313, 0.07),
    (207, 0.06),
    (206, 0.04),
    (204, 0.02),
    (302, 0.03),
    (410, 0.02),
)


@dataclass(frozen=True)
class Person:
    """One true person (a convenience view of one row of a :class:`Population`)."""

    first: str
    last: str
    dob: _dt.date
    ssn: str
    sex: int


@dataclass(frozen=True)
class Population:
    """Everyone in the community, as arrays: person ``i`` is row ``i`` of each."""

    first: list[str]
    last: list[str]
    birth: npt.NDArray[np.int64]  # proleptic Gregorian ordinal of the date of birth
    ssn: npt.NDArray[np.int64]
    sex: npt.NDArray[np.int8]  # 0 female, 1 male
    twin_of: npt.NDArray[np.int64]  # the person this one is a twin of, or -1

    def __len__(self) -> int:
        return len(self.first)

    def person(self, i: int) -> Person:
        dob = _dt.date.fromordinal(int(self.birth[i]))
        return Person(self.first[i], self.last[i], dob, f"{self.ssn[i]:09d}", int(self.sex[i]))


def make_population(n: int, seed: int, noise: float = 1.0) -> Population:
    """Draw ``n`` people: locale, sex, first name and surname from the weighted tables, some
    double surnames, birth dates for ages 16 to 80, valid SSNs, and twins (same surname and
    birth date, another first name) at the ``twin`` rate scaled by ``noise``."""
    rng = np.random.default_rng([seed, 0])
    french = rng.random(n) < FRENCH_SHARE
    sex = rng.integers(0, 2, n).astype(np.int8)
    first: list[str] = [""] * n
    last: list[str] = [""] * n
    for is_french, locale in ((False, "en_US"), (True, "fr_CA")):
        tables = locale_tables(locale)
        for s, kind in ((0, "female"), (1, "male")):
            rows = np.flatnonzero((french == is_french) & (sex == s))
            names = tables[kind].names
            for r, k in zip(
                rows.tolist(), tables[kind].sample(rng, len(rows)).tolist(), strict=True
            ):
                first[r] = names[k]
        rows = np.flatnonzero(french == is_french)
        surnames = tables["last"].names
        primary = tables["last"].sample(rng, len(rows))
        second = tables["last"].sample(rng, len(rows))
        double = (rng.random(len(rows)) < HYPHENATED) & (primary != second)
        for r, k, k2, d in zip(
            rows.tolist(), primary.tolist(), second.tolist(), double.tolist(), strict=True
        ):
            last[r] = f"{surnames[k]}-{surnames[k2]}" if d else surnames[k]
    birth = _BIRTH_FROM + rng.integers(0, _BIRTH_DAYS, n)
    area = rng.integers(1, 899, n)
    area[area >= 666] += 1  # 666 is never issued; 900-999 neither
    ssn = area * 1_000_000 + rng.integers(1, 100, n) * 10_000 + rng.integers(1, 10_000, n)
    twin_of = np.full(n, -1, np.int64)
    twin_rate = min(1.0, ERROR_RATES["twin"] * noise)
    for i in np.flatnonzero(rng.random(n) < twin_rate).tolist():
        if i == 0:
            continue
        j = i - 1
        twin_of[i] = j
        last[i], birth[i], french[i] = last[j], birth[j], french[j]
        kind = "male" if sex[i] else "female"
        table = locale_tables("fr_CA" if french[i] else "en_US")[kind]
        while first[i] == first[j]:
            first[i] = table.names[int(table.sample(rng, 1)[0])]
    return Population(first, last, birth, ssn, sex, twin_of)


def make_people(n: int, seed: int) -> list[Person]:
    """``n`` people as objects: for tests and examples that need a few synthetic identities."""
    population = make_population(n, seed)
    return [population.person(i) for i in range(n)]


def _typo(rng: random.Random, text: str) -> str:
    """Delete, transpose or replace one inner letter (first and last letters are kept)."""
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    op = rng.random()
    if op < 0.33:
        return text[:i] + text[i + 1 :]
    if op < 0.66:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice("aeioulnrst") + text[i + 1 :]


def _phonetic(rng: random.Random, text: str) -> str:
    lower = text.lower()
    fits = [(a, b) for a, b in _PHONETIC if a in lower]
    if not fits:
        return text
    a, b = fits[rng.randrange(len(fits))]
    at = lower.index(a)
    out = lower[:at] + b + lower[at + len(a) :]
    return out.capitalize() if text[:1].isupper() else out


class Recorder:
    """Applies the error model to one person to produce one agency record, and counts what it
    applied (the realised rates go into the manifest)."""

    def __init__(self, rng: random.Random, noise: float) -> None:
        self.rng = rng
        self.rate = {k: min(1.0, v * noise) for k, v in ERROR_RATES.items()}
        self.applied: Counter[str] = Counter()
        self._nick = NickNamer()
        self._nicknames: dict[str, list[str]] = {}

    def hit(self, error: str) -> bool:
        if self.rng.random() < self.rate[error]:
            self.applied[error] += 1
            return True
        return False

    def nicknames(self, first: str) -> list[str]:
        found = self._nicknames.get(first)
        if found is None:
            found = sorted(n.capitalize() for n in self._nick.nicknames_of(first.lower()))
            self._nicknames[first] = found
        return found

    def names(self, first: str, last: str) -> tuple[str, str, str]:
        rng = self.rng
        if self.hit("name_missing"):
            if rng.random() < 0.5:
                return "", "", rng.choice(("8", "9", "99"))
            placeholder = _PLACEHOLDERS[rng.randrange(len(_PLACEHOLDERS))]
            return placeholder[0], placeholder[1], "99"
        if self.hit("street_name"):
            return rng.choice(_ALIASES), last if rng.random() < 0.5 else "", "2"
        nicks = self.nicknames(first)
        if nicks and self.hit("nickname"):
            first = rng.choice(nicks)
        if "-" in last and self.hit("hyphen_half"):
            last = rng.choice(last.split("-"))
        if not (first + last).isascii() and self.hit("accent_dropped"):
            first, last = anyascii(first), anyascii(last)
        if self.hit("typo"):
            if rng.random() < 0.5:
                first = _typo(rng, first)
            else:
                last = _typo(rng, last)
        if self.hit("phonetic"):
            if rng.random() < 0.5:
                first = _phonetic(rng, first)
            else:
                last = _phonetic(rng, last)
        if self.hit("name_swap"):
            first, last = last, first
        return first, last, "1"

    def dob(self, birth: int) -> tuple[str, str]:
        rng = self.rng
        d = _dt.date.fromordinal(birth)
        if self.hit("dob_missing"):
            return "", rng.choice(("8", "9", "99"))
        if self.hit("dob_1900"):
            return "1900-01-01", "2"
        if self.hit("jan1_default"):
            return f"{d.year}-01-01", "2"
        if d.day <= 12 and d.day != d.month and self.hit("day_month_swap"):
            return f"{d.year}-{d.day:02d}-{d.month:02d}", "1"
        if self.hit("year_off_by_one"):
            year = d.year + rng.choice((-1, 1))
            day = min(d.day, 28) if d.month == 2 else d.day
            return f"{year}-{d.month:02d}-{day:02d}", "1"
        return d.isoformat(), "1"

    def ssn(self, ssn: int) -> tuple[str, str]:
        rng = self.rng
        digits = f"{ssn:09d}"
        if self.hit("ssn_missing"):
            return "", rng.choice(("8", "9", "99"))
        if self.hit("ssn_last4"):
            return "xxxxx" + digits[-4:], "2"
        if self.hit("ssn_placeholder"):
            return rng.choice(_SSN_PLACEHOLDERS), "1"
        if self.hit("ssn_typo"):
            i = rng.randrange(8)
            return digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :], "1"
        return digits, "1"


def client_row(
    rec: Recorder,
    pop: Population,
    i: int,
    personal_id: str,
    created: str,
    veteran: bool | None = None,
) -> list[str]:
    """One Client.csv row for person ``i``; a veteran status drawn per record (8% of adults)
    unless ``veteran`` fixes it, as a scenario whose populations are known must."""
    rng = rec.rng
    first, last, name_q = rec.names(pop.first[i], pop.last[i])
    ssn, ssn_q = rec.ssn(int(pop.ssn[i]))
    dob, dob_q = rec.dob(int(pop.birth[i]))
    male = bool(pop.sex[i])
    race = [0] * 7
    race[rng.randrange(7)] = 1
    if veteran is None:
        adult = (EXPORT_DATE.toordinal() - int(pop.birth[i])) >= 18 * 365
        veteran = adult and rng.random() < 0.08
    return [
        personal_id,
        first,
        "",
        last,
        "",
        name_q,
        ssn,
        ssn_q,
        dob,
        dob_q,
        *map(str, race),
        "0",  # RaceNone
        "",
        "0" if male else "1",  # Woman
        "1" if male else "0",  # Man
        "0",
        "0",
        "0",
        "0",
        "0",
        "",  # GenderNone
        "",
        "1" if veteran else "0",
        *[""] * 12,  # military history: not generated
        created,
        created,
        "synth",
        "",
        "1",
    ]


def hmis_row(columns: list[str], **values: str) -> list[str]:
    """One row of an HMIS CSV file: ``values`` in their columns, blanks elsewhere, and the
    bookkeeping every generated row carries (UserID synth, ExportID 1) where the file has
    those columns. A name outside ``columns`` is a bug, not a new column."""
    unknown = set(values) - set(columns)
    if unknown:
        raise ValueError(f"not columns of this file: {', '.join(sorted(unknown))}")
    row = dict.fromkeys(columns, "")
    row.update({k: v for k, v in _BOOKKEEPING.items() if k in row})
    row.update(values)
    return list(row.values())


def _enrollment_row(
    rng: random.Random,
    projects: list[tuple[str, float]],
    enrollment_id: str,
    personal_id: str,
    entry: _dt.date,
) -> list[str]:
    project = rng.choices([p for p, _ in projects], [w for _, w in projects])[0]
    living = rng.choices([c for c, _ in _LIVING], [w for _, w in _LIVING])[0]
    return hmis_row(
        FY2024_ENROLLMENT,
        EnrollmentID=enrollment_id,
        PersonalID=personal_id,
        ProjectID=project,
        EntryDate=entry.isoformat(),
        HouseholdID=f"H{enrollment_id}",
        RelationshipToHoH="1",
        EnrollmentCoC="XX-500",
        LivingSituation=str(living),
        DisablingCondition=rng.choice(("0", "1", "8", "99")),
        DateCreated=f"{entry.isoformat()} 09:00:00",
        DateUpdated=f"{entry.isoformat()} 09:00:00",
    )


_Writer = Any  # csv's writer type is private to typeshed


@contextmanager
def csv_out(path: Path) -> Iterator[_Writer]:
    """A CSV writer onto an atomically replaced file (nothing is left if generation fails)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        yield csv.writer(text, lineterminator="\n")
        text.flush()
        text.detach()


#: Told how many more rows were written (a progress bar's advance, unlike the stages' one-line
#: :data:`linkage.progress.Progress`).
Advance = Callable[[int], None]


def write_network(
    out_dir: Path,
    people: int,
    agencies: int,
    seed: int,
    noise: float = 1.0,
    coverage: float = 0.5,
    progress: Advance | None = None,
) -> list[Path]:
    """Write ``agency_K/Client.csv`` and ``agency_K/Enrollment.csv`` for each agency, plus
    ``truth.csv`` and ``manifest.json``; return the Client.csv paths.

    Each agency serves each person with probability ``coverage``; ``progress`` is called with
    the number of records written since its last call.
    """
    if people < 1 or agencies < 1:
        raise ValueError("a network needs at least one person and one agency")
    if not 0.0 < coverage <= 1.0:
        raise ValueError("coverage is a share of the population in (0, 1]")
    if noise < 0.0:
        raise ValueError("noise is a non-negative scale of the error rates")
    population = make_population(people, seed, noise)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    applied: Counter[str] = Counter()
    records: dict[str, int] = {}
    with csv_out(out_dir / "truth.csv") as truth:
        truth.writerow(["agency", "record_id", "person_id"])
        for a in range(agencies):
            name = f"agency_{a + 1}"
            rng = np.random.default_rng([seed, a + 1])
            served = rng.permutation(np.flatnonzero(rng.random(people) < coverage))
            recorder = Recorder(random.Random(f"{seed}/{a + 1}"), noise)
            kinds = _AGENCY_PROJECTS[a % len(_AGENCY_PROJECTS)]
            projects = [(f"{a + 1}{k:02d}", w) for k, w in kinds]
            count = _write_agency(
                out_dir / name, name, a + 1, population, served, recorder, projects, truth, progress
            )
            period_end = EXPORT_DATE - _dt.timedelta(days=1)
            period_start = period_end - _dt.timedelta(days=364)
            write_project_and_export(
                out_dir / name,
                a + 1,
                [(f"{a + 1}{k:02d}", k) for k, _ in kinds],
                period_start,
                period_end,
            )
            records[name] = count
            applied.update(recorder.applied)
            paths.append(out_dir / name / "Client.csv")
    twins = int(np.count_nonzero(population.twin_of >= 0))
    manifest = {
        "generator": "linkage synth",
        "people": people,
        "agencies": agencies,
        "seed": seed,
        "noise": noise,
        "coverage": coverage,
        "export_date": EXPORT_DATE.isoformat(),
        "records": records,
        "error_rates": {k: min(1.0, v * noise) for k, v in ERROR_RATES.items()},
        "errors_applied": dict(sorted({**applied, "twin": twins}.items())),
    }
    with atomic_write(out_dir / "manifest.json") as fh:
        fh.write(json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n")
    return paths


def write_project_and_export(
    folder: Path, number: int, projects: list[tuple[str, int]], start: _dt.date, end: _dt.date
) -> None:
    """An agency's ``Project.csv`` (its projects and their HUD types) and ``Export.csv`` (the
    period the export covers, unhashed), so the folder reads as a whole HMIS export."""
    with csv_out(folder / "Project.csv") as out:
        out.writerow(FY2024_PROJECT)
        for project_id, kind in projects:
            row = hmis_row(
                FY2024_PROJECT,
                ProjectID=project_id,
                OrganizationID=str(number),
                ProjectName=f"Project {project_id}",
                OperatingStartDate="2020-01-01",
                ContinuumProject="1",
                ProjectType=str(kind),
                DateCreated="2020-01-01 09:00:00",
                DateUpdated="2020-01-01 09:00:00",
            )
            out.writerow(row)
    with csv_out(folder / "Export.csv") as out:
        out.writerow(FY2024_EXPORT)
        row = hmis_row(
            FY2024_EXPORT,
            SourceType="3",
            SourceName=f"agency {number}",
            ExportDate=f"{end.isoformat()} 23:59:00",
            ExportStartDate=start.isoformat(),
            ExportEndDate=end.isoformat(),
            SoftwareName="linkage synth",
            CSVVersion="2024 v1.0",
            ExportPeriodType="4",
            ExportDirective="2",
            HashStatus="1",
        )
        out.writerow(row)


def _write_agency(
    folder: Path,
    name: str,
    number: int,
    population: Population,
    served: npt.NDArray[np.int64],
    recorder: Recorder,
    projects: list[tuple[str, float]],
    truth: _Writer,
    progress: Advance | None,
) -> int:
    """Stream one agency's Client.csv and Enrollment.csv; return how many records it holds.
    A person with a duplicate record gets the second one after everyone else (entered later,
    as a new client), each with its own errors and its own enrollment."""
    rng = recorder.rng
    span = 365
    first_day = EXPORT_DATE.toordinal() - span
    duplicates: list[int] = []
    written = 0
    with csv_out(folder / "Client.csv") as client, csv_out(folder / "Enrollment.csv") as enrol:
        client.writerow(FY2024_CLIENT)
        enrol.writerow(FY2024_ENROLLMENT)

        def emit(order: Iterable[int]) -> None:
            nonlocal written
            for i in order:
                written += 1
                pid = f"{number}{written:07d}"
                entry = _dt.date.fromordinal(first_day + rng.randrange(span))
                created = f"{entry.isoformat()} 09:00:00"
                client.writerow(client_row(recorder, population, i, pid, created))
                enrol.writerow(_enrollment_row(rng, projects, f"E{pid}", pid, entry))
                truth.writerow([name, pid, i])
                if progress and written % 10_000 == 0:
                    progress(10_000)

        for i in served.tolist():
            if recorder.hit("duplicate"):
                duplicates.append(i)
        emit(served.tolist())
        emit(duplicates)
    if progress:
        progress(written % 10_000)
    return written


def truth_labels(path: Path, records: Iterable[tuple[str, str]]) -> npt.NDArray[np.int64]:
    """Person label (0..k-1) of each ``(agency, record_id)``, from a ``truth.csv`` written by
    :func:`write_network`: what match results are scored against."""
    person = read_truth(path)
    people = [person[record] for record in records]
    return np.unique(people, return_inverse=True)[1].astype(np.int64)
