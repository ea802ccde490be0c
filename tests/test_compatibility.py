"""Files and stores made before the restructuring still read.

``tests/fixtures/v0.4.1/`` holds what linkage 0.4.1 wrote, as it stood before the package
was laid out by side: two agencies' ``.clk`` uploads of a synthetic network (80 people,
seed 11; encoded from the HMIS export folders, activity included), and a by-name-list store
with that month ingested, beside the report the old code printed of it. Neither format
names a module, so neither should notice where the code now lives.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from linkage.bynamelist import StoreError, build_report, open_store
from linkage.bynamelist.report import render_json
from linkage.bynamelist.rollback import rollback
from linkage.bynamelist.store import upgrade_store
from linkage.bynamelist.store.schema import records
from linkage.formats.container import read_clk
from linkage.matching import Linker, config_for, load_uploads

OLD = Path(__file__).parent / "fixtures" / "v0.4.1"


def test_old_uploads_read_and_link() -> None:
    paths = [OLD / "agency_1.clk", OLD / "agency_2.clk"]
    first = read_clk(paths[0])  # every section checked against the header, the checksum too
    assert first.header.agency == "agency_1" and first.header.config_name == "hmis"
    uploads, headers = load_uploads(paths)
    result = Linker(config_for(headers, None)).link(uploads)
    people = len(set(result.labels.tolist()))
    # 88 records of 60 people (the old ingest's figure, in the store beside them)
    assert len(uploads.ids) == 88 and 55 <= people <= 65


def test_an_old_store_upgrades_and_reports_what_it_reported(tmp_path: Path) -> None:
    db = tmp_path / "list.db"
    shutil.copy(OLD / "list.db", db)  # never open the fixture itself: upgrading changes it
    with pytest.raises(StoreError, match="has schema revision 0008"):
        open_store(str(db))  # a later schema (0009: consent, agreements) is asked for
    upgrade_store(str(db))
    store = open_store(str(db))
    report = json.loads(render_json(build_report(store, "2026-10")))
    assert report == json.loads((OLD / "report.json").read_text())


def test_an_old_stores_month_rolls_back_after_the_upgrade(tmp_path: Path) -> None:
    """Its undo row was saved before records had a consent column: what they held then
    (no consent) is what the rollback puts back."""
    db = tmp_path / "list.db"
    shutil.copy(OLD / "list.db", db)
    upgrade_store(str(db))
    store = open_store(str(db))
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(records)).scalar() == 88
    rollback(store, "2026-10", datetime.now(UTC))
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(records)).scalar() == 0
