"""Streaming, validating CSV reader, split so that parsing can run in worker processes.

The file is cut into *blocks* of whole records by :class:`BlockReader`, using quote parity: in
RFC 4180 CSV a newline ends a record exactly when an even number of ``"`` precede it in the
record, so a block boundary never falls inside a quoted field. Each block is parsed and validated
by :func:`parse_block`, a pure function that any process can run. Memory stays constant on any
file size, and on two cores parsing and encoding both run in parallel.

Every problem is reported with file, line and column name, never with the cell's value (a cell
may hold a name). A malformed row stops the run unless ``on_error="skip"``, in which case it is
counted and reported in the summary; nothing is ever skipped silently.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from linkage.errors import InputError

_SKIP_HINT = "fix the row, or pass --on-error skip to skip and count such rows"
_BLOCK_BYTES = 1 << 19


@dataclass
class Chunk:
    """A run of accepted rows: record ids, physical line numbers and the requested columns."""

    ids: list[str]
    lines: list[int]
    columns: list[list[str]]


@dataclass
class ReadStats:
    """What the reader saw; shown to the agency after encoding."""

    rows: int = 0
    skipped: int = 0
    deleted: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: ReadStats) -> None:
        self.rows += other.rows
        self.skipped += other.skipped
        self.deleted += other.deleted
        for reason, n in other.skipped_reasons.items():
            self.skipped_reasons[reason] = self.skipped_reasons.get(reason, 0) + n


@dataclass(frozen=True)
class Layout:
    """Which columns to read from rows of a given header, and how to check them.

    Built once from the header; small and picklable so worker processes can parse blocks.
    """

    path: str
    width: int
    id_column: str
    id_pos: int
    picks: tuple[int, ...]
    present: tuple[bool, ...]
    deleted_pos: int
    codes: tuple[tuple[int, str, frozenset[str], str], ...]
    on_error: str
    encoding: str


def make_layout(
    path: Path,
    header: Sequence[str],
    id_column: str,
    columns: Sequence[str],
    optional: Sequence[str] = (),
    codes: dict[str, frozenset[str]] | None = None,
    deleted_column: str = "",
    on_error: str = "fail",
    encoding: str = "utf-8-sig",
) -> Layout:
    """Check a header against the columns a config needs; name every missing one."""
    if len(header) > MAX_COLUMNS:
        raise InputError(
            f"{path}:1: the header has {len(header):,} columns; a client export has a few "
            f"dozen (at most {MAX_COLUMNS:,} are read)",
            "check that this is the client export",
        )
    names = [h.strip() for h in header]
    dupes = sorted(h for h, n in Counter(names).items() if n > 1)
    if dupes:
        raise InputError(f"{path}:1: column '{dupes[0]}' appears twice in the header")
    absent = [c for c in dict.fromkeys([id_column, *columns]) if c not in names]
    if absent:
        raise InputError(
            f"{path}: missing required column(s): {', '.join(absent)}",
            "check the export, or map the columns in the config's [[fields]] 'column' keys",
        )
    position = {h: i for i, h in enumerate(names)}
    wanted = (*columns, *optional)
    return Layout(
        path=str(path),
        width=len(names),
        id_column=id_column,
        id_pos=position[id_column],
        picks=tuple(position[c] for c in wanted if c in position),
        present=tuple(c in position for c in wanted),
        deleted_pos=position.get(deleted_column, -1) if deleted_column else -1,
        codes=tuple(
            (position[c], c, allowed, _listed(allowed))
            for c, allowed in (codes or {}).items()
            if c in position
        ),
        on_error=on_error,
        encoding=encoding,
    )


def _listed(allowed: frozenset[str]) -> str:
    """A column's allowed codes as an error message lists them: numbers in order, then words
    (in lower case, once each)."""
    numbers = sorted((a for a in allowed if a.isdigit()), key=int)
    words = sorted({a.lower() for a in allowed if a and not a.isdigit()})
    return ", ".join([*numbers, *words])


def _line_breaks(data: bytes) -> int:
    """Line breaks as csv.reader counts them: \\n, \\r\\n and a lone \\r each end a line."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def _not_text(path: str, encoding: str, line: int) -> InputError:
    name = encoding.lower().replace("_", "-").removesuffix("-sig").upper()
    return InputError(
        f"{path}: not {name} text near line {line}",
        "re-export as UTF-8, or pass --input-encoding (for example cp1252)",
    )


class _Rejects:
    """Collects rejected rows: the first one raises unless skipping."""

    def __init__(self, layout: Layout, stats: ReadStats) -> None:
        self.layout = layout
        self.stats = stats

    def __call__(self, line: int, message: str, reason: str) -> None:
        if self.layout.on_error != "skip":
            raise InputError(f"{self.layout.path}:{line}: {message}", _SKIP_HINT)
        self.stats.skipped += 1
        self.stats.skipped_reasons[reason] = self.stats.skipped_reasons.get(reason, 0) + 1


