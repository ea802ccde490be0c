"""What a request must get past before the service spends anything on it: a live token
before its body is read, bounded bodies, and timeouts for slow heads and bodies; and a bug's
500 answered in one line and audited like everything else."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

import linkage.service.gate as gate
import linkage.service.routes.staff as staff_routes
from linkage.bynamelist.store.schema import audit
from tests.service.conftest import Service


def _raw(service: Service, request: bytes, wait: float = 10.0) -> bytes:
    """Send bytes on a socket of its own and read what comes back until the server closes
    or ``wait`` seconds pass."""
    host, port = httpx.URL(service.url).host, httpx.URL(service.url).port
    with socket.create_connection((host, port), timeout=wait) as conn:
        conn.sendall(request)
        got = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            got += chunk
        return got


def test_no_token_is_refused_before_the_body_is_read(service: Service) -> None:
    # announces 300 MB and sends none of it: the answer comes at once, without the body
    started = time.monotonic()
    got = _raw(
        service,
        b"POST /v1/review/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 300000000\r\n\r\n",
        wait=5,
    )
    assert got.startswith(b"HTTP/1.1 401") and time.monotonic() - started < 5
    bad = service.call("POST", "/v1/review/1", None, content=b"{bad")
    assert bad.status_code == 401 and "no valid token" in bad.json()["detail"]


def test_a_body_past_its_endpoints_bound_is_refused(service: Service) -> None:
    big = b'{"ruling": "same", "note": "' + b"x" * (gate.BODY_LIMIT + 10) + b'"}'
    said = service.call("POST", "/v1/review/1", "staff", content=big)
    assert said.status_code == 413 and "larger than 65536 bytes" in said.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no length announced: counted as it comes
        yield b'{"ruling": "same", "note": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    streamed = service.call("POST", "/v1/review/1", "staff", content=chunks())
    assert streamed.status_code == 413, streamed.text


def test_slow_heads_and_bodies_are_cut_off(service: Service, monkeypatch) -> None:
    monkeypatch.setattr(gate, "HEADER_SECONDS", 1.0)
    monkeypatch.setattr(gate, "BODY_SECONDS", 1.0)
    started = time.monotonic()
    assert _raw(service, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n", wait=10) == b""
    assert time.monotonic() - started < 5  # closed, not held open until the client gives up
    token = service.tokens["staff"].encode()
    got = _raw(
        service,
        b"POST /v1/review/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        wait=10,
    )
    assert got.startswith(b"HTTP/1.1 408"), got[:100]
    # a connection that asks in time is served, and may ask again
    assert service.call("GET", "/v1/health", None).status_code == 200


def test_a_bug_is_one_line_and_audited(service: Service, monkeypatch) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("a bug holding P1234567 and more")

    monkeypatch.setattr(staff_routes, "overview", broken)
    said = service.call("GET", "/v1/dashboard", "staff")
    assert said.status_code == 500
    assert said.json() == {"detail": "internal error; the service's log has the details"}
    deadline = time.monotonic() + 10
    rows: list[tuple[object, ...]] = []
    while time.monotonic() < deadline and not rows:
        with service.store.engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(select(audit.c.route, audit.c.status))]
        time.sleep(0.1)
    assert rows == [("/v1/dashboard", 500)]


@pytest.fixture(autouse=True)
def _quiet_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("CRITICAL", logger="linkage.service")


def test_a_revoked_tokens_attempt_is_audited_with_its_id_and_source(service: Service) -> None:
    from linkage.service import revoke_token

    revoke_token(service.store, 4)  # agency_3's (staff 1, agency_1 2, agency_2 3)
    assert service.call("GET", "/v1/uploads", "agency_3").status_code == 401
    deadline = time.monotonic() + 10
    rows: list[tuple[object, ...]] = []
    while time.monotonic() < deadline and not rows:
        with service.store.engine.connect() as conn:
            query = select(audit.c.token_id, audit.c.status, audit.c.source, audit.c.route)
            rows = [tuple(r) for r in conn.execute(query)]
        time.sleep(0.1)
    assert rows == [(4, 401, "127.0.0.1", "/v1/uploads")]


def test_spool_and_store_are_the_services_alone_and_no_cdn_page_is_served(
    service: Service, uploads: list[Path], tmp_path: Path
) -> None:
    from linkage.agency.upload import upload
    from linkage.bynamelist import create_store
    from linkage.formats.config import builtin_config_path
    from linkage.service.spool import prepare_spool

    upload(service.url, service.tokens["agency_1"], uploads[0], "2026-01", waits=())
    kept = [p for p in service.spool.iterdir() if p.is_file()]
    assert kept and all(p.stat().st_mode & 0o777 == 0o600 for p in kept)
    assert service.spool.stat().st_mode & 0o777 == 0o700
    for page in ("/docs", "/redoc"):
        assert service.call("GET", page, None).status_code == 404
    assert service.call("GET", "/openapi.json", None).status_code == 200
    # a service killed while receiving leaves a part file; the next start removes it
    left = service.spool / "incoming" / "0123.part"
    left.write_bytes(b"half an upload")
    prepare_spool(service.spool)
    assert not left.exists() and kept[0].exists()
    store = tmp_path / "new.db"
    create_store(str(store), builtin_config_path("hmis")).engine.dispose()
    assert store.stat().st_mode & 0o777 == 0o600
