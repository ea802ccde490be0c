"""Activity attributes from an HMIS CSV export folder, derived on the agency's machine.

The by-name list needs, per client, when the agency last saw them, where they were living at
their latest event, the project they were in and which populations they belong to. All of it
is in the export beside ``Client.csv``: ``Enrollment.csv`` and ``Project.csv`` (required),
``Exit.csv``, ``Services.csv`` and ``CurrentLivingSituation.csv`` (used when present).

The rules, applied to events on or before the activity date (later ones are counted and left
out):

- last activity: the latest entry, exit, move-in, service (any record type; 200 is a bed night)
  or current-living-situation contact; a client with an enrollment still open on the activity
  date in a residential homeless project (ES entry/exit, TH, safe haven) sleeps there, so their
  last activity is the activity date itself;
- situation: that of the latest situation-bearing event. An entry into a project where being
  enrolled means being homeless (ES, TH, outreach, safe haven, day shelter) is homeless; an
  entry into a housing project (PSH, PH, RRH) is homeless until its move-in date, housed from
  it; an entry into any other project carries the prior living situation; exits carry their
  destination and contacts their current living situation. On one day, an exit outranks a
  move-in, which outranks a contact, which outranks an entry;
- project type: of the latest entry;
- flags: veteran (``VeteranStatus`` 1), youth (under 25 on the activity date, from a full or
  approximate birth date), family (the latest entry's household has a child of the head of
  household), chronic (HUD: a disabling condition at the latest entry and either a year since
  the date homelessness began, or four or more times totalling twelve or more months);
- household: the latest entry's ``HouseholdID``, and whether its ``RelationshipToHoH`` is 1
  (head of household). It leaves the agency only as a keyed pseudonym
  (:mod:`linkage.formats.household`).

Codes are checked against the HUD FY2024 lists; a row with a code outside them, or a date that
is not a date, stops the run (or is skipped and counted with ``on_error="skip"``). Messages
name file, line and column, never a value other than a code.
"""

from __future__ import annotations

import csv
import datetime as _dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from linkage.agency.csvfile import id_hashes
from linkage.agency.encoding.keys import household_pseudonyms
from linkage.agency.hmis.spec import (
    DECEASED,
    HOMELESS_PROJECTS,
    HOUSING_PROJECTS,
    LIVING_SITUATIONS,
    PROJECT_TYPES,
    RESIDENTIAL_PROJECTS,
)
from linkage.errors import InputError
from linkage.formats.activity import NO_PROJECT, WIDTH, Activity, Flag, Situation, pack
from linkage.formats.household import WIDTH as HOUSEHOLD_WIDTH
from linkage.formats.household import pack as pack_households

#: The Enrollment.csv columns the rules read.
ENROLLMENT_COLUMNS = (
    "EnrollmentID",
    "PersonalID",
    "ProjectID",
    "EntryDate",
    "HouseholdID",
    "RelationshipToHoH",
    "LivingSituation",
    "DisablingCondition",
    "DateToStreetESSH",
    "TimesHomelessPastThreeYears",
    "MonthsHomelessPastThreeYears",
    "MoveInDate",
)
#: Ranks of same-day events: the higher one says where the person is.
_ENTRY, _CONTACT, _MOVE_IN, _EXIT = range(4)
_SKIP_HINT = "fix the row, or pass --on-error skip to skip and count such rows"


def situation_of(code: int | None) -> Situation:
    """The category of a HUD living situation or destination code."""
    if code is None:
        return Situation.UNKNOWN
    if code == DECEASED:
        return Situation.DECEASED
    family = code // 100
    if 1 <= family <= 4:
        return Situation(family)
    return Situation.UNKNOWN


@dataclass
class ActivitySummary:
    """Counts for the agency's summary: never a value."""

    clients: int = 0
    with_activity: int = 0
    after_as_of: int = 0
    unknown_client: int = 0
    deleted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    files: list[str] = field(default_factory=list)


@dataclass
class _Client:
    flags: Flag = field(default_factory=lambda: Flag(0))
    last: int = 0
    situation_at: tuple[int, int] = (0, -1)
    situation: Situation = Situation.UNKNOWN
    entry: int = 0
    project: int | None = None
    household: str = ""
    head: bool = False
    chronic: bool = False

    def saw(self, day: int) -> None:
        self.last = max(self.last, day)

    def placed(self, day: int, rank: int, situation: Situation) -> None:
        if (day, rank) >= self.situation_at:
            self.situation_at = (day, rank)
            self.situation = situation


