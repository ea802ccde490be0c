"""Opening, creating and upgrading the by-name-list store.

The store is a SQLAlchemy database: a SQLite file by default (embedded, nothing to set up) or
PostgreSQL by URL (install the ``postgres`` extra for its driver). Its schema is made and
changed only by the Alembic migrations in ``migrations/``, so a store written by an older
version is upgraded in place (``linkage bnl upgrade``), never rebuilt.

The config is fixed when the store is made: every upload must be encoded with it, and its
thresholds steer every ingest. It is kept in the store as TOML text, which is public (it
travels in every agency's hands); the secret never reaches the coordinator.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, insert, inspect, select, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from linkage.bynamelist.store.schema import meta
from linkage.errors import LinkageError
from linkage.formats.config import Config, load_config, parse_config

_MIGRATIONS = Path(__file__).parent / "migrations"


class StoreError(LinkageError):
    """The by-name-list store is missing, not initialised, out of date or unreachable."""


def database_url(target: str) -> str:
    """A URL as given, or a file path turned into a SQLite URL. A plain ``postgresql://`` (or
    ``postgres://``) URL gets the psycopg 3 driver of the ``postgres`` extra, where SQLAlchemy
    would otherwise look for psycopg2."""
    if "://" not in target:
        return f"sqlite:///{Path(target).expanduser().resolve()}"
    scheme, rest = target.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return target


def _engine(url: str) -> Engine:
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreError(
            f"cannot open the store at {_safe(url)}: {type(exc).__name__}",
            "give a file path or a URL such as postgresql://host/db "
            "(PostgreSQL needs: pip install 'linkage[postgres]')",
        ) from None
    if engine.dialect.name == "sqlite":
        # SQLite leaves foreign keys unchecked unless asked, per connection
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


def _safe(url: str) -> str:
    """The URL without its password, fit for a message."""
    head, sep, tail = url.partition("://")
    if "@" in tail:
        tail = tail.split("@", 1)[1]
        return f"{head}{sep}…@{tail}"
    return url


def _alembic(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def head_revision() -> str:
    """The schema revision this version of linkage writes."""
    head = ScriptDirectory(str(_MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` in one transaction."""
    cfg = _alembic(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


@dataclass(frozen=True)
class Store:
    """An open store: its engine and the config it links with."""

    engine: Engine
    config: Config
    url: str


def create_store(target: str, config_path: Path) -> Store:
    """Make a new store at ``target`` for uploads encoded with the config at ``config_path``."""
    url = database_url(target)
    config = load_config(config_path)
    engine = _engine(url)
    try:
        existing = inspect(engine).get_table_names()
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot reach the store at {_safe(target)}: {type(exc).__name__}",
            "check the path or URL, and that the database server runs and accepts this user",
        ) from None
    if existing:
        raise StoreError(
            f"{_safe(target)} already holds tables",
            "a store is made once; use it as it is, or give a new path",
        )
    text = Path(config.source).read_text(encoding="utf-8")
    if url.startswith("sqlite:///"):  # the store is for the coordinator's user alone
        made = Path(url.removeprefix("sqlite:///"))
        made.touch(mode=0o600, exist_ok=True)
        made.chmod(0o600)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(meta),
            [
                {"key": "config_toml", "value": text},
                {"key": "config_fingerprint", "value": config.fingerprint},
            ],
        )
    return Store(engine, config, url)


def _open_existing(target: str) -> tuple[str, Engine, str]:
    """URL, engine and schema revision of an existing store this linkage can read or upgrade;
    refuses a missing, foreign, unreadable or newer one."""
    url = database_url(target)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise StoreError(f"no store at {target}", "make one with 'linkage bnl init'")
    engine = _engine(url)
    try:
        current = _current_revision(engine)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot read the store at {_safe(target)}: {type(exc).__name__}",
            "check the path or URL, and that the file is a linkage store",
        ) from None
    if current is None:
        if not inspect(engine).get_table_names():
            raise StoreError(
                f"no store at {_safe(target)} (the database is empty)",
                "make one with 'linkage bnl init'",
            )
        raise StoreError(
            f"{_safe(target)} is not a linkage store (no schema revision)",
            "give the store's path or URL, or make one elsewhere with 'linkage bnl init'",
        )
    known = {s.revision for s in ScriptDirectory(str(_MIGRATIONS)).walk_revisions()}
    if current not in known:
        raise StoreError(
            f"{_safe(target)} has schema revision {current}, newer than this linkage knows",
            "upgrade linkage on this machine",
        )
    return url, engine, current