def parse_block(data: bytes, first_line: int, layout: Layout) -> tuple[Chunk, ReadStats]:
    """Parse and validate one block of whole records starting at physical line ``first_line``."""
    stats = ReadStats()
    reject = _Rejects(layout, stats)
    try:
        text = data.decode(layout.encoding)
    except UnicodeDecodeError as exc:
        line = first_line + _line_breaks(data[: exc.start])
        raise _not_text(layout.path, layout.encoding, line) from None
    rows, lines = _rows_fast(text, first_line, _line_breaks(data))
    if rows is None:
        rows, lines = _rows_tracked(text, first_line, reject)
    width = layout.width
    if all(len(row) == width for row in rows):
        stats.rows += len(rows)
    else:
        rows, lines = _check_widths(rows, lines, width, stats, reject)
    rows, lines = _drop_deleted(rows, lines, layout, stats)
    rows, lines = _check_cells(rows, lines, layout, reject)
    ids = [r.strip() for r in map(itemgetter(layout.id_pos), rows)]
    n = len(ids)
    picked = [list(map(itemgetter(pos), rows)) for pos in layout.picks]
    columns: list[list[str]] = []
    it = iter(picked)
    for present in layout.present:
        columns.append(next(it) if present else [""] * n)
    return Chunk(ids=ids, lines=lines, columns=columns), stats


def _rows_fast(
    text: str, first_line: int, line_breaks: int
) -> tuple[list[list[str]] | None, list[int]]:
    """All rows at C speed, when every record is one line and the CSV is well formed (line
    numbers then follow from positions); (None, []) sends the block to the careful path."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return None, []
    if len(rows) != line_breaks:
        return None, []
    return rows, list(range(first_line, first_line + len(rows)))


def _rows_tracked(
    text: str, first_line: int, reject: _Rejects
) -> tuple[list[list[str]], list[int]]:
    """Rows one at a time with their physical line numbers; malformed ones are rejected."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    offset = first_line - 1
    rows: list[list[str]] = []
    lines: list[int] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            reject(offset + reader.line_num, f"malformed CSV ({exc})", "malformed CSV")
            continue
        rows.append(row)
        lines.append(offset + reader.line_num)
    return rows, lines


def _check_widths(
    rows: list[list[str]], lines: list[int], width: int, stats: ReadStats, reject: _Rejects
) -> tuple[list[list[str]], list[int]]:
    """Drop blank lines; reject rows whose field count differs from the header's."""
    keep: list[int] = []
    for i, row in enumerate(rows):
        if len(row) != width:
            if len(row) == 0 or row == [""]:
                continue  # blank line
            stats.rows += 1
            message = f"row has {len(row)} fields, the header has {width}"
            reject(lines[i], message, "wrong field count")
            continue
        stats.rows += 1
        keep.append(i)
    return [rows[i] for i in keep], [lines[i] for i in keep]


def _drop_deleted(
    rows: list[list[str]], lines: list[int], layout: Layout, stats: ReadStats
) -> tuple[list[list[str]], list[int]]:
    """HMIS marks deleted records with a DateDeleted; they are counted and left out."""
    if layout.deleted_pos < 0:
        return rows, lines
    pos = layout.deleted_pos
    live = [i for i, r in enumerate(rows) if not r[pos].strip()]
    stats.deleted += len(rows) - len(live)
    if len(live) == len(rows):
        return rows, lines
    return [rows[i] for i in live], [lines[i] for i in live]


def _check_cells(
    rows: list[list[str]], lines: list[int], layout: Layout, reject: _Rejects
) -> tuple[list[list[str]], list[int]]:
    """Record ids must be present; data-quality columns must hold known codes. Checked column
    by column with set operations, so clean files cost almost nothing."""
    bad: dict[int, tuple[str, str]] = {}
    ids = [r[layout.id_pos] for r in rows]
    if "" in ids or any(not i.strip() for i in set(ids)):
        for i, rid in enumerate(ids):
            if not rid.strip():
                bad.setdefault(i, (f"column {layout.id_column} is empty", "empty record id"))
    for pos, name, allowed, allowed_text in layout.codes:
        column = [r[pos] for r in rows]
        if set(column) <= allowed:
            continue
        for i, cell in enumerate(column):
            code = cell.strip()
            if code not in allowed:
                # a short number is a code and safe to show; anything else might be a name
                shown = f"'{code}'" if len(code) <= 4 and code.isdigit() else "a non-code value"
                message = f"column {name} holds {shown}, expected one of {allowed_text}"
                bad.setdefault(i, (message, "invalid code"))
    if not bad:
        return rows, lines
    for i in sorted(bad):
        reject(lines[i], *bad[i])
    return [r for i, r in enumerate(rows) if i not in bad], [
        ln for i, ln in enumerate(lines) if i not in bad
    ]


#: Columns a header may have, and bytes its row may take (a client export has a few dozen
#: columns and a few hundred bytes of header).
MAX_COLUMNS = 2048
MAX_HEADER_BYTES = 1 << 20


