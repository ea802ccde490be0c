"""The encoder: columns of raw values in, packed record-level and field-level filters out.

Why it is fast: identifying fields have small vocabularies. Names repeat, dates are drawn from a
few tens of thousands of days, and SSN digits are positional tokens from a vocabulary of 90. So
the encoder keeps, per field, a table of *distinct raw values* already seen, each with its
packed filter computed once (normalise, tokenise, hash each distinct token once, scatter with
numpy). A record then costs one dictionary lookup per field plus a vectorised OR of table rows.
The tables are bounded (:data:`MAX_CACHED_VALUES`), so memory stays constant on any input size.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from linkage.agency.encoding import harden
from linkage.agency.encoding.bloom import scatter, token_positions
from linkage.agency.encoding.keys import derive
from linkage.agency.encoding.tokens import digit_kept, digit_token, tokenize
from linkage.agency.normalize import Status, date_batch, date_text, normalize, ssn_digits_batch
from linkage.formats.config import Config, FieldSpec, TokenSpec

#: Distinct values remembered per field before its table is cleared and rebuilt.
MAX_CACHED_VALUES = 1 << 18

Packed = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Texts:
    """A chunk's normalised values of one field, each distinct one once: record i's text is
    ``texts[codes[i]]`` ("" where the value is missing or invalid)."""

    codes: npt.NDArray[np.int64]
    texts: list[str]


def _distinct(code: npt.NDArray[np.int64], write: Callable[[int], str]) -> Texts:
    """The texts of records given as integer codes: each distinct code written once."""
    found, inverse = np.unique(code, return_inverse=True)
    return Texts(inverse.reshape(-1).astype(np.int64), [write(c) for c in found.tolist()])


@dataclass
class EncodedChunk:
    """Filters for a chunk of records, in input order."""

    clks: Packed
    field_clks: Packed | None
    status_counts: dict[str, npt.NDArray[np.int64]]
    #: the normalised values of the fields the config's blocking keys are made of: what the
    #: blocking keys are cut from, so that no value is normalised twice
    texts: dict[str, Texts] = field(default_factory=dict)


@dataclass
class _FieldState:
    """Per-field caches: distinct raw keys -> row of the value tables."""

    spec: FieldSpec
    key: bytes
    rec_bits: int
    fld_bits: int
    direct: str = ""  # "ssn" or "date": the field takes a vectorised path, no value cache
    index: dict[tuple[str, ...], int] = field(default_factory=dict)
    rec_table: Packed = field(default_factory=lambda: np.zeros((0, 0), np.uint8))
    fld_table: Packed = field(default_factory=lambda: np.zeros((0, 0), np.uint8))
    status: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    salt: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)  # each row's normalised text ("": unusable)
    token_index: dict[str, int] = field(default_factory=dict)
    tok_rec: Packed = field(default_factory=lambda: np.zeros((0, 0), np.uint8))
    tok_fld: Packed = field(default_factory=lambda: np.zeros((0, 0), np.uint8))
    pending: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = field(default_factory=list)

    def reset(self) -> None:
        """Forget all values (and, past the bound, all tokens) to keep memory constant."""
        self.index = {}
        self.rec_table = np.zeros((0, self.rec_bits // 8), np.uint8)
        # no field filters (field_length = 0) still gets one word, which the OR-reduction reads
        self.fld_table = np.zeros((0, max(self.fld_bits, 64) // 8), np.uint8)
        self.status = np.zeros(0, np.int8)
        self.salt = []
        self.text = []
        if not self.token_index or len(self.token_index) > MAX_CACHED_VALUES:
            self.token_index = {}
            self.tok_rec = np.zeros((0, self.rec_table.shape[1]), np.uint8)
            self.tok_fld = np.zeros((0, self.fld_table.shape[1]), np.uint8)

    def flush_tokens(self) -> None:
        """Append the packed rows of tokens hashed since the last flush."""
        if not self.pending:
            return
        n = len(self.pending)
        rows = np.concatenate(
            [np.full(len(r), i, np.int64) for i, (r, _) in enumerate(self.pending)]
        )
        rec = scatter(rows, np.concatenate([r for r, _ in self.pending]), n, self.rec_bits)
        fld = scatter(
            rows, np.concatenate([f for _, f in self.pending]), n, self.fld_table.shape[1] * 8
        )
        self.tok_rec = np.concatenate([self.tok_rec, rec])
        self.tok_fld = np.concatenate([self.tok_fld, fld])
        self.pending = []


def _append(table: npt.NDArray[Any], used: int, new: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Write ``new`` after the first ``used`` rows, doubling capacity when full, so that
    growing a value table costs amortised O(1) per row rather than a copy per chunk."""
    end = used + len(new)
    if end > len(table):
        grown = np.zeros((max(end, 2 * len(table)), *table.shape[1:]), table.dtype)
        grown[:used] = table[:used]
        table = grown
    table[used:end] = new
    return table


