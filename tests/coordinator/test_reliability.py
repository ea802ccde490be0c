"""The service under load and under failure: many agencies uploading at once (each also
retrying at once), and the server process killed in the middle of an ingest."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from linkage.bynamelist.schema import received, records
from linkage.container import read_clk
from linkage.coordinator import issue_token, upload
from linkage.encoding.pipeline import encode_file
from linkage.evaluate.synth import write_network
from tests.coordinator.conftest import Service

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
