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
from linkage.config import Config
from linkage.container import CLKS, FIELD_CLKS, IDS, Block, ClkWriter, Header, Section
from linkage.encoding.encoder import EncodedChunk, Encoder
from linkage.encoding.keys import key_check_value, record_id_key
from linkage.errors import InputError
from linkage.ingest.csvfile import Chunk, CsvSource
from linkage.ingest.hmis import detect_version, quality_codes, read_header
from linkage.normalize import Status

CHUNK_ROWS = 20000


@dataclass
class EncodeReport:
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


@dataclass(frozen=True)
class _Layout:
    """Where each field's raw values and quality codes sit in a chunk's columns."""

    value_pos: tuple[int, ...]
    quality_pos: tuple[int | None, ...]


def _open_source(
    config: Config, path: Path, on_error: str, encoding: str
) -> tuple[CsvSource, _Layout]:
    required: list[str] = []
    optional: list[str] = []
    for f in config.fields:
        (optional if f.optional else required).append(f.column)
        if f.quality_column:
            required.append(f.quality_column)
    required = list(dict.fromkeys(required))
    optional = [c for c in dict.fromkeys(optional) if c not in required]
    source = CsvSource(
        path,
        id_column=config.id_column,
        columns=required,
        optional=optional,
        codes=quality_codes(required),
        deleted_column=config.deleted_column,
        on_error=on_error,
        encoding=encoding,
    )
    names = required + optional
    layout = _Layout(
        value_pos=tuple(names.index(f.column) for f in config.fields),
        quality_pos=tuple(
            names.index(f.quality_column) if f.quality_column else None for f in config.fields
        ),
    )
    return source, layout


def _split(chunk: Chunk, layout: _Layout) -> tuple[list[list[str]], list[list[str] | None]]:
    values = [chunk.columns[p] for p in layout.value_pos]
    quals = [None if p is None else chunk.columns[p] for p in layout.quality_pos]
    return values, quals


_worker: Encoder | None = None


def _init_worker(config: Config, secret: bytes, today: _dt.date) -> None:
    global _worker
    _worker = Encoder(config, secret, today=today)


def _encode_in_worker(values: list[list[str]], quals: list[list[str] | None]) -> EncodedChunk:
    assert _worker is not None
    return _worker.encode(values, quals)


def pseudonym(key: bytes, record_id: str) -> str:
    """A keyed, stable pseudonym for a record id: 128 bits, base32 without padding."""
    digest = hmac.new(key, record_id.encode(), hashlib.sha256).digest()[:16]
    return base64.b32encode(digest).decode().rstrip("=").lower()


def make_header(config: Config, secret: bytes, agency: str, pseudonymous: bool) -> Header:
    """The container header for this config, secret and agency."""
    sections = [Section(IDS, 0), Section(CLKS, config.output_length // 8)]
    if config.field_length:
        sections.append(Section(FIELD_CLKS, len(config.fields) * config.output_field_length // 8))
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
) -> EncodeReport:
    """Encode ``input_path`` into ``output``; with ``id_map`` record ids are pseudonymised and
    the pseudonym -> record id table is written there (it must stay at the agency)."""
    if not agency.strip() or len(agency) > 100:
        raise InputError("--agency must be a non-empty name of at most 100 characters")
    started = time.perf_counter()
    today = today or _dt.date.today()
    report = EncodeReport(output=output, id_map=id_map)
    report.hmis_version = detect_version(read_header(input_path))
    header = make_header(config, secret, agency, id_map is not None)
    id_key = record_id_key(secret, agency) if id_map is not None else b""
    totals = {f.name: np.zeros(len(Status), np.int64) for f in config.fields}

    with ExitStack() as stack:
        source, layout = _open_source(config, input_path, on_error, input_encoding)
        stack.enter_context(source)
        writer = stack.enter_context(ClkWriter(output, header))
        map_fh = None
        if id_map is not None:
            from linkage._atomic import atomic_write

            map_fh = stack.enter_context(atomic_write(id_map, mode=0o600))
            map_fh.write(b"pseudonym,record_id\n")

        def emit(chunk: Chunk, encoded: EncodedChunk) -> None:
            ids = chunk.ids
            if map_fh is not None:
                ids = [pseudonym(id_key, i) for i in ids]
                pairs = zip(ids, chunk.ids, strict=True)
                map_fh.write("".join(f"{p},{_csv_cell(r)}\n" for p, r in pairs).encode())
            sections: dict[str, npt.NDArray[np.uint8]] = {CLKS: encoded.clks}
            if encoded.field_clks is not None:
                sections[FIELD_CLKS] = encoded.field_clks
            writer.write(Block(ids=ids, sections=sections))
            for name, counts in encoded.status_counts.items():
                totals[name] += counts
            report.records += len(ids)
            if progress is not None:
                progress(source.bytes_read, source.size)

        for chunk, encoded in _encoded_chunks(config, secret, today, source, layout, workers):
            emit(chunk, encoded)

    stats = source.stats
    report.rows, report.skipped, report.deleted = stats.rows, stats.skipped, stats.deleted
    report.skipped_reasons = dict(stats.skipped_reasons)
    report.quality = {
        name: {s.name.lower(): int(c[s]) for s in Status} for name, c in totals.items()
    }
    report.seconds = time.perf_counter() - started
    return report


def _csv_cell(text: str) -> str:
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _encoded_chunks(
    config: Config,
    secret: bytes,
    today: _dt.date,
    source: CsvSource,
    layout: _Layout,
    workers: int,
) -> Iterator[tuple[Chunk, EncodedChunk]]:
    """Encoded chunks in input order, in this process or in ``workers`` processes."""
    if workers <= 1:
        encoder = Encoder(config, secret, today=today)
        for chunk in source.chunks(CHUNK_ROWS):
            yield chunk, encoder.encode(*_split(chunk, layout))
        return
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(config, secret, today)
    ) as pool:
        pending: deque[tuple[Chunk, Future[EncodedChunk]]] = deque()
        for chunk in source.chunks(CHUNK_ROWS):
            pending.append((chunk, pool.submit(_encode_in_worker, *_split(chunk, layout))))
            if len(pending) >= 2 * workers:
                done_chunk, fut = pending.popleft()
                yield done_chunk, fut.result()
        while pending:
            done_chunk, fut = pending.popleft()
            yield done_chunk, fut.result()
