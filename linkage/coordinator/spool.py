"""Receiving an upload: streamed to disk under a size limit, verified, then recorded.

The body goes to a part file in the spool's ``incoming`` folder as it arrives, so a large
upload never sits in memory and an oversized one is cut off at the limit. Only once the whole
file checks out (the container's checksum, the store's config and secret, the agency the
token speaks for) is it moved into the spool and recorded; anything else is deleted and
refused with one line. The same file sent twice (a client's retry) is recorded once.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from linkage.bynamelist import StoreError, check_upload
from linkage.bynamelist.monthly import check_month, refuse_before_latest
from linkage.bynamelist.schema import received
from linkage.bynamelist.store import Store
from linkage.errors import LinkageError


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
    incoming = spool / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    part = incoming / f"{uuid.uuid4().hex}.part"
    try:
        size = await _write(body, part, limit)
        # verifying reads the whole file: off the event loop, so other requests go on
        return await run_in_threadpool(_record, store, spool, part, agency, month, size)
    finally:
        part.unlink(missing_ok=True)


async def _write(body: AsyncIterator[bytes], part: Path, limit: int) -> int:
    size = 0
    with part.open("wb") as fh:
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
        data = check_upload(store, part)
    except LinkageError as err:
        # the messages name the part file: say "the upload", never a server path
        raise Refused(422, err.one_line().replace(str(part), "the upload")) from None
    if data.header.agency != agency:
        raise Refused(
            403,
            f"the upload was encoded for agency '{data.header.agency}', but this token uploads "
            f"for '{agency}' (encode with --agency {agency})",
        )

    def earlier() -> int | None:
        with store.engine.connect() as conn:
            found: int | None = conn.execute(
                select(received.c.id).where(
                    (received.c.agency == agency)
                    & (received.c.month == month)
                    & (received.c.digest == data.digest)
                )
            ).scalar()
            return found

    found = earlier()
    if found is not None:
        return Received(found, agency, month, len(data.ids), data.digest, size, fresh=False)
    with part.open("rb") as fh:
        os.fsync(fh.fileno())  # on disk before the row that points at it commits
    final = spool / f"{data.digest}.clk"
    try:
        with store.engine.begin() as conn:
            os.replace(part, final)  # the same bytes as any file already of that name
            upload_id: int = conn.execute(
                insert(received)
                .values(
                    agency=agency,
                    month=month,
                    digest=data.digest,
                    size=size,
                    file=final.name,
                    received_at=datetime.now(UTC),
                )
                .returning(received.c.id)
            ).scalar_one()
    except IntegrityError:
        # the same file sent twice at once (a client retrying): the other request recorded it
        found = earlier()
        if found is None:
            raise
        return Received(found, agency, month, len(data.ids), data.digest, size, fresh=False)
    return Received(upload_id, agency, month, len(data.ids), data.digest, size, fresh=True)