def _ssn_texts(status: npt.NDArray[np.int8], digits: npt.NDArray[np.int8]) -> Texts:
    """Each record's normalised SSN as :func:`~linkage.agency.normalize.normalize_ssn` gives
    it (nine digits, or the last four), from :func:`ssn_digits_batch`'s columns."""
    kept = digits >= 0
    length = kept.sum(axis=1)
    value = (np.where(kept, digits, 0).astype(np.int64) * 10 ** np.arange(9)).sum(axis=1)
    usable = np.isin(status, [Status.PRESENT, Status.PARTIAL]) & (length > 0)
    code = np.where(usable, value * 16 + length, -1)
    return _distinct(code, lambda c: "" if c < 0 else f"{c // 16:0{c % 16}d}")


def _date_texts(
    status: npt.NDArray[np.int8], ymd: npt.NDArray[np.int64], year_only: npt.NDArray[np.bool_]
) -> Texts:
    """Each record's normalised date as :func:`date_text` writes it (``YYYYMMDD`` or, year
    only, ``YYYY``), from :func:`date_batch`'s columns."""
    full = ymd[:, 0] * 10_000 + ymd[:, 1] * 100 + ymd[:, 2]
    code = np.where(year_only, ymd[:, 0], full)  # a year (under 10,000) never equals a full day
    code = np.where(np.isin(status, [Status.PRESENT, Status.PARTIAL]), code, -1)
    return _distinct(code, lambda c: "" if c < 0 else f"{c:04d}" if c < 10_000 else f"{c:08d}")


def _kept_positions(width: int, part: str) -> npt.NDArray[np.bool_]:
    """Which of ``width`` digit positions (from the right) a digit tokeniser's part keeps."""
    return np.array([digit_kept(p, part) for p in range(width)], np.bool_)


def _token_prefix(t_index: int, salt: str) -> str:
    """What keeps tokens of different tokenisers (and salts) of one field apart."""
    return f"{t_index}\x1f{salt}\x1f"


def _group_prefix(spec: TokenSpec, salt: str) -> str:
    """The same for a field in a group: named by what the tokeniser is rather than where it
    stands, so that a bigram or a Metaphone code sets the same bits in every field of the
    group (a first name's extra nickname tokenisers shift no other)."""
    what = f"{spec.type}/{spec.n}/{int(spec.padding)}/{spec.algorithm}/{spec.max_canonicals}"
    return f"{what}\x1f{salt}\x1f"


