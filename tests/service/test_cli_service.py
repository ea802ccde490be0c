"""The service's commands as a user runs them: the README's demo through the service, and
``linkage serve`` over HTTPS with a certificate (and refused without its key)."""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
import os
import socket
import ssl
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from linkage.bynamelist import create_store
from linkage.formats.config import builtin_config_path
from linkage.formats.container import read_clk
from tests.service.conftest import CLI, ServeProcess, linkage


def test_the_demo_runs_three_agencies_and_three_months_through_the_service(
    tmp_path: Path,
) -> None:
    out = tmp_path / "demo"
    command = [*CLI, "demo", "--service", "--agencies", "3", "--months", "3", "--people", "200"]
    ran = subprocess.run(
        [*command, "--port", "0", "--out", str(out)], capture_output=True, text=True, timeout=600
    )
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert sum(": 3 agencies uploaded; ingest job" in line for line in lines) == 3
    assert any(line.startswith("5. the dashboard's figures for 2026-01") for line in lines)
    joint = (out / "results" / "agency_1-joint-agency_2.csv").read_text().splitlines()
    assert joint[0] == "record_id,person_id,status,last_activity,partners" and len(joint) > 1
    assert all(row.startswith("1") for row in joint[1:])  # agency_1's own ids only
    told = (out / "results" / "agency_1-notices.csv").read_text().splitlines()
    assert told[0] == "month,record_id,person_id,event"
    for agency in ("agency_1", "agency_2", "agency_3"):
        with open(out / "results" / f"{agency}.csv", newline="") as fh:
            got = {row["record_id"] for row in csv.DictReader(fh)}
        sent = read_clk(out / "uploads" / "month_2026-01" / f"{agency}.clk").ids
        assert got == set(sent)  # its own records, every one, and no other agency's
        token = out / "tokens" / f"{agency}.token"
        assert stat.S_IMODE(token.stat().st_mode) == 0o600
        assert token.read_text().strip() not in ran.stdout + ran.stderr


def test_keep_serving_goes_with_service(tmp_path: Path) -> None:
    ran = subprocess.run(
        [*CLI, "demo", "--keep-serving", "--out", str(tmp_path)], capture_output=True, text=True
    )
    assert ran.returncode == 2 and "--keep-serving goes with --service" in ran.stderr


def test_a_taken_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        command = [*CLI, "demo", "--service", "--port", port, "--people", "20", "--months", "1"]
        ran = subprocess.run(
            [*command, "--agencies", "2", "--out", str(tmp_path)], capture_output=True, text=True
        )
    assert ran.returncode == 2
    assert ran.stderr == (
        f"error: the service cannot listen on 127.0.0.1:{port}: Address already in use "
        "(give another port with --port)\n"
    )


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_serve_speaks_https_with_a_certificate_and_wants_both_files(
    tmp_path: Path, db: str
) -> None:
    create_store(db, builtin_config_path("hmis")).engine.dispose()
    cert, key = _certificate(tmp_path)
    base = [*CLI, "serve", "--db", db, "--spool", str(tmp_path / "spool")]
    alone = subprocess.run([*base, "--tls-cert", str(cert)], capture_output=True, text=True)
    assert alone.returncode == 2 and "give both --tls-cert and --tls-key" in alone.stderr
    trust = ssl.create_default_context(cafile=str(cert))
    tls = ("--tls-cert", str(cert), "--tls-key", str(key))
    server = ServeProcess(db, tmp_path / "spool", *tls, trust=trust)  # it answered HTTPS
    try:
        assert httpx.get(f"{server.url}/v1/health", verify=trust).json()["status"] == "ok"
        plain = server.url.replace("https://", "http://")
        with pytest.raises(httpx.TransportError):  # no plain HTTP on that port
            httpx.get(f"{plain}/v1/health", timeout=5).raise_for_status()
    finally:
        server.kill()
    assert f"serving {db} at {server.url}" in server.log.read_text()


def test_an_untrusted_certificate_is_named_at_once_and_ca_file_trusts_it(
    tmp_path: Path, db: str
) -> None:
    create_store(db, builtin_config_path("hmis")).engine.dispose()
    token = tmp_path / "a.token"
    assert linkage("token", "add", "--db", db, "--agency", "a", "-o", str(token)).returncode == 0
    cert, key = _certificate(tmp_path)
    trusted = ssl.create_default_context(cafile=str(cert))
    tls = ("--tls-cert", str(cert), "--tls-key", str(key))
    server = ServeProcess(db, tmp_path / "spool", *tls, trust=trusted)
    out = tmp_path / "ids.csv"
    out.write_text("an earlier good file\n")
    ask = ["results", "--server", server.url, "--token-file", str(token), "-o", str(out)]
    try:
        started = time.monotonic()
        untrusted = linkage(*ask)
        assert untrusted.returncode == 2 and untrusted.stderr.count("\n") == 1
        assert "certificate is not trusted (self-signed certificate)" in untrusted.stderr
        assert "--ca-file" in untrusted.stderr and time.monotonic() - started < 20  # no retries
        # trusted by --ca-file or by SSL_CERT_FILE, the service itself answers
        by_file = {**os.environ, "SSL_CERT_FILE": str(cert)}
        for extra, env in ((["--ca-file", str(cert)], None), ([], by_file)):
            reached = linkage(*ask, *extra, env=env)
            assert reached.returncode == 2 and "no records from agency 'a'" in reached.stderr, (
                reached.stderr
            )
    finally:
        server.kill()
    assert out.read_text() == "an earlier good file\n"