class _Rows:
    """Rows of one export file as dicts of the wanted columns, checked and counted."""

    def __init__(
        self, path: Path, columns: tuple[str, ...], on_error: str, report: ActivitySummary
    ):
        self.path = path
        self.columns = columns
        self.on_error = on_error
        self.report = report
        self.line = 0
        self.column = ""

    def __iter__(self) -> Iterator[dict[str, str]]:
        try:
            fh = open(self.path, encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot be read ({exc.__class__.__name__})") from None
        with fh:
            reader = csv.reader(fh)
            try:
                header = [h.strip() for h in next(reader, [])]
                missing = [c for c in self.columns if c not in header]
                if missing:
                    raise InputError(
                        f"{self.path}: missing required column(s): {', '.join(missing)}",
                        "export the folder again with the HMIS CSV export of your HMIS",
                    )
                picks = [(c, header.index(c)) for c in self.columns]
                deleted = header.index("DateDeleted") if "DateDeleted" in header else -1
                for row in reader:
                    self.line = reader.line_num
                    if not row:
                        continue
                    if len(row) != len(header):
                        self.reject(f"has {len(row)} fields, the header {len(header)}", "width")
                        continue
                    if deleted >= 0 and row[deleted].strip():
                        self.report.deleted += 1
                        continue
                    yield {c: row[i].strip() for c, i in picks}
            except UnicodeDecodeError:
                raise InputError(
                    f"{self.path}:{self.line + 1}: not UTF-8 text", "export as UTF-8"
                ) from None
            except csv.Error:
                raise InputError(f"{self.path}:{self.line + 1}: malformed CSV") from None

    def reject(self, message: str, reason: str) -> None:
        """A row that cannot be used: stop, or count it when skipping."""
        if self.on_error != "skip":
            raise InputError(f"{self.path}:{self.line}: {message}", _SKIP_HINT)
        self.report.skipped[reason] += 1

    def date(self, row: dict[str, str], column: str, required: bool = True) -> int | None:
        """The ordinal of an HMIS date or date-time cell; None when blank and optional."""
        text = row[column]
        if not text and not required:
            return None
        try:
            return _dt.date.fromisoformat(text[:10]).toordinal()
        except ValueError:
            self.reject(f"{column} is not a date (YYYY-MM-DD)", "bad date")
            return None

    def code(self, row: dict[str, str], column: str, allowed: frozenset[int]) -> int | None:
        """A HUD code from ``allowed``; None when blank. Raises (or counts) any other value."""
        text = row[column]
        if not text:
            return None
        if not (text.isdigit() and int(text) in allowed):
            self.reject(f"{column} is not a HUD FY2024 code", f"bad {column}")
            raise _Skip
        return int(text)


class _Skip(Exception):
    """The row was rejected and counted; go on with the next one."""


def _client_flags(row: dict[str, str], as_of: _dt.date) -> Flag:
    flags = Flag(0)
    if row["VeteranStatus"] == "1":
        flags |= Flag.VETERAN
    if row["DOB"] and row["DOBDataQuality"] in ("1", "2"):
        try:
            born = _dt.date.fromisoformat(row["DOB"][:10])
        except ValueError:
            return flags  # the encoder reports the bad date with its line
        age = as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))
        if 0 <= age < 25:
            flags |= Flag.YOUTH
    return flags


def _chronic(rows: _Rows, row: dict[str, str], entry: int) -> bool:
    """HUD's chronic homelessness test at one entry, from the agency's own answers."""
    if row["DisablingCondition"] != "1":
        return False
    began = rows.date(row, "DateToStreetESSH", required=False)
    if began is not None and entry - began >= 365:
        return True
    times, months = row["TimesHomelessPastThreeYears"], row["MonthsHomelessPastThreeYears"]
    return times == "4" and months.isdigit() and int(months) >= 112


@dataclass(frozen=True)
class Membership:
    """The household of a client's latest enrollment, by its agency-local ``HouseholdID``
    ("" where the export holds none), and whether the client heads it."""

    household: str
    head: bool


