"""The ``.clk`` container: the one file format both sides of the linkage share.

Layout (all integers little-endian)::

    preamble   8s magic b"LNKCLK\\r\\n" | u16 format version | u16 reserved | u32 header length
               | u64 record count
    header     UTF-8 JSON (see :class:`Header`)
    blocks     repeated: u32 record count n > 0, then for each section named in the header, in
               order: u64 byte length, payload
    end        u32 0
    trailer    8s magic b"LNKEND\\r\\n" | 32 bytes SHA-256(preamble | header | SHA-256(blocks+end))

Blocks let writers and readers stream: a 10M-record upload is never held in memory. Sections are
named and declared in the header with a ``required`` flag: a reader skips optional sections it
does not know (later versions add blocking keys, activity, consent and households) and refuses
required ones. The digest in the trailer covers every byte, so truncation and tampering are
detected; the ``\\r\\n`` in both magics catches files mangled by text-mode transfers.

This module must not import anything that reads plaintext or secrets: the coordinator uses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from linkage._atomic import atomic_write
from linkage.errors import ContainerError
from linkage.formats.activity import ACTIVITY
from linkage.formats.activity import WIDTH as ACTIVITY_WIDTH
from linkage.formats.consent import CONSENT
from linkage.formats.consent import WIDTH as CONSENT_WIDTH
from linkage.formats.household import HOUSEHOLD
from linkage.formats.household import WIDTH as HOUSEHOLD_WIDTH

MAGIC = b"LNKCLK\r\n"
END_MAGIC = b"LNKEND\r\n"
FORMAT_VERSION = 1
_PREAMBLE = struct.Struct("<8sHHIQ")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_MAX_HEADER = 1 << 20

#: Sections this version understands. ``ids`` is handled specially (variable-length strings).
IDS = "ids"
CLKS = "clks"
FIELD_CLKS = "field_clks"
#: Optional: 8 bytes per blocking key per record, keyed with the shared secret (0: no key).
BLOCK_KEYS = "block_keys"

#: The format's bounds, which every header is held to before any record is read (a config
#: is held to them too, so nothing the encoder writes falls outside): a filter of at most
#: 64 Kibit, at most 64 fields and 64 blocking keys, an agency name of at most 100
#: characters.
MAX_FILTER_BITS = 1 << 16
MAX_FIELDS = 64
MAX_BLOCKING_KEYS = 64
MAX_AGENCY = 100
#: Optional sections this version writes, by the width their records must have.
_KNOWN_WIDTHS = {ACTIVITY: ACTIVITY_WIDTH, CONSENT: CONSENT_WIDTH, HOUSEHOLD: HOUSEHOLD_WIDTH}


@dataclass(frozen=True)
class Section:
    """A named per-record section: ``width`` bytes per record (0: variable, only for ids)."""

    name: str
    width: int
    required: bool = True


@dataclass(frozen=True)
class Header:
    """What a reader needs before it looks at any record."""

    config_fingerprint: str
    config_name: str
    key_check_value: str
    agency: str
    created: str
    filter_length: int
    field_length: int
    fields: tuple[str, ...]
    sections: tuple[Section, ...]
    id_kind: str = "plain"
    producer: str = "linkage"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        data = asdict(self)
        data["format_version"] = FORMAT_VERSION
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> Header:
        """The header in ``raw``, once every field has the type and range this version
        writes and the sections fit the filters they hold (see :meth:`problem`)."""
        try:
            data = json.loads(raw.decode("utf-8"))
            data.pop("format_version", None)
            data["fields"] = tuple(data["fields"])
            data["sections"] = tuple(Section(**s) for s in data["sections"])
            header = cls(**data)
        except (ValueError, KeyError, TypeError):
            header = None
        problem = "it is not the header linkage writes" if header is None else header.problem()
        if header is None or problem is not None:
            raise ContainerError(
                f"{where}: header is damaged ({problem})", "ask the agency to re-encode"
            ) from None
        return header

    def problem(self) -> str | None:
        """Why this header cannot be one linkage wrote (None: it can). Checked before any
        record is read, so no crafted value reaches a size, a shape or a message."""
        texts = (
            self.config_fingerprint,
            self.config_name,
            self.key_check_value,
            self.agency,
            self.created,
            self.id_kind,
            self.producer,
        )
        if not all(isinstance(t, str) for t in texts) or not isinstance(self.extra, dict):
            return "a text field is not text"
        if not self.agency or len(self.agency) > MAX_AGENCY or not self.agency.isprintable():
            return f"the agency name is not 1 to {MAX_AGENCY} printable characters"
        if not all(isinstance(f, str) and f.isprintable() for f in self.fields):
            return "a field name is not printable text"
        if not 1 <= len(self.fields) <= MAX_FIELDS or len(set(self.fields)) != len(self.fields):
            return f"the fields are not 1 to {MAX_FIELDS} distinct names"
        for bits, least in ((self.filter_length, 8), (self.field_length, 0)):
            if not _whole(bits) or not least <= bits <= MAX_FILTER_BITS or bits % 8:
                return f"a filter length is not a whole number of bytes up to {MAX_FILTER_BITS}"
        return self._sections_problem()

    def _sections_problem(self) -> str | None:
        names = [s.name for s in self.sections]
        if not all(isinstance(n, str) and n.isprintable() for n in names):
            return "a section name is not printable text"
        if len(set(names)) != len(names):
            return "a section is named twice"
        if not all(_whole(s.width) and isinstance(s.required, bool) for s in self.sections):
            return "a section width is not a whole number"
        widths = {s.name: s.width for s in self.sections}
        expected = {IDS: 0, CLKS: self.filter_length // 8}
        if self.field_length:
            expected[FIELD_CLKS] = len(self.fields) * self.field_length // 8
        for name, width in expected.items():
            if widths.get(name) != width:
                return f"section '{name}' is missing or not {width} bytes a record"
        if FIELD_CLKS in widths and FIELD_CLKS not in expected:
            return "field filters without a field filter length"
        keys = widths.get(BLOCK_KEYS)
        if keys is not None and (keys % 8 or not 8 <= keys <= 8 * MAX_BLOCKING_KEYS):
            return f"section '{BLOCK_KEYS}' is not 8 bytes a key, for 1 to {MAX_BLOCKING_KEYS}"
        for name, width in _KNOWN_WIDTHS.items():
            if widths.get(name, width) != width:
                return f"section '{name}' is not {width} bytes a record"
        widest = MAX_FIELDS * MAX_FILTER_BITS // 8
        if any(not 1 <= widths[n] <= widest for n in names if n != IDS):
            return f"a section's width is outside 1 to {widest} bytes"
        return None

    def section(self, name: str) -> Section | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None


@dataclass
class Block:
    """A run of records: their ids and one 2-D uint8 array per fixed-width section."""

    ids: list[str]
    sections: dict[str, npt.NDArray[np.uint8]]


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def encode_ids(ids: list[str]) -> bytes:
    """The ``ids`` section payload: u16 lengths, then the UTF-8 ids back to back."""
    encoded = [i.encode("utf-8") for i in ids]
    for e in encoded:
        if not e or len(e) > 0xFFFF:
            raise ContainerError("a record id is empty or longer than 65535 bytes")
    lengths = np.array([len(e) for e in encoded], dtype="<u2").tobytes()
    return lengths + b"".join(encoded)


def _decode_ids(payload: bytes, n: int, where: str) -> list[str]:
    if len(payload) < 2 * n:
        raise ContainerError(f"{where}: record ids are damaged")
    lengths = np.frombuffer(payload[: 2 * n], dtype="<u2")
    ends = np.cumsum(lengths, dtype=np.int64) + 2 * n
    if n and ends[-1] != len(payload):
        raise ContainerError(f"{where}: record ids are damaged")
    starts = np.concatenate([[2 * n], ends[:-1]]) if n else ends
    try:
        bounds = zip(starts.tolist(), ends.tolist(), strict=True)
        return [payload[s:e].decode("utf-8") for s, e in bounds]
    except UnicodeDecodeError:
        raise ContainerError(f"{where}: record ids are damaged") from None


class ClkWriter:
    """Streams blocks into a new ``.clk`` file; the file appears only when :meth:`close` runs."""

    def __init__(self, path: Path, header: Header) -> None:
        self.path = Path(path)
        self.header = header
        self._fixed = [s for s in header.sections if s.name != IDS]
        self._count = 0
        self._body = hashlib.sha256()
        self._ctx = atomic_write(self.path)
        self._fh: BinaryIO = self._ctx.__enter__()
        self._header_bytes = header.to_json()
        self._fh.write(_PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, len(self._header_bytes), 0))
        self._fh.write(self._header_bytes)

    def _put(self, data: bytes) -> None:
        self._fh.write(data)
        self._body.update(data)

    def write(self, block: Block) -> None:
        """Append records; each fixed-width section must have one row per id."""
        self.write_encoded(len(block.ids), encode_ids(block.ids), block.sections)

    def write_encoded(
        self, n: int, ids_payload: bytes, sections: dict[str, npt.NDArray[np.uint8]]
    ) -> None:
        """Append ``n`` records whose ids are already serialised by :func:`encode_ids` (so
        worker processes can do it)."""
        if n == 0:
            return
        self._put(_U32.pack(n))
        self._put(_U64.pack(len(ids_payload)))
        self._put(ids_payload)
        for sec in self._fixed:
            arr = np.ascontiguousarray(sections[sec.name], dtype=np.uint8)
            if arr.shape != (n, sec.width):
                raise ValueError(f"section {sec.name}: expected {(n, sec.width)}, got {arr.shape}")
            self._put(_U64.pack(arr.nbytes))
            self._put(arr.tobytes())
        self._count += n

    def close(self) -> None:
        """Write the end marker and trailer, patch the record count, and publish the file."""
        self._put(_U32.pack(0))
        preamble = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, len(self._header_bytes), self._count)
        digest = hashlib.sha256(preamble + self._header_bytes + self._body.digest()).digest()
        self._fh.write(END_MAGIC + digest)
        self._fh.seek(0)
        self._fh.write(preamble)
        self._ctx.__exit__(None, None, None)

    def abort(self, exc: BaseException) -> None:
        """Discard everything written so far."""
        self._ctx.__exit__(type(exc), exc, exc.__traceback__)

    def __enter__(self) -> ClkWriter:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            self.close()
        else:
            self.abort(exc)


def _truncated(where: str) -> ContainerError:
    return ContainerError(f"{where}: file is truncated", "the upload was cut short; send it again")


def _read_exact(fh: BinaryIO, n: int, where: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise _truncated(where)
    return data


def _open_header(fh: BinaryIO, where: str) -> tuple[bytes, bytes, Header, int]:
    raw = fh.read(_PREAMBLE.size)
    if raw.startswith(MAGIC) and len(raw) < _PREAMBLE.size:
        raise _truncated(where)
    if len(raw) < _PREAMBLE.size or not raw.startswith(MAGIC):
        if raw.startswith(b"LNKCLK\n") or raw.startswith(b"LNKCLK\r\r\n"):
            raise ContainerError(
                f"{where}: file was altered by a text-mode transfer",
                "send .clk files as binary files, byte for byte",
            )
        raise ContainerError(f"{where}: not a .clk file", "expected the output of 'linkage encode'")
    _, version, _, header_len, count = _PREAMBLE.unpack(raw)
    if version != FORMAT_VERSION:
        raise ContainerError(
            f"{where}: .clk format version {version} is not supported",
            f"this linkage reads version {FORMAT_VERSION}; update linkage",
        )
    if header_len > _MAX_HEADER:
        raise ContainerError(f"{where}: header is damaged")
    header_bytes = _read_exact(fh, header_len, where)
    header = Header.from_json(header_bytes, where)
    for sec in header.sections:
        if sec.required and sec.name not in (IDS, CLKS, FIELD_CLKS):
            raise ContainerError(
                f"{where}: needs section '{sec.name}' that this linkage does not know",
                "update linkage",
            )
    return raw, header_bytes, header, count


def read_header(path: Path) -> tuple[Header, int]:
    """The header and record count, without reading or verifying the records (a count the
    file cannot hold is refused, so a caller may size buffers by it)."""
    where = str(path)
    with _open(path) as fh:
        _, _, header, count = _open_header(fh, where)
        _check_count(fh, header, count, where)
    return header, count


#: The end marker and the trailer.
_TAIL = _U32.size + len(END_MAGIC) + 32


def _check_count(fh: BinaryIO, header: Header, count: int, where: str) -> None:
    """Every record takes at least an id (2 bytes of length, 1 or more of text) and a row of
    each fixed-width section: a count the file cannot hold is refused before any buffer is
    sized by it."""
    least = 3 + sum(s.width for s in header.sections if s.name != IDS)
    if count * least > os.fstat(fh.fileno()).st_size - fh.tell() - _TAIL:
        raise _truncated(where)


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise ContainerError(f"{path}: file not found") from None
    except OSError as exc:
        raise ContainerError(f"{path}: cannot be read ({exc.__class__.__name__})") from None


def iter_blocks(path: Path) -> Generator[Header | Block, None, str]:
    """Yield the header, then each block; the checksum is verified after the last block, so a
    caller must treat what it received as provisional until the iterator is exhausted. Returns
    the verified file digest (hex; see :attr:`ClkData.digest`)."""
    where = str(path)
    with _open(path) as fh:
        preamble, header_bytes, header, count = _open_header(fh, where)
        size = os.fstat(fh.fileno()).st_size

        def left() -> int:
            return size - fh.tell() - _TAIL

        _check_count(fh, header, count, where)
        yield header
        body = hashlib.sha256()
        seen = 0
        while True:
            raw = _read_exact(fh, 4, where)
            body.update(raw)
            (n,) = _U32.unpack(raw)
            if n == 0:
                break
            if n > count - seen:
                raise ContainerError(f"{where}: a block holds more records than the file")
            sections: dict[str, npt.NDArray[np.uint8]] = {}
            ids: list[str] = []
            for sec in header.sections:
                raw_len = _read_exact(fh, 8, where)
                (length,) = _U64.unpack(raw_len)
                if sec.name != IDS and length != n * sec.width:
                    raise ContainerError(f"{where}: section '{sec.name}' is damaged")
                if length > left():
                    raise _truncated(where)
                payload = _read_exact(fh, length, where)
                body.update(raw_len)
                body.update(payload)
                if sec.name == IDS:
                    ids = _decode_ids(payload, n, where)
                else:
                    arr = np.frombuffer(payload, dtype=np.uint8).reshape(n, sec.width)
                    sections[sec.name] = arr
            seen += n
            yield Block(ids=ids, sections=sections)
        trailer = fh.read(len(END_MAGIC) + 32 + 1)
        if len(trailer) < len(END_MAGIC) + 32 or not trailer.startswith(END_MAGIC):
            raise _truncated(where)
        if len(trailer) > len(END_MAGIC) + 32:
            raise ContainerError(f"{where}: unexpected data after the end of the file")
        expected = hashlib.sha256(preamble + header_bytes + body.digest()).digest()
        if trailer[len(END_MAGIC) :] != expected or seen != count:
            raise ContainerError(
                f"{where}: checksum mismatch: the file was modified or corrupted",
                "ask the agency to re-encode and send it again",
            )
        return expected.hex()


@dataclass
class ClkData:
    """A whole, verified ``.clk`` file in memory."""

    header: Header
    ids: list[str]
    sections: dict[str, npt.NDArray[np.uint8]]
    #: The trailer's SHA-256 over every byte before it, verified: equal digests, equal files.
    digest: str

    @property
    def clks(self) -> npt.NDArray[np.uint8]:
        return self.sections[CLKS]


class ClkReader:
    """A ``.clk`` file read block by block: ``header`` at once (checked), the blocks by
    iterating, and ``digest`` once the last block is read and the checksum verified. What the
    blocks held is provisional until then (see :func:`iter_blocks`)."""

    def __init__(self, path: Path) -> None:
        self._blocks = iter_blocks(path)
        header = next(self._blocks)
        assert isinstance(header, Header)
        self.header = header
        self.digest = ""

    def __iter__(self) -> Iterator[Block]:
        while True:
            try:
                block = next(self._blocks)
            except StopIteration as end:
                self.digest = end.value
                return
            assert isinstance(block, Block)
            yield block


def read_clk(path: Path) -> ClkData:
    """Read and verify a whole ``.clk`` file."""
    reader = ClkReader(path)
    ids: list[str] = []
    parts: dict[str, list[npt.NDArray[np.uint8]]] = {}
    for block in reader:
        ids.extend(block.ids)
        for name, arr in block.sections.items():
            parts.setdefault(name, []).append(arr)
    sections = {}
    for sec in reader.header.sections:
        if sec.name == IDS:
            continue
        chunks = parts.get(sec.name)
        sections[sec.name] = (
            np.concatenate(chunks) if chunks else np.zeros((0, sec.width), np.uint8)
        )
    return ClkData(header=reader.header, ids=ids, sections=sections, digest=reader.digest)
