"""The request audit: who called what, when, and how it was answered; never a payload.

Entries are queued and written by a thread of their own in small batches, retried while the
database is busy: on SQLite a month's ingest holds the database for its whole transaction, and
a request must neither wait for it nor lose its entry.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import OperationalError

from linkage.bynamelist.store import Store
from linkage.bynamelist.store.schema import audit

log = logging.getLogger("linkage.service")


class AuditLog:
    """Queue entries with :meth:`record`; :meth:`close` writes what is left."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="linkage-audit", daemon=True)
        self._thread.start()

    def record(
        self, token_id: int | None, method: str, route: str, status: int, source: str | None
    ) -> None:
        """One request: the token it presented (live or revoked), what it asked, how it was
        answered, and from where."""
        self._queue.put(
            {
                "at": datetime.now(UTC),
                "token_id": token_id,
                "method": method[:8],
                "route": route[:200],
                "status": status,
                "source": source[:64] if source else None,
            }
        )

    def close(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        done = False
        while not done:
            batch = [self._queue.get()]
            while not self._queue.empty() and len(batch) < 500:
                batch.append(self._queue.get_nowait())
            done = None in batch
            entries = [e for e in batch if e is not None]
            if entries:
                self._write(entries)

    def _write(self, entries: list[dict[str, Any]]) -> None:
        for wait in (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120):
            try:
                with self._store.engine.begin() as conn:
                    conn.execute(insert(audit), entries)
                return
            except OperationalError:  # the database is busy (an ingest holds SQLite)
                time.sleep(wait)
        log.error("could not write %d audit entries: the database stayed busy", len(entries))