def read_activity(
    folder: Path, as_of: _dt.date, on_error: str = "fail"
) -> tuple[dict[str, Activity], dict[str, Membership], ActivitySummary]:
    """Each client's activity attributes and household, by PersonalID, from the export in
    ``folder``."""
    report = ActivitySummary()
    horizon = as_of.toordinal()
    clients: dict[str, _Client] = {}
    for row in _Rows(
        folder / "Client.csv",
        ("PersonalID", "VeteranStatus", "DOB", "DOBDataQuality"),
        on_error,
        report,
    ):
        clients[row["PersonalID"]] = _Client(flags=_client_flags(row, as_of))
    report.clients = len(clients)

    projects: dict[str, int] = {}
    rows = _Rows(folder / "Project.csv", ("ProjectID", "ProjectType"), on_error, report)
    for row in rows:
        try:
            kind = rows.code(row, "ProjectType", PROJECT_TYPES)
        except _Skip:
            continue
        if kind is not None:
            projects[row["ProjectID"]] = kind

    def client(row: dict[str, str], day: int | None) -> _Client | None:
        person = clients.get(row["PersonalID"])
        if person is None:
            report.unknown_client += 1
        elif day is not None and day > horizon:
            report.after_as_of += 1
            return None
        return person

    with_child: set[str] = set()
    residential: dict[str, _Client] = {}  # open enrollments in residential projects, by id
    rows = _Rows(folder / "Enrollment.csv", ENROLLMENT_COLUMNS, on_error, report)
    for row in rows:
        try:
            prior = rows.code(row, "LivingSituation", LIVING_SITUATIONS)
        except _Skip:
            continue
        entry = rows.date(row, "EntryDate")
        if entry is None:
            continue
        kind = projects.get(row["ProjectID"])
        if kind is None:
            rows.reject("ProjectID is not in Project.csv", "unknown project")
            continue
        if row["RelationshipToHoH"] == "2":
            with_child.add(row["HouseholdID"])
        person = client(row, entry)
        if person is None:
            continue
        person.saw(entry)
        if kind in RESIDENTIAL_PROJECTS:
            residential[row["EnrollmentID"]] = person
        if kind in HOMELESS_PROJECTS or kind in HOUSING_PROJECTS:
            person.placed(entry, _ENTRY, Situation.HOMELESS)
        else:
            person.placed(entry, _ENTRY, situation_of(prior))
        move_in = rows.date(row, "MoveInDate", required=False) if kind in HOUSING_PROJECTS else None
        if move_in is not None and move_in <= horizon:
            person.saw(move_in)
            person.placed(move_in, _MOVE_IN, Situation.HOUSED)
        if entry >= person.entry:
            person.entry, person.project, person.household = entry, kind, row["HouseholdID"]
            person.head = row["RelationshipToHoH"] == "1"
            person.chronic = _chronic(rows, row, entry)

    optional = (
        ("CurrentLivingSituation.csv", "InformationDate", "CurrentLivingSituation", _CONTACT),
        ("Exit.csv", "ExitDate", "Destination", _EXIT),
        ("Services.csv", "DateProvided", None, _CONTACT),
    )
    for name, date_column, code_column, rank in optional:
        path = folder / name
        if not path.exists():
            continue
        report.files.append(name)
        wanted = ("PersonalID", date_column) + ((code_column,) if code_column else ())
        if rank == _EXIT:
            wanted += ("EnrollmentID",)
        rows = _Rows(path, wanted, on_error, report)
        for row in rows:
            try:
                code = rows.code(row, code_column, LIVING_SITUATIONS) if code_column else None
            except _Skip:
                continue
            day = rows.date(row, date_column)
            if day is None:
                continue
            person = client(row, day)
            if person is None:
                continue
            person.saw(day)
            if code_column:
                person.placed(day, rank, situation_of(code))
            if rank == _EXIT:
                residential.pop(row["EnrollmentID"], None)
    for person in residential.values():
        person.saw(horizon)

    activities: dict[str, Activity] = {}
    memberships: dict[str, Membership] = {}
    for pid, person in clients.items():
        flags = person.flags
        if person.household in with_child:
            flags |= Flag.FAMILY
        if person.chronic:
            flags |= Flag.CHRONIC
        if person.last:
            report.with_activity += 1
        activities[pid] = Activity(
            last_activity=_dt.date.fromordinal(person.last) if person.last else None,
            situation=person.situation,
            project_type=person.project,
            flags=flags,
        )
        memberships[pid] = Membership(person.household, person.head and bool(person.household))
    return activities, memberships, report


