"""Activity attributes derived from a (tiny, synthetic) HMIS export folder."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from linkage.agency.csvfile import id_hashes
from linkage.agency.encoding.keys import household_key
from linkage.agency.hmis.enrollments import (
    ENROLLMENT_COLUMNS,
    ActivityTable,
    Membership,
    export_end_date,
    read_activity,
)
from linkage.errors import InputError
from linkage.formats.activity import Flag, Situation, unpack
from linkage.formats.household import check as check_household
from linkage.formats.household import pack as pack_households
from linkage.formats.household import unpack as unpack_households

AS_OF = dt.date(2026, 10, 31)
ENROLLMENT = [*ENROLLMENT_COLUMNS, "DateDeleted"]


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        for row in rows:
            out.writerow([row.get(c, "") for c in header])


def _enrol(eid: str, pid: str, project: str, entry: str, **more: str) -> dict[str, str]:
    row = {
        "EnrollmentID": eid,
        "PersonalID": pid,
        "ProjectID": project,
        "EntryDate": entry,
        "HouseholdID": f"H{eid}",
        "RelationshipToHoH": "1",
        "LivingSituation": "116",
    }
    row.update(more)
    return row


def _folder(
    tmp_path: Path,
    clients: list[dict[str, str]],
    enrollments: list[dict[str, str]],
    exits: list[dict[str, str]] = (),  # type: ignore[assignment]
    services: list[dict[str, str]] = (),  # type: ignore[assignment]
    contacts: list[dict[str, str]] = (),  # type: ignore[assignment]
) -> Path:
    folder = tmp_path / "export"
    folder.mkdir()
    client_cols = ["PersonalID", "VeteranStatus", "DOB", "DOBDataQuality", "DateDeleted"]
    _write(folder / "Client.csv", client_cols, clients)
    projects = [("ES", "1"), ("EE", "0"), ("SO", "4"), ("RRH", "13"), ("CE", "14")]
    _write(
        folder / "Project.csv",
        ["ProjectID", "ProjectType"],
        [{"ProjectID": p, "ProjectType": t} for p, t in projects],
    )
    _write(folder / "Enrollment.csv", ENROLLMENT, enrollments)
    if exits:
        cols = ["ExitID", "EnrollmentID", "PersonalID", "ExitDate", "Destination", "DateDeleted"]
        _write(folder / "Exit.csv", cols, exits)
    if services:
        cols = ["ServicesID", "PersonalID", "DateProvided", "RecordType", "DateDeleted"]
        _write(folder / "Services.csv", cols, services)
    if contacts:
        cols = ["CurrentLivingSitID", "PersonalID", "InformationDate", "CurrentLivingSituation"]
        _write(folder / "CurrentLivingSituation.csv", cols, contacts)
    return folder


def _client(pid: str, **more: str) -> dict[str, str]:
    return {
        "PersonalID": pid,
        "VeteranStatus": "0",
        "DOB": "1970-05-05",
        "DOBDataQuality": "1",
    } | more


def test_bed_nights_and_contacts_set_last_activity(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        [_client("1"), _client("2"), _client("3")],
        [_enrol("E1", "1", "ES", "2026-03-01"), _enrol("E2", "2", "SO", "2026-04-01")],
        services=[
            {"PersonalID": "1", "DateProvided": "2026-09-20", "RecordType": "200"},
            {"PersonalID": "1", "DateProvided": "2026-08-02", "RecordType": "200"},
        ],
        contacts=[
            {"PersonalID": "2", "InformationDate": "2026-10-03", "CurrentLivingSituation": "116"}
        ],
    )
    got, _, report = read_activity(folder, AS_OF)
    assert got["1"].last_activity == dt.date(2026, 9, 20)
    assert got["1"].situation is Situation.HOMELESS
    assert got["1"].project_type == 1
    assert got["2"].last_activity == dt.date(2026, 10, 3)
    assert got["2"].project_type == 4
    assert got["3"].last_activity is None and got["3"].situation is Situation.UNKNOWN
    assert got["3"].project_type is None
    assert (report.clients, report.with_activity) == (3, 2)


def test_exit_destination_and_same_day_ranking(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        [_client("1"), _client("2"), _client("3")],
        [
            _enrol("E1", "1", "SO", "2026-01-01"),
            _enrol("E2", "2", "SO", "2026-01-01"),
            _enrol("E3", "3", "CE", "2026-01-01", LivingSituation="207"),
        ],
        exits=[
            {
                "EnrollmentID": "E1",
                "PersonalID": "1",
                "ExitDate": "2026-06-01",
                "Destination": "410",
            },
            {
                "EnrollmentID": "E2",
                "PersonalID": "2",
                "ExitDate": "2026-06-01",
                "Destination": "24",
            },
        ],
        contacts=[
            # a contact on the exit's day is outranked by the exit; a later one is not
            {"PersonalID": "1", "InformationDate": "2026-06-01", "CurrentLivingSituation": "116"},
            {"PersonalID": "2", "InformationDate": "2026-06-02", "CurrentLivingSituation": "101"},
        ],
    )
    got, _, _ = read_activity(folder, AS_OF)
    assert got["1"].situation is Situation.HOUSED
    assert got["1"].last_activity == dt.date(2026, 6, 1)
    assert got["2"].situation is Situation.HOMELESS
    # coordinated entry carries the prior living situation (2xx: an institution)
    assert got["3"].situation is Situation.INSTITUTION


def test_move_in_houses_and_open_residential_stays_are_current(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        [_client("1"), _client("2"), _client("3"), _client("4")],
        [
            _enrol("E1", "1", "RRH", "2026-02-01", MoveInDate="2026-05-15"),
            _enrol("E2", "2", "RRH", "2026-02-01", MoveInDate="2026-12-01"),
            _enrol("E3", "3", "EE", "2026-02-01"),
            _enrol("E4", "4", "EE", "2026-02-01"),
        ],
        exits=[
            {"EnrollmentID": "E4", "PersonalID": "4", "ExitDate": "2026-03-01", "Destination": "30"}
        ],
    )
    got, _, _ = read_activity(folder, AS_OF)
    assert (got["1"].situation, got["1"].last_activity) == (Situation.HOUSED, dt.date(2026, 5, 15))
    # a move-in after the activity date has not happened yet
    assert (got["2"].situation, got["2"].last_activity) == (Situation.HOMELESS, dt.date(2026, 2, 1))
    # still in an entry/exit shelter: seen every night up to the activity date
    assert got["3"].last_activity == AS_OF
    assert (got["4"].situation, got["4"].last_activity) == (Situation.UNKNOWN, dt.date(2026, 3, 1))


def test_later_events_deleted_rows_and_unknown_clients_are_counted(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        [_client("1"), _client("9", DateDeleted="2026-01-01")],
        [_enrol("E1", "1", "ES", "2026-03-01"), _enrol("E2", "7", "ES", "2026-03-01")],
        services=[
            {"PersonalID": "1", "DateProvided": "2026-11-05", "RecordType": "200"},
            {"PersonalID": "1", "DateProvided": "2026-10-05", "RecordType": "200"},
            {"PersonalID": "1", "DateProvided": "2026-10-20", "DateDeleted": "2026-10-21"},
        ],
    )
    got, _, report = read_activity(folder, AS_OF)
    assert got["1"].last_activity == dt.date(2026, 10, 5)
    assert "9" not in got
    assert (report.after_as_of, report.unknown_client, report.deleted) == (1, 1, 2)


def test_population_flags(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        [
            _client("1", VeteranStatus="1"),
            _client("2", DOB="2003-11-01"),  # 22 on the activity date
            _client("3", DOB="2001-10-31"),  # 25 that day: not youth
            _client("4"),
            _client("5"),
            _client("6", DOB="2005-01-01", DOBDataQuality="8"),  # unknown birth date
        ],
        [
            _enrol("E1", "1", "ES", "2026-01-01"),
            _enrol("E2", "2", "ES", "2026-01-01"),
            _enrol("E3", "3", "ES", "2026-01-01"),
            _enrol("E4", "4", "ES", "2026-01-01", HouseholdID="HH"),
            _enrol("E4c", "4c", "ES", "2026-01-01", HouseholdID="HH", RelationshipToHoH="2"),
            _enrol(
                "E5",
                "5",
                "ES",
                "2026-01-01",
                DisablingCondition="1",
                TimesHomelessPastThreeYears="4",
                MonthsHomelessPastThreeYears="113",
            ),
            _enrol("E6", "6", "ES", "2025-01-01", DisablingCondition="1"),
            _enrol(
                "E6b",
                "6",
                "ES",
                "2026-01-01",
                DisablingCondition="1",
                DateToStreetESSH="2024-12-01",
            ),
        ],
    )
    got, _, _ = read_activity(folder, AS_OF)
    assert got["1"].flags == Flag.VETERAN
    assert got["2"].flags == Flag.YOUTH
    assert got["3"].flags == Flag(0)
    assert got["4"].flags == Flag.FAMILY
    assert got["5"].flags == Flag.CHRONIC
    assert got["6"].flags == Flag.CHRONIC  # from the latest entry, a year after homelessness began


def test_bad_codes_and_dates_name_file_line_and_column(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        [_client("1")],
        [
            _enrol("E1", "1", "ES", "2026-03-01"),
            _enrol("E2", "1", "ES", "2026-04-01", LivingSituation="555"),
        ],
        services=[{"PersonalID": "1", "DateProvided": "03/05/2026", "RecordType": "200"}],
    )
    with pytest.raises(InputError) as err:
        read_activity(folder, AS_OF)
    assert err.value.message.startswith(f"{folder / 'Enrollment.csv'}:3: LivingSituation")
    assert "555" not in err.value.one_line()
    got, _, report = read_activity(folder, AS_OF, on_error="skip")
    assert got["1"].last_activity == dt.date(2026, 3, 1)
    assert report.skipped == {"bad LivingSituation": 1, "bad date": 1}


def test_missing_files_and_columns_are_named(tmp_path: Path) -> None:
    folder = _folder(tmp_path, [_client("1")], [_enrol("E1", "1", "ES", "2026-03-01")])
    _write(folder / "Exit.csv", ["ExitID", "PersonalID", "ExitDate"], [])
    with pytest.raises(InputError, match=r"Exit\.csv: missing required column\(s\): Destination"):
        read_activity(folder, AS_OF)
    (folder / "Project.csv").unlink()
    with pytest.raises(InputError, match=r"Project\.csv: cannot be read"):
        read_activity(folder, AS_OF)


def test_unknown_project_is_an_error(tmp_path: Path) -> None:
    folder = _folder(tmp_path, [_client("1")], [_enrol("E1", "1", "NOPE", "2026-03-01")])
    with pytest.raises(InputError, match=r"Enrollment\.csv:2: ProjectID is not in Project\.csv"):
        read_activity(folder, AS_OF)


def test_table_lookup_matches_ids_and_leaves_strangers_empty(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        [_client("1", VeteranStatus="1"), _client("a-long-record-id")],
        [
            _enrol("E1", "1", "ES", "2026-03-01"),
            _enrol("E2", "a-long-record-id", "SO", "2026-04-01"),
        ],
    )
    activities, memberships, _ = read_activity(folder, AS_OF)
    table = ActivityTable.build(activities, memberships, AS_OF)
    rows = unpack(table.lookup(id_hashes(["a-long-record-id", "stranger", "1"])))
    assert rows.last_activity.tolist() == [
        dt.date(2026, 4, 1).toordinal(),
        0,
        dt.date(2026, 3, 1).toordinal(),
    ]
    assert rows.flags.tolist() == [0, 0, int(Flag.VETERAN)]
    assert rows.project_type.tolist() == [4, 255, 1]
    assert np.array_equal(rows.situation, [Situation.HOMELESS, 0, Situation.HOMELESS])


def test_household_is_the_latest_entrys_and_leaves_only_as_a_keyed_pseudonym(
    tmp_path: Path,
) -> None:
    folder = _folder(
        tmp_path,
        [_client("1"), _client("2", DOB="2019-01-01"), _client("3"), _client("4")],
        [
            _enrol("E1", "1", "ES", "2026-03-01", HouseholdID="HX"),
            _enrol("E2", "2", "ES", "2026-03-01", HouseholdID="HX", RelationshipToHoH="2"),
            _enrol("E3", "1", "SO", "2026-01-01", HouseholdID="HOLD"),  # earlier: not it
            _enrol("E4", "3", "SO", "2026-05-01", HouseholdID="", RelationshipToHoH="1"),
            _enrol("E5", "4", "SO", "2026-11-02", HouseholdID="HLATER"),  # after the as-of day
        ],
    )
    activities, memberships, _ = read_activity(folder, AS_OF)
    assert memberships["1"] == Membership("HX", True)
    assert memberships["2"] == Membership("HX", False)
    assert memberships["3"] == Membership("", False)  # no household: not its head either
    assert memberships["4"] == Membership("", False)
    table = ActivityTable.build(activities, memberships, AS_OF)
    hashes = id_hashes(["1", "2", "3", "stranger"])
    mine = unpack_households(table.households(household_key(b"s" * 32, "north")).lookup(hashes))
    assert mine.household[0] == mine.household[1] > 0
    assert mine.household[2:].tolist() == [0, 0]
    assert mine.head.tolist() == [True, False, False, False]
    assert check_household(pack_households(mine.household, mine.head)) is None
    # keyed by the secret and the agency: another agency's or community's "HX" is unrelated
    for key in (household_key(b"s" * 32, "south"), household_key(b"t" * 32, "north")):
        other = unpack_households(table.households(key).lookup(hashes))
        assert other.household[0] != mine.household[0]


def test_household_section_check_refuses_crafted_bytes() -> None:
    ok = pack_households(np.array([5, 0], np.int64), np.array([True, False]))
    assert check_household(ok) is None
    bad_head = ok.copy()
    bad_head[0, 8] = 2
    assert "head-of-household bytes" in str(check_household(bad_head))
    negative = pack_households(np.array([-5], np.int64), np.array([False]))
    assert "63 bits" in str(check_household(negative))
    headless = pack_households(np.array([0], np.int64), np.array([True]))
    assert "heads of no household" in str(check_household(headless))


def test_export_end_date(tmp_path: Path) -> None:
    assert export_end_date(tmp_path) is None
    _write(
        tmp_path / "Export.csv", ["ExportID", "ExportEndDate"], [{"ExportEndDate": "2026-10-31"}]
    )
    assert export_end_date(tmp_path) == AS_OF
