"""Sharing: agreements between agencies, consent per record, and joint-participant lists and
agendas checked against the truth; nothing is named without both an agreement in force and
the consent of both records' clients, and nothing of a partner's record ids ever."""

from __future__ import annotations

import csv
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from linkage.agency.consent import ConsentList
from linkage.agency.csvfile import id_hashes
from linkage.agency.encoding.keys import generate_secret
from linkage.agency.encoding.pipeline import encode_file
from linkage.agency.hmis.enrollments import activity_table
from linkage.bynamelist import StoreError, create_store, ingest, open_store
from linkage.bynamelist.agreements import (
    NotAgreed,
    UnknownAgency,
    add_agreement,
    end_agreement,
    list_agreements,
)
from linkage.bynamelist.ingestion import check_upload
from linkage.bynamelist.joint import agenda, joint_csv, joint_list
from linkage.bynamelist.rollback import rollback
from linkage.bynamelist.store.schema import agreements, events, records
from linkage.formats.config import builtin_config_path, load_config
from linkage.formats.consent import CONSENT
from linkage.formats.container import Block, ClkWriter, read_clk
from tests.test_cli import run

TODAY = date(2026, 11, 15)
TERM = (date(2026, 11, 1), date(2027, 10, 31))


def _consents(record_id: str) -> bool:
    """Which clients consented: a fixed two in three of every agency's, by record id."""
    return int(record_id) % 3 != 0


def _truth(network: list[Path]) -> dict[tuple[str, str], str]:
    with open(network[0].parent.parent / "truth.csv", newline="") as fh:
        return {(r["agency"], r["record_id"]): r["person_id"] for r in csv.DictReader(fh)}


def _encode(
    network: list[Path], out: Path, secret: bytes, consent: bool = True, only: int | None = None
) -> list[Path]:
    """Each agency's month (or agency ``only``'s), with or without its clients' consent."""
    config = load_config(builtin_config_path("hmis"))
    paths = []
    for i, client in enumerate(network):
        if only is not None and i != only:
            continue
        with open(client, newline="") as fh:
            ids = [r["PersonalID"] for r in csv.DictReader(fh)]
        listed = ConsentList(out, np.unique(id_hashes([i for i in ids if _consents(i)])))
        activity, _ = activity_table(client.parent)
        paths.append(out / f"agency_{i + 1}{'' if consent else '-none'}.clk")
        encode_file(
            config,
            secret,
            client,
            paths[-1],
            f"agency_{i + 1}",
            activity=activity,
            consent_list=listed if consent else None,
        )
    return paths


@pytest.fixture()
def shared(db: str, network: list[Path], tmp_path: Path):
    """A store holding the three synthetic agencies' month, every upload with consent."""
    secret = generate_secret()
    uploads = _encode(network, tmp_path, secret)
    store = create_store(db, builtin_config_path("hmis"))
    ingest(store, uploads, "2026-10")
    return store, secret


def _store_persons(store) -> dict[tuple[str, str], tuple[str, int]]:
    with store.engine.connect() as conn:
        q = select(records.c.agency, records.c.record_id, records.c.person_id, records.c.consent)
        return {(a, r): (p, c) for a, r, p, c in conn.execute(q)}


def test_an_ingest_keeps_each_records_consent(shared) -> None:
    store, _ = shared
    held = _store_persons(store)
    assert held and all(c == int(_consents(rid)) for (_, rid), (_, c) in held.items())


def test_a_joint_list_holds_exactly_the_shared_consented_records(shared, network) -> None:
    store, _ = shared
    add_agreement(store, ["agency_1", "agency_2"], "case-conferencing", *TERM, "MOU 1", TODAY)
    rows = joint_list(store, "agency_1", "agency_2", TODAY)
    listed = {r.record_id for r in rows}
    held = _store_persons(store)
    # exactly what the store's people say: own consented records whose person a consented
    # record of the partner also names
    partner_people = {p for (a, _), (p, c) in held.items() if a == "agency_2" and c}
    expected = {
        rid for (a, rid), (p, c) in held.items() if a == "agency_1" and c and p in partner_people
    }
    assert listed == expected and len(listed) > 20
    # and, where the linkage is right, exactly what the truth says
    truth = _truth(network)
    true_partner = {truth[k] for k, (_, c) in held.items() if k[0] == "agency_2" and c}
    members: dict[str, set[tuple[str, str]]] = {}
    true_members: dict[str, set[tuple[str, str]]] = {}
    for key, (p, _) in held.items():
        members.setdefault(p, set()).add(key)
        true_members.setdefault(truth[key], set()).add(key)
    right = [
        rid
        for (a, rid), (p, c) in held.items()
        if a == "agency_1" and c and members[p] == true_members[truth[(a, rid)]]
    ]
    assert len(right) > 0.85 * sum(1 for (a, _), (_, c) in held.items() if a == "agency_1" and c)
    for rid in right:
        assert (rid in listed) == (truth[("agency_1", rid)] in true_partner), rid
    # each row: the list's person id, a status, nothing of the partner's ids
    text = joint_csv(rows)
    partner_ids = [rid for (a, rid) in held if a == "agency_2"]
    assert not any(rid in text for rid in partner_ids)
    statuses = {r.status for r in rows}
    assert "active" in statuses
    assert statuses <= {"active", "inactive", "housed", "not_homeless", "unknown"}
    assert all(held[("agency_1", r.record_id)][0] == r.person_id for r in rows)


