"""Monthly ingests run in the background, one at a time, and survive a restart.

A job is a row in ``jobs``: queued, running, done or failed. The worker thread takes queued
jobs in order. A job first claims the month's waiting uploads (marks them with its id, in one
transaction, so staff discarding one at that moment either gets it first or is told it was
taken), then ingests the file each agency sent last (a re-sent file counts as sent again) in the
ingest's one transaction. A job that fails gives its claim back. A service killed
mid-ingest left nothing of the month behind: on start it finds the job still "running",
queues it again and runs it from the start with the uploads it had claimed (an upload it had
already committed is recognised and skipped, so a second run applies nothing twice).

Progress lines are kept in memory while a job runs: on SQLite the ingest's transaction holds
the database, so a progress row could not be written until it ends.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update

from linkage.bynamelist import estimate_month, ingest
from linkage.bynamelist.interval import active_sentence
from linkage.bynamelist.store import Store
from linkage.bynamelist.store.schema import jobs, received
from linkage.errors import LinkageError
from linkage.service.spool import WAITING

log = logging.getLogger("linkage.service")

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


class JobError(Exception):
    """A job that cannot be queued: an HTTP status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Worker:
    """The service's one background worker."""

    def __init__(self, store: Store, spool: Path) -> None:
        self._store = store
        self._spool = spool
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._progress: dict[int, str] = {}
        self._thread = threading.Thread(target=self._run, name="linkage-jobs", daemon=True)

    def start(self) -> None:
        """Queue again the jobs a previous run left running, then start working."""
        with self._store.engine.begin() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.state == RUNNING)
                .values(state=QUEUED, progress="interrupted by a restart; queued again")
            )
        self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def submit(self, month: str, token_id: int) -> int:
        """Queue the ingest of ``month``'s waiting uploads; returns the job's id."""
        with self._store.engine.begin() as conn:
            busy = conn.execute(
                select(jobs.c.id).where(
                    (jobs.c.month == month) & jobs.c.state.in_([QUEUED, RUNNING])
                )
            ).scalar()
            if busy is not None:
                raise JobError(409, f"job {busy} already ingests {month}; wait for it")
            waiting = conn.execute(
                select(func.count())
                .select_from(received)
                .where((received.c.month == month) & WAITING)
            ).scalar_one()
            if not waiting:
                raise JobError(409, f"no uploads are waiting for {month}")
            job_id: int = conn.execute(
                insert(jobs)
                .values(
                    kind="ingest",
                    month=month,
                    state=QUEUED,
                    progress="queued",
                    token_id=token_id,
                    created_at=datetime.now(UTC),
                    attempts=0,
                )
                .returning(jobs.c.id)
            ).scalar_one()
        self._wake.set()
        return job_id

    def describe(self, row: Any) -> dict[str, Any]:
        """A job row as the API shows it, with live progress while it runs."""
        out = dict(row)
        if out["state"] == RUNNING and out["id"] in self._progress:
            out["progress"] = self._progress[out["id"]]
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            while not self._stop.is_set() and self._next():
                pass

    def _next(self) -> bool:
        with self._store.engine.begin() as conn:
            row = conn.execute(
                select(jobs.c.id, jobs.c.month)
                .where(jobs.c.state == QUEUED)
                .order_by(jobs.c.id)
                .limit(1)
            ).first()
            if row is None:
                return False
            conn.execute(
                update(jobs)
                .where(jobs.c.id == row.id)
                .values(state=RUNNING, started_at=datetime.now(UTC), attempts=jobs.c.attempts + 1)
            )
        self._execute(row.id, row.month)
        return True

    def _execute(self, job_id: int, month: str) -> None:
        self._progress[job_id] = "starting"
        state, error, last = DONE, None, ""
        try:
            paths = self._claim(job_id, month)
            if not paths:
                last = "nothing new: each agency's latest upload had been ingested already"
            else:
                report = ingest(
                    self._store,
                    paths,
                    month,
                    progress=lambda line: self._progress.__setitem__(job_id, line),
                )
                last = (
                    f"{len(paths)} upload(s) ingested: {report.records} records, "
                    f"{report.people} people, {report.review} pairs to review"
                )
                last += self._estimate(job_id, month)
        except LinkageError as err:
            state, error = FAILED, err.one_line().replace(str(self._spool), "spool")
        except Exception:  # a bug: the job fails, the service goes on, the log has the trace
            log.exception("job %d failed", job_id)
            state, error = FAILED, "internal error; the service's log has the details"
        with self._store.engine.begin() as conn:
            if state == FAILED:  # the uploads wait again, for a job after a correction
                conn.execute(
                    update(received).where(received.c.job_id == job_id).values(job_id=None)
                )
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    state=state,
                    error=error,
                    progress=last or self._progress.get(job_id, ""),
                    finished_at=datetime.now(UTC),
                )
            )
        self._progress.pop(job_id, None)

    def _estimate(self, job_id: int, month: str) -> str:
        """The month's active count estimate, once its ingest has committed: what the job's
        last line adds. A failure here is the service's bug, not the ingest's: the uploads
        stay ingested, the job done, the log has the trace."""
        try:
            guess = estimate_month(
                self._store, month, progress=lambda line: self._progress.__setitem__(job_id, line)
            )
        except LinkageError as err:
            return f"; no active count estimate ({err.one_line()})"
        except Exception:
            log.exception("job %d: the active count estimate failed", job_id)
            return "; no active count estimate (internal error; see the service's log)"
        return "" if guess is None else f"; {active_sentence(guess)}"

    def _claim(self, job_id: int, month: str) -> list[Path]:
        """Mark the month's waiting uploads as this job's (with those it claimed before a
        restart) and return the files to ingest: each agency's latest send, where that is one
        of them."""
        with self._store.engine.begin() as conn:
            conn.execute(
                update(received).where((received.c.month == month) & WAITING).values(job_id=job_id)
            )
            rows = conn.execute(
                select(received.c.agency, received.c.file, received.c.job_id)
                .where((received.c.month == month) & received.c.discarded_at.is_(None))
                .order_by(received.c.sent, received.c.id)
            ).all()
        # in the order they were sent, so a later send from an agency (a re-sent file too)
        # replaces an earlier one; an agency whose latest send an earlier job took has
        # nothing new
        latest = {r.agency: (r.file, r.job_id) for r in rows}
        return [
            self._spool / file for _, (file, taker) in sorted(latest.items()) if taker == job_id
        ]
