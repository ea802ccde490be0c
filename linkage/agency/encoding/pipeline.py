"""The agency-side job: an export file in, a ``.clk`` file out, with a local quality report.

I/O lives here and only here; the encoder itself is pure. With ``workers > 1`` chunks are
encoded in worker processes while this process parses the CSV and writes the container, in
input order.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from linkage import __version__
from linkage._atomic import atomic_write
from linkage.agency.consent import ConsentList, consent_bytes, consent_codes
from linkage.agency.csvfile import (
    BlockReader,
    Chunk,
    DuplicateIds,
    Layout,
    ReadStats,
    id_hashes,
    make_layout,
    parse_block,
)
from linkage.agency.encoding.blocking_keys import BlockingKeyMaker
from linkage.agency.encoding.encoder import EncodedChunk, Encoder
from linkage.agency.encoding.keys import household_key, key_check_value, record_id_key
from linkage.agency.hmis.client import detect_version, quality_codes
from linkage.agency.hmis.enrollments import ActivityTable
from linkage.agency.normalize import Status
from linkage.errors import InputError
from linkage.formats.activity import ACTIVITY, AS_OF, WIDTH
from linkage.formats.config import Config
from linkage.formats.consent import CONSENT
from linkage.formats.consent import WIDTH as CONSENT_WIDTH
from linkage.formats.container import (
    BLOCK_KEYS,
    CLKS,
    FIELD_CLKS,
    IDS,
    ClkWriter,
    Header,
    Section,
    encode_ids,
)
from linkage.formats.household import HOUSEHOLD
from linkage.formats.household import WIDTH as HOUSEHOLD_WIDTH


@dataclass
class EncodeSummary:
    """What happened, for the agency's eyes: counts only, never values."""

    output: Path
    records: int = 0
    rows: int = 0
    skipped: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    deleted: int = 0
    hmis_version: str | None = None
    quality: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0
    id_map: Path | None = None
    #: records marked as consenting to be named to partners (None: no consent was given)
    consented: int | None = None
    #: ids a consent list names that no record of the export has
    consent_unmatched: int = 0


@dataclass(frozen=True)
class _FieldPos:
    """Where each field's raw values and quality codes sit in a chunk's columns."""

    value_pos: tuple[int, ...]
    quality_pos: tuple[int | None, ...]
    consent_pos: int | None = None


def _open_source(
    config: Config, path: Path, on_error: str, encoding: str, consent_column: str | None = None
) -> tuple[BlockReader, Layout, _FieldPos]:
    """Open ``path`` and check its header against the columns ``config`` reads (and the
    consent column, when consent is read from one)."""
    required: list[str] = []
    optional: list[str] = []
    for f in config.fields:
        (optional if f.optional else required).append(f.column)
        if f.quality_column:
            required.append(f.quality_column)
    if consent_column is not None:
        required.append(consent_column)
    required = list(dict.fromkeys(required))
    optional = [c for c in dict.fromkeys(optional) if c not in required]
    reader = BlockReader(path, encoding)
    try:
        layout = make_layout(
            path,
            reader.header,
            id_column=config.id_column,
            columns=required,
            optional=optional,
            codes={
                **quality_codes(required),
                **({consent_column: consent_codes()} if consent_column else {}),
            },
            deleted_column=config.deleted_column,
            on_error=on_error,
            encoding=reader.block_encoding,
        )
    except BaseException:
        reader.close()
        raise
    names = required + optional
    positions = _FieldPos(
        value_pos=tuple(names.index(f.column) for f in config.fields),
        quality_pos=tuple(
            names.index(f.quality_column) if f.quality_column else None for f in config.fields
        ),
        consent_pos=names.index(consent_column) if consent_column else None,
    )
    return reader, layout, positions


def _split(chunk: Chunk, pos: _FieldPos) -> tuple[list[list[str]], list[list[str] | None]]:
    values = [chunk.columns[p] for p in pos.value_pos]
    quals = [None if p is None else chunk.columns[p] for p in pos.quality_pos]
    return values, quals


def iter_columns(
    config: Config, path: Path, block_bytes: int = 1 << 19
) -> Iterator[tuple[list[list[str]], list[list[str] | None]]]:
    """The raw field values and quality codes of ``path``, block by block (for benchmarks
    and tests that drive :class:`Encoder` directly)."""
    reader, layout, positions = _open_source(config, path, "fail", "utf-8-sig")
    with reader:
        for block, line in reader.blocks(block_bytes):
            chunk, _ = parse_block(block, line, layout)
            yield _split(chunk, positions)


@dataclass
class _Context:
    """What a process needs to turn a raw block into container-ready bytes."""

    encoder: Encoder
    blocking: BlockingKeyMaker | None
    layout: Layout
    positions: _FieldPos
    id_key: bytes  # empty unless record ids are pseudonymised


