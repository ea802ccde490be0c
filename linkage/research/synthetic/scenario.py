"""A community's year, simulated: monthly HMIS exports from several agencies, with the truth of
every person's status at every month's end.

:mod:`linkage.research.synthetic.exports` draws one snapshot: who each agency knows. This draws
a history, household by household (a single person, or a parent with a child). A household
becomes homeless on some day (some before the scenario starts), and is seen by the agencies it
uses: shelter stays, outreach contacts, services. It sometimes drops out of sight for months,
moves between agencies, and leaves homelessness by housing (an exit to a rental, or rapid re-
housing with a move-in date), for an institution or a temporary stay, or by death; some come
back. An agency that has not seen someone for half a year sometimes opens a second client
record.

At each month's end every agency writes its whole HMIS export as of that day, to
``month_YYYY-MM/agency_K/``: Client, Enrollment, Exit, Services, CurrentLivingSituation,
Project and Export, and ``consent.txt`` (the record ids of the clients who consented to be
named to partner agencies). Beside them:

- ``truth.csv``: each (agency, PersonalID) and its true person;
- ``households.csv``: each person's true household and whether they head it (a household's
  members stay together for the whole scenario);
- ``statuses.csv``: each person's status and population flags at each month's end, taken from
  the simulated lives, not from the exports. The latest thing that happened to a person says
  where they are (a shelter stay is a night there every night); a homeless person not seen
  for more than ``inactive_after_days`` is inactive. Youth is an age under 25 on the day,
  family a household with a child, chronic a disabling condition and an entry a year or more
  after the household's homelessness began (HUD's test as the agencies record it);
- ``manifest.json``: the arguments and counts.

Identifier errors follow synth's model scaled by ``noise``. With ``noise=0`` every record of a
person carries the same identifiers and birth date, so a figure that differs from the truth
points at the activity and status logic, not at the linkage.

The same arguments give the same files.
"""

from __future__ import annotations

import bisect
import csv
import datetime as _dt
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from linkage._atomic import atomic_write
from linkage.agency.hmis.enrollments import situation_of
from linkage.agency.hmis.spec import (
    CLS_COLUMNS,
    EXIT_COLUMNS,
    FY2024_CLIENT,
    FY2024_ENROLLMENT,
    SERVICES_COLUMNS,
    STREET,
)
from linkage.bynamelist.households import Households
from linkage.bynamelist.households import figures as household_figures
from linkage.bynamelist.monthly import month_end
from linkage.bynamelist.status import (
    MEASURES,
    POPULATIONS,
    Month,
    Status,
    figures,
    with_difference,
)
from linkage.formats.activity import Flag, Situation
from linkage.progress import Progress
from linkage.research.synthetic.exports import (
    client_row,
    csv_out,
    hmis_row,
    write_project_and_export,
)
from linkage.research.synthetic.noise import Recorder
from linkage.research.synthetic.population import Population, make_population

#: Agency kinds and their HUD project types, dealt round robin: emergency shelter (entry/exit),
#: street outreach, rapid re-housing, services only.
KINDS = (("shelter", 0), ("outreach", 4), ("housing", 13), ("services", 6))
#: Behaviour, per household. Sources are the shapes of by-name lists, not any one community's
#: figures: most contacts come within weeks, some households vanish for months, about half of
#: exits from homelessness are to housing.
RATES = {
    "before_start": 0.3,  # homeless before the first month (known from earlier exports)
    "family": 0.1,  # a parent with a child
    "veteran": 0.1,  # of adults
    "disabled": 0.35,  # of heads of household: a disabling condition
    "long_gap": 0.07,  # per contact: the next one is 91 to 200 days later
    "episode_end": 0.1,  # per contact: the episode of homelessness ends after it
    "new_agency": 0.06,  # per contact: the household starts using one more agency
    "return": 0.3,  # after housing, an institution or a temporary stay: homeless again
    "duplicate": 0.3,  # an agency that has not seen someone for 180 days opens a new record
    "rrh_exit": 0.4,  # rapid re-housing closed after the move-in (to the same housing)
    "consent": 0.7,  # per client record: a release of information for partner agencies
}
#: How episodes end: weight and HUD destination codes.
OUTCOMES = {
    "housed": (0.42, (410, 435, 422)),
    "institution": (0.12, (207, 206, 204, 205)),
    "temporary": (0.14, (312, 313, 314)),
    "deceased": (0.02, (24,)),
    "vanished": (0.30, ()),
}
INACTIVE_AFTER_DAYS = 90
#: Each export folder's list of the clients who consented to be named to partner agencies
#: (``linkage encode --consent-ids``), beside the HUD files: HMIS keeps releases of
#: information apart from the CSV export.
CONSENT_FILE = "consent.txt"
_MOVE_IN = FY2024_ENROLLMENT.index("MoveInDate")


