"""Receiving an upload: streamed to disk under a size limit, verified, then recorded.

The body goes to a part file in the spool's ``incoming`` folder as it arrives, so a large
upload never sits in memory and an oversized one is cut off at the limit. Only once the whole
file checks out (the container's checksum and format, the store's config and secret, the
month, the agency the token speaks for) is it moved into the spool and recorded; anything
else is deleted and refused with one line. The same file sent twice (a client's retry) is
recorded once, and every send is numbered so that a month's ingest takes each agency's last.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ScalarSelect, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from linkage.bynamelist import StoreError, check_upload
from linkage.bynamelist.monthly import check_month, refuse_before_latest
from linkage.bynamelist.store import Store
from linkage.bynamelist.store.schema import events, received
from linkage.errors import LinkageError

#: An upload waiting for its month's ingest: neither taken by an ingest job nor discarded.
WAITING = received.c.job_id.is_(None) & received.c.discarded_at.is_(None)


class Refused(Exception):
    """An upload the service will not take: an HTTP status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Received:
    """An upload in the spool, waiting for its month's ingest."""

    id: int
    agency: str
    month: str
    records: int
    digest: str
    size: int
    fresh: bool  # False: this very file had been received before


def prepare_spool(spool: Path) -> None:
    """The spool as the service needs it at start: its folders readable by the service's
    user alone, and no part file left by a service killed while receiving (no request is
    in flight before the service starts)."""
    incoming = spool / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    for folder in (spool, incoming):
        folder.chmod(0o700)
    for part in incoming.glob("*.part"):
        part.unlink(missing_ok=True)


async def receive(
    store: Store,
    spool: Path,
    agency: str,
    month: str,
    body: AsyncIterator[bytes],
    limit: int,
    declared: int | None = None,
) -> Received:
    """Take one upload for ``agency`` and ``month`` from the request ``body`` (``declared``:
    its announced length, refused before reading when over the limit)."""
    if declared is not None and declared > limit:
        raise _too_large(limit)
    try:
        check_month(month)
    except StoreError as err:
        raise Refused(422, err.one_line()) from None
    try:
        with store.engine.connect() as conn:
            refuse_before_latest(
                conn, month, "an upload", "send it for {latest}: corrections go into that month"
            )
    except StoreError as err:  # a fine month, but the list has moved past it
        raise Refused(409, err.one_line()) from None
    part = spool / "incoming" / f"{uuid.uuid4().hex}.part"
    try:
        size = await _write(body, part, limit)
        # verifying reads the file through, block by block: off the event loop, so other
        # requests go on
        return await run_in_threadpool(_record, store, spool, part, agency, month, size)
    finally:
        part.unlink(missing_ok=True)