@dataclass
class _Done:
    """One block, ready to append: no plaintext, only what goes to the file and the checks."""

    n: int
    ids_payload: bytes
    id_hashes: npt.NDArray[np.int64]
    lines: npt.NDArray[np.int64]
    id_map: bytes
    encoded: EncodedChunk
    block_keys: npt.NDArray[np.uint8] | None
    consent: npt.NDArray[np.uint8] | None  # from the export's consent column, if it has one
    stats: ReadStats


_context: _Context | None = None


#: What a process is given to build its context: plain data that pickles to workers.
_ContextArgs = tuple[Config, bytes, _dt.date, Layout, _FieldPos, bytes]


def _init_worker(*args: *_ContextArgs) -> None:
    global _context
    _context = _make_context(args)


def _make_context(args: _ContextArgs) -> _Context:
    config, secret, today, layout, positions, id_key = args
    blocking = BlockingKeyMaker(config, secret) if config.blocking else None
    return _Context(Encoder(config, secret, today=today), blocking, layout, positions, id_key)


def _work(block: bytes, line: int, ctx: _Context | None = None) -> _Done:
    """Parse, validate, encode and serialise one block (in a worker process, or here)."""
    ctx = ctx or _context
    assert ctx is not None
    chunk, stats = parse_block(block, line, ctx.layout)
    columns, qualities = _split(chunk, ctx.positions)
    encoded = ctx.encoder.encode(columns, qualities)
    block_keys = ctx.blocking.keys(encoded.texts) if ctx.blocking else None
    ids = chunk.ids
    id_map = b""
    if ctx.id_key:
        ids = [pseudonym(ctx.id_key, i) for i in chunk.ids]
        pairs = zip(ids, chunk.ids, strict=True)
        id_map = "".join(f"{p},{_csv_cell(r)}\n" for p, r in pairs).encode()
    return _Done(
        n=len(ids),
        ids_payload=encode_ids(ids),
        id_hashes=id_hashes(chunk.ids),
        lines=np.array(chunk.lines, np.int64),
        id_map=id_map,
        encoded=encoded,
        block_keys=block_keys,
        consent=(
            None
            if ctx.positions.consent_pos is None
            else consent_bytes(chunk.columns[ctx.positions.consent_pos])
        ),
        stats=stats,
    )


def pseudonym(key: bytes, record_id: str) -> str:
    """A keyed, stable pseudonym for a record id: 128 bits, base32 without padding."""
    digest = hmac.new(key, record_id.encode(), hashlib.sha256).digest()[:16]
    return base64.b32encode(digest).decode().rstrip("=").lower()


