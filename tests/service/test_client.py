"""The agencies' client against servers that are not the service: one that redirects, one
that answers an HTML page with 200, one that answers garbage JSON. Each is said in one line,
with a non-zero exit, without retrying, and an earlier results file stays as it was."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.service.conftest import linkage

_ANSWERS = {
    "redirect": (302, {"Location": "https://elsewhere.example/"}, b""),
    "html": (
        200,
        {"Content-Type": "text/html"},
        b"<html><body>Sign in to the portal</body></html>",
    ),
    "json": (200, {"Content-Type": "application/json"}, b'["not", "a", "receipt"]'),
    "csv": (200, {"Content-Type": "text/csv"}, b"name,value\nnot,results\n"),
}


@pytest.fixture(params=sorted(_ANSWERS))
def impostor(request: pytest.FixtureRequest) -> Iterator[str]:
    """A server on loopback that answers every request the same way, not as the service."""
    status, headers, body = _ANSWERS[request.param]

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_client_takes_nothing_from_a_server_that_is_not_the_service(
    impostor: str, tmp_path: Path, uploads: list[Path]
) -> None:
    token = tmp_path / "a.token"
    token.write_text("lkt_" + "x" * 43 + "\n")
    out = tmp_path / "ids.csv"
    out.write_text("an earlier good file\n")
    fetched = linkage("results", "--server", impostor, "--token-file", str(token), "-o", str(out))
    sent = linkage(
        "upload",
        str(uploads[0]),
        "--month",
        "2026-01",
        "--server",
        impostor,
        "--token-file",
        str(token),
        "-q",
    )
    for done in (fetched, sent):
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert "gave up after" not in done.stderr  # not retried
        assert "redirect to https://elsewhere.example/" in done.stderr or (
            "not the service's" in done.stderr
        ), done.stderr
    assert out.read_text() == "an earlier good file\n"
    assert not list(tmp_path.glob(".*.part"))


def test_a_token_file_that_holds_no_token_is_said_so(tmp_path: Path) -> None:
    for content in (b"lkt_abc\ndef\n", b"lkt_\xff\xfe\n", b"lkt_ab cd\n"):
        token = tmp_path / "a.token"
        token.write_bytes(content)
        done = linkage(
            "results",
            "--server",
            "http://127.0.0.1:9",
            "--token-file",
            str(token),
            "-o",
            str(tmp_path / "x.csv"),
        )
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "does not hold a token" in done.stderr


def test_a_ca_file_that_cannot_be_used_is_said_so(tmp_path: Path) -> None:
    token = tmp_path / "a.token"
    token.write_text("lkt_" + "x" * 43 + "\n")
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n")
    for ca in (tmp_path / "missing.pem", not_pem):
        done = linkage(
            "results",
            "--server",
            "https://127.0.0.1:9",
            "--token-file",
            str(token),
            "--ca-file",
            str(ca),
            "-o",
            str(tmp_path / "x.csv"),
        )
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert f"cannot use {ca} as the certificate authority" in done.stderr
        assert not (tmp_path / "x.csv").exists()
