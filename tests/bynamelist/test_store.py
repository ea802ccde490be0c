"""The store: made by the migrations, refused when foreign, missing or of another revision."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command as alembic_command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from linkage.bynamelist import StoreError, create_store, open_store, upgrade_store
from linkage.bynamelist.monthly import month_statuses
from linkage.bynamelist.store import _alembic, database_url, head_revision, migrate
from linkage.bynamelist.store.schema import metadata
from linkage.formats.config import builtin_config_path


def _sql(target: str, *statements: str, **params: object) -> list[list[tuple[object, ...]]]:
    """Run statements on the store at ``target`` in one transaction of their own; the rows of
    each (an empty list for those returning none)."""
    engine = create_engine(database_url(target))
    try:
        with engine.begin() as conn:
            results = [conn.execute(text(s), params) for s in statements]
            return [[tuple(r) for r in res] if res.returns_rows else [] for res in results]
    finally:
        engine.dispose()


def test_migrations_build_exactly_the_schema_the_code_uses(db: str) -> None:
    store = create_store(db, builtin_config_path("hmis"))
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_the_store_keeps_its_config_and_reopens(db: str, hmis_config) -> None:
    create_store(db, builtin_config_path("hmis"))
    store = open_store(db)
    assert store.config.fingerprint == hmis_config.fingerprint
    store.engine.dispose()
    (keys,) = _sql(db, "SELECT key FROM meta")
    assert {k for (k,) in keys} == {"config_toml", "config_fingerprint"}  # secret: first upload
    _sql(db, "UPDATE meta SET value = 'f00d' WHERE key = 'config_fingerprint'")
    with pytest.raises(StoreError, match="was made for f00d"):
        open_store(db)


def test_a_store_is_made_once(db: str) -> None:
    create_store(db, builtin_config_path("hmis"))
    with pytest.raises(StoreError, match="already holds tables"):
        create_store(db, builtin_config_path("febrl"))


def test_missing_and_unreadable_stores_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store at"):
        open_store(str(tmp_path / "none.db"))
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    for command in (open_store, upgrade_store):
        with pytest.raises(StoreError, match="cannot read the store"):
            command(str(tmp_path / "junk.db"))
    # no server listens on port 1: one line, and the password is not in it
    nowhere = "postgresql://clerk:hunter2@127.0.0.1:1/bnl"
    with pytest.raises(StoreError, match="cannot read the store") as caught:
        open_store(nowhere)
    assert "hunter2" not in str(caught.value)
    with pytest.raises(StoreError, match="cannot reach the store") as caught:
        create_store(nowhere, builtin_config_path("hmis"))
    assert "hunter2" not in str(caught.value) and "127.0.0.1:1/bnl" in str(caught.value)


def test_foreign_and_newer_stores_are_refused(make_db) -> None:
    foreign = make_db()
    _sql(foreign, "CREATE TABLE t (x INTEGER)")
    with pytest.raises(StoreError, match="not a linkage store"):
        open_store(foreign)
    newer = make_db()
    create_store(newer, builtin_config_path("hmis")).engine.dispose()
    _sql(newer, "UPDATE alembic_version SET version_num = '9999'")
    for command in (open_store, upgrade_store):
        with pytest.raises(StoreError, match="newer than this linkage knows"):
            command(newer)


def test_an_older_store_is_upgraded_in_place(db: str) -> None:
    # a store made by the first release: schema 0001, holding an upload and a record
    engine = create_engine(database_url(db))
    migrate(engine, "0001")
    engine.dispose()
    _sql(
        db,
        "INSERT INTO uploads (id, agency, month, digest, records, ingested_at) "
        "VALUES (1, 'a', '2026-01', 'd', 1, '2026-02-01 00:00:00')",
        "INSERT INTO people (id, created_upload) VALUES ('P1', 1)",
        "INSERT INTO records (agency, record_id, person_id, first_upload, last_upload, clk) "
        "VALUES ('a', 'r1', 'P1', 1, 1, :clk)",
        clk=b"\x00",
    )
    with pytest.raises(StoreError, match="has schema revision 0001; this linkage writes"):
        open_store(db)
    assert upgrade_store(db) == ("0001", head_revision())
    rows, counted = _sql(
        db,
        "SELECT record_id, last_activity, situation FROM records",
        "SELECT count(*) FROM status_months",
    )
    assert rows == [("r1", None, None)] and counted == [(0,)]
    assert upgrade_store(db) == (head_revision(), head_revision())  # nothing to do


def test_status_rows_become_one_packed_row_a_month_and_back(db: str) -> None:
    """Schema 0005 packs each month's status rows into one row; every value survives the
    upgrade, and the downgrade gives the rows back."""
    engine = create_engine(database_url(db))
    migrate(engine, "0004")
    rows = [
        ("2026-01", "P1", 1, 0, 0),
        ("2026-01", "P2", 3, 8, 0),
        ("2026-02", "P2", 1, 8, 0),
        ("2026-02", "P1", 2, 0, 1),
        ("2026-02", "P3", 0, 2, 5),
    ]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO uploads (id, agency, month, digest, records, ingested_at) "
                "VALUES (1, 'a', '2026-01', 'd', 1, '2026-02-01 00:00:00')"
            )
        )
        for pid in ("P1", "P2", "P3"):
            conn.execute(text("INSERT INTO people (id, created_upload) VALUES (:p, 1)"), {"p": pid})
        for month, pid, status, flags, listed in rows:
            conn.execute(
                text("INSERT INTO statuses VALUES (:m, :p, :s, :f, :l)"),
                {"m": month, "p": pid, "s": status, "f": flags, "l": listed},
            )
    engine.dispose()
    assert upgrade_store(db) == ("0004", head_revision())
    engine = create_engine(database_url(db))
    with engine.connect() as conn:
        packed = {m: month_statuses(conn, m) for m in ("2026-01", "2026-02")}
    unpacked = [
        (m, p, s, f, b)
        for m, stored in packed.items()
        if stored is not None
        for p, s, f, b in zip(
            stored.person_ids(), stored.status, stored.flags, stored.listed, strict=True
        )
    ]
    assert sorted(unpacked) == sorted(rows)
    cfg = _alembic(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        alembic_command.downgrade(cfg, "0004")
    engine.dispose()
    (back,) = _sql(db, "SELECT month, person_id, status, flags, listed_before FROM statuses")
    assert sorted(back) == sorted(rows)


def test_paths_become_sqlite_urls_and_postgresql_gets_its_driver() -> None:
    assert database_url("x.db").startswith("sqlite:////")
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"