@dataclass
class _Life:
    """What happened to one person, in day order: situation-bearing events carry a situation,
    services None; shelter stays are (entry, exit) nights."""

    days: list[int] = field(default_factory=list)
    situations: list[Situation | None] = field(default_factory=list)
    stays: list[tuple[int, int]] = field(default_factory=list)

    def event(self, day: int, situation: Situation | None) -> None:
        assert not self.days or day > self.days[-1], "events must be in day order"
        self.days.append(day)
        self.situations.append(situation)

    def status(self, day: int, inactive_after_days: int) -> Status:
        """Where the person is at the end of ``day`` (UNKNOWN before the first event)."""
        seen = bisect.bisect_right(self.days, day)
        if seen == 0:
            return Status.UNKNOWN
        last = self.days[seen - 1]
        at = bisect.bisect_left(self.stays, (day + 1, 0)) - 1  # the last stay begun by then
        if at >= 0 and self.stays[at][0] <= day < self.stays[at][1]:
            last = day  # a night in the shelter
        where = next(s for s in reversed(self.situations[:seen]) if s is not None)
        if where == Situation.HOMELESS:
            return Status.ACTIVE if day - last <= inactive_after_days else Status.INACTIVE
        if where == Situation.HOUSED:
            return Status.HOUSED
        if where == Situation.DECEASED:
            return Status.DECEASED
        return Status.NOT_HOMELESS


@dataclass
class _Household:
    members: list[int]  # person indices; the first is the head
    arrival: int  # the first day an agency sees them
    began: int  # the day homelessness began (DateToStreetESSH)
    disabled: bool


@dataclass
class _Enrollment:
    """One enrollment row; its move-in date shows only in exports taken on or after it."""

    id: str
    entry: int
    row: list[str]  # MoveInDate blank
    move_in: int | None = None

    def as_of(self, end: int) -> list[str]:
        if self.move_in is None or self.move_in > end:
            return self.row
        row = list(self.row)
        row[_MOVE_IN] = _dt.date.fromordinal(self.move_in).isoformat()
        return row


@dataclass
class _Agency:
    number: int
    kind: str
    project: str
    recorder: Recorder
    clients: list[tuple[int, list[str]]] = field(default_factory=list)  # (created, row)
    enrollments: list[_Enrollment] = field(default_factory=list)
    exits: list[tuple[int, list[str]]] = field(default_factory=list)
    services: list[tuple[int, list[str]]] = field(default_factory=list)
    contacts: list[tuple[int, list[str]]] = field(default_factory=list)
    consented: set[str] = field(default_factory=set)  # record ids whose client consented
    serial: int = 0

    @property
    def name(self) -> str:
        return f"agency_{self.number}"

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.number}{self.serial:07d}"


@dataclass(frozen=True)
class Scenario:
    """Where a written scenario's files are."""

    folder: Path
    months: list[str]
    agencies: list[str]

    def exports(self, month: str) -> list[Path]:
        """The month's export folders, one per agency."""
        return [self.folder / f"month_{month}" / name for name in self.agencies]

    @property
    def truth(self) -> Path:
        return self.folder / "truth.csv"

    @property
    def statuses(self) -> Path:
        return self.folder / "statuses.csv"

    @property
    def households(self) -> Path:
        return self.folder / "households.csv"


def months_from(start: str, count: int) -> list[str]:
    """``count`` consecutive YYYY-MM months from ``start``."""
    year, month = int(start[:4]), int(start[5:7])
    out = []
    for k in range(count):
        y, m = divmod(month - 1 + k, 12)
        out.append(f"{year + y:04d}-{m + 1:02d}")
    return out


