"""An upload checked before anything of it is written: its file, its header against the store's
config and secret, its activity, consent and household sections, and its month against the
store's latest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, insert, select

from linkage.bynamelist.ingestion.records import id_digests
from linkage.bynamelist.store import Store, StoreError
from linkage.bynamelist.store.schema import (
    meta,
    uploads,
)
from linkage.formats.activity import ACTIVITY, AS_OF, check, unpack
from linkage.formats.config import Config, builtin_config_with
from linkage.formats.consent import CONSENT
from linkage.formats.consent import check as check_consent
from linkage.formats.container import ClkData, ClkReader, Header
from linkage.formats.household import HOUSEHOLD
from linkage.formats.household import check as check_household


def check_against_store(store: Store, paths: Sequence[Path], files: list[ClkData]) -> None:
    """What the store adds to the cross-checks every set of uploads gets: the store's config,
    no record id twice (a record is keyed by agency and id for good), and activity that can
    be right."""
    for path, data in zip(paths, files, strict=True):
        _check_header(store, path, data.header)
        if len(set(data.ids)) != len(data.ids):
            raise _twice(path)
        _check_activity(path, data.header, data.sections.get(ACTIVITY))
        _check_flags(path, data.sections)


def _check_header(store: Store, path: Path, header: Header) -> None:
    fingerprint = store.config.fingerprint
    if header.config_fingerprint != fingerprint:
        raise StoreError(
            f"{path} was encoded with config fingerprint {header.config_fingerprint[:12]}..., "
            f"the store links {store.config.name} ({fingerprint[:12]}...)",
            _encode_with(store.config),
        )


def _encode_with(config: Config) -> str:
    """What to tell an agency whose upload is not in the store's config."""
    builtin = builtin_config_with(config.fingerprint)
    if builtin is not None:
        return f"agencies must encode with the store's config: --config {builtin.name}"
    return f"agencies must encode with the config the store was made with ('{config.name}')"


def _twice(path: Path) -> StoreError:
    return StoreError(f"{path} holds a record id twice", "re-encode the agency's export")


def _check_activity(path: Path, header: Header, section: npt.NDArray[np.uint8] | None) -> None:
    if section is None:
        return
    as_of = activity_as_of(header)
    problem = check(unpack(section), as_of)
    if problem is not None or as_of is None:
        raise StoreError(
            f"{path}: its activity section holds {problem or 'no valid activity date'}",
            "re-encode the agency's export with this version of linkage",
        )


#: The sections of bytes only this version's encoder writes, and what checks each.
_FLAG_SECTIONS: dict[str, Callable[[npt.NDArray[np.uint8]], str | None]] = {
    CONSENT: check_consent,
    HOUSEHOLD: check_household,
}


def _check_flags(path: Path, sections: Mapping[str, npt.NDArray[np.uint8]]) -> None:
    for name, check_section in _FLAG_SECTIONS.items():
        section = sections.get(name)
        problem = None if section is None else check_section(section)
        if problem is not None:
            raise StoreError(
                f"{path}: its {name} section holds {problem}",
                "re-encode the agency's export with this version of linkage",
            )


@dataclass(frozen=True)
class CheckedUpload:
    """What checking an upload found: its header, how many records it holds, its digest."""

    header: Header
    records: int
    digest: str


def check_upload(store: Store, path: Path, month: str) -> CheckedUpload:
    """An upload for ``month`` read and checked as an ingest would check it, without
    ingesting it: the container (checksum, version, every section against its header), the
    store's config and secret, unique record ids, the activity section and its month, and
    that it was not ingested for another month. For a service that must refuse a bad upload
    the moment it arrives, not when the month's ingest meets it.

    The file is read block by block and nothing of it is kept but 8 bytes a record (a
    digest of each record id, for the uniqueness check), so a large upload is checked in
    little memory."""
    reader = ClkReader(path)
    header = reader.header
    _check_header(store, path, header)
    refuse_month_past_activity([header], month)
    digests: list[npt.NDArray[np.uint64]] = []
    for block in reader:
        _check_activity(path, header, block.sections.get(ACTIVITY))
        _check_flags(path, block.sections)
        digests.append(id_digests(block.ids))
    digest = reader.digest
    ids = np.concatenate(digests) if digests else np.zeros(0, np.uint64)
    if len(np.unique(ids)) != len(ids):
        raise _twice(path)
    with store.engine.connect() as conn:
        key_check = _stored_key_check(conn)
        ingested_for: str | None = conn.execute(
            select(uploads.c.month).where(uploads.c.digest == digest)
        ).scalar()
    if key_check is not None and key_check != header.key_check_value:
        raise _secret_differs(f"{path} was")
    if ingested_for is not None and ingested_for != month:
        raise StoreError(
            f"{path} was already ingested for {ingested_for}", "send a fresh export for each month"
        )
    return CheckedUpload(header, len(ids), digest)


def _stored_key_check(conn: Connection) -> str | None:
    """The key check value of the secret the store's uploads were encoded with (None before
    the first upload)."""
    found: str | None = conn.execute(
        select(meta.c.value).where(meta.c.key == "key_check_value")
    ).scalar()
    return found


def _secret_differs(what: str) -> StoreError:
    return StoreError(
        f"{what} encoded with a different secret from the store's earlier uploads "
        "(key check values differ)",
        "every agency must encode with the community's one shared secret",
    )


def activity_as_of(header: Header) -> date | None:
    """The day an upload's activity runs to (None when it carries no activity, or a bad day)."""
    if header.section(ACTIVITY) is None:
        return None
    try:
        return date.fromisoformat(str(header.extra.get(AS_OF, "")))
    except ValueError:
        return None


def refuse_month_past_activity(headers: Sequence[Header], month: str) -> None:
    """A month later than the uploads' activity is a typo far more often than not, and the
    list cannot go back once it reaches a month (history is frozen): refused, unless the
    operator insists. Uploads without activity say nothing about their month."""
    days = [day for day in map(activity_as_of, headers) if day is not None]
    if days and month > max(days).strftime("%Y-%m"):
        raise StoreError(
            f"the uploads' activity runs to {max(days):%Y-%m}, but the month given is {month}",
            "give the month the exports are for; a list that reaches a month cannot go back "
            "before it",
        )


def check_secret(conn: Connection, key_check: str) -> None:
    """The first upload fixes the store's secret (by its key check value); later ones must
    match it. Read and set inside the ingest's transaction."""
    stored = _stored_key_check(conn)
    if stored is None:
        conn.execute(insert(meta).values(key="key_check_value", value=key_check))
    elif stored != key_check:
        raise _secret_differs("the uploads were")
