"""A real service on loopback (uvicorn in a thread) over a real store, and real uploads."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from linkage.bynamelist import create_store
from linkage.bynamelist.store import Store
from linkage.config import builtin_config_path
from linkage.coordinator import Settings, create_app, issue_token
from linkage.coordinator.local import LocalServer
from linkage.encoding.pipeline import encode_file


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory, network, hmis_config, secret) -> list[Path]:
    """The three agencies' uploads of the synthetic network, encoded with the session secret."""
    out = tmp_path_factory.mktemp("uploads")
    paths = []
    for i, client in enumerate(network):
        path = out / f"agency_{i + 1}.clk"
        encode_file(hmis_config, secret, client, path, f"agency_{i + 1}")
        paths.append(path)
    return paths


@dataclass
class Service:
    url: str
    store: Store
    spool: Path
    tokens: dict[str, str]  # staff, agency_1..3, revoked

    def call(self, method: str, path: str, who: str | None, **kwargs: Any) -> httpx.Response:
        """A request as ``who`` (a name in ``tokens``, or a token itself; None: no token)."""
        headers = {} if who is None else {"authorization": f"Bearer {self.tokens.get(who, who)}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def ingest(self, month: str) -> dict[str, Any]:
        """Start a month's ingest as staff and wait for the job to end."""
        started = self.call("POST", f"/v1/months/{month}/ingest", "staff")
        assert started.status_code == 202, started.text
        return self.finished(started.json()["id"])

    def finished(self, job_id: int) -> dict[str, Any]:
        """The job once it is done or failed."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job: dict[str, Any] = self.call("GET", f"/v1/jobs/{job_id}", "staff").json()
            if job["state"] in ("done", "failed"):
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not finish in time")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture()
def service(db: str, tmp_path: Path) -> Iterator[Service]:
    yield from _serve(db, tmp_path, limit=50 << 20)


def _serve(db: str, tmp_path: Path, limit: int) -> Iterator[Service]:
    store = create_store(db, builtin_config_path("hmis"))
    tokens = {"staff": issue_token(store, "staff", None, "staff")[1]}
    for i in (1, 2, 3):
        tokens[f"agency_{i}"] = issue_token(store, "agency", f"agency_{i}", f"agency {i}")[1]
    spool = tmp_path / "spool"
    app = create_app(store, Settings(spool=spool, upload_limit=limit))
    try:
        with LocalServer(app) as server:
            yield Service(server.url, store, spool, tokens)
    finally:
        store.engine.dispose()
