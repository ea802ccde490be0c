"""Streaming, validating CSV reader.

Reads only the columns a config needs, in chunks, so a 10M-row export runs in constant memory.
Every problem is reported with file and line and column name, never with the cell's value
(a cell may hold a name). A malformed row stops the run unless ``on_error="skip"``, in which case
it is counted and reported in the summary; nothing is ever skipped silently.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from linkage.errors import InputError

_SKIP_HINT = "fix the row, or pass --on-error skip to skip and count such rows"


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
    accepted: int = 0
    skipped: int = 0
    deleted: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)


class CsvSource:
    """A CSV export opened for reading.

    ``columns`` must all be present (``optional`` ones may be absent and then read as empty);
    ``codes`` maps a column to the values it may hold (data-quality codes).
    """

    def __init__(
        self,
        path: Path,
        id_column: str,
        columns: Sequence[str],
        optional: Sequence[str] = (),
        codes: dict[str, frozenset[str]] | None = None,
        deleted_column: str = "",
        on_error: str = "fail",
        encoding: str = "utf-8-sig",
    ) -> None:
        self.path = Path(path)
        self.on_error = on_error
        self.stats = ReadStats()
        try:
            self._raw: BinaryIO = open(self.path, "rb")  # noqa: SIM115 (closed by close())
        except FileNotFoundError:
            raise InputError(f"{self.path}: file not found") from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot be read ({exc.__class__.__name__})") from None
        self.size = self.path.stat().st_size
        self._text = io.TextIOWrapper(self._raw, encoding=encoding, newline="")
        self._reader = csv.reader(self._text, strict=True)
        header = self._next_row()
        if header is None:
            raise InputError(f"{self.path}: file is empty (no header row)")
        self.header = [h.strip() for h in header]
        dupes = sorted({h for h in self.header if self.header.count(h) > 1})
        if dupes:
            raise InputError(f"{self.path}:1: column '{dupes[0]}' appears twice in the header")
        wanted = [id_column, *columns]
        absent = [c for c in dict.fromkeys(wanted) if c not in self.header]
        if absent:
            raise InputError(
                f"{self.path}: missing required column(s): {', '.join(absent)}",
                "check the export, or map the columns in the config's [[fields]] 'column' keys",
            )
        position = {h: i for i, h in enumerate(self.header)}
        self._width = len(self.header)
        self._id_pos = position[id_column]
        self.id_column = id_column
        self.present = [c in position for c in (*columns, *optional)]
        self._names = [c for c in (*columns, *optional)]
        picks = [position[c] for c in (*columns, *optional) if c in position]
        self._pick = itemgetter(*picks) if picks else None
        self._n_picked = len(picks)
        self._deleted_pos = position.get(deleted_column, -1) if deleted_column else -1
        self._codes = [
            (position[c], c, allowed, ", ".join(sorted((a for a in allowed if a), key=int)))
            for c, allowed in (codes or {}).items()
            if c in position
        ]
        self._id_hashes: list[npt.NDArray[np.int64]] = []
        self._id_lines: list[npt.NDArray[np.int64]] = []

    @property
    def bytes_read(self) -> int:
        """Bytes consumed so far (for progress bars)."""
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def _next_row(self) -> list[str] | None:
        try:
            return next(self._reader)
        except StopIteration:
            return None
        except UnicodeDecodeError:
            raise InputError(
                f"{self.path}: not UTF-8 text near line {self._reader.line_num + 1}",
                "re-export as UTF-8, or pass --input-encoding (for example cp1252)",
            ) from None
        except csv.Error as exc:
            self._reject(self._reader.line_num, f"malformed CSV ({exc})", "malformed CSV")
            return self._next_row()

    def _reject(self, line: int, message: str, reason: str) -> None:
        if self.on_error != "skip":
            raise InputError(f"{self.path}:{line}: {message}", _SKIP_HINT)
        self.stats.skipped += 1
        self.stats.skipped_reasons[reason] = self.stats.skipped_reasons.get(reason, 0) + 1

    def chunks(self, size: int = 20000) -> Iterator[Chunk]:
        """Yield accepted rows, ``size`` at a time, columns in the order given to the reader."""
        ids: list[str] = []
        lines: list[int] = []
        rows: list[Sequence[str]] = []
        width, id_pos, del_pos = self._width, self._id_pos, self._deleted_pos
        pick = self._pick
        while True:
            row = self._next_row()
            if row is None:
                break
            line = self._reader.line_num
            self.stats.rows += 1
            if len(row) != width:
                if len(row) == 0 or row == [""]:
                    self.stats.rows -= 1
                    continue
                self._reject(
                    line, f"row has {len(row)} fields, the header has {width}", "wrong field count"
                )
                continue
            if del_pos >= 0 and row[del_pos].strip():
                self.stats.deleted += 1
                continue
            rid = row[id_pos].strip()
            if not rid:
                self._reject(line, f"column {self.id_column} is empty", "empty record id")
                continue
            bad = next((c for c in self._codes if row[c[0]].strip() not in c[2]), None)
            if bad is not None:
                cell = row[bad[0]].strip()
                # a short number is a code and safe to show; anything else might be a name
                shown = f"'{cell}'" if len(cell) <= 4 and cell.isdigit() else "a non-code value"
                self._reject(
                    line, f"column {bad[1]} holds {shown}, expected one of {bad[3]}", "invalid code"
                )
                continue
            ids.append(rid)
            lines.append(line)
            if pick is not None:
                picked = pick(row)
                rows.append((picked,) if self._n_picked == 1 else picked)
            if len(ids) >= size:
                yield self._make_chunk(ids, lines, rows)
                ids, lines, rows = [], [], []
        if ids:
            yield self._make_chunk(ids, lines, rows)
        self._check_duplicate_ids()

    def _make_chunk(self, ids: list[str], lines: list[int], rows: list[Sequence[str]]) -> Chunk:
        self.stats.accepted += len(ids)
        self._id_hashes.append(np.fromiter((hash(i) for i in ids), np.int64, len(ids)))
        self._id_lines.append(np.array(lines, np.int64))
        picked = [list(col) for col in zip(*rows, strict=True)] if rows else []
        columns: list[list[str]] = []
        it = iter(picked)
        for present in self.present:
            columns.append(next(it) if present else [""] * len(ids))
        return Chunk(ids=ids, lines=lines, columns=columns)

    def _check_duplicate_ids(self) -> None:
        """Record ids must be unique: the coordinator's answer is keyed by them. Checked with
        8-byte hashes (16 bytes a record with line numbers) to keep memory small."""
        if not self._id_hashes:
            return
        hashes = np.concatenate(self._id_hashes)
        lines = np.concatenate(self._id_lines)
        order = np.argsort(hashes, kind="stable")
        same = np.flatnonzero(hashes[order][1:] == hashes[order][:-1])
        if same.size:
            first, second = sorted((int(lines[order[same[0]]]), int(lines[order[same[0] + 1]])))
            raise InputError(
                f"{self.path}:{second}: {self.id_column} repeats the id on line {first}",
                "record ids must be unique within an upload; merge or renumber the rows",
            )

    def close(self) -> None:
        self._text.close()

    def __enter__(self) -> CsvSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
