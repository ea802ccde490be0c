"""Notices: events on people two agencies serve together reach each of them, once, under its
own record ids, only under a notification agreement and with consent at both; checked on a
simulated year against the store and against the truth."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy import func, select

from linkage.agency.encoding.keys import generate_secret
from linkage.bynamelist import create_store, ingest
from linkage.bynamelist.agreements import add_agreement
from linkage.bynamelist.forget import forget
from linkage.bynamelist.monthly import month_statuses
from linkage.bynamelist.notices import EVENTS, events, notices_csv, notices_for
from linkage.bynamelist.rollback import rollback
from linkage.bynamelist.status import Status
from linkage.bynamelist.store.schema import notices, records
from linkage.formats.config import builtin_config_path
from linkage.research.datasets import read_truth
from linkage.research.evaluation.longitudinal import encode_month
from linkage.research.synthetic.scenario import read_statuses, write_scenario
from tests.test_cli import run

TERM = (date(2026, 1, 1), date(2030, 12, 31))


def test_events_are_the_changes_of_status_they_name() -> None:
    s = Status
    before = np.array([s.INACTIVE, s.HOUSED, s.ACTIVE, s.ACTIVE, s.INACTIVE, s.ACTIVE, s.UNKNOWN])
    now = np.array([s.ACTIVE, s.ACTIVE, s.INACTIVE, s.HOUSED, s.HOUSED, s.ACTIVE, s.ACTIVE])
    assert events(before, now) == [
        (0, "reappeared"),
        (1, "returned_from_housing"),
        (2, "inactive"),
        (3, "housed"),
        (4, "housed"),
    ]  # staying active, or a first sight, is no event
    assert set(EVENTS) == {"reappeared", "returned_from_housing", "inactive", "housed"}


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    out = tmp_path_factory.mktemp("year")
    return write_scenario(out / "scenario", 400, 3, months=6, seed=8), out


def _run(year, db: str, agreed: str | None, upto: int | None = None, expect=None):
    """The scenario's months ingested in order; after the first, an agreement of purpose
    ``agreed`` (None: none) among all agencies. ``expect`` gathers, after each ingest, the
    notices the store's own state says that month makes."""
    scenario, out = year
    store = create_store(db, builtin_config_path("hmis"))
    secret = generate_secret()
    uploads = out / f"uploads-{generate_secret().hex()[:8]}"
    for k, month in enumerate(scenario.months[:upto]):
        ingest(store, encode_month(scenario, month, store.config, secret, uploads), month)
        if k == 0 and agreed is not None:
            add_agreement(store, scenario.agencies, agreed, *TERM, "MOU", date(2026, 6, 1))
        if k and expect is not None:
            expect |= _made_by(store, scenario.months[k - 1], month)
    return store, secret, uploads


def _made_by(store, before_m: str, month: str) -> set[tuple[str, str, str, str, str]]:
    """What ``month``'s statuses and the records' consent make, read from the store."""
    with store.engine.connect() as conn:
        held = conn.execute(
            select(records.c.agency, records.c.record_id, records.c.person_id, records.c.consent)
        ).all()
        before, now = month_statuses(conn, before_m), month_statuses(conn, month)
    consenting: dict[str, set[str]] = {}
    for agency, _, person, consent in held:
        if consent:
            consenting.setdefault(person, set()).add(agency)
    was = dict(zip(before.person_ids(), before.status.tolist(), strict=True))
    made = set()
    for person, code in zip(now.person_ids(), now.status.tolist(), strict=True):
        event = next(
            (e for e, (f, t) in EVENTS.items() if code == t and was.get(person, 0) in f), None
        )
        if event is None or len(consenting.get(person, ())) < 2:
            continue
        made |= {
            (month, agency, rid, person, event)
            for agency, rid, p, consent in held
            if p == person and consent
        }
    return made


def _all_notices(store) -> list[tuple[str, str, str, str, str]]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(select(notices)).all())


