"""Undoing the latest month puts the store back exactly as it was before the month's first
ingest (every table but the audit trail, which records the undoing), on SQLite and
PostgreSQL; and the month ingested again gives the people it gave the first time."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from linkage.agency.encoding.pipeline import encode_file
from linkage.bynamelist import StoreError, create_store, ingest, rollback
from linkage.bynamelist.review import decide, pending
from linkage.bynamelist.store.schema import decisions, events, records
from linkage.formats.config import Config, builtin_config_path
from tests.bynamelist.conftest import dump
from tests.bynamelist.test_concurrency import snapshot
from tests.service.conftest import linkage


@pytest.fixture(scope="module")
def earlier(
    tmp_path_factory: pytest.TempPathFactory, network: list[Path], hmis_config: Config
) -> list[Path]:
    """September: the first two agencies, each with two thirds of its clients, no activity;
    under the secret of ``month_files`` (October)."""
    out = tmp_path_factory.mktemp("september")
    paths = []
    for i, client in enumerate(network[:2]):
        with open(client, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = [r for k, r in enumerate(reader) if k % 3 != 2]
            fields = reader.fieldnames or []
        fewer = out / f"{i}.csv"
        with open(fewer, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        paths.append(out / f"agency_{i + 1}.clk")
        encode_file(hmis_config, _secret_of_october(), fewer, paths[-1], f"agency_{i + 1}")
    return paths


_SECRET: list[bytes] = []


def _secret_of_october() -> bytes:
    from linkage.agency.encoding.keys import generate_secret

    if not _SECRET:
        _SECRET.append(generate_secret())
    return _SECRET[0]


@pytest.fixture(scope="module")
def october(
    tmp_path_factory: pytest.TempPathFactory, network: list[Path], hmis_config: Config
) -> list[Path]:
    """October: every agency's whole export, with activity, under September's secret; agency
    1 corrected its first client's names since (a changed encoding for a known record)."""
    from linkage.agency.hmis.enrollments import activity_table

    out = tmp_path_factory.mktemp("october")
    paths = []
    for i, client in enumerate(network):
        folder = out / f"export_{i + 1}"
        shutil.copytree(client.parent, folder)
        if i == 0:
            with open(folder / "Client.csv", newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                rows = list(reader)
                fields = reader.fieldnames or []
            rows[0] = {**rows[0], "FirstName": "Quillon", "LastName": "Varrowmede"}
            with open(folder / "Client.csv", "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=fields)
                writer.writeheader()
                writer.writerows(rows)
        paths.append(out / f"agency_{i + 1}.clk")
        table, _ = activity_table(folder)
        encode_file(
            hmis_config,
            _secret_of_october(),
            folder / "Client.csv",
            paths[-1],
            f"agency_{i + 1}",
            activity=table,
        )
    return paths


def _two_people(store: Any) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two records of two different people."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(records.c.agency, records.c.record_id, records.c.person_id).order_by(
                records.c.id
            )
        ).all()
    first = rows[0]
    other = next(r for r in rows if r.person_id != first.person_id)
    return (first.agency, first.record_id), (other.agency, other.record_id)


def _pair(a: tuple[str, str], b: tuple[str, str]) -> dict[str, str]:
    (aa, ra), (ab, rb) = sorted([a, b])
    return {"agency_a": aa, "record_a": ra, "agency_b": ab, "record_b": rb}


def _without_trail(tables: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
    return {name: rows for name, rows in tables.items() if name not in ("events", "undo")}


def test_the_latest_month_undone_is_the_store_before_it(
    make_db: Callable[[], str], earlier: list[Path], october: list[Path]
) -> None:
    target = make_db()
    store = create_store(target, builtin_config_path("hmis"))
    ingest(store, earlier, "2026-09")
    # a clerk's "same" ruling on two September people that the next ingest applies, so that
    # October merges people who were there before (the matcher alone merges none here)
    a, b = _two_people(store)
    with store.engine.begin() as conn:
        conn.execute(
            insert(decisions).values(
                kind="same", **_pair(a, b), decided_at=datetime.now(UTC), note=""
            )
        )
    before = dump(target)
    # October in two ingests: then undone
    merged = ingest(store, october[:2], "2026-10").merges
    ingest(store, october[2:], "2026-10")
    assert merged >= 1
    first_time = snapshot(target)
    done = rollback(store, "2026-10", datetime.now(UTC))
    assert done.uploads == 3 and done.now_latest == "2026-09" and done.records > 0
    after = dump(target)
    assert _without_trail(after) == _without_trail(before)
    # the audit trail keeps September's entries, loses October's, and says October was undone
    assert set(before["events"]) < set(after["events"])
    assert len(after["events"]) == len(before["events"]) + 1
    with store.engine.connect() as conn:
        kinds = list(conn.execute(select(events.c.kind).order_by(events.c.id)).scalars())
    assert kinds[-1] == "rollback" and kinds.count("rollback") == 1
    # September's undo record went when October began: it cannot be undone now
    with pytest.raises(StoreError, match="no undo record is kept for 2026-09"):
        rollback(store, "2026-09", datetime.now(UTC))
    assert _without_trail(dump(target)) == _without_trail(before)
    # and October ingested again is what it was
    ingest(store, october[:2], "2026-10")
    ingest(store, october[2:], "2026-10")
    assert snapshot(target) == first_time
    store.engine.dispose()


def test_only_the_latest_month_and_only_before_corrections(
    make_db: Callable[[], str], earlier: list[Path], october: list[Path]
) -> None:
    target = make_db()
    store = create_store(target, builtin_config_path("hmis"))
    ingest(store, earlier, "2026-09")
    ingest(store, october, "2026-10")
    with pytest.raises(StoreError, match=r"only the list's latest month \(2026-10\)"):
        rollback(store, "2026-09", datetime.now(UTC))
    queue = pending(store)
    assert queue, "the network should leave pairs for review"
    decide(store, queue[0].a, queue[0].b, "never")
    before = dump(target)
    with pytest.raises(StoreError, match=r"1 ruling\(s\) and 0 withdrawal\(s\)"):
        rollback(store, "2026-10", datetime.now(UTC))
    assert dump(target) == before
    store.engine.dispose()


def test_rollback_from_the_command_line(make_db: Callable[[], str], earlier: list[Path]) -> None:
    target = make_db()
    assert linkage("bnl", "init", "--db", target).returncode == 0
    assert (
        linkage(
            "bnl", "ingest", "--db", target, "--month", "2026-09", *map(str, earlier)
        ).returncode
        == 0
    )
    done = linkage("bnl", "rollback", "--db", target, "--month", "2026-09")
    assert done.returncode == 0, done.stderr
    assert "2026-09 undone: 2 upload(s)" in done.stdout and "no month now" in done.stdout
    again = linkage("bnl", "rollback", "--db", target, "--month", "2026-09")
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    assert "the list has no month yet" in again.stderr
    tables = dump(target)
    assert not tables["records"] and not tables["people"] and not tables["uploads"]
