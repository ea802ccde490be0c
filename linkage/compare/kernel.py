"""The fast Dice kernel: numba-compiled, multithreaded, popcount-pruned, bounded in memory.

Why numba: it installs from wheels with no compiler on the user's machine, its ``parallel``
loops run without the GIL on every core, and LLVM's ``ctpop`` on 64-bit words compiles to the
CPU's POPCNT (vectorised where AVX2 allows). The inner loop is the obvious one; the speed comes
from never comparing what cannot match:

* rows of ``b`` are sorted by popcount, and Dice >= t requires |b|/|a| to lie in
  [t/(2-t), (2-t)/t], so each row of ``a`` only scans a contiguous window of ``b``;
* candidates go to small per-row buffers; the rare rows that overflow them are rescanned with
  exact room, so the score matrix is never materialised;
* the total number of candidates is capped (``max_candidates``): a threshold so low that the
  output would not fit in memory is refused with a clear message instead of exhausting it.

:mod:`linkage.compare.reference` is the numpy reference this must agree with exactly.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from linkage.compare.reference import Candidates
from linkage.errors import LinkageError

#: Rows of ``a`` handled per parallel pass; bounds the per-row candidate buffers.
BLOCK_ROWS = 1 << 14
#: Candidates buffered per row before that row is rescanned with exact room.
ROW_BUFFER = 16
#: Default cap on the candidates one call may return (24 bytes each).
MAX_CANDIDATES = 50_000_000
#: Rows of b whose popcounts are computed before any is compared with the threshold.
_BATCH = 256
#: 2*shared < _LOWER*t*denom proves the score is below t without dividing (margin >> rounding).
_LOWER = 1.0 - 1e-9
#: 64-bit words per vector in the intersection kernel (4 x 64 = one AVX2 register).
_LANES = 4


@intrinsic
def _popcount(typingctx: Any, x: Any) -> Any:
    """LLVM ctpop on a uint64: one POPCNT instruction."""
    sig = types.int64(
        types.uint64
    )  # an int64 result keeps sums in integers (uint64 + int64 is float64 in numba)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return sig, codegen


@intrinsic
def _intersection(typingctx: Any, a: Any, i: Any, b: Any, j: Any) -> Any:
    """popcount(a[i] & b[j]) over whole rows of two C-contiguous uint64 arrays, written as
    LLVM vector code: ``ctpop`` on <4 x i64> compiles to the AVX2 nibble-table popcount
    (vpshufb, vpsadbw) where the CPU has it and to scalar POPCNT elsewhere."""
    if not (
        isinstance(a, types.Array)
        and isinstance(b, types.Array)
        and a.layout == "C"
        and b.layout == "C"
        and a.ndim == 2
        and b.ndim == 2
    ):
        return None
    sig = types.int64(a, types.intp, b, types.intp)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        a_ty, _, b_ty, _ = signature.args
        arr_a = context.make_array(a_ty)(context, builder, args[0])
        arr_b = context.make_array(b_ty)(context, builder, args[2])
        width = cgutils.unpack_tuple(builder, arr_a.shape)[1]
        size_t = width.type
        row_a = builder.gep(arr_a.data, [builder.mul(args[1], width)])
        row_b = builder.gep(arr_b.data, [builder.mul(args[3], width)])
        vec = ir.VectorType(ir.IntType(64), _LANES)
        ctpop = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vec, [vec]), f"llvm.ctpop.v{_LANES}i64"
        )
        acc = cgutils.alloca_once_value(builder, ir.Constant(vec, [0] * _LANES))
        n_vec = builder.lshr(width, ir.Constant(size_t, _LANES.bit_length() - 1))
        with cgutils.for_range(builder, n_vec) as loop:
            at = builder.mul(loop.index, ir.Constant(size_t, _LANES))
            va = builder.load(builder.bitcast(builder.gep(row_a, [at]), vec.as_pointer()), align=8)
            vb = builder.load(builder.bitcast(builder.gep(row_b, [at]), vec.as_pointer()), align=8)
            counts = builder.call(ctpop, [builder.and_(va, vb)])
            builder.store(builder.add(builder.load(acc), counts), acc)
        lanes = builder.load(acc)
        total = builder.extract_element(lanes, ir.Constant(ir.IntType(32), 0))
        for lane in range(1, _LANES):
            item = builder.extract_element(lanes, ir.Constant(ir.IntType(32), lane))
            total = builder.add(total, item)
        result = cgutils.alloca_once_value(builder, total)
        tail_start = builder.mul(n_vec, ir.Constant(size_t, _LANES))
        one = ir.Constant(size_t, 1)
        with cgutils.for_range_slice(builder, tail_start, width, one) as (k, _):
            word_a = builder.load(builder.gep(row_a, [k]))
            word_b = builder.load(builder.gep(row_b, [k]))
            bits = builder.ctpop(builder.and_(word_a, word_b))
            builder.store(builder.add(builder.load(result), bits), result)
        return builder.load(result)

    return sig, codegen


@njit(cache=True, nogil=True, parallel=True)
def _popcounts(words: Any) -> Any:
    out = np.empty(words.shape[0], np.int64)
    for i in prange(words.shape[0]):
        total = 0
        for w in range(words.shape[1]):
            total += _popcount(words[i, w])
        out[i] = total
    return out


@njit(cache=True, nogil=True, inline="always")
def _dice(shared: int, denom: int, threshold: float) -> float:
    """The Dice score, or -1.0 when it surely cannot reach ``threshold``: the cheap product
    test (its margin far above rounding) spares the division for almost every pair."""
    if 2.0 * shared < _LOWER * threshold * denom or denom == 0:
        return -1.0
    return 2.0 * shared / denom


@njit(cache=True, nogil=True, parallel=True)
def _scan_threshold(
    a: Any,
    pa: Any,
    b: Any,
    pb: Any,
    lo: Any,
    hi: Any,
    threshold: float,
    offsets: Any,
    room: Any,
    out_j: Any,
    out_s: Any,
    counts: Any,
) -> None:
    """For each row i of a: every j in [lo[i], hi[i]) with Dice >= threshold. The first
    room[i] go to out_j/out_s from offsets[i] on; counts[i] is the true number, so a caller
    can rescan the rows that did not fit with exact room."""
    for i in prange(a.shape[0]):
        found = 0
        inter = np.empty(_BATCH, np.int64)
        for start in range(lo[i], hi[i], _BATCH):
            stop = min(start + _BATCH, hi[i])
            # popcounts first, in a tight loop the compiler keeps vectorised; decisions after
            for j in range(start, stop):
                inter[j - start] = _intersection(a, i, b, j)
            for j in range(start, stop):
                score = _dice(inter[j - start], pa[i] + pb[j], threshold)
                if score >= threshold:
                    if found < room[i]:
                        out_j[offsets[i] + found] = j
                        out_s[offsets[i] + found] = score
                    found += 1
        counts[i] = found


@njit(cache=True, nogil=True, parallel=True)
def _scan_topk(
    a: Any,
    pa: Any,
    b: Any,
    pb: Any,
    b_ids: Any,
    lo: Any,
    hi: Any,
    skip: Any,
    threshold: float,
    out_j: Any,
    out_s: Any,
    counts: Any,
) -> None:
    """For each row i of a: its k best j (k = out_j.shape[1]) with Dice >= threshold, ties to
    the lower original id b_ids[j]; j == skip[i] is never a candidate (self-pairs)."""
    k = out_j.shape[1]
    for i in prange(a.shape[0]):
        found = 0
        for j in range(lo[i], hi[i]):
            if j == skip[i]:
                continue
            score = _dice(_intersection(a, i, b, j), pa[i] + pb[j], threshold)
            if score < threshold:
                continue
            if found == k:
                last_j = out_j[i, k - 1]
                worse = out_s[i, k - 1] > score or (
                    out_s[i, k - 1] == score and b_ids[last_j] < b_ids[j]
                )
                if worse:
                    continue
                pos = k - 1
            else:
                pos = found
                found += 1
            # insertion: best first, ties by lower original id
            while pos > 0 and (
                out_s[i, pos - 1] < score
                or (out_s[i, pos - 1] == score and b_ids[out_j[i, pos - 1]] > b_ids[j])
            ):
                out_j[i, pos] = out_j[i, pos - 1]
                out_s[i, pos] = out_s[i, pos - 1]
                pos -= 1
            out_j[i, pos] = j
            out_s[i, pos] = score
        counts[i] = found


def _words(packed: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """Rows as uint64 words (zero-padded to whole words); popcount ignores byte order."""
    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    if packed.ndim != 2:
        raise ValueError("filters must be a 2-D uint8 array, one packed filter per row")
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros((packed.shape[0], pad), np.uint8)], axis=1)
    return packed.view(np.uint64)


def _windows(
    pa: npt.NDArray[np.int64], pb_sorted: npt.NDArray[np.int64], threshold: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """[lo, hi) of sorted popcounts that can reach ``threshold`` with each popcount in pa."""
    t = threshold
    low = np.ceil(pa * (t / (2.0 - t)) - 1e-9).astype(np.int64)
    high = np.floor(pa * ((2.0 - t) / t) + 1e-9).astype(np.int64) if t > 0 else pa + (1 << 40)
    lo = np.searchsorted(pb_sorted, low, side="left").astype(np.int64)
    hi = np.searchsorted(pb_sorted, high, side="right").astype(np.int64)
    return lo, hi


def dice_candidates(
    a: npt.NDArray[np.uint8],
    b: npt.NDArray[np.uint8] | None = None,
    threshold: float = 0.8,
    k: int | None = None,
    *,
    threads: int | None = None,
    max_candidates: int = MAX_CANDIDATES,
) -> Candidates:
    """Pairs of filters whose Dice coefficient is at least ``threshold``.

    ``a`` and ``b`` are 2-D uint8 arrays of filters packed with ``numpy.packbits``, one row per
    record. Returns ``(rows_a, rows_b, scores)``, sorted by row of ``a`` then row of ``b``.
    With ``b=None``, ``a`` is compared with itself: each unordered pair once, as
    (lower row, higher row), never a record with itself. With ``k``, only each record's ``k``
    best candidates are kept (ties: the lower row first); in dedup mode a pair is kept when it
    is among the best of either record. Two empty filters never match.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError("threshold must be in (0, 1]")
    if k is not None and k < 1:
        raise ValueError("k must be a positive integer")
    dedup = b is None
    wa = _words(a)
    wb = wa if b is None else _words(b)
    if wa.shape[1] != wb.shape[1]:
        raise ValueError("a and b must hold filters of the same length")
    previous = numba.get_num_threads()
    if threads is not None:
        most = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
        numba.set_num_threads(max(1, min(threads, most)))
    try:
        return _candidates(wa, wb, dedup, threshold, k, max_candidates)
    finally:
        numba.set_num_threads(previous)


