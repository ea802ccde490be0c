"""Synthetic HMIS exports with ground truth: a population seen by several agencies.

Each agency sees a random subset of the population and writes a FY2024 ``Client.csv``,
``Enrollment.csv``, ``Project.csv`` and ``Export.csv``, each record with the errors of
:mod:`.noise`. ``truth.csv`` maps (agency, PersonalID) to the true person, ``manifest.json``
gives the rates asked for and the errors applied.

The same arguments give byte-identical files. Records are streamed to disk, so memory does
not grow with the agency files.
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
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from linkage._atomic import atomic_write
from linkage.agency.hmis.spec import FY2024_CLIENT, FY2024_ENROLLMENT, FY2024_EXPORT, FY2024_PROJECT
from linkage.research.datasets import read_truth
from linkage.research.synthetic.noise import ERROR_RATES, Recorder
from linkage.research.synthetic.population import Population, make_population

#: The day every export was taken; entry dates fall in the twelve months before it.
EXPORT_DATE = _dt.date(2026, 11, 1)
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
