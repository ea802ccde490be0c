"""Writers of the list run one after the other: two `linkage bnl ingest` processes started at
once give exactly what the same ingests give one after the other, on SQLite and PostgreSQL.

Before the write lock, an ingest read the store (its records and people) before its
transaction held the database, so two at once each linked against a list without the
other's records and both committed: more people than a sequential run, and coverage that
disagreed with the records."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from linkage.bynamelist import open_store
from linkage.bynamelist.store import database_url, writing
from linkage.bynamelist.store.schema import coverage, figures, people, records
from tests.service.conftest import CLI, linkage

MONTH = "2026-10"  # the synthetic exports end on 2026-10-31


def snapshot(target: str) -> dict[str, Any]:
    """What the list says, free of its random person ids: who is one person with whom, how
    many people are live, the month's figures and each agency's coverage."""
    engine = create_engine(database_url(target))
    try:
        with engine.connect() as conn:
            groups: dict[str, set[tuple[str, str]]] = {}
            for agency, record_id, person in conn.execute(
                select(records.c.agency, records.c.record_id, records.c.person_id)
            ):
                groups.setdefault(person, set()).add((agency, record_id))
            live = conn.execute(select(people.c.id).where(people.c.merged_into.is_(None))).all()
            return {
                "people": {frozenset(g) for g in groups.values()},
                "live": len(live),
                "figures": sorted(conn.execute(select(figures)).all()),
                "coverage": sorted(conn.execute(select(coverage)).all()),
            }
    finally:
        engine.dispose()


def ingest_args(target: str, files: list[Path]) -> list[str]:
    return ["bnl", "ingest", "--db", target, "--month", MONTH, *map(str, files)]


def test_two_ingests_at_once_give_what_one_after_the_other_gives(
    make_db: Callable[[], str], month_files: list[Path], tmp_path: Path
) -> None:
    groups = [month_files[:2], month_files[2:]]  # agencies 1 and 2 in one, agency 3 in the other
    serial = []
    for order in (groups, groups[::-1]):
        target = make_db()
        assert linkage("bnl", "init", "--db", target).returncode == 0
        for group in order:
            done = linkage(*ingest_args(target, group))
            assert done.returncode == 0, done.stderr
        serial.append(snapshot(target))

    target = make_db()
    assert linkage("bnl", "init", "--db", target).returncode == 0
    store = open_store(target)
    logs = [tmp_path / f"ingest{i}.log" for i in range(2)]
    # the test holds the write lock while both start, so both must meet it, then race for it
    with writing(store) as conn:
        del conn
        procs = []
        for group, log in zip(groups, logs, strict=True):
            with log.open("w") as fh:
                procs.append(subprocess.Popen([*CLI, *ingest_args(target, group)], stderr=fh))
        deadline = time.monotonic() + 120
        while not all("waiting for it" in log.read_text() for log in logs):
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            assert all(p.poll() is None for p in procs), [log.read_text() for log in logs]
            time.sleep(0.2)
    store.engine.dispose()
    for proc, log in zip(procs, logs, strict=True):
        assert proc.wait(300) == 0, log.read_text()
    together = snapshot(target)
    assert together["live"] > 0 and together["figures"]
    assert together in serial  # as if one had run after the other, whichever went first


def test_the_same_files_ingested_twice_at_once_are_ingested_once(
    make_db: Callable[[], str], month_files: list[Path]
) -> None:
    target = make_db()
    assert linkage("bnl", "init", "--db", target).returncode == 0
    procs = [
        subprocess.Popen(
            [*CLI, *ingest_args(target, month_files)], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [(p.wait(300), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in results] == [0, 0], results
    once = make_db()
    assert linkage("bnl", "init", "--db", once).returncode == 0
    assert linkage(*ingest_args(once, month_files)).returncode == 0
    assert snapshot(target) == snapshot(once)