def make_header(
    config: Config,
    secret: bytes,
    agency: str,
    pseudonymous: bool,
    activity_as_of: _dt.date | None = None,
    consent: bool = False,
) -> Header:
    """The container header for this config, secret and agency (and the activity and consent
    sections when there is activity or consent to send)."""
    sections = [Section(IDS, 0), Section(CLKS, config.output_length // 8)]
    if config.field_length:
        sections.append(Section(FIELD_CLKS, len(config.fields) * config.output_field_length // 8))
    if config.blocking:
        # optional: a coordinator that cannot use keys still reads the filters
        sections.append(Section(BLOCK_KEYS, 8 * len(config.blocking), required=False))
    extra = {}
    if activity_as_of is not None:
        # optional: linking does not need it, only the by-name list does
        sections.append(Section(ACTIVITY, WIDTH, required=False))
        extra[AS_OF] = activity_as_of.isoformat()
        # optional, and only with activity: households come from the same export folder
        sections.append(Section(HOUSEHOLD, HOUSEHOLD_WIDTH, required=False))
    if consent:
        # optional: only the by-name list's sharing reads it
        sections.append(Section(CONSENT, CONSENT_WIDTH, required=False))
    return Header(
        config_fingerprint=config.fingerprint,
        config_name=config.name,
        key_check_value=key_check_value(secret),
        agency=agency,
        created=_dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        filter_length=config.output_length,
        field_length=config.output_field_length,
        fields=tuple(f.name for f in config.fields),
        sections=tuple(sections),
        id_kind="pseudonymous" if pseudonymous else "plain",
        producer=f"linkage {__version__}",
        extra=extra,
    )


def encode_file(
    config: Config,
    secret: bytes,
    input_path: Path,
    output: Path,
    agency: str,
    *,
    on_error: str = "fail",
    workers: int = 1,
    id_map: Path | None = None,
    input_encoding: str = "utf-8-sig",
    progress: Callable[[int, int], None] | None = None,
    today: _dt.date | None = None,
    activity: ActivityTable | None = None,
    consent_column: str | None = None,
    consent_list: ConsentList | None = None,
) -> EncodeSummary:
    """Encode ``input_path`` into ``output``; with ``id_map`` record ids are pseudonymised and
    the pseudonym -> record id table is written there (it must stay at the agency); with
    ``activity`` each record's attributes and household go into the container's activity and
    household sections; with a ``consent_column`` or a ``consent_list``, each record's consent
    into its consent section."""
    if not agency.strip() or len(agency) > 100:
        raise InputError("--agency must be a non-empty name of at most 100 characters")
    if consent_column is not None and consent_list is not None:
        raise InputError("consent comes from a column or from a list of ids, not both")
    started = time.perf_counter()
    today = today or _dt.date.today()
    report = EncodeSummary(output=output, id_map=id_map)
    as_of = activity.as_of if activity is not None else None
    with_consent = consent_column is not None or consent_list is not None
    header = make_header(config, secret, agency, id_map is not None, as_of, with_consent)
    report.consented = 0 if with_consent else None
    listed_seen = np.zeros(0 if consent_list is None else len(consent_list.keys), np.bool_)
    id_key = record_id_key(secret, agency) if id_map is not None else b""
    households = None if activity is None else activity.households(household_key(secret, agency))
    totals = {f.name: np.zeros(len(Status), np.int64) for f in config.fields}

    stats = ReadStats()
    with ExitStack() as stack:
        reader, layout, positions = _open_source(
            config, input_path, on_error, input_encoding, consent_column
        )
        stack.enter_context(reader)
        report.hmis_version = detect_version(reader.header)
        duplicates = DuplicateIds(input_path, config.id_column)
        writer = stack.enter_context(ClkWriter(output, header))
        map_fh = None
        if id_map is not None:
            map_fh = stack.enter_context(atomic_write(id_map, mode=0o600))
            map_fh.write(b"pseudonym,record_id\n")
        ctx = (config, secret, today, layout, positions, id_key)
        for done in _encoded_blocks(ctx, reader, workers):
            stats.add(done.stats)
            duplicates.add(done.id_hashes, done.lines)
            if map_fh is not None:
                map_fh.write(done.id_map)
            sections: dict[str, npt.NDArray[np.uint8]] = {CLKS: done.encoded.clks}
            if done.encoded.field_clks is not None:
                sections[FIELD_CLKS] = done.encoded.field_clks
            if done.block_keys is not None:
                sections[BLOCK_KEYS] = done.block_keys
            if activity is not None and households is not None:
                sections[ACTIVITY] = activity.lookup(done.id_hashes)
                sections[HOUSEHOLD] = households.lookup(done.id_hashes)
            consent = done.consent
            if consent_list is not None:
                consent = consent_list.lookup(done.id_hashes)
                listed_seen |= np.isin(consent_list.keys, done.id_hashes)
            if consent is not None:
                sections[CONSENT] = consent.reshape(-1, CONSENT_WIDTH)
                report.consented = (report.consented or 0) + int(consent.sum())
            writer.write_encoded(done.n, done.ids_payload, sections)
            for name, counts in done.encoded.status_counts.items():
                totals[name] += counts
            report.records += done.n
            if progress is not None:
                progress(reader.bytes_read, reader.size)
        if not report.records:  # an empty upload is never what was meant: no file at all
            raise _nothing_to_encode(input_path, stats)
        duplicates.check()

    report.consent_unmatched = int(np.count_nonzero(~listed_seen))
    report.rows, report.skipped, report.deleted = stats.rows, stats.skipped, stats.deleted
    report.skipped_reasons = dict(stats.skipped_reasons)
    report.quality = {
        name: {s.name.lower(): int(c[s]) for s in Status} for name, c in totals.items()
    }
    report.seconds = time.perf_counter() - started
    return report


def _nothing_to_encode(input_path: Path, stats: ReadStats) -> InputError:
    if not stats.rows:
        return InputError(
            f"{input_path} holds no rows after its header: nothing to encode",
            "export the clients again; nothing was written",
        )
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(stats.skipped_reasons.items()))
    left = ", ".join(
        part
        for part in (
            f"{stats.skipped} malformed ({reasons})" if stats.skipped else "",
            f"{stats.deleted} marked deleted" if stats.deleted else "",
        )
        if part
    )
    return InputError(
        f"{input_path}: every one of its {stats.rows} rows was left out ({left})",
        "fix the export; nothing was written",
    )


def _csv_cell(text: str) -> str:
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _encoded_blocks(
    ctx: _ContextArgs,
    reader: BlockReader,
    workers: int,
) -> Iterator[_Done]:
    """Finished blocks in input order, from this process or from ``workers`` processes that
    each parse, encode and serialise whole blocks (this one only reads and writes)."""
    if workers <= 1:
        local = _make_context(ctx)
        for block, line in reader.blocks():
            yield _work(block, line, local)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=ctx) as pool:
        pending: deque[Future[_Done]] = deque()
        for block, line in reader.blocks():
            pending.append(pool.submit(_work, block, line))
            if len(pending) >= 3 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
