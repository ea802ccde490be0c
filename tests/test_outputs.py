"""An output never lands on an input: the community secret, an agency's export, an upload, a
token or the store itself. And a killed writer's part file does not stay forever."""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path

import pytest

from linkage._atomic import atomic_write
from linkage.bynamelist import create_store
from linkage.formats.config import builtin_config_path
from tests.test_cli import run


@pytest.fixture()
def export(tmp_path: Path, network: list[Path]) -> Path:
    """A copy of one agency's whole export folder."""
    folder = tmp_path / "export"
    shutil.copytree(network[0].parent, folder)
    return folder


def _encode(capsys, monkeypatch, source: Path, key: Path, output: Path) -> tuple[int, str]:
    code, _, err = run(
        ["encode", source, "--secret-file", key, "--agency", "a", "-o", output, "-q"],
        capsys,
        monkeypatch,
    )
    return code, err


def test_encode_refuses_to_write_over_the_secret_or_the_export(
    export: Path, key_file: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    secret = key_file.read_bytes()
    client = export / "Client.csv"
    before = client.read_bytes()
    linked = tmp_path / "another-name.csv"
    os.link(client, linked)  # the same file under another name
    cases = [
        (client, key_file, "is the community secret file"),
        (client, client, "is the export"),
        (client, linked, "is the export"),
        (export, export / "Enrollment.csv", "is the export"),
        (client, tmp_path, "is a folder"),
    ]
    for source, output, said in cases:
        code, err = _encode(capsys, monkeypatch, source, key_file, output)
        assert code == 2 and err.count("\n") == 1 and said in err, (output, err)
    assert key_file.read_bytes() == secret and client.read_bytes() == before
    assert not list(tmp_path.rglob("*.part"))


def test_export_results_and_reports_refuse_to_write_over_their_input(
    export: Path, key_file: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    clk = tmp_path / "a.clk"
    assert _encode(capsys, monkeypatch, export / "Client.csv", key_file, clk)[0] == 0
    kept = clk.read_bytes()
    code, _, err = run(["export", clk, "-o", clk], capsys, monkeypatch)
    assert code == 2 and "is the input" in err and clk.read_bytes() == kept
    code, _, err = run(["match", clk, "-o", tmp_path], capsys, monkeypatch)
    assert code == 0, err  # a folder beside the upload is fine; the upload itself is not
    renamed = tmp_path / "summary.json"
    renamed.unlink()
    clk.rename(renamed)
    code, _, err = run(["match", renamed, "-o", tmp_path], capsys, monkeypatch)
    assert code == 2 and "is the upload" in err
    token = tmp_path / "a.token"
    token.write_text("lkt_" + "x" * 43)
    code, _, err = run(
        ["results", "--server", "http://127.0.0.1:9", "--token-file", token, "-o", token],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "is the token file" in err and token.read_text().startswith("lkt_")
    db = tmp_path / "store.db"
    create_store(str(db), builtin_config_path("hmis")).engine.dispose()
    for args in (["bnl", "report", "-o", db], ["bnl", "export", "--agency", "a", "-o", db]):
        code, _, err = run([*args, "--db", db], capsys, monkeypatch)
        assert code == 2 and "is the store" in err, err


def test_a_killed_writers_part_file_is_removed_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "out.clk"
    abandoned = tmp_path / ".out.clk.dead.part"  # what a SIGKILL mid-write leaves
    abandoned.write_bytes(b"x" * 100)
    live = tmp_path / ".out.clk.live.part"  # another writer's, still being written
    live.write_bytes(b"y")
    old = time.time() - 3600
    for part in (abandoned, live):
        os.utime(part, (old, old))
    with live.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with atomic_write(target) as fh:
            fh.write(b"done")
        assert target.read_bytes() == b"done"
        assert not abandoned.exists() and live.exists()
