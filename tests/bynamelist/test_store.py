"""The store: made by the migrations, refused when foreign, missing or of another revision."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from linkage.bynamelist import StoreError, create_store, open_store, upgrade_store
from linkage.bynamelist.schema import metadata
from linkage.bynamelist.store import database_url, head_revision, migrate
from linkage.config import builtin_config_path


def test_migrations_build_exactly_the_schema_the_code_uses(tmp_path: Path) -> None:
    store = create_store(str(tmp_path / "s.db"), builtin_config_path("hmis"))
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_the_store_keeps_its_config_and_reopens(tmp_path: Path, hmis_config) -> None:
    create_store(str(tmp_path / "s.db"), builtin_config_path("hmis"))
    store = open_store(str(tmp_path / "s.db"))
    assert store.config.fingerprint == hmis_config.fingerprint
    con = sqlite3.connect(tmp_path / "s.db")
    keys = {k for (k,) in con.execute("SELECT key FROM meta")}
    assert keys == {"config_toml", "config_fingerprint"}  # the secret's check: first upload
    con.execute("UPDATE meta SET value = 'f00d' WHERE key = 'config_fingerprint'")
    con.commit()
    with pytest.raises(StoreError, match="was made for f00d"):
        open_store(str(tmp_path / "s.db"))


def test_a_store_is_made_once(tmp_path: Path) -> None:
    create_store(str(tmp_path / "s.db"), builtin_config_path("hmis"))
    with pytest.raises(StoreError, match="already holds tables"):
        create_store(str(tmp_path / "s.db"), builtin_config_path("febrl"))


def test_missing_foreign_and_newer_stores_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store at"):
        open_store(str(tmp_path / "none.db"))
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StoreError, match="not a linkage store"):
        open_store(str(tmp_path / "other.db"))
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot read the store"):
        open_store(str(tmp_path / "junk.db"))
    create_store(str(tmp_path / "s.db"), builtin_config_path("hmis"))
    con = sqlite3.connect(tmp_path / "s.db")
    con.execute("UPDATE alembic_version SET version_num = '9999'")
    con.commit()
    for command in (open_store, upgrade_store):
        with pytest.raises(StoreError, match="newer than this linkage knows"):
            command(str(tmp_path / "s.db"))
    with pytest.raises(StoreError, match="cannot read the store"):
        upgrade_store(str(tmp_path / "junk.db"))


def test_an_older_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    # a store made by the first release: schema 0001, holding an upload and a record
    engine = create_engine(database_url(path))
    migrate(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO uploads (id, agency, month, digest, records, ingested_at) "
                "VALUES (1, 'a', '2026-01', 'd', 1, '2026-02-01 00:00:00')"
            )
        )
        conn.execute(text("INSERT INTO people (id, created_upload) VALUES ('P1', 1)"))
        conn.execute(
            text(
                "INSERT INTO records (agency, record_id, person_id, first_upload, last_upload, "
                "clk) VALUES ('a', 'r1', 'P1', 1, 1, x'00')"
            )
        )
    engine.dispose()
    with pytest.raises(StoreError, match="has schema revision 0001; this linkage writes"):
        open_store(path)
    assert upgrade_store(path) == ("0001", head_revision())
    con = sqlite3.connect(path)
    assert con.execute("SELECT record_id, last_activity, situation FROM records").fetchall() == [
        ("r1", None, None)
    ]
    assert con.execute("SELECT count(*) FROM statuses").fetchone() == (0,)
    assert upgrade_store(path) == (head_revision(), head_revision())  # nothing to do


def test_paths_become_sqlite_urls_and_urls_pass() -> None:
    assert database_url("x.db").startswith("sqlite:////")
    assert database_url("postgresql://u@h/db") == "postgresql://u@h/db"
