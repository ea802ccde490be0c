"""Which file a month's ingest takes: the one each agency sent last, a re-sent one included,
never one staff discarded; and uploads that cannot be right for their month refused when they
arrive, not when the ingest meets them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from linkage.agency.encoding.pipeline import encode_file
from linkage.agency.upload import upload
from linkage.bynamelist.store.schema import events, records
from linkage.formats.container import read_clk
from tests.service.conftest import Service, linkage

MONTH = "2026-01"


@pytest.fixture(scope="module")
def second(tmp_path_factory, network, hmis_config, secret) -> Path:
    """Another file from agency 1: its export with the first third of clients only."""
    out = tmp_path_factory.mktemp("second")
    with open(network[0], newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        fields = reader.fieldnames or []
    fewer = out / "Client.csv"
    with open(fewer, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows[: len(rows) // 3])
    encode_file(hmis_config, secret, fewer, out / "b.clk", "agency_1")
    return out / "b.clk"


def _held(service: Service) -> int:
    with service.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(records)).scalar_one())


def test_the_ingest_takes_the_file_each_agency_sent_last(
    service: Service, uploads: list[Path], second: Path
) -> None:
    token = service.tokens["agency_1"]
    a = upload(service.url, token, uploads[0], MONTH, waits=())
    b = upload(service.url, token, second, MONTH, waits=())
    again = upload(service.url, token, uploads[0], MONTH, waits=())
    assert a["fresh"] and b["fresh"] and not again["fresh"] and again["id"] == a["id"]
    assert service.ingest(MONTH)["state"] == "done"
    assert _held(service) == len(read_clk(uploads[0]).ids)  # A, sent last, not B
    states = {u["id"]: u["state"] for u in service.call("GET", "/v1/uploads", "staff").json()}
    assert states == {a["id"]: "taken", b["id"]: "taken"}  # B was superseded by this ingest
    # sending B now makes it the latest; the next ingest takes it
    upload(service.url, token, second, MONTH, waits=())
    job = service.ingest(MONTH)
    assert job["state"] == "done", job
    assert "1 upload(s) ingested" in job["progress"]


def test_staff_discard_a_waiting_upload_and_the_month_goes_on_without_it(
    service: Service, uploads: list[Path], second: Path
) -> None:
    token = service.tokens["agency_1"]
    wrong = upload(service.url, token, second, MONTH, waits=())
    right = upload(service.url, service.tokens["agency_2"], uploads[1], MONTH, waits=())
    discarded = service.call(
        "POST", f"/v1/uploads/{wrong['id']}/discard", "staff", json={"reason": "wrong month"}
    )
    assert discarded.status_code == 200 and discarded.json()["state"] == "discarded"
    again = service.call("POST", f"/v1/uploads/{wrong['id']}/discard", "staff", json={})
    assert again.status_code == 409 and "discarded already" in again.json()["detail"]
    assert service.ingest(MONTH)["state"] == "done"
    assert _held(service) == len(read_clk(uploads[1]).ids)  # agency 2's file alone
    taken = service.call("POST", f"/v1/uploads/{right['id']}/discard", "staff", json={})
    assert taken.status_code == 409 and "taken by ingest job" in taken.json()["detail"]
    with service.store.engine.connect() as conn:
        said = conn.execute(select(events.c.reason).where(events.c.kind == "discard")).scalars()
        assert list(said) == [
            f"upload {wrong['id']} (agency_1, {MONTH}) discarded by staff: wrong month"
        ]
    # the agency may send the discarded file again: it waits once more
    resent = upload(service.url, token, second, MONTH, waits=())
    assert resent["fresh"]
    states = {u["id"]: u["state"] for u in service.call("GET", "/v1/uploads", "staff").json()}
    assert states[resent["id"]] == "waiting"


def test_an_upload_that_cannot_be_right_for_its_month_is_refused_on_arrival(
    service: Service, uploads: list[Path], month_files: list[Path]
) -> None:
    later = service.call(  # its activity runs to 2026-10
        "POST", "/v1/uploads/2026-12", "agency_1", content=month_files[0].read_bytes()
    )
    assert later.status_code == 422
    assert "activity runs to 2026-10, but the month given is 2026-12" in later.json()["detail"]
    assert upload(service.url, service.tokens["agency_1"], uploads[0], MONTH, waits=())["fresh"]
    assert service.ingest(MONTH)["state"] == "done"
    moved = service.call("POST", "/v1/uploads/2026-02", "agency_1", content=uploads[0].read_bytes())
    assert moved.status_code == 422, moved.text
    assert f"was already ingested for {MONTH}" in moved.json()["detail"]
    listed = service.call("GET", "/v1/uploads", "staff").json()
    assert [u["month"] for u in listed] == [MONTH]  # neither refused file waits anywhere


def test_staff_list_and_discard_uploads_from_the_command_line(
    service: Service, db: str, second: Path
) -> None:
    wrong = upload(service.url, service.tokens["agency_1"], second, MONTH, waits=())
    listed = linkage("uploads", "list", "--db", db)
    assert listed.returncode == 0 and "agency_1" in listed.stdout
    assert listed.stdout.rstrip().endswith("waiting")
    done = linkage("uploads", "discard", "--db", db, str(wrong["id"]), "--reason", "wrong file")
    assert done.returncode == 0, done.stderr
    assert linkage("uploads", "list", "--db", db).stdout.rstrip().endswith("discarded")
    again = linkage("uploads", "discard", "--db", db, str(wrong["id"]))
    assert again.returncode == 1 and again.stderr.count("\n") == 1
    assert "discarded already" in again.stderr
    missing = linkage("uploads", "discard", "--db", db, "999")
    assert missing.returncode == 1 and "no upload 999" in missing.stderr
    started = service.call("POST", f"/v1/months/{MONTH}/ingest", "staff")
    assert started.status_code == 409 and "no uploads are waiting" in started.text
