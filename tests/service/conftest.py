"""A real service on loopback (uvicorn in a thread) over a real store, and real uploads."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from linkage.agency.encoding.pipeline import encode_file
from linkage.bynamelist import create_store
from linkage.bynamelist.store import Store
from linkage.formats.config import builtin_config_path
from linkage.service import Settings, create_app, issue_token
from linkage.service.local import LocalServer


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


#: The real command line, in a process of its own.
CLI = [sys.executable, "-c", "from linkage.cli import main; main()"]


def linkage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``linkage ARGS`` as a user would and wait for it."""
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=300)


class ServeProcess:
    """``linkage serve`` as its own process on a free port, killed without warning when
    asked; with ``trust`` (a context trusting its certificate) it is reached over HTTPS. What
    it writes to stderr is kept in ``log``."""

    def __init__(
        self, db: str, spool: Path, *options: str, trust: ssl.SSLContext | None = None
    ) -> None:
        port = _free_port()
        self.url = f"{'https' if trust else 'http'}://127.0.0.1:{port}"
        self.log = spool.parent / f"serve-{port}.log"
        command = [*CLI, "serve", "--db", db, "--spool", str(spool), "--port", str(port)]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [*command, *options], start_new_session=True, stderr=log
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                health = httpx.get(self.url + "/v1/health", timeout=2, verify=trust or True)
                if health.status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.kill()
        raise AssertionError(f"linkage serve did not start: {self.log.read_text()}")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
