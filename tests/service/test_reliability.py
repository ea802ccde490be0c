"""The service under load and under failure: many agencies uploading at once (each also
retrying at once), and the server process killed in the middle of an ingest."""

from __future__ import annotations

import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from linkage.agency.encoding.pipeline import encode_file
from linkage.agency.upload import upload
from linkage.bynamelist import create_store, open_store
from linkage.bynamelist.store import database_url
from linkage.bynamelist.store.schema import jobs, received, records
from linkage.formats.config import builtin_config_path
from linkage.formats.container import read_clk
from linkage.research.synthetic.exports import write_network
from linkage.service import issue_token
from tests.bynamelist.conftest import dump
from tests.service.conftest import ServeProcess, Service, linkage

AGENCIES = 12
MONTH = "2026-01"


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory, hmis_config, secret) -> list[Path]:
    """Twelve agencies' uploads of one synthetic community."""
    out = tmp_path_factory.mktemp("many")
    clients = write_network(out / "network", people=240, agencies=AGENCIES, seed=5)
    paths = []
    for client in clients:
        agency = client.parent.name
        paths.append(out / f"{agency}.clk")
        encode_file(hmis_config, secret, client, paths[-1], agency)
    return paths


def test_many_agencies_uploading_at_once_lose_nothing(service: Service, many: list[Path]) -> None:
    for path in many[3:]:  # agency_1..3 have tokens already
        service.tokens[path.stem] = issue_token(service.store, "agency", path.stem, path.stem)[1]
    sends = [path for path in many for _ in range(2)]  # every agency sends twice at once

    def send(path: Path) -> dict[str, object]:
        return upload(service.url, service.tokens[path.stem], path, MONTH, waits=())

    started = time.monotonic()
    with ThreadPoolExecutor(len(sends)) as pool:
        answers = list(pool.map(send, sends))
    took = time.monotonic() - started
    assert took < 60, f"{len(sends)} small uploads took {took:.1f} s"
    fresh = Counter(a["agency"] for a in answers if a["fresh"])
    assert fresh == Counter({path.stem: 1 for path in many}), answers
    for path, answer in zip(sends, answers, strict=True):  # both answers name the one row
        twin = answers[sends.index(path)]
        assert answer["id"] == twin["id"] and answer["records"] == len(read_clk(path).ids)
    with service.store.engine.connect() as conn:
        rows = conn.execute(select(received.c.agency, received.c.month)).all()
    assert sorted(rows) == sorted((path.stem, MONTH) for path in many)
    assert len(list(service.spool.glob("*.clk"))) == AGENCIES
    assert not list((service.spool / "incoming").iterdir())
    job = service.ingest(MONTH)
    assert job["state"] == "done", job
    with service.store.engine.connect() as conn:
        held = conn.execute(select(func.count()).select_from(records)).scalar_one()
    assert held == sum(len(read_clk(path).ids) for path in many)


@pytest.fixture(scope="module")
def larger(tmp_path_factory: pytest.TempPathFactory, hmis_config, secret) -> list[Path]:
    """Three agencies' uploads large enough that an ingest takes a second or more."""
    out = tmp_path_factory.mktemp("larger")
    clients = write_network(out / "network", people=4000, agencies=3, seed=9)
    paths = []
    for client in clients:
        paths.append(out / f"{client.parent.name}.clk")
        encode_file(hmis_config, secret, client, paths[-1], client.parent.name)
    return paths


def _unchanged(db: str) -> dict[str, list[tuple[object, ...]]]:
    """Every table but the request log and the jobs (which move while a job runs), and the
    received uploads without the job that claimed them (a job claims its uploads before it
    ingests them)."""
    tables = dump(db)
    tables["received"] = sorted((r.id, r.agency, r.month, r.digest) for r in tables["received"])
    return {name: rows for name, rows in tables.items() if name not in ("audit", "jobs")}


def test_a_server_killed_mid_ingest_leaves_no_half_month_and_redoes_the_job(
    db: str, tmp_path: Path, larger: list[Path]
) -> None:
    create_store(db, builtin_config_path("hmis")).engine.dispose()
    tokens = {}
    for who in ("staff", *(p.stem for p in larger)):
        tokens[who] = tmp_path / f"{who}.token"
        role = ["--staff"] if who == "staff" else ["--agency", who]
        made = linkage("token", "add", "--db", db, *role, "-o", str(tokens[who]))
        assert made.returncode == 0, made.stderr
    env = {**os.environ, "LINKAGE_SERVER": ""}
    server = ServeProcess(db, tmp_path / "spool")
    try:
        env["LINKAGE_SERVER"] = server.url
        for path in larger:
            token = str(tokens[path.stem])
            sent = linkage("upload", str(path), "--month", MONTH, "--token-file", token, env=env)
            assert sent.returncode == 0 and "records of" in sent.stdout, sent.stderr
        before = _unchanged(db)
        staff = {"authorization": f"Bearer {tokens['staff'].read_text().strip()}"}
        job_id = httpx.post(f"{server.url}/v1/months/{MONTH}/ingest", headers=staff).json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = httpx.get(f"{server.url}/v1/jobs/{job_id}", headers=staff).json()
            if job["state"] != "queued" and "candidate" in job["progress"]:
                break  # linking: the ingest's transaction is open
            assert job["state"] in ("queued", "running"), job
            time.sleep(0.01)
        server.kill()
    finally:
        server.kill()

    with create_engine(database_url(db)).connect() as conn:
        state = conn.execute(select(jobs.c.state).where(jobs.c.id == job_id)).scalar_one()
    assert state == "running", "the ingest ended before the server could be killed in it"
    assert _unchanged(db) == before  # nothing of the month
    with create_engine(database_url(db)).connect() as conn:  # the uploads held for the job
        takers = set(conn.execute(select(received.c.job_id)).scalars())
    assert takers == {job_id}

    server = ServeProcess(db, tmp_path / "spool")
    try:
        env["LINKAGE_SERVER"] = server.url
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = httpx.get(f"{server.url}/v1/jobs/{job_id}", headers=staff).json()
            if job["state"] in ("done", "failed"):
                break
            time.sleep(0.2)
        assert job["state"] == "done" and job["attempts"] == 2, job
        out = tmp_path / "agency_1.csv"
        got = linkage("results", "--token-file", str(tokens["agency_1"]), "-o", str(out), env=env)
        assert got.returncode == 0, got.stderr
        assert len(out.read_text().splitlines()) == 1 + len(read_clk(larger[0]).ids)
    finally:
        server.kill()
    store = open_store(db)
    with store.engine.connect() as conn:
        held = conn.execute(select(func.count()).select_from(records)).scalar_one()
        waiting = conn.execute(select(received.c.id).where(received.c.job_id.is_(None))).all()
    store.engine.dispose()
    assert held == sum(len(read_clk(p).ids) for p in larger) and not waiting