@dataclass(frozen=True)
class ActivityTable:
    """Packed attributes keyed by :func:`~linkage.agency.csvfile.id_hashes` of the record ids,
    so the encoder can attach them to its blocks in any process order; beside them, each
    client's household as the export names it (pseudonymised only by :meth:`households`,
    which needs the secret)."""

    hashes: npt.NDArray[np.int64]
    rows: npt.NDArray[np.uint8]
    as_of: _dt.date
    household_ids: list[str]
    heads: npt.NDArray[np.bool_]

    @classmethod
    def build(
        cls,
        activities: dict[str, Activity],
        memberships: dict[str, Membership],
        as_of: _dt.date,
    ) -> ActivityTable:
        hashes = id_hashes(list(activities))
        order = np.argsort(hashes, kind="stable")
        rows = pack(list(activities.values()))
        held = [memberships.get(pid, Membership("", False)) for pid in activities]
        return cls(
            hashes=hashes[order],
            rows=rows[order],
            as_of=as_of,
            household_ids=[held[i].household for i in order.tolist()],
            heads=np.array([held[i].head for i in order.tolist()], np.bool_),
        )

    def lookup(self, hashes: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
        """The rows of these records; a record the export holds no client row for (none, when
        both were read from one Client.csv) gets no activity and no flags."""
        empty = np.zeros(WIDTH, np.uint8)
        empty[5] = NO_PROJECT
        return _rows_of(self.hashes, self.rows, hashes, empty)

    def households(self, key: bytes) -> HouseholdTable:
        """The clients' household sections under the agency's household key, made once."""
        pseudonyms = household_pseudonyms(key, self.household_ids)
        return HouseholdTable(self.hashes, pack_households(pseudonyms, self.heads))


@dataclass(frozen=True)
class HouseholdTable:
    """The household sections of an :class:`ActivityTable`'s clients, keyed as it is."""

    hashes: npt.NDArray[np.int64]
    rows: npt.NDArray[np.uint8]

    def lookup(self, hashes: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
        """The sections of these records (no household for a record with no client row)."""
        return _rows_of(self.hashes, self.rows, hashes, np.zeros(HOUSEHOLD_WIDTH, np.uint8))


def _rows_of(
    keys: npt.NDArray[np.int64],
    table: npt.NDArray[np.uint8],
    hashes: npt.NDArray[np.int64],
    empty: npt.NDArray[np.uint8],
) -> npt.NDArray[np.uint8]:
    """``table``'s rows of the records whose id hashes are ``hashes`` (``keys`` sorted),
    ``empty`` for those it has none of."""
    at = np.searchsorted(keys, hashes).clip(0, max(len(keys) - 1, 0))
    out = np.tile(empty, (len(hashes), 1))
    if len(keys):
        found = keys[at] == hashes
        out[found] = table[at[found]]
    return out


def activity_table(
    folder: Path, as_of: _dt.date | None = None, on_error: str = "fail"
) -> tuple[ActivityTable, ActivitySummary]:
    """The export folder's activity, ready for the encoder: as of ``as_of``, else the export's
    ``ExportEndDate``, else today (an export taken today runs to today)."""
    day = as_of or export_end_date(folder) or _dt.date.today()
    activities, memberships, report = read_activity(folder, day, on_error)
    return ActivityTable.build(activities, memberships, day), report


def export_end_date(folder: Path) -> _dt.date | None:
    """``ExportEndDate`` from the folder's ``Export.csv``, when there is one: the day the
    export's activity runs to."""
    path = folder / "Export.csv"
    if not path.exists():
        return None
    report = ActivitySummary()
    rows = _Rows(path, ("ExportEndDate",), "fail", report)
    for row in rows:
        day = rows.date(row, "ExportEndDate")
        return _dt.date.fromordinal(day) if day is not None else None
    raise InputError(f"{path}: has no rows", "export the folder again")