def test_the_partner_gets_the_same_people_under_its_own_ids(shared) -> None:
    store, _ = shared
    add_agreement(store, ["agency_1", "agency_2"], "case_conferencing", *TERM, "", TODAY)
    mine = joint_list(store, "agency_1", "agency_2", TODAY)
    theirs = joint_list(store, "agency_2", "agency_1", TODAY)
    assert {r.person_id for r in mine} == {r.person_id for r in theirs}
    assert all(r.record_id.startswith("1") for r in mine)
    assert all(r.record_id.startswith("2") for r in theirs)


def test_nothing_is_named_without_an_agreement_in_force(shared) -> None:
    store, _ = shared
    with pytest.raises(NotAgreed):
        joint_list(store, "agency_1", "agency_2", TODAY)
    add_agreement(store, ["agency_1", "agency_2"], "notification", *TERM, "", TODAY)
    with pytest.raises(NotAgreed):  # notification does not allow joint lists
        joint_list(store, "agency_1", "agency_2", TODAY)
    made = add_agreement(store, ["agency_1", "agency_2"], "case-conferencing", *TERM, "", TODAY)
    with pytest.raises(NotAgreed):  # before its start
        joint_list(store, "agency_1", "agency_2", TERM[0] - timedelta(days=1))
    with pytest.raises(NotAgreed):  # after its end
        joint_list(store, "agency_1", "agency_2", TERM[1] + timedelta(days=1))
    assert joint_list(store, "agency_1", "agency_2", TERM[1])  # its last day
    with pytest.raises(NotAgreed):  # a third agency is not party to it
        joint_list(store, "agency_1", "agency_3", TODAY)
    end_agreement(store, made.id, "MOU withdrawn", TODAY)
    with pytest.raises(NotAgreed):
        joint_list(store, "agency_1", "agency_2", date.today())
    with pytest.raises(StoreError, match="ended"):
        end_agreement(store, made.id, "again", date.today())
    with pytest.raises(UnknownAgency):
        joint_list(store, "agency_1", "agency_9", TODAY)


def test_bad_agreements_are_refused_with_nothing_written(shared) -> None:
    store, _ = shared
    pair = ["agency_1", "agency_2"]
    for agencies, purpose, starts, ends, expected in [
        (["agency_1", "agency_7"], "case-conferencing", *TERM, "knows no agency 'agency_7'"),
        (pair, "case-conferencing", TERM[1], TERM[0], "ends (2026-11-01) before it starts"),
        (pair, "case-conferencing", date(2025, 1, 1), date(2025, 12, 31), "before today"),
        (pair, "gossip", *TERM, "no agreement purpose 'gossip'"),
        (["agency_1", "agency_1"], "notification", *TERM, "two or more agencies"),
    ]:
        with pytest.raises(StoreError, match=re.escape(expected)):
            add_agreement(store, agencies, purpose, starts, ends, "", TODAY)
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(agreements)).scalar() == 0
        kinds = [k for (k,) in conn.execute(select(events.c.kind))]
    assert "agreement" not in kinds
    add_agreement(store, pair, "notification", *TERM, "MOU 7", TODAY)
    with store.engine.connect() as conn:
        said = conn.execute(select(events.c.reason).where(events.c.kind == "agreement")).all()
    assert said == [
        (
            "agreement 1 (notification) between agency_1, agency_2 from 2026-11-01 to "
            "2027-10-31 recorded",
        )
    ]
    assert [(a.id, a.agencies, a.state(TODAY)) for a in list_agreements(store)] == [
        (1, ("agency_1", "agency_2"), "in force")
    ]


def test_an_agenda_orders_people_by_how_many_attendees_share_them(shared) -> None:
    store, _ = shared
    add_agreement(store, ["agency_1", "agency_2"], "case-conferencing", *TERM, "", TODAY)
    add_agreement(store, ["agency_2", "agency_3"], "case-conferencing", *TERM, "", TODAY)
    lists = agenda(store, ["agency_1", "agency_2", "agency_3"], TODAY)
    # agency_1 has no agreement with agency_3: its list is what it shares with agency_2
    assert {r.record_id for r in lists["agency_1"]} == {
        r.record_id for r in joint_list(store, "agency_1", "agency_2", TODAY)
    }
    middle = lists["agency_2"]
    with_1 = {r.person_id for r in joint_list(store, "agency_2", "agency_1", TODAY)}
    with_3 = {r.person_id for r in joint_list(store, "agency_2", "agency_3", TODAY)}
    assert {r.person_id for r in middle} == with_1 | with_3
    assert all(r.partners == (r.person_id in with_1) + (r.person_id in with_3) for r in middle)
    assert [r.partners for r in middle] == sorted((r.partners for r in middle), reverse=True)
    assert middle[0].partners == 2  # some people are served by all three
    with pytest.raises(NotAgreed, match="agency_1 has no case-conferencing agreement"):
        agenda(store, ["agency_1", "agency_3"], TODAY)