async def _write(body: AsyncIterator[bytes], part: Path, limit: int) -> int:
    size = 0
    with os.fdopen(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
        async for chunk in body:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            fh.write(chunk)
    if size == 0:
        raise Refused(422, "the upload is empty: send the .clk file as the request body")
    return size


def _too_large(limit: int) -> Refused:
    return Refused(413, f"the upload is larger than the service's limit of {limit} bytes")


def _record(store: Store, spool: Path, part: Path, agency: str, month: str, size: int) -> Received:
    try:
        checked = check_upload(store, part, month)
    except LinkageError as err:
        # the messages name the part file: say "the upload", never a server path
        raise Refused(422, err.one_line().replace(str(part), "the upload")) from None
    if checked.header.agency != agency:
        raise Refused(
            403,
            f"the upload was encoded for agency '{checked.header.agency}', but this token "
            f"uploads for '{agency}' (encode with --agency {agency})",
        )

    def resent() -> int | None:
        """This very file received before for the month (a client's retry, or the agency
        sending it again after another): it becomes the agency's latest send once more, and
        waits for the month's next ingest (which skips it if an ingest applied it before,
        and otherwise takes it over anything the agency sent in between)."""
        with store.engine.begin() as conn:
            found: int | None = conn.execute(
                select(received.c.id).where(
                    (received.c.agency == agency)
                    & (received.c.month == month)
                    & (received.c.digest == checked.digest)
                    & received.c.discarded_at.is_(None)
                )
            ).scalar()
            if found is not None:
                conn.execute(
                    update(received)
                    .where(received.c.id == found)
                    .values(sent=_next_send(), job_id=None)
                )
            return found

    found = resent()
    if found is not None:
        return Received(found, agency, month, checked.records, checked.digest, size, fresh=False)
    with part.open("rb") as fh:
        os.fsync(fh.fileno())  # on disk before the row that points at it commits
    final = spool / f"{checked.digest}.clk"
    try:
        with store.engine.begin() as conn:
            os.replace(part, final)  # the same bytes as any file already of that name
            conn.execute(  # a discarded copy of this file makes way for the new send
                delete(received).where(
                    (received.c.agency == agency)
                    & (received.c.month == month)
                    & (received.c.digest == checked.digest)
                    & received.c.discarded_at.is_not(None)
                )
            )
            upload_id: int = conn.execute(
                insert(received)
                .values(
                    agency=agency,
                    month=month,
                    digest=checked.digest,
                    size=size,
                    file=final.name,
                    received_at=datetime.now(UTC),
                    sent=_next_send(),
                )
                .returning(received.c.id)
            ).scalar_one()
    except IntegrityError:
        # the same file sent twice at once (a client retrying): the other request recorded it
        found = resent()
        if found is None:
            raise
        return Received(found, agency, month, checked.records, checked.digest, size, fresh=False)
    return Received(upload_id, agency, month, checked.records, checked.digest, size, fresh=True)


def _next_send() -> ScalarSelect[Any]:
    """The number of the next send: one more than any so far (two sends at the very same
    moment may share one; the row id then orders them)."""
    return select(func.coalesce(func.max(received.c.sent), 0) + 1).scalar_subquery()


def discard(store: Store, upload_id: int, why: str = "") -> Received:
    """Set aside an upload no ingest has taken (a wrong file an agency sent): the month's
    ingest no longer sees it. The row and its file stay, marked, for the record (a file is
    named by its digest, and the agency may send the same bytes again at any moment). One
    conditional update, so an ingest job claiming the month's uploads at the same moment
    either takes it or not."""
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        done = conn.execute(
            update(received).where((received.c.id == upload_id) & WAITING).values(discarded_at=now)
        ).rowcount
        row = conn.execute(select(received).where(received.c.id == upload_id)).mappings().first()
        if done and row is not None:
            conn.execute(
                insert(events).values(
                    at=now,
                    kind="discard",
                    reason=f"upload {upload_id} ({row['agency']}, {row['month']}) discarded "
                    f"by staff{f': {why}' if why else ''}",
                )
            )
    if row is None:
        raise Refused(404, f"no upload {upload_id}")
    if not done:
        if row["discarded_at"] is not None:
            raise Refused(409, f"upload {upload_id} was discarded already")
        raise Refused(
            409,
            f"upload {upload_id} was taken by ingest job {row['job_id']}; what an ingest "
            "applied is undone with 'linkage bnl rollback', not by discarding",
        )
    return Received(
        upload_id, row["agency"], row["month"], 0, row["digest"], row["size"], fresh=False
    )


def listing(store: Store, agency: str | None = None) -> list[dict[str, Any]]:
    """The uploads received (one agency's, or all), oldest first, each with its ``state``:
    waiting for the month's ingest, taken by an ingest job, or discarded."""
    query = select(received).order_by(received.c.id)
    if agency is not None:
        query = query.where(received.c.agency == agency)
    with store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {
            **row,
            "state": "discarded"
            if row["discarded_at"]
            else "taken"
            if row["job_id"]
            else "waiting",
        }
        for row in rows
    ]