def _candidates(
    wa: npt.NDArray[np.uint64],
    wb: npt.NDArray[np.uint64],
    dedup: bool,
    threshold: float,
    k: int | None,
    max_candidates: int,
) -> Candidates:
    pa = _popcounts(wa)
    pb = pa if dedup else _popcounts(wb)
    order_b = np.argsort(pb, kind="stable").astype(np.int64)
    sorted_b = np.ascontiguousarray(wb[order_b])
    pb_sorted = pb[order_b]
    rank_b = np.empty_like(order_b)
    rank_b[order_b] = np.arange(len(order_b))
    rows: list[npt.NDArray[np.int64]] = []
    cols: list[npt.NDArray[np.int64]] = []
    scores: list[npt.NDArray[np.float64]] = []
    total = 0
    for start in range(0, wa.shape[0], BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, wa.shape[0])
        ids = np.arange(start, stop, dtype=np.int64)
        block_a, block_pa = wa[start:stop], pa[start:stop]
        lo, hi = _windows(block_pa, pb_sorted, threshold)
        if k is not None:
            skip = rank_b[ids] if dedup else np.full(len(ids), -1, np.int64)
            out_j = np.empty((len(ids), k), np.int64)
            out_s = np.empty((len(ids), k), np.float64)
            counts = np.empty(len(ids), np.int64)
            _scan_topk(
                block_a,
                block_pa,
                sorted_b,
                pb_sorted,
                order_b,
                lo,
                hi,
                skip,
                threshold,
                out_j,
                out_s,
                counts,
            )
            keep = np.arange(k)[None, :] < counts[:, None]
            local, found_j, found_s = (
                np.repeat(np.arange(len(ids)), counts),
                out_j[keep],
                out_s[keep],
            )
        else:
            if dedup:
                lo = np.maximum(lo, rank_b[ids] + 1)
                hi = np.maximum(hi, lo)
            try:
                local, found_j, found_s = _threshold_block(
                    block_a,
                    block_pa,
                    sorted_b,
                    pb_sorted,
                    lo,
                    hi,
                    threshold,
                    max_candidates - total,
                )
            except _TooMany:
                raise _overflow(max_candidates, threshold) from None
        total += len(local)
        if total > max_candidates:
            raise _overflow(max_candidates, threshold)
        rows.append(ids[local])
        cols.append(order_b[found_j])
        scores.append(found_s)
    ra = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    rb = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    sc = np.concatenate(scores) if scores else np.zeros(0, np.float64)
    if dedup:
        low, high = np.minimum(ra, rb), np.maximum(ra, rb)
        ra, rb = low, high
        if k is not None and len(ra):
            # a pair found from both of its records appears twice: keep one
            key = ra * (len(order_b) + 1) + rb
            _, first = np.unique(key, return_index=True)
            ra, rb, sc = ra[first], rb[first], sc[first]
    order = np.lexsort((rb, ra))
    return ra[order], rb[order], sc[order]


