"""Monthly ingest: stable ids, merges only with a recorded reason, re-ingest changes nothing,
a failure leaves the store as it was, clerical rulings hold."""

from __future__ import annotations

import csv
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select, text

from linkage.agency.encoding.keys import generate_secret
from linkage.agency.encoding.pipeline import encode_file
from linkage.bynamelist import StoreError, create_store, ingest, open_store
from linkage.bynamelist.store import database_url
from linkage.bynamelist.store.schema import decisions, events, people, records
from linkage.formats.config import builtin_config_path
from linkage.formats.container import Block, ClkWriter, read_clk
from linkage.research.synthetic.exports import write_network
from tests.bynamelist.conftest import dump


def _encode(
    config, secret: bytes, client: Path, agency: str, out: Path, keep=None, reverse=False
) -> Path:
    """Encode an agency's Client.csv, optionally only the rows whose index passes ``keep``,
    or in reverse order (a re-export: the same records in a different file)."""
    source = client
    if keep is not None or reverse:
        source = out.with_suffix(".csv")
        with open(client, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = [r for i, r in enumerate(reader) if keep is None or keep(i)]
            fields = reader.fieldnames
        with open(source, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows[::-1] if reverse else rows)
    encode_file(config, secret, source, out, agency)
    return out


def _persons(store) -> dict[tuple[str, str], str]:
    with store.engine.connect() as conn:
        q = select(records.c.agency, records.c.record_id, records.c.person_id)
        return {(a, r): p for a, r, p in conn.execute(q)}


@pytest.fixture()
def upload_secret() -> bytes:
    return generate_secret()


@pytest.fixture()
def months(
    tmp_path: Path, network: list[Path], hmis_config, upload_secret
) -> dict[str, list[Path]]:
    """Month 1: two agencies, each holding its first two thirds of clients; month 2: all three
    agencies with everyone."""
    secret = upload_secret
    out = tmp_path / "uploads"
    out.mkdir()
    m1 = [
        _encode(
            hmis_config,
            secret,
            network[i],
            f"agency_{i + 1}",
            out / f"m1-{i}.clk",
            keep=lambda k: k % 3 != 2,
        )
        for i in range(2)
    ]
    m2 = [
        _encode(hmis_config, secret, network[i], f"agency_{i + 1}", out / f"m2-{i}.clk")
        for i in range(3)
    ]
    return {"2026-09": m1, "2026-10": m2}


def test_ids_are_stable_and_only_recorded_merges_change_them(
    tmp_path: Path, db: str, months
) -> None:
    store = create_store(db, builtin_config_path("hmis"))
    first = ingest(store, months["2026-09"], "2026-09")
    assert first.new_people > 0 and first.records == sum(f["records"] for f in first.files)
    before = _persons(store)
    second = ingest(store, months["2026-10"], "2026-10")
    after = _persons(store)
    assert second.records > first.records
    with store.engine.connect() as conn:
        merged = dict(conn.execute(select(people.c.id, people.c.merged_into)).all())
        merge_events = conn.execute(
            select(events.c.person_id, events.c.other_person_id, events.c.reason).where(
                events.c.kind == "merge"
            )
        ).all()
    assert len(merge_events) == second.merges
    recorded = {(absorbed, survivor) for survivor, absorbed, _ in merge_events}
    for record, pid in before.items():
        if after[record] != pid:  # moved only through a recorded merge into the survivor
            assert merged[pid] == after[record]
            assert (pid, after[record]) in recorded
    assert all(reason for _, _, reason in merge_events)
    # records kept together last month are together still
    groups: dict[str, set[str]] = {}
    for record, pid in before.items():
        groups.setdefault(pid, set()).add(after[record])
    assert all(len(v) == 1 for v in groups.values())


def test_a_month_links_its_new_records_and_their_people_only(
    tmp_path: Path, db: str, make_db, months, monkeypatch
) -> None:
    """Month two links the new records and the people they are candidates of, not the
    whole store, and ends with nearly the people a full re-link of every record gives: the
    weights' m is estimated from the month's candidates, not from every pair, so an old
    borderline pair may fall on the other side of the threshold (two of 245 linked pairs
    here, where the full re-link re-scored a pair month one had left apart)."""
    import numpy as np

    import linkage.bynamelist.ingestion as module
    from linkage.research.evaluation.metrics import pairwise_quality

    def labels(store) -> np.ndarray:
        persons = _persons(store)
        number: dict[str, int] = {}
        return np.array([number.setdefault(persons[r], len(number)) for r in sorted(persons)])

    store = create_store(db, builtin_config_path("hmis"))
    ingest(store, months["2026-09"], "2026-09")
    said: list[str] = []
    report = ingest(store, months["2026-10"], "2026-10", progress=said.append)
    linked = next(line for line in said if line.startswith("linking"))
    part, whole = (int(x.replace(",", "")) for x in re.findall(r"[\d,]+", linked)[:2])
    assert part < whole == report.records
    assert part > sum(f["new"] for f in report.files)  # with their people's old records

    original = module.link_month

    def everything(conn, store, table, report, progress):  # as if every record were new
        table.dirty[:] = True
        return original(conn, store, table, report, progress)

    monkeypatch.setattr(module, "link_month", everything)
    full = create_store(make_db(), builtin_config_path("hmis"))
    ingest(full, months["2026-09"], "2026-09")
    ingest(full, months["2026-10"], "2026-10")
    agreement = pairwise_quality(labels(store), labels(full))
    assert agreement.f1 >= 0.98 and agreement.true_pairs > 200


def test_reingesting_an_upload_changes_nothing(tmp_path: Path, db: str, months) -> None:
    store = create_store(db, builtin_config_path("hmis"))
    ingest(store, months["2026-09"], "2026-09")
    snapshot = dump(db)
    again = ingest(store, months["2026-09"], "2026-09")
    assert {f["status"] for f in again.files} == {"already ingested"}
    assert dump(db) == snapshot
    with pytest.raises(StoreError, match="already ingested for 2026-09"):
        ingest(store, months["2026-09"][:1], "2026-10")
    assert dump(db) == snapshot


def test_the_same_records_in_a_new_file_keep_their_people(
    tmp_path: Path, db: str, months, network, hmis_config, upload_secret
) -> None:
    store = create_store(db, builtin_config_path("hmis"))
    ingest(store, months["2026-10"], "2026-10")
    before = _persons(store)
    again = _encode(
        hmis_config, upload_secret, network[0], "agency_1", tmp_path / "again.clk", reverse=True
    )
    said: list[str] = []
    # re-encoded: a new file, the same records
    report = ingest(store, [again], "2026-11", progress=said.append)
    assert not [line for line in said if line.startswith("linking")]  # nothing new to link
    assert report.files[0]["status"] == "ingested"
    assert report.files[0]["new"] == report.files[0]["updated"] == 0
    assert report.merges == report.new_people == 0
    assert _persons(store) == before


def test_a_failure_mid_ingest_leaves_the_store_as_it_was(
    tmp_path: Path, db: str, months, monkeypatch
) -> None:
    store = create_store(db, builtin_config_path("hmis"))
    ingest(store, months["2026-09"], "2026-09")
    snapshot = dump(db)
    import linkage.bynamelist.ingestion as module

    def boom(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(module, "write_records", boom)  # after uploads, people, merges
    with pytest.raises(RuntimeError):
        ingest(store, months["2026-10"], "2026-10")
    assert dump(db) == snapshot


def test_an_upload_without_the_store_records_sections_is_refused(
    tmp_path: Path, db: str, months
) -> None:
    """Same config and secret, but the field filters dropped from the file (a well-formed
    container without field filters): refused in one line, nothing written."""
    import dataclasses

    from linkage.formats.container import FIELD_CLKS

    store = create_store(db, builtin_config_path("hmis"))
    ingest(store, months["2026-09"], "2026-09")
    data = read_clk(months["2026-10"][2])
    header = dataclasses.replace(
        data.header,
        field_length=0,
        sections=tuple(s for s in data.header.sections if s.name != FIELD_CLKS),
    )
    sections = {k: v for k, v in data.sections.items() if k != FIELD_CLKS}
    stripped = tmp_path / "stripped.clk"
    with ClkWriter(stripped, header) as writer:
        writer.write(Block(ids=data.ids, sections=sections))
    snapshot = dump(db)
    with pytest.raises(StoreError, match="carries other sections than the store's records"):
        ingest(store, [stripped], "2026-10")
    assert dump(db) == snapshot


def test_uploads_from_another_config_or_secret_are_refused(
    tmp_path: Path, db: str, months, network, febrl_config
) -> None:
    store = create_store(db, builtin_config_path("hmis"))
    ingest(store, months["2026-09"], "2026-09")
    other_secret = tmp_path / "other.clk"
    _encode(
        open_store(db).config,
        generate_secret(),
        network[2],
        "agency_3",
        other_secret,
    )
    with pytest.raises(StoreError, match="different secret"):
        ingest(store, [other_secret], "2026-10")
    with pytest.raises(StoreError, match="month '2026-13' is not YYYY-MM"):
        ingest(store, months["2026-10"], "2026-13")


def _rule(store, kind: str, a: tuple[str, str], b: tuple[str, str]) -> None:
    (aa, ra), (ab, rb) = sorted([a, b])
    with store.engine.begin() as conn:
        conn.execute(
            insert(decisions).values(
                kind=kind,
                agency_a=aa,
                record_a=ra,
                agency_b=ab,
                record_b=rb,
                decided_at=datetime.now(UTC),
                note="",
            )
        )


def _singletons(store, agency: str) -> list[tuple[str, str]]:
    by_person: dict[str, list[tuple[str, str]]] = {}
    for record, pid in _persons(store).items():
        by_person.setdefault(pid, []).append(record)
    return [v[0] for v in by_person.values() if len(v) == 1 and v[0][0] == agency]


def test_a_same_ruling_merges_into_the_older_person_with_its_reason(
    tmp_path: Path, db: str, months
) -> None:
    store = create_store(db, builtin_config_path("hmis"))
    ingest(store, months["2026-10"][:1], "2026-08")
    old = _singletons(store, "agency_1")[0]
    ingest(store, months["2026-10"][1:2], "2026-09")
    young = _singletons(store, "agency_2")[0]
    survivor, absorbed = _persons(store)[old], _persons(store)[young]
    _rule(store, "same", old, young)
    report = ingest(store, months["2026-10"][2:], "2026-10")
    assert _persons(store)[young] == survivor  # the older id survives
    with store.engine.connect() as conn:
        row = conn.execute(
            select(events.c.reason).where(
                (events.c.kind == "merge") & (events.c.other_person_id == absorbed)
            )
        ).one()
        assert (
            conn.execute(select(people.c.merged_into).where(people.c.id == absorbed)).scalar_one()
            == survivor
        )
    assert "clerk" in row.reason and report.merges >= 1


def test_a_never_ruling_keeps_linked_records_apart(
    tmp_path: Path, db: str, make_db, months
) -> None:
    store = create_store(db, builtin_config_path("hmis"))
    ingest(store, months["2026-10"][:1], "2026-09")
    # find a cross-agency pair the matcher links: ingest agency 2 into a scratch copy
    scratch = create_store(make_db(), builtin_config_path("hmis"))
    ingest(scratch, months["2026-10"][:2], "2026-10")
    linked: dict[str, list[tuple[str, str]]] = {}
    for record, pid in _persons(scratch).items():
        linked.setdefault(pid, []).append(record)
    a, b = next(
        sorted(v) for v in linked.values() if sorted(r[0] for r in v) == ["agency_1", "agency_2"]
    )
    _rule(store, "never", a, b)
    ingest(store, months["2026-10"][1:2], "2026-10")
    assert _persons(store)[a] != _persons(store)[b]


def _writing(target: str) -> Callable[[], bool]:
    """Whether an ingest's transaction has begun writing: SQLite keeps a rollback journal
    beside the file while one is open; PostgreSQL shows the row-exclusive locks it holds."""
    if "://" not in target:
        journal = Path(target).with_name(Path(target).name + "-journal")
        return journal.exists
    engine = create_engine(database_url(target))
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname IN ('uploads', 'people', 'records') AND l.mode = 'RowExclusiveLock' "
        "AND l.pid <> pg_backend_pid()"
    )

    def locked() -> bool:
        with engine.connect() as conn:
            return bool(conn.execute(query).scalar())

    return locked


def test_a_kill_mid_ingest_leaves_the_store_as_it_was(tmp_path: Path, db: str, hmis_config) -> None:
    """SIGKILL the real command while its transaction is open and writing."""
    network = write_network(tmp_path / "net", people=3000, agencies=2, seed=11)
    secret = generate_secret()
    files = [
        _encode(hmis_config, secret, client, f"agency_{i + 1}", tmp_path / f"{i}.clk")
        for i, client in enumerate(network)
    ]
    store = create_store(db, builtin_config_path("hmis"))
    ingest(store, files[:1], "2026-09")
    store.engine.dispose()
    snapshot = dump(db)
    writing = _writing(db)
    command = [sys.executable, "-c", "from linkage.cli import main; main()"]
    command += ["bnl", "ingest", "--db", db]
    proc = subprocess.Popen([*command, "--month", "2026-10", str(files[1])])
    deadline = time.monotonic() + 60
    while not writing() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert proc.poll() is None, "the ingest ended before it could be killed mid-transaction"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert dump(db) == snapshot  # SQLite rolls the hot journal back; PostgreSQL never commits
    report = ingest(open_store(db), files[1:], "2026-10")  # and the month can be redone
    assert report.files[0]["status"] == "ingested"


def test_a_never_ruling_inside_one_person_is_reported_not_applied(
    tmp_path: Path, db: str, months
) -> None:
    store = create_store(db, builtin_config_path("hmis"))
    ingest(store, months["2026-10"][:2], "2026-10")
    by_person: dict[str, list[tuple[str, str]]] = {}
    for record, pid in _persons(store).items():
        by_person.setdefault(pid, []).append(record)
    a, b = next(v for v in by_person.values() if len(v) >= 2)[:2]
    _rule(store, "never", a, b)
    report = ingest(store, months["2026-10"][2:], "2026-10")
    assert any("lie inside one person" in w for w in report.warnings)
    assert _persons(store)[a] == _persons(store)[b]  # splitting is a clerk's act, not ingest's


def test_a_record_id_twice_in_one_upload_is_refused(tmp_path: Path, db: str, months) -> None:
    data = read_clk(months["2026-09"][0])
    twice = tmp_path / "twice.clk"
    writer = ClkWriter(twice, data.header)
    writer.write(Block(ids=[*data.ids[:-1], data.ids[0]], sections=data.sections))
    writer.close()
    store = create_store(db, builtin_config_path("hmis"))
    snapshot = dump(db)
    with pytest.raises(StoreError, match="holds a record id twice"):
        ingest(store, [twice], "2026-09")
    assert dump(db) == snapshot