def test_notices_are_exactly_the_events_on_shared_consented_people(year, db) -> None:
    scenario, _ = year
    expected: set[tuple[str, str, str, str, str]] = set()
    store, _, _ = _run(year, db, "notification", expect=expected)
    found = _all_notices(store)
    assert set(found) == expected and len(found) > 20
    assert {n[4] for n in found} == set(EVENTS)  # a year has every kind of event
    assert len(found) == len(set(found))  # once per event and record
    # against the truth: for a person the list holds exactly, the event is the true one
    with store.engine.connect() as conn:
        held = conn.execute(select(records.c.agency, records.c.record_id, records.c.person_id))
        held = held.all()
    truth = read_truth(scenario.truth)
    true_statuses = read_statuses(scenario.statuses)
    members: dict[str, set[tuple[str, str]]] = {}
    true_members: dict[str, set[tuple[str, str]]] = {}
    for agency, rid, person in held:
        members.setdefault(person, set()).add((agency, rid))
        true_members.setdefault(truth[(agency, rid)], set()).add((agency, rid))
    checked = 0
    for month, agency, rid, person, event in found:
        true_person = truth[(agency, rid)]
        if members.get(person) != true_members[true_person]:
            continue
        before_m = scenario.months[scenario.months.index(month) - 1]
        was = true_statuses[before_m].get(true_person, (Status.UNKNOWN, 0))[0]
        now = true_statuses[month].get(true_person, (Status.UNKNOWN, 0))[0]
        assert now == EVENTS[event][1] and was in EVENTS[event][0], (month, rid, event)
        checked += 1
    assert checked > 0.8 * len(found)


def test_no_notice_without_a_notification_agreement(year, db) -> None:
    store, _, _ = _run(year, db, "case-conferencing", upto=3)
    assert _all_notices(store) == []


def test_a_recomputed_month_tells_each_event_once(year, db) -> None:
    scenario, _ = year
    store, secret, uploads = _run(year, db, "notification", upto=4)
    told = _all_notices(store)
    month = scenario.months[3]
    assert any(n[0] == month for n in told)
    # the same files again, and a correction carried into the month: nothing is told twice
    ingest(store, encode_month(scenario, month, store.config, secret, uploads), month)
    assert _all_notices(store) == told
    kept = next(n for n in told if n[0] == month)
    other = next(n for n in told if n[0] == month and n[3] != kept[3])
    forget(store, other[1], other[2], "consent withdrawn, request 5")
    after = _all_notices(store)
    assert kept in after and not any(n[1:3] == other[1:3] for n in after)
    assert len(after) == len(set(after))


def test_the_latest_month_rolls_back_with_its_notices(year, db) -> None:
    scenario, _ = year
    store, _, _ = _run(year, db, "notification", upto=4)
    month = scenario.months[3]
    assert any(n[0] == month for n in _all_notices(store))
    rollback(store, month, datetime.now(UTC))
    assert _all_notices(store) and not any(n[0] == month for n in _all_notices(store))


def test_an_agency_reads_only_its_own_notices(year, db, tmp_path, capsys, monkeypatch) -> None:
    scenario, _ = year
    store, _, _ = _run(year, db, "notification", upto=4)
    mine = notices_for(store, "agency_1")
    assert mine and all(n.record_id.startswith("1") for n in mine)
    text = notices_csv(mine)
    with store.engine.connect() as conn:
        others = [
            r
            for (r,) in conn.execute(
                select(records.c.record_id).where(records.c.agency != "agency_1")
            )
        ]
    assert not any(r in text for r in others)
    latest = scenario.months[-3]
    assert all(n.month >= latest for n in notices_for(store, "agency_1", latest))
    target = tmp_path / "notices.csv"
    code, _, _ = run(
        ["bnl", "notices", "--db", store.url, "--agency", "agency_1", "-o", target],
        capsys,
        monkeypatch,
    )
    assert code == 0 and target.read_text() == text
    code, _, err = run(
        [
            "bnl",
            "notices",
            "--db",
            store.url,
            "--agency",
            "agency_1",
            "--since",
            "2026-13",
            "-o",
            tmp_path / "bad.csv",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 2 and len(err.strip().splitlines()) == 1 and not (tmp_path / "bad.csv").exists()
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(notices)).scalar() > len(mine)