def _threshold_block(
    a: npt.NDArray[np.uint64],
    pa: npt.NDArray[np.int64],
    b: npt.NDArray[np.uint64],
    pb: npt.NDArray[np.int64],
    lo: npt.NDArray[np.int64],
    hi: npt.NDArray[np.int64],
    threshold: float,
    room: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(local row, sorted position in b, score) of one block's matches: one pass with
    ``ROW_BUFFER`` slots a row, then an exact-room rescan of the rows that overflowed them.
    ``room`` is how many candidates may still be returned; past it, nothing more is
    allocated."""
    n = a.shape[0]
    slots = np.full(n, ROW_BUFFER, np.int64)
    out_j = np.empty(n * ROW_BUFFER, np.int64)
    out_s = np.empty(n * ROW_BUFFER, np.float64)
    counts = np.empty(n, np.int64)
    offsets = np.arange(n, dtype=np.int64) * ROW_BUFFER
    _scan_threshold(a, pa, b, pb, lo, hi, threshold, offsets, slots, out_j, out_s, counts)
    if int(counts.sum()) > room:
        raise _TooMany()
    fits = counts <= ROW_BUFFER
    keep = (np.arange(ROW_BUFFER)[None, :] < counts[:, None]) & fits[:, None]
    rows = [np.repeat(np.flatnonzero(fits), counts[fits])]
    cols = [out_j.reshape(n, ROW_BUFFER)[keep]]
    scores = [out_s.reshape(n, ROW_BUFFER)[keep]]
    over = np.flatnonzero(~fits)
    if over.size:
        sub_counts = counts[over]
        sub_offsets = np.concatenate([[0], np.cumsum(sub_counts)[:-1]]).astype(np.int64)
        flat_j = np.empty(int(sub_counts.sum()), np.int64)
        flat_s = np.empty(len(flat_j), np.float64)
        _scan_threshold(
            np.ascontiguousarray(a[over]),
            pa[over],
            b,
            pb,
            lo[over],
            hi[over],
            threshold,
            sub_offsets,
            sub_counts,
            flat_j,
            flat_s,
            np.empty(over.size, np.int64),
        )
        rows.append(np.repeat(over, sub_counts))
        cols.append(flat_j)
        scores.append(flat_s)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(scores)


def _overflow(max_candidates: int, threshold: float) -> LinkageError:
    return LinkageError(
        f"more than {max_candidates:,} candidate pairs at threshold {threshold}",
        "raise the threshold, keep only the best per record (k), or block the input",
    )


class _TooMany(Exception):
    """Internal: the candidate bound would be exceeded."""


def expected_pairs(n_a: int, n_b: int | None) -> int:
    """All pairs an exhaustive comparison would look at (for rates in benchmarks)."""
    return n_a * (n_a - 1) // 2 if n_b is None else n_a * n_b
