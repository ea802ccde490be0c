"""The service end to end on loopback: who may call what, uploads verified before anything is
kept, a month ingested in the background, agencies fetching only their own results."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from linkage.agency.encoding.keys import generate_secret
from linkage.agency.encoding.pipeline import encode_file
from linkage.agency.upload import ServiceError, read_token, results, upload
from linkage.bynamelist.store.schema import audit, received, records
from linkage.formats.config import builtin_config_path, load_config
from linkage.service import revoke_token
from tests.service.conftest import Service

MONTH = "2026-01"


def _stored(service: Service) -> tuple[int, list[str]]:
    with service.store.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(received)).scalar_one()
    files = sorted(p.name for p in service.spool.rglob("*") if p.is_file())
    return count, files


def test_three_agencies_upload_a_month_and_fetch_their_own_results(
    service: Service, uploads: list[Path], tmp_path: Path
) -> None:
    for i, path in enumerate(uploads, start=1):
        answer = upload(service.url, service.tokens[f"agency_{i}"], path, MONTH, waits=())
        assert answer["agency"] == f"agency_{i}" and answer["fresh"] is True
    again = upload(service.url, service.tokens["agency_1"], uploads[0], MONTH, waits=())
    assert again["fresh"] is False  # a retry of the same file is recorded once
    job = service.ingest(MONTH)
    assert job["state"] == "done", job["error"]
    assert "3 upload(s) ingested" in str(job["progress"])
    out = tmp_path / "agency_2.csv"
    count = results(service.url, service.tokens["agency_2"], out, waits=())
    lines = out.read_text().splitlines()
    assert lines[0].startswith("record_id,person_id") and len(lines) == count + 1
    with service.store.engine.connect() as conn:
        own = conn.execute(
            select(func.count()).select_from(records).where(records.c.agency == "agency_2")
        ).scalar_one()
    assert count == own  # every record of its own, and only those
    report = service.call("GET", "/v1/reports/latest", "agency_3").json()
    assert report["month"] == MONTH
    listed = service.call("GET", "/v1/uploads", "agency_1").json()
    assert {u["agency"] for u in listed} == {"agency_1"} and all(u["ingested"] for u in listed)
    assert len(service.call("GET", "/v1/uploads", "staff").json()) == 3


def test_every_endpoint_answers_only_whom_it_should(service: Service, uploads: list[Path]) -> None:
    """The authorisation matrix: no token, an unknown or revoked one, the wrong agency, the
    right agency, staff."""
    revoked = "revoked"
    service.tokens[revoked] = service.tokens["agency_3"]
    revoke_token(service.store, 4)  # agency_3's token (staff 1, agency_1 2, agency_2 3)
    bogus = "lkt_" + "x" * 43
    body = uploads[0].read_bytes()
    expect = {
        # (method, path, body): {caller: status}
        ("POST", f"/v1/uploads/{MONTH}", "clk"): {
            None: 401,
            bogus: 401,
            revoked: 401,
            "staff": 403,
            "agency_2": 403,
            "agency_1": 201,
        },
        ("GET", "/v1/uploads", None): {None: 401, bogus: 401, "agency_2": 200, "staff": 200},
        ("POST", f"/v1/months/{MONTH}/ingest", None): {
            None: 401,
            bogus: 401,
            "agency_1": 403,
            "staff": 202,
        },
        ("GET", "/v1/jobs", None): {None: 401, "agency_1": 403, "staff": 200},
        ("GET", "/v1/jobs/1", None): {None: 401, "agency_1": 403, "staff": 200},
        ("GET", "/v1/review", None): {None: 401, "agency_1": 403, "staff": 200},
        ("GET", "/v1/dashboard", None): {None: 401, bogus: 401, "agency_1": 403, "staff": 200},
        ("GET", "/v1/dashboard/charts/active.svg", None): {
            None: 401,
            revoked: 401,
            "agency_2": 403,
            "staff": 200,
        },
        ("POST", "/v1/review/999", "ruling"): {None: 401, "agency_1": 403, "staff": 404},
        ("POST", "/v1/uploads/999/discard", "discard"): {
            None: 401,
            revoked: 401,
            "agency_1": 403,
            "staff": 404,
        },
        ("GET", "/v1/results", None): {
            None: 401,
            bogus: 401,
            revoked: 401,
            "staff": 403,
            "agency_2": 404,
        },
        ("GET", "/v1/reports/latest", None): {None: 401, bogus: 401},
        ("GET", "/v1/notices", None): {
            None: 401,
            bogus: 401,
            revoked: 401,
            "staff": 403,
            "agency_1": 200,
        },
        ("GET", "/v1/joint/agency_2", None): {
            None: 401,
            bogus: 401,
            revoked: 401,
            "staff": 403,
            "agency_1": 409,  # no agreement
        },
        ("GET", "/v1/health", None): {None: 200, bogus: 200},
    }
    described = service.call("GET", "/openapi.json", None).json()["paths"]
    assert len(described) == len({path for _, path, _ in expect}), "an endpoint is untested"
    for (method, path, kind), answers in expect.items():
        for who, status in answers.items():
            content = body if kind == "clk" else None
            json = {"ruling": "same"} if kind == "ruling" else {} if kind == "discard" else None
            got = service.call(method, path, who, content=content, json=json)
            assert got.status_code == status, (method, path, who, got.text)
            if status >= 400:
                assert "\n" not in got.json()["detail"]
    job = service.finished(1)
    assert job["state"] == "done", job
    got = service.call("GET", "/v1/results", "agency_1")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    for who in ("agency_1", "staff"):
        assert service.call("GET", "/v1/reports/latest", who).status_code == 200


def test_bad_uploads_are_refused_in_one_line_and_nothing_is_kept(
    service: Service, uploads: list[Path], tmp_path: Path, hmis_config, network
) -> None:
    good = uploads[0].read_bytes()
    tampered = bytearray(good)
    tampered[len(good) // 2] ^= 0x01
    cases = {
        "truncated": (good[: len(good) // 2], 422, "truncated"),
        "tampered": (bytes(tampered), 422, ""),
        "not a clk": (b"PersonalID,FirstName\n1,x\n" * 100, 422, ""),
        "empty": (b"", 422, "empty"),
        "oversized": (b"\0" * ((50 << 20) + 1), 413, "limit"),
    }
    before = _stored(service)
    for name, (content, status, words) in cases.items():
        got = service.call("POST", f"/v1/uploads/{MONTH}", "agency_1", content=content)
        assert got.status_code == status, (name, got.text)
        detail = got.json()["detail"]
        assert "\n" not in detail and words in detail, (name, detail)
        assert str(service.spool) not in detail  # no server path in an answer
        assert _stored(service) == before, name
    got = service.call("POST", "/v1/uploads/2026-13", "agency_1", content=good)
    assert got.status_code == 422 and "YYYY-MM" in got.json()["detail"]
    assert _stored(service) == before


def test_another_config_or_secret_is_refused(
    service: Service, uploads: list[Path], tmp_path: Path, network
) -> None:
    other = tmp_path / "other.toml"
    other.write_text(
        builtin_config_path("hmis").read_text().replace("weight = 6\n", "weight = 7\n")
    )
    foreign = tmp_path / "foreign.clk"
    encode_file(load_config(other), generate_secret(), network[0], foreign, "agency_1")
    got = service.call("POST", f"/v1/uploads/{MONTH}", "agency_1", content=foreign.read_bytes())
    assert got.status_code == 422 and "config fingerprint" in got.json()["detail"]
    upload(service.url, service.tokens["agency_2"], uploads[1], MONTH, waits=())
    assert service.ingest(MONTH)["state"] == "done"  # the store now knows the community's secret
    stranger = tmp_path / "stranger.clk"
    encode_file(
        load_config(builtin_config_path("hmis")),
        generate_secret(),
        network[0],
        stranger,
        "agency_1",
    )
    before = _stored(service)
    got = service.call("POST", "/v1/uploads/2026-02", "agency_1", content=stranger.read_bytes())
    assert got.status_code == 422 and "different secret" in got.json()["detail"]
    assert _stored(service) == before


def test_requests_are_audited_without_payloads_or_tokens(service: Service) -> None:
    service.call("GET", "/v1/uploads", "agency_1")
    service.call("GET", "/v1/jobs", "agency_1")
    service.call("GET", "/v1/review?secret=hunter2", None)
    deadline = time.monotonic() + 10
    rows: list[tuple[object, ...]] = []
    while time.monotonic() < deadline and len(rows) < 3:
        with service.store.engine.connect() as conn:
            rows = [
                tuple(r)
                for r in conn.execute(
                    select(
                        audit.c.token_id, audit.c.method, audit.c.route, audit.c.status
                    ).order_by(audit.c.id)
                )
            ]
        time.sleep(0.1)
    assert rows == [
        (2, "GET", "/v1/uploads", 200),
        (2, "GET", "/v1/jobs", 403),
        (None, "GET", "/v1/review", 401),
    ]


def test_the_client_says_what_is_wrong_in_one_line(service: Service, uploads: list[Path]) -> None:
    calls = {
        "token is unknown or revoked": (service.url, "lkt_nope", ()),
        "only an agency's token": (service.url, service.tokens["staff"], ()),
        "cannot reach http://127.0.0.1:1 (ConnectError); gave up after 2 tries": (
            "http://127.0.0.1:1",
            service.tokens["agency_1"],
            (0.01,),
        ),
    }
    for words, (url, token, waits) in calls.items():
        with pytest.raises(ServiceError) as caught:
            upload(url, token, uploads[0], MONTH, waits=waits)
        line = caught.value.one_line()
        assert words in line and "\n" not in line and token not in line


def test_tokens_are_written_to_a_file_never_printed_and_kept_as_digests(
    db: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from linkage.bynamelist import create_store
    from linkage.bynamelist.store.schema import tokens
    from linkage.cli import cli

    create_store(db, builtin_config_path("hmis")).engine.dispose()
    out = tmp_path / "north.token"
    run = CliRunner().invoke(cli, ["token", "add", "--db", db, "--agency", "north", "-o", str(out)])
    assert run.exit_code == 0, run.output
    token = out.read_text().strip()
    assert token.startswith("lkt_") and token not in run.output
    assert out.stat().st_mode & 0o777 == 0o600
    again = CliRunner().invoke(cli, ["token", "add", "--db", db, "--staff", "-o", str(out)])
    assert again.exit_code != 0 and out.read_text().strip() == token  # never overwritten
    listed = CliRunner().invoke(cli, ["token", "list", "--db", db])
    assert "north" in listed.output and token not in listed.output
    from linkage.bynamelist import open_store

    store = open_store(db)
    with store.engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(select(tokens.c.digest))]
    store.engine.dispose()
    assert all(token not in str(row) for row in stored) and len(stored) == 1
    assert CliRunner().invoke(cli, ["token", "revoke", "--db", db, "1"]).exit_code == 0
    assert "revoked" in CliRunner().invoke(cli, ["token", "list", "--db", db]).output


def test_malformed_requests_get_one_line(service: Service) -> None:
    cases = [
        ("POST", "/v1/review/1", {"ruling": "maybe"}, "ruling"),
        ("POST", "/v1/review/1", None, "body"),
        ("GET", "/v1/jobs/not-a-number", None, "job_id"),
        ("GET", "/v1/jobs/4294967296", None, "job_id"),  # beyond any row id
        ("POST", "/v1/months/2026-13/ingest", None, "month '2026-13' is not YYYY-MM"),
        ("POST", "/v1/months/٢٠٢٦-10/ingest", None, "is not YYYY-MM"),
        ("GET", "/v1/reports/newest", None, "month 'newest' is not YYYY-MM"),
    ]
    for method, path, body, words in cases:
        got = service.call(method, path, "staff", json=body)
        assert got.status_code == 422, (path, got.text)
        detail = got.json()["detail"]
        assert isinstance(detail, str) and "\n" not in detail and words in detail, detail


def test_the_client_refuses_a_missing_token_or_file_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LINKAGE_TOKEN", raising=False)
    empty = tmp_path / "empty.token"
    empty.write_text("\n")
    cases = {
        "cannot read the token file": lambda: read_token(tmp_path / "none.token"),
        "no token": lambda: read_token(empty),
        "no token (pass": lambda: read_token(None),
        "no file": lambda: upload("http://127.0.0.1:1", "lkt_x", tmp_path / "none.clk", MONTH),
    }
    for words, call in cases.items():
        with pytest.raises(ServiceError) as caught:
            call()
        line = caught.value.one_line()
        assert words in line and "\n" not in line


def test_the_agencies_client_loads_without_the_server() -> None:
    """``linkage upload`` on an agency's machine should not load the server's framework, the
    matcher or the charts (seconds at every start)."""
    code = (
        "import sys\n"
        "from linkage.agency.upload import read_token, upload, results, ServiceError\n"
        "print(sorted(m for m in ('fastapi', 'matplotlib', 'numba') if m in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.returncode == 0 and loaded.stdout.strip() == "[]", loaded