class BlockReader:
    """Reads a CSV file as its header plus blocks of whole records (raw bytes)."""

    def __init__(self, path: Path, encoding: str = "utf-8-sig") -> None:
        self.path = Path(path)
        self.encoding = encoding
        #: how blocks after the header decode (a byte-order mark can only open the file)
        self.block_encoding = (
            "utf-8" if encoding.lower() in ("utf-8-sig", "utf_8_sig") else encoding
        )
        try:
            self._fh: BinaryIO = open(self.path, "rb")  # noqa: SIM115 (closed by close())
        except FileNotFoundError:
            raise InputError(f"{self.path}: file not found") from None
        except IsADirectoryError:
            raise InputError(f"{self.path}: is a folder, not a CSV file") from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot be read ({exc.__class__.__name__})") from None
        self.size = self.path.stat().st_size
        self.header = self._read_header()
        self._line = 2

    def _read_header(self) -> list[str]:
        raw = self._fh.readline(MAX_HEADER_BYTES + 1)
        while raw.count(b'"') % 2 and raw.endswith(b"\n") and len(raw) <= MAX_HEADER_BYTES:
            more = self._fh.readline(MAX_HEADER_BYTES + 1)
            if not more:
                break
            raw += more
        if not raw.strip():
            raise InputError(f"{self.path}: file is empty (no header row)")
        if b"\r" in raw.rstrip(b"\r\n"):
            raise InputError(
                f"{self.path}: lines end in a carriage return alone (an old Mac text file)",
                "save the export with Windows or Unix line endings",
            )
        if len(raw) > MAX_HEADER_BYTES:
            raise InputError(
                f"{self.path}:1: the header row is longer than {MAX_HEADER_BYTES >> 10} KiB",
                "check that this is a CSV file",
            )
        try:
            text = raw.decode(self.encoding)
        except UnicodeDecodeError:
            raise _not_text(str(self.path), self.encoding, 1) from None
        try:
            return next(csv.reader([text.rstrip("\r\n")], strict=True))
        except csv.Error as exc:
            raise InputError(f"{self.path}:1: malformed CSV header ({exc})") from None

    @property
    def bytes_read(self) -> int:
        """Bytes consumed so far (for progress bars)."""
        return self._fh.tell()

    def blocks(self, size: int = _BLOCK_BYTES) -> Iterator[tuple[bytes, int]]:
        """Yield (block, first physical line number); a block ends on a record boundary."""
        carry = b""
        while True:
            data = self._fh.read(size)
            buf = carry + data
            if not data:
                if buf:
                    yield buf, self._line
                return
            end = buf.rfind(b"\n")
            # back off to a newline outside quotes (even number of quotes before it)
            while end >= 0 and buf.count(b'"', 0, end) % 2:
                end = buf.rfind(b"\n", 0, end)
            if end < 0:
                carry = buf
                continue
            block, carry = buf[: end + 1], buf[end + 1 :]
            yield block, self._line
            self._line += _line_breaks(block)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> BlockReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def id_hashes(ids: list[str]) -> npt.NDArray[np.int64]:
    """64-bit keys of record ids, the same in every process (unlike ``hash``): the id's own
    bytes when it fits in 7 (exact, and the common case: HMIS PersonalIDs are short numbers),
    else its BLAKE2b digest with the top bit set, so the two kinds never meet."""
    raw = [i.encode() for i in ids]
    short = np.array(raw, dtype="S8") if raw and max(map(len, raw)) <= 7 else None
    if short is not None:
        return short.view("<i8").astype(np.int64)
    digest = b"".join(
        hashlib.blake2b(r, digest_size=8).digest() if len(r) > 7 else r.ljust(8, b"\0") for r in raw
    )
    keys = np.frombuffer(digest, dtype="<u8").copy()
    long = np.fromiter((len(r) > 7 for r in raw), np.bool_, len(raw))
    keys[long] |= np.uint64(1 << 63)
    return keys.view(np.int64)


class DuplicateIds:
    """Record ids must be unique: the coordinator's answers are keyed by them. Checked with
    8-byte hashes (16 bytes a record with line numbers) to keep memory small."""

    def __init__(self, path: Path, id_column: str) -> None:
        self.path = path
        self.id_column = id_column
        self._hashes: list[npt.NDArray[np.int64]] = []
        self._lines: list[npt.NDArray[np.int64]] = []

    def add(self, hashes: npt.NDArray[np.int64], lines: npt.NDArray[np.int64]) -> None:
        """Remember a block's id hashes (from :func:`id_hashes`) and line numbers."""
        self._hashes.append(hashes)
        self._lines.append(lines)

    def check(self) -> None:
        if not self._hashes:
            return
        hashes = np.concatenate(self._hashes)
        lines = np.concatenate(self._lines)
        order = np.argsort(hashes, kind="stable")
        same = np.flatnonzero(hashes[order][1:] == hashes[order][:-1])
        if same.size:
            first, second = sorted((int(lines[order[same[0]]]), int(lines[order[same[0] + 1]])))
            raise InputError(
                f"{self.path}:{second}: {self.id_column} repeats the id on line {first}",
                "record ids must be unique within an upload; merge or renumber the rows",
            )