def open_store(target: str) -> Store:
    """Open an existing store, refusing one that is missing, foreign or of another schema."""
    url, engine, current = _open_existing(target)
    head = head_revision()
    if current != head:
        raise StoreError(
            f"{_safe(target)} has schema revision {current}; this linkage writes {head}",
            "run 'linkage bnl upgrade' (back the store up first)",
        )
    with engine.connect() as conn:
        settings = dict(conn.execute(select(meta.c.key, meta.c.value)).all())
    config = parse_config(tomllib.loads(settings["config_toml"]), source=f"{target} (stored)")
    if config.fingerprint != settings["config_fingerprint"]:
        raise StoreError(
            f"the config stored in {_safe(target)} now gives fingerprint "
            f"{config.fingerprint[:12]}..., but the store was made for "
            f"{settings['config_fingerprint'][:12]}...",
            "use the linkage version that made the store",
        )
    return Store(engine, config, url)


#: How long a writer waits for another to finish before it gives up (an ingest of a large
#: month takes minutes; longer than this and something is stuck).
WRITE_WAIT_SECONDS = 900.0

#: The PostgreSQL advisory lock every writer of the list takes (any fixed number: it only
#: has to be the same for every linkage process on the database).
_WRITE_LOCK = 0x6C696E6B  # "link"


@contextmanager
def writing(
    store: Store,
    waiting: Callable[[str], None] | None = None,
    wait: float = WRITE_WAIT_SECONDS,
) -> Iterator[Connection]:
    """A transaction that holds the store's one write lock before its first read.

    An ingest reads the store (its records, people, last month) and writes what follows from
    them: two at once would each link against a list without the other's records and both
    commit. So every writer of the list takes this lock first and they run one after the
    other: on SQLite by beginning with BEGIN IMMEDIATE (the database's one write lock), on
    PostgreSQL with a transaction-scoped advisory lock. A writer that finds the lock taken
    says so through ``waiting`` and waits up to ``wait`` seconds, then is refused in one
    line; the other's transaction is never disturbed.
    """
    with store.engine.begin() as conn:
        _take_write_lock(conn, waiting, wait)
        yield conn


def _take_write_lock(conn: Connection, waiting: Callable[[str], None] | None, wait: float) -> None:
    said = False
    deadline = time.monotonic() + wait
    while True:
        if _try_write_lock(conn):
            return
        if time.monotonic() >= deadline:
            raise StoreError(
                f"the store is busy: another ingest or correction has been writing to it for "
                f"over {wait:.0f} s",
                "wait for it to finish (see 'linkage serve' jobs or the other terminal), "
                "then run this again; nothing was changed",
            )
        if waiting is not None and not said:
            waiting("another ingest or correction is writing to the store; waiting for it")
            said = True
        time.sleep(0.2)


def _try_write_lock(conn: Connection) -> bool:
    """Take the write lock now if it is free (never waits)."""
    if conn.dialect.name == "postgresql":
        taken: bool = conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK}
        ).scalar_one()
        return taken
    if conn.dialect.name != "sqlite":
        raise StoreError(f"the store's database ({conn.dialect.name}) is not SQLite or PostgreSQL")
    # no waiting inside SQLite for this one statement (the loop above waits, and says so);
    # the connection's own timeout is back for the rest, which a commit needs
    patience = conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
    conn.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except OperationalError as exc:
        if "locked" in str(exc.orig) or "busy" in str(exc.orig):
            return False
        raise
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(patience)}")
    return True


def upgrade_store(target: str) -> tuple[str, str]:
    """Migrate an existing store to this version's schema; returns (from, to) revisions."""
    _, engine, before = _open_existing(target)
    migrate(engine)
    return before, head_revision()