class Encoder:
    """Turns raw column values into hardened filters under one config and one secret."""

    def __init__(
        self,
        config: Config,
        secret: bytes,
        today: _dt.date | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.config = config
        self.today = today or _dt.date.today()
        self.rng = rng or np.random.default_rng(secrets.randbits(128))
        fp = config.fingerprint
        self._fields = [
            _FieldState(
                spec=f,
                key=derive(secret, fp, f"field/{f.key_name}", 64),
                rec_bits=config.filter_length,
                fld_bits=config.field_length,
            )
            for f in config.fields
        ]
        for state in self._fields:
            state.reset()
            # SSNs are nearly unique and dates have tiny token vocabularies: both take a
            # vectorised path (unless salting makes every token depend on the record)
            types = {t.type for t in state.spec.tokens}
            if not config.salt_field and state.spec.kind == "ssn" and types == {"digit_position"}:
                state.direct = "ssn"
            if not config.salt_field and state.spec.kind == "date" and types == {"date_part"}:
                state.direct = "date"
        self._text_fields = {p.partition(":")[0] for key in config.blocking for p in key.parts}
        # the salt field is encoded first: its year salts every field's hashes
        self._fields.sort(key=lambda s: s.spec.name != config.salt_field)
        self._order = [config.fields.index(s.spec) for s in self._fields]
        self._rec_perms = {
            i: harden.keyed_permutation(derive(secret, fp, f"harden/{i}/record"), size)
            for i, size in harden.permutation_sizes(config.filter_length, config.hardening).items()
        }
        self._fld_perms = {
            i: harden.keyed_permutation(derive(secret, fp, f"harden/{i}/field"), size)
            for i, size in harden.permutation_sizes(config.field_length, config.hardening).items()
        }

    def encode(
        self,
        columns: Sequence[Sequence[str]],
        qualities: Sequence[Sequence[str] | None],
    ) -> EncodedChunk:
        """Encode one chunk: ``columns[i]`` holds field i's raw values (config order) and
        ``qualities[i]`` its data-quality codes, or None when the field has no quality column."""
        n = len(columns[0]) if columns else 0
        rec = np.zeros((n, self.config.filter_length // 8), np.uint8)
        per_field: list[Packed] = [np.zeros(0, np.uint8)] * len(self._fields)
        counts: dict[str, npt.NDArray[np.int64]] = {}
        texts: dict[str, Texts] = {}
        salts: list[str] | None = None
        for state, pos in zip(self._fields, self._order, strict=True):
            name = state.spec.name
            if state.direct == "ssn":
                status, digits = ssn_digits_batch(columns[pos], qualities[pos], state.spec)
                owner, tok_ids = self._ssn_tokens(state, digits)
                rec_rows, fld_rows = self._filters(state, owner, tok_ids, n)
                if name in self._text_fields:
                    texts[name] = _ssn_texts(status, digits)
            elif state.direct == "date":
                status, ymd, year_only = date_batch(
                    columns[pos], qualities[pos], state.spec, self.today
                )
                owner, tok_ids = self._date_tokens(state, status, ymd, year_only)
                rec_rows, fld_rows = self._filters(state, owner, tok_ids, n)
                if name in self._text_fields:
                    texts[name] = _date_texts(status, ymd, year_only)
            else:
                rows = self._rows(state, columns[pos], qualities[pos], salts)
                if name in self._text_fields:
                    texts[name] = _distinct(rows, state.text.__getitem__)
                if name == self.config.salt_field:
                    salts = [state.salt[r] for r in rows.tolist()]
                rec_rows, fld_rows, status = (
                    state.rec_table[rows],
                    state.fld_table[rows],
                    state.status[rows],
                )
            np.bitwise_or(rec, rec_rows, out=rec)
            per_field[pos] = fld_rows
            counts[state.spec.name] = np.bincount(status, minlength=len(Status))
        cfg = self.config
        rec = harden.apply(rec, cfg.hardening, self._rec_perms, self.rng)
        field_clks = None
        if cfg.field_length:
            stacked = np.stack(per_field, axis=1)
            # widths spelt out, not -1: a block whose every row was skipped has n = 0
            flat = stacked.reshape(n * len(per_field), stacked.shape[2])
            flat = harden.apply(flat, cfg.hardening, self._fld_perms, self.rng)
            field_clks = flat.reshape(n, len(per_field) * flat.shape[1])
        return EncodedChunk(clks=rec, field_clks=field_clks, status_counts=counts, texts=texts)

    def _rows(
        self,
        state: _FieldState,
        raws: Sequence[str],
        quals: Sequence[str] | None,
        salts: list[str] | None,
    ) -> npt.NDArray[np.int64]:
        """Row of the field's value tables for each record, adding rows for new values."""
        parts: list[Sequence[str]] = [raws]
        if quals is not None:
            parts.append(quals)
        if salts is not None:
            parts.append(salts)
        keys: list[tuple[str, ...]] = list(zip(*parts, strict=True))
        flags = (quals is not None, salts is not None)
        if len(state.index) + len(keys) > MAX_CACHED_VALUES:
            state.reset()
        index = state.index
        found = list(map(index.get, keys))
        if None in found:
            new = [i for i, r in enumerate(found) if r is None]
            self._add_values(state, list(dict.fromkeys(keys[i] for i in new)), *flags)
            for i in new:
                found[i] = index[keys[i]]
        return np.array(found, np.int64)

    def _add_values(
        self, state: _FieldState, keys: list[tuple[str, ...]], has_quality: bool, has_salt: bool
    ) -> None:
        """Normalise and tokenise new distinct values; OR their tokens' filters together.

        Each distinct token is hashed once per field (and salt) and kept as a packed row; a
        value's filter is then a vectorised OR-reduction over its tokens' rows."""
        spec = state.spec
        today = self.today
        values = [normalize(k[0], k[1] if has_quality else "", spec, today) for k in keys]
        if spec.name == self.config.salt_field:
            own = [v.text[:4] for v in values]
        else:
            own = [""] * len(keys)
        salts = [k[-1] for k in keys] if has_salt else own
        texts = [v.text for v in values]
        pairs = [
            self._digit_tokens(state, t_index, t_spec, texts)
            if t_spec.type == "digit_position" and not any(salts)
            else self._tokens(state, t_index, t_spec, texts, salts)
            for t_index, t_spec in enumerate(spec.tokens)
        ]
        state.flush_tokens()
        owner = np.concatenate([p[0] for p in pairs])
        tok_ids = np.concatenate([p[1] for p in pairs])
        new_rec, new_fld = self._filters(state, owner, tok_ids, len(keys))
        base = len(state.index)
        statuses = np.fromiter((v.status for v in values), np.int8, len(values))
        state.rec_table = _append(state.rec_table, base, new_rec)
        state.fld_table = _append(state.fld_table, base, new_fld)
        state.status = _append(state.status, base, statuses)
        state.salt.extend(own)
        state.text.extend(v.text for v in values)  # "" unless present or partial (Value)
        for offset, key in enumerate(keys):
            state.index[key] = base + offset

    def _tokens(
        self,
        state: _FieldState,
        t_index: int,
        t_spec: TokenSpec,
        texts: list[str],
        salts: list[str],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(value index, token id) for every token of every value: the general path."""
        get = state.token_index.get
        owner: list[int] = []
        tok_ids: list[int] = []
        for i, (text, salt) in enumerate(zip(texts, salts, strict=True)):
            if not text:
                continue
            prefix = (
                _group_prefix(t_spec, salt) if state.spec.group else _token_prefix(t_index, salt)
            )
            for token in tokenize(text, t_spec):
                key = prefix + token
                tid = get(key)
                if tid is None:
                    tid = self._add_token(state, key, t_spec.weight)
                tok_ids.append(tid)
                owner.append(i)
        return np.array(owner, np.int64), np.array(tok_ids, np.int64)

    def _digit_tokens(
        self, state: _FieldState, t_index: int, t_spec: TokenSpec, texts: list[str]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The same pairs for unsalted positional digit tokens, computed with numpy: the
        vocabulary is position x digit, so every token id comes from a small table."""
        width = max(map(len, texts), default=0)
        if width == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        table = self._digit_table(state, t_index, t_spec.weight, width)
        # right-align so that column 0 is the last digit
        chars = np.array([t[::-1] for t in texts], dtype=f"<U{width}").view(np.uint32)
        digits = chars.reshape(len(texts), width).astype(np.int64) - ord("0")
        kept = _kept_positions(width, t_spec.part)
        owner, pos = np.nonzero((digits >= 0) & (digits <= 9) & kept)
        return owner.astype(np.int64), table[pos, digits[owner, pos]]

    def _ssn_tokens(
        self, state: _FieldState, digits: npt.NDArray[np.int8]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(record, token id) pairs of an SSN field's digit tokenisers, from the digits of
        :func:`ssn_digits_batch` (-1 where a record has none at that position)."""
        owners: list[npt.NDArray[np.int64]] = []
        ids: list[npt.NDArray[np.int64]] = []
        for t_index, t_spec in enumerate(state.spec.tokens):
            table = self._digit_table(state, t_index, t_spec.weight, 9)
            owner, place = np.nonzero((digits >= 0) & _kept_positions(9, t_spec.part))
            owners.append(owner.astype(np.int64))
            ids.append(table[place, digits[owner, place]])
        return np.concatenate(owners), np.concatenate(ids)

    def _date_tokens(
        self,
        state: _FieldState,
        status: npt.NDArray[np.int8],
        ymd: npt.NDArray[np.int64],
        year_only: npt.NDArray[np.bool_],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(record, token id) pairs of unsalted date-part tokens, computed with numpy: each
        part is a small integer code (the year, the month...), and the token of each distinct
        code comes from :func:`tokenize` on one record that has it."""
        has = (status == Status.PRESENT) | (status == Status.PARTIAL)
        full = has & ~year_only
        y, m, d = ymd[:, 0], ymd[:, 1], ymd[:, 2]
        parts = {
            "year": (has, y),
            "decade": (has, y // 10),
            "month": (full, m),
            "day": (full, d),
            "day_month": (full, np.minimum(m, d) * 100 + np.maximum(m, d)),
        }
        owners: list[npt.NDArray[np.int64]] = []
        ids: list[npt.NDArray[np.int64]] = []
        for t_index, t_spec in enumerate(state.spec.tokens):
            mask, codes = parts[t_spec.part]
            rows = np.flatnonzero(mask)
            _, first, inverse = np.unique(codes[rows], return_index=True, return_inverse=True)
            prefix = _token_prefix(t_index, "")
            table = np.zeros(len(first), np.int64)
            for u, r in enumerate(rows[first].tolist()):
                text = date_text(int(y[r]), int(m[r]), int(d[r]), bool(year_only[r]))
                (token,) = tokenize(text, t_spec)
                table[u] = self._token_id(state, prefix + token, t_spec.weight)
            owners.append(rows.astype(np.int64))
            ids.append(table[inverse])
        state.flush_tokens()
        return np.concatenate(owners), np.concatenate(ids)

    def _digit_table(
        self, state: _FieldState, t_index: int, weight: int, width: int
    ) -> npt.NDArray[np.int64]:
        """Token ids of (position from the right, digit) for an unsalted digit tokeniser."""
        table = np.array(
            [
                [
                    self._token_id(state, _token_prefix(t_index, "") + digit_token(p, d), weight)
                    for d in range(10)
                ]
                for p in range(width)
            ],
            np.int64,
        )
        state.flush_tokens()
        return table

    def _filters(
        self,
        state: _FieldState,
        owner: npt.NDArray[np.int64],
        tok_ids: npt.NDArray[np.int64],
        n: int,
    ) -> tuple[Packed, Packed]:
        """Record- and field-level filters of n values from their (value, token id) pairs."""
        order = np.argsort(owner, kind="stable")
        owner, tok_ids = owner[order], tok_ids[order]
        new_rec = np.zeros((n, state.rec_table.shape[1]), np.uint8)
        new_fld = np.zeros((n, state.fld_table.shape[1]), np.uint8)
        if tok_ids.size:
            # segment starts: first token of each value that has tokens
            starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
            has = owner[starts]
            # OR-reduce 64 bits at a time: rows are whole words (lengths are multiples of 64)
            for table, out in ((state.tok_rec, new_rec), (state.tok_fld, new_fld)):
                words = np.bitwise_or.reduceat(table.view(np.uint64)[tok_ids], starts, axis=0)
                out[has] = words.view(np.uint8)
        return new_rec, new_fld

    def _token_id(self, state: _FieldState, key: str, weight: int) -> int:
        tid = state.token_index.get(key)
        return self._add_token(state, key, weight) if tid is None else tid

    def _add_token(self, state: _FieldState, key: str, weight: int) -> int:
        """Hash a token seen for the first time; return its row in the token tables."""
        rec_pos, fld_pos = token_positions(
            state.key,
            key.encode(),
            weight,
            self.config.hashing,
            (state.rec_bits, state.fld_table.shape[1] * 8),
        )
        tid = len(state.token_index)
        state.token_index[key] = tid
        state.pending.append((rec_pos, fld_pos))
        return tid
