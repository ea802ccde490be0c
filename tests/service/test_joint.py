"""An agency's joint participants through the service: its own ids only, under an agreement
in force, the same list the command line gives."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from linkage.agency.consent import ConsentList
from linkage.agency.csvfile import id_hashes
from linkage.agency.encoding.pipeline import encode_file
from linkage.agency.upload import joint, notices
from linkage.bynamelist.agreements import add_agreement
from linkage.bynamelist.joint import joint_csv, joint_list
from linkage.errors import LinkageError
from tests.service.conftest import Service
from tests.test_cli import run

MONTH = "2026-10"


def test_an_agency_fetches_its_joint_participants(
    service: Service, network: list[Path], hmis_config, secret, tmp_path: Path
) -> None:
    for i, client in enumerate(network[:2]):
        with open(client, newline="") as fh:
            ids = [r["PersonalID"] for r in csv.DictReader(fh)][::2]
        listed = ConsentList(tmp_path, np.unique(id_hashes(ids)))
        path = tmp_path / f"agency_{i + 1}.clk"
        encode_file(hmis_config, secret, client, path, f"agency_{i + 1}", consent_list=listed)
        sent = service.call(
            "POST", f"/v1/uploads/{MONTH}", f"agency_{i + 1}", content=path.read_bytes()
        )
        assert sent.status_code == 201, sent.text
    assert service.ingest(MONTH)["state"] == "done"
    with pytest.raises(LinkageError, match="no case-conferencing agreement") as said:
        joint(service.url, service.tokens["agency_1"], "agency_2", tmp_path / "j.csv", waits=())
    assert "\n" not in said.value.one_line() and not (tmp_path / "j.csv").exists()
    refused = service.call("GET", "/v1/joint/agency_2", "agency_1")
    assert (
        refused.status_code == 409 and "no case-conferencing agreement" in refused.json()["detail"]
    )
    today = date.today()
    add_agreement(
        service.store,
        ["agency_1", "agency_2"],
        "case-conferencing",
        today,
        today + timedelta(1),
        "",
    )
    got = service.call("GET", "/v1/joint/agency_2", "agency_1")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert got.text == joint_csv(joint_list(service.store, "agency_1", "agency_2"))
    rows = joint(service.url, service.tokens["agency_1"], "agency_2", tmp_path / "j.csv")
    assert (tmp_path / "j.csv").read_text() == got.text and rows == len(got.text.splitlines()) - 1
    assert len(got.text.splitlines()) > 5
    theirs = service.call("GET", "/v1/joint/agency_1", "agency_2").text
    assert not set(r.split(",")[0] for r in got.text.splitlines()[1:]) & set(
        r.split(",")[0] for r in theirs.splitlines()[1:]
    )  # each gets its own record ids
    unknown = service.call("GET", "/v1/joint/agency_9", "agency_1")
    assert unknown.status_code == 404 and "knows no agency" in unknown.json()["detail"]
    assert service.call("GET", "/v1/joint/agency_2", "agency_3").status_code == 409


def test_an_agency_fetches_its_notices(service: Service, tmp_path: Path) -> None:
    """The notices' content is the list's (tests/bynamelist/test_notices.py); here: the
    route, the client, and a malformed month refused in one line."""
    token = service.tokens["agency_1"]
    count = notices(service.url, token, tmp_path / "n.csv", since="2026-10")
    assert count == 0 and (tmp_path / "n.csv").read_text() == "month,record_id,person_id,event\n"
    bad = service.call("GET", "/v1/notices?since=2026-13", "agency_1")
    assert bad.status_code == 422 and "since" in bad.json()["detail"]


def test_the_client_commands_fetch_and_refuse_in_one_line(
    service: Service, tmp_path: Path, capsys, monkeypatch
) -> None:
    token = tmp_path / "north.token"
    token.write_text(service.tokens["agency_1"] + "\n")
    token.chmod(0o600)
    base = ["results", "--server", service.url, "--token-file", token]
    code, out, err = run([*base, "--notices", "-o", tmp_path / "n.csv"], capsys, monkeypatch)
    assert code == 0 and "wrote 0 notices" in out + err
    for extra, expected in [
        (["--notices", "--since", "2026-13"], "YYYY-MM"),
        (["--since", "2026-10"], "--since needs --notices"),
        (["--notices", "--joint-with", "agency_2"], "not both"),
        (["--joint-with", "agency_2"], "no case-conferencing agreement"),
    ]:
        code, _, err = run([*base, *extra, "-o", tmp_path / "x.csv"], capsys, monkeypatch)
        assert code == 2 and expected in err, (extra, err)
        assert not (tmp_path / "x.csv").exists()