def write_scenario(
    out: Path,
    people: int,
    agencies: int,
    months: int = 12,
    seed: int = 2026,
    noise: float = 1.0,
    start: str = "2025-11",
    progress: Progress | None = None,
) -> Scenario:
    """Simulate ``months`` months of about ``people`` people and ``agencies`` agencies and write
    the monthly exports and the truth into ``out``."""
    if people < 2 or agencies < 1 or months < 1:
        raise ValueError("a scenario needs two people, one agency and one month")
    if noise < 0.0:
        raise ValueError("noise is a non-negative scale of the error rates")
    names = months_from(start, months)
    world = _World(people, agencies, names, seed, noise)
    world.simulate()
    out.mkdir(parents=True, exist_ok=True)
    for month in names:
        end = month_end(month).toordinal()
        for agency in world.agencies:
            _write_export(out / f"month_{month}" / agency.name, agency, world.history_start, end)
        if progress:
            progress(f"{month}: exports written")
    with csv_out(out / "truth.csv") as truth:
        truth.writerow(["agency", "record_id", "person_id"])
        for agency in world.agencies:
            for _, row in agency.clients:
                truth.writerow([agency.name, row[0], world.person_of[(agency.number, row[0])]])
    with csv_out(out / "households.csv") as rows:
        rows.writerow(["person_id", "household", "head"])
        for number, household in enumerate(world.households):
            for k, person in enumerate(household.members):
                rows.writerow([person, number, int(k == 0)])
    counts: Counter[str] = Counter()
    with csv_out(out / "statuses.csv") as rows:
        rows.writerow(["month", "person_id", "status", "flags"])
        for month in names:
            end = month_end(month).toordinal()
            for person, life in enumerate(world.lives):
                status = life.status(end, INACTIVE_AFTER_DAYS)
                if status != Status.UNKNOWN:
                    rows.writerow([month, person, status.name.lower(), world.flags(person, end)])
                    counts[f"{month} {status.name.lower()}"] += 1
    manifest = {
        "generator": "linkage scenario",
        "people": len(world.lives),
        "agencies": agencies,
        "months": names,
        "seed": seed,
        "noise": noise,
        "inactive_after_days": INACTIVE_AFTER_DAYS,
        "rates": RATES,
        "records": {a.name: len(a.clients) for a in world.agencies},
        "statuses": dict(sorted(counts.items())),
    }
    with atomic_write(out / "manifest.json") as fh:
        fh.write(json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n")
    return Scenario(out, names, [a.name for a in world.agencies])


class _World:
    """The simulation: households living through the scenario, agencies recording them."""

    def __init__(self, people: int, agencies: int, months: list[str], seed: int, noise: float):
        self.rng = random.Random(f"{seed}/scenario")
        self.first_day = _dt.date.fromisoformat(months[0] + "-01").toordinal()
        self.end = month_end(months[-1]).toordinal()
        self.history_start = self.first_day - 180
        self.population, self.households = self._households(people, seed, noise)
        self.agencies = []
        for k in range(agencies):
            kind, project_type = KINDS[k % len(KINDS)]
            recorder = Recorder(random.Random(f"{seed}/scenario/{k + 1}"), noise)
            self.agencies.append(_Agency(k + 1, kind, f"{k + 1}{project_type:02d}", recorder))
        self.street = [a for a in self.agencies if a.kind != "housing"] or self.agencies
        self.housing = [a for a in self.agencies if a.kind == "housing"]
        self.lives = [_Life() for _ in range(len(self.population))]
        self.veteran = [False] * len(self.population)
        self.family = [False] * len(self.population)
        self.chronic_from: list[int | None] = [None] * len(self.population)
        self.person_of: dict[tuple[int, str], int] = {}
        # consent is drawn apart, so that adding it left every other draw of a seed as it was
        self.consent_rng = random.Random(f"{seed}/scenario/consent")
        self._record: dict[tuple[int, int], tuple[str, int]] = {}  # (person, agency) -> id, seen

    def _households(
        self, people: int, seed: int, noise: float
    ) -> tuple[Population, list[_Household]]:
        """The population, grouped into households: a child takes the parent's surname and a
        birth date making them 1 to 15 years old at the start."""
        population = make_population(people, seed, noise)
        birth = population.birth.copy()
        last = list(population.last)
        households = []
        rng = self.rng
        i = 0
        while i < people:
            arrival = (
                self.first_day - rng.randrange(1, 180)
                if rng.random() < RATES["before_start"]
                else rng.randrange(self.first_day, self.end + 1)
            )
            began = arrival - (rng.randrange(0, 900) if rng.random() < 0.5 else 0)
            members = [i]
            if i + 1 < people and rng.random() < RATES["family"]:
                members.append(i + 1)
                last[i + 1] = last[i]
                birth[i + 1] = self.first_day - rng.randrange(365, 16 * 365)
            disabled = rng.random() < RATES["disabled"]
            households.append(_Household(members, arrival, began, disabled))
            i += len(members)
        twin_of = population.twin_of.copy()
        for h in households:
            twin_of[h.members[1:]] = -1
        return (
            Population(population.first, last, birth, population.ssn, population.sex, twin_of),
            households,
        )

    def flags(self, person: int, day: int) -> int:
        """The person's population flags at the end of ``day``."""
        out = Flag(0)
        if self.veteran[person]:
            out |= Flag.VETERAN
        born = _dt.date.fromordinal(int(self.population.birth[person]))
        on = _dt.date.fromordinal(day)
        age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
        if 0 <= age < 25:
            out |= Flag.YOUTH
        if self.family[person]:
            out |= Flag.FAMILY
        chronic = self.chronic_from[person]
        if chronic is not None and chronic <= day:
            out |= Flag.CHRONIC
        return int(out)

    def simulate(self) -> None:
        for household in self.households:
            head = household.members[0]
            born = int(self.population.birth[head])
            adult = (self.first_day - born) >= 18 * 365
            draw = self.rng.random()  # drawn for everyone, so lives do not depend on noise
            self.veteran[head] = adult and draw < RATES["veteran"]
            for m in household.members:
                self.family[m] = len(household.members) > 1
            self._live(household, household.arrival)

    def _live(self, household: _Household, day: int) -> None:
        rng = self.rng
        uses = set(rng.sample(range(len(self.street)), rng.randint(1, min(3, len(self.street)))))
        while day <= self.end:
            opened: dict[int, list[_Enrollment]] = {}  # this episode's open enrollments, by agency
            while True:
                if rng.random() < RATES["new_agency"]:
                    uses.add(rng.randrange(len(self.street)))
                day = self._contact(household, self.street[rng.choice(sorted(uses))], day, opened)
                if rng.random() < RATES["episode_end"]:
                    break
                if rng.random() < RATES["long_gap"]:
                    day += rng.randint(91, 200)
                else:
                    day += 1 + int(rng.expovariate(1 / 15))
                if day > self.end:
                    return
            day += 1 + int(rng.expovariate(1 / 10))
            kinds = list(OUTCOMES)
            outcome = rng.choices(kinds, [OUTCOMES[k][0] for k in kinds])[0]
            if outcome == "vanished" or day > self.end:
                return
            destination = rng.choice(OUTCOMES[outcome][1])
            if outcome == "housed" and self.housing and rng.random() < 0.5:
                day = self._rapid_rehousing(household, rng.choice(self.housing), day)
            else:
                at = self.street[rng.choice(sorted(uses))]
                day = self._leave(household, at, day, destination, opened)
            if outcome == "deceased" or rng.random() >= RATES["return"]:
                return
            day += rng.randint(30, 240)

    # --- what agencies record: each method records one event for every household member ---

    def _client(self, person: int, agency: _Agency, day: int, fresh: bool) -> str:
        """The person's current record at the agency, opened on first sight (or again when
        ``fresh``)."""
        known = self._record.get((person, agency.number))
        if known is None or fresh:
            pid = agency.next_id("")
            created = f"{_dt.date.fromordinal(day).isoformat()} 09:00:00"
            row = client_row(
                agency.recorder, self.population, person, pid, created, self.veteran[person]
            )
            agency.clients.append((day, row))
            self.person_of[(agency.number, pid)] = person
            if self.consent_rng.random() < RATES["consent"]:
                agency.consented.add(pid)
        else:
            pid = known[0]
        self._record[(person, agency.number)] = (pid, day)
        return pid

    def _fresh(self, household: _Household, agency: _Agency, day: int) -> bool:
        """Whether the agency opens new records for a household it has not seen in 180 days."""
        known = self._record.get((household.members[0], agency.number))
        return (
            known is not None and day - known[1] >= 180 and self.rng.random() < RATES["duplicate"]
        )

    def _enrol(self, household: _Household, agency: _Agency, day: int) -> list[_Enrollment]:
        """The household's entry into the agency's project, one enrollment per member."""
        fresh = self._fresh(household, agency, day)
        household_id = agency.next_id("H")
        when = _dt.date.fromordinal(day).isoformat()
        out = []
        for k, person in enumerate(household.members):
            pid = self._client(person, agency, day, fresh)
            head = k == 0
            enrollment_id = agency.next_id("E")
            row = hmis_row(
                FY2024_ENROLLMENT,
                EnrollmentID=enrollment_id,
                PersonalID=pid,
                ProjectID=agency.project,
                EntryDate=when,
                HouseholdID=household_id,
                RelationshipToHoH="1" if head else "2",
                EnrollmentCoC="XX-500",
                LivingSituation=str(STREET),
                DisablingCondition="1" if head and household.disabled else "0",
                DateToStreetESSH=_dt.date.fromordinal(household.began).isoformat(),
                DateCreated=f"{when} 09:00:00",
                DateUpdated=f"{when} 09:00:00",
            )
            enrollment = _Enrollment(enrollment_id, day, row)
            agency.enrollments.append(enrollment)
            self.lives[person].event(day, Situation.HOMELESS)
            chronic = head and household.disabled and day - household.began >= 365
            if chronic and self.chronic_from[person] is None:
                self.chronic_from[person] = day
            out.append(enrollment)
        return out

    def _exit(
        self,
        household: _Household,
        agency: _Agency,
        enrolled: list[_Enrollment],
        day: int,
        code: int,
    ) -> None:
        for person, enrollment in zip(household.members, enrolled, strict=True):
            pid = self._client(person, agency, day, fresh=False)
            row = hmis_row(
                EXIT_COLUMNS,
                ExitID=agency.next_id("X"),
                EnrollmentID=enrollment.id,
                PersonalID=pid,
                ExitDate=_dt.date.fromordinal(day).isoformat(),
                Destination=str(code),
            )
            agency.exits.append((day, row))
            self.lives[person].event(day, situation_of(code))

    def _stay(
        self,
        household: _Household,
        agency: _Agency,
        day: int,
        nights: Callable[[], int],
        code: int,
    ) -> int:
        """A shelter stay from ``day``: a bed every night, then an exit to ``code`` (``nights``
        is drawn after the entry is recorded); returns the exit day."""
        enrolled = self._enrol(household, agency, day)
        leave = day + nights()
        for person in household.members:
            self.lives[person].stays.append((day, leave))
        self._exit(household, agency, enrolled, leave, code)
        return leave

    def _contact(
        self,
        household: _Household,
        agency: _Agency,
        day: int,
        opened: dict[int, list[_Enrollment]],
    ) -> int:
        """One contact: a shelter stay (returns its exit day), or an outreach contact or a
        service under the episode's enrollment at the agency (opened at the first)."""
        if agency.kind == "shelter":
            week = lambda: 1 + min(60, int(self.rng.expovariate(1 / 7)))  # noqa: E731
            return self._stay(household, agency, day, week, STREET)
        enrolled = opened.get(agency.number) or []
        if not enrolled:
            opened[agency.number] = self._enrol(household, agency, day)
            return day
        for person, enrollment in zip(household.members, enrolled, strict=True):
            pid = self._client(person, agency, day, fresh=False)
            when = _dt.date.fromordinal(day).isoformat()
            if agency.kind == "outreach":
                row = hmis_row(
                    CLS_COLUMNS,
                    CurrentLivingSitID=agency.next_id("C"),
                    EnrollmentID=enrollment.id,
                    PersonalID=pid,
                    InformationDate=when,
                    CurrentLivingSituation=str(STREET),
                )
                agency.contacts.append((day, row))
                self.lives[person].event(day, Situation.HOMELESS)
            else:
                row = hmis_row(
                    SERVICES_COLUMNS,
                    ServicesID=agency.next_id("S"),
                    EnrollmentID=enrollment.id,
                    PersonalID=pid,
                    DateProvided=when,
                    RecordType="141",
                    TypeProvided="1",
                )
                agency.services.append((day, row))
                self.lives[person].event(day, None)
        return day

    def _leave(
        self,
        household: _Household,
        agency: _Agency,
        day: int,
        code: int,
        opened: dict[int, list[_Enrollment]],
    ) -> int:
        """The episode ends at a street agency: the exit of the household's enrollment there
        (a last shelter stay at a shelter, or a fresh enrollment where none is open)."""
        if agency.kind == "shelter":
            return self._stay(household, agency, day, lambda: 1 + self.rng.randrange(14), code)
        enrolled = opened.pop(agency.number, [])
        if not enrolled:
            enrolled = self._enrol(household, agency, day)
            day += 1
        self._exit(household, agency, enrolled, day, code)
        return day

    def _rapid_rehousing(self, household: _Household, agency: _Agency, day: int) -> int:
        """Entry into rapid re-housing, the move-in weeks later, sometimes the exit months after
        (to housing); returns the day of the last of these."""
        rng = self.rng
        enrolled = self._enrol(household, agency, day)
        move_in = day + rng.randint(7, 45)
        for enrollment in enrolled:
            enrollment.move_in = move_in
        for person in household.members:
            self._client(person, agency, move_in, fresh=False)
            self.lives[person].event(move_in, Situation.HOUSED)
        if rng.random() >= RATES["rrh_exit"]:
            return move_in
        leave = move_in + rng.randint(60, 240)
        self._exit(household, agency, enrolled, leave, rng.choice(OUTCOMES["housed"][1]))
        return leave


def _write_export(folder: Path, agency: _Agency, start: int, end: int) -> None:
    """The agency's HMIS export as of ``end``: everything it recorded up to that day."""

    def upto(rows: list[tuple[int, list[str]]]) -> Iterator[list[str]]:
        return (row for day, row in rows if day <= end)

    with csv_out(folder / "Client.csv") as out:
        out.writerow(FY2024_CLIENT)
        out.writerows(upto(agency.clients))
    with csv_out(folder / CONSENT_FILE) as out:  # the agency's releases of information
        out.writerow(["PersonalID"])
        out.writerows([row[0]] for row in upto(agency.clients) if row[0] in agency.consented)
    with csv_out(folder / "Enrollment.csv") as out:
        out.writerow(FY2024_ENROLLMENT)
        out.writerows(e.as_of(end) for e in agency.enrollments if e.entry <= end)
    for name, columns, rows in (
        ("Exit.csv", EXIT_COLUMNS, agency.exits),
        ("Services.csv", SERVICES_COLUMNS, agency.services),
        ("CurrentLivingSituation.csv", CLS_COLUMNS, agency.contacts),
    ):
        with csv_out(folder / name) as out:
            out.writerow(columns)
            out.writerows(upto(rows))
    kind = dict(KINDS)[agency.kind]
    write_project_and_export(
        folder,
        agency.number,
        [(agency.project, kind)],
        _dt.date.fromordinal(start),
        _dt.date.fromordinal(end),
    )


def read_statuses(path: Path) -> dict[str, dict[str, tuple[Status, int]]]:
    """``statuses.csv`` as month -> person -> (status, flags)."""
    out: dict[str, dict[str, tuple[Status, int]]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            status = Status[row["status"].upper()]
            out.setdefault(row["month"], {})[row["person_id"]] = (status, int(row["flags"]))
    return out


def read_households(path: Path) -> dict[str, tuple[str, bool]]:
    """``households.csv`` as person -> (household, head)."""
    with open(path, newline="") as fh:
        return {r["person_id"]: (r["household"], r["head"] == "1") for r in csv.DictReader(fh)}


def true_figures(
    statuses: dict[str, dict[str, tuple[Status, int]]],
    households: dict[str, tuple[str, bool]],
) -> dict[str, dict[str, dict[str, int]]]:
    """Month -> population (and household row) -> measure, from the true statuses and
    households: the by-name list's arithmetic (:func:`linkage.bynamelist.status.figures`,
    :func:`linkage.bynamelist.households.figures`) applied to what really happened, which is
    what the list's figures must equal when its linkage is right."""
    people = sorted({p for month in statuses.values() for p in month})
    order = {p: i for i, p in enumerate(people)}
    n = len(people)
    true_households = Households.grouped(
        [households[p][0] for p in people], [households[p][1] for p in people]
    )

    def month_of(rows: dict[str, tuple[Status, int]]) -> Month:
        status = np.zeros(n, np.int64)
        flags = np.zeros(n, np.int64)
        existed = np.zeros(n, np.bool_)
        for person, (st, fl) in rows.items():
            at = order[person]
            status[at], flags[at], existed[at] = st, fl, True
        return Month(status, flags, existed)

    out: dict[str, dict[str, dict[str, int]]] = {}
    before = month_of({})
    ever = {name: np.zeros(n, np.bool_) for name in POPULATIONS}
    active_before: dict[str, int] = {}
    for month in sorted(statuses):
        now = month_of(statuses[month])
        table = with_difference(figures(now, before, ever), active_before)
        out[month] = {name: {m: row[m] for m in MEASURES} for name, row in table.items()}
        out[month].update(household_figures(true_households, now, before, active_before))
        listed = now.status == Status.ACTIVE
        for name, member in POPULATIONS.items():
            ever[name] |= listed & member(now.flags)
        active_before = {name: row["active"] for name, row in out[month].items()}
        before = now
    return out