def test_a_later_upload_without_consent_withdraws_it_and_a_rollback_restores_it(
    shared, network, tmp_path
) -> None:
    store, secret = shared
    add_agreement(store, ["agency_1", "agency_2"], "case-conferencing", *TERM, "", TODAY)
    before = joint_list(store, "agency_1", "agency_2", TODAY)
    assert before
    plain = _encode(network, tmp_path, secret, consent=False, only=0)  # agency_1's, none
    ingest(store, plain, "2026-11", past_activity=True)
    assert joint_list(store, "agency_1", "agency_2", TODAY) == []
    assert joint_list(store, "agency_2", "agency_1", TODAY) == []
    rollback(store, "2026-11", datetime.now(UTC))
    assert joint_list(store, "agency_1", "agency_2", TODAY) == before


def test_a_forgotten_record_is_named_no_more(shared) -> None:
    from linkage.bynamelist.forget import forget

    store, _ = shared
    add_agreement(store, ["agency_1", "agency_2"], "case-conferencing", *TERM, "", TODAY)
    first = joint_list(store, "agency_1", "agency_2", TODAY)[0]
    forget(store, "agency_1", first.record_id, "consent withdrawn, request 12")
    assert first.record_id not in {
        r.record_id for r in joint_list(store, "agency_1", "agency_2", TODAY)
    }


def test_a_crafted_consent_byte_is_refused(tmp_path, network, db) -> None:
    secret = generate_secret()
    good = _encode(network[:1], tmp_path, secret)[0]
    data = read_clk(good)
    consent = data.sections[CONSENT].copy()
    consent[3] = 2
    crafted = tmp_path / "crafted.clk"
    with ClkWriter(crafted, data.header) as writer:
        writer.write(Block(data.ids, {**data.sections, CONSENT: consent}))
    store = create_store(db, builtin_config_path("hmis"))
    for attempt in (
        lambda: check_upload(store, crafted, "2026-10"),
        lambda: ingest(store, [crafted], "2026-10"),
    ):
        with pytest.raises(StoreError, match="consent section holds consent bytes other than"):
            attempt()
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(records)).scalar() == 0


def test_the_commands_share_and_refuse_in_one_line(shared, tmp_path, capsys, monkeypatch):
    store, _ = shared
    db = store.url
    add = ["bnl", "agreement", "add", "--db", db, "--agencies", "agency_1,agency_2"]
    term = ["--start", "2026-01-01", "--end", (date.today() + timedelta(days=30)).isoformat()]
    code, out, _ = run(
        [*add, "--purpose", "case-conferencing", *term, "--note", "MOU 3"], capsys, monkeypatch
    )
    assert code == 0 and "agreement 1 (case-conferencing) between agency_1, agency_2" in out
    code, out, _ = run(["bnl", "agreement", "list", "--db", db], capsys, monkeypatch)
    assert "in force" in out and "MOU 3" in out
    target = tmp_path / "joint.csv"
    code, out, _ = run(
        ["bnl", "joint", "--db", db, "--agency", "agency_1", "--with", "agency_2", "-o", target],
        capsys,
        monkeypatch,
    )
    assert code == 0 and target.read_text().startswith("record_id,person_id,status")
    folder = tmp_path / "agenda"
    code, out, _ = run(
        ["bnl", "agenda", "--db", db, "--agencies", "agency_1,agency_2", "-o", folder],
        capsys,
        monkeypatch,
    )
    assert code == 0 and sorted(p.name for p in folder.iterdir()) == [
        "agency_1.csv",
        "agency_2.csv",
    ]
    for args, expected in [
        (
            [*add, "--purpose", "notification", "--start", "2027-01-02", "--end", "2027-01-01"],
            "before it starts",
        ),
        (
            [
                "bnl",
                "joint",
                "--db",
                db,
                "--agency",
                "agency_1",
                "--with",
                "agency_3",
                "-o",
                tmp_path / "no.csv",
            ],
            "no case-conferencing agreement between",
        ),
        (["bnl", "agreement", "end", "--db", db, "--id", "9", "--reason", "x"], "no agreement 9"),
    ]:
        code, _, err = run(args, capsys, monkeypatch)
        assert code == 2 and expected in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "no.csv").exists()
    # ending it stops the lists
    code, _, _ = run(
        ["bnl", "agreement", "end", "--db", db, "--id", "1", "--reason", "over"],
        capsys,
        monkeypatch,
    )
    assert code == 0
    with open_store(db).engine.connect() as conn:
        assert conn.execute(select(agreements.c.ended_at)).scalar() is not None
    code, _, err = run(
        [
            "bnl",
            "joint",
            "--db",
            db,
            "--agency",
            "agency_1",
            "--with",
            "agency_2",
            "-o",
            tmp_path / "after.csv",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "no case-conferencing agreement" in err
