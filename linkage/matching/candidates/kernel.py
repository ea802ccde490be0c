"""The fast Dice kernel: numba-compiled, multithreaded, popcount-pruned, bounded in memory.

Why numba: it installs from wheels with no compiler on the user's machine, its ``parallel``
loops run without the GIL on every core, and LLVM intrinsics written through ``@intrinsic``
give the vector code a hand-written C kernel would have. The speed comes from three things:

* never comparing what cannot match: both sides are sorted by popcount, and Dice >= t requires
  |b|/|a| to lie in [t/(2-t), (2-t)/t], so each row of ``a`` only scans a window of ``b``;
* comparing a tile of 8 rows of ``a`` with each row of ``b`` in vector registers (AVX2
  byte-wise popcounts, one widening per row, the 8 totals tested against a lower bound of
  what any of them needs at once), so the common answer, "no match in this tile", costs no
  branch per pair and no division; only the rare tiles that pass are recounted row by row;
* candidates go to per-row buffers sized from a sample of rows; the few rows that overflow
  them are rescanned with exact room, so the score matrix is never materialised, and the
  total number of candidates is capped (``max_candidates``): a threshold so low that the
  output would not fit in memory is refused with a clear message instead of exhausting it.

:mod:`linkage.matching.candidates.reference` is the numpy reference this must agree with exactly.
"""

from __future__ import annotations

import platform
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from llvmlite import binding as llvm
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from linkage.errors import LinkageError
from linkage.matching.candidates.reference import Candidates

#: Rows of ``a`` handled per parallel pass; bounds the per-row candidate buffers.
BLOCK_ROWS = 1 << 14
#: Candidates buffered per row before that row is rescanned with exact room.
ROW_BUFFER = 16
#: Default cap on the candidates one call may return (24 bytes each).
MAX_CANDIDATES = 50_000_000
#: Rows of a compared with each row of b at once (a multiple of 4: totals go 4 to a vector).
_TILE = 8
#: 256-bit vectors whose byte-wise counts are summed before widening (8 * 31 < 256).
_FLUSH = 31
#: Tiles a thread takes at a time (dynamic scheduling of the parallel loops).
_CHUNK_TILES = 4
#: Tiles of a block counted first to size the candidate buffers.
_SAMPLE_TILES = 64
#: Bound on one block's candidate buffers (16 bytes a slot).
_SLOT_BYTES = 256 << 20
#: 2*shared < _LOWER*t*denom proves the score is below t without dividing (margin >> rounding).
_LOWER = 1.0 - 1e-9
#: 64-bit words per vector in the intersection kernel (4 x 64 = one AVX2 register).
_LANES = 4


@intrinsic
def word_popcount(typingctx: Any, x: Any) -> Any:
    """LLVM ctpop on a uint64: one POPCNT instruction."""
    sig = types.int64(
        types.uint64
    )  # an int64 result keeps sums in integers (uint64 + int64 is float64 in numba)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return sig, codegen


def _row_matrices(a: Any, b: Any) -> bool:
    """Whether numba types a and b are C-contiguous 2-D arrays (rows the intrinsics address
    by pointer arithmetic)."""
    return all(isinstance(x, types.Array) and x.layout == "C" and x.ndim == 2 for x in (a, b))


@intrinsic
def intersection_count(typingctx: Any, a: Any, i: Any, b: Any, j: Any) -> Any:
    """popcount(a[i] & b[j]) over whole rows of two C-contiguous uint64 arrays, written as
    LLVM vector code: ``ctpop`` on <4 x i64> compiles to the AVX2 nibble-table popcount
    (vpshufb, vpsadbw) where the CPU has it and to scalar POPCNT elsewhere."""
    if not _row_matrices(a, b):
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


def _has_avx2() -> bool:
    """Whether numba compiles for a CPU with AVX2 (the host, unless NUMBA_CPU_NAME says else):
    the tile kernel then sums its byte counts with one vpsadbw per row instead of one per
    vector."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    if numba.config.CPU_NAME:  # type: ignore[attr-defined]
        return "+avx2" in (numba.config.CPU_FEATURES or "")  # type: ignore[attr-defined]
    try:
        return bool(llvm.get_host_cpu_features().get("avx2", False))
    except RuntimeError:
        return False


_AVX2 = _has_avx2()


@intrinsic
def _tile_reaches(typingctx: Any, a: Any, i: Any, b: Any, j: Any, floor: Any) -> Any:
    """Whether popcount(a[i + r] & b[j]) >= floor for any r < _TILE.

    The tile's counts are built in vector registers and compared there: each 256-bit load of
    b[j] serves all _TILE rows, byte-wise counts (vpshufb) are summed once per row, and the
    _TILE totals are reduced together by shuffles rather than one horizontal sum each. The
    caller recounts the rare tiles that answer yes, row by row."""
    if not _row_matrices(a, b):
        return None
    sig = types.boolean(a, types.intp, b, types.intp, types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        a_ty, _, b_ty, _, _ = signature.args
        arr_a = context.make_array(a_ty)(context, builder, args[0])
        arr_b = context.make_array(b_ty)(context, builder, args[2])
        width = cgutils.unpack_tuple(builder, arr_a.shape)[1]
        size_t = width.type
        i64 = ir.IntType(64)
        v4 = ir.VectorType(i64, _LANES)
        v32 = ir.VectorType(ir.IntType(8), 8 * _LANES)
        rows_a = [
            builder.gep(
                arr_a.data, [builder.mul(builder.add(args[1], ir.Constant(size_t, r)), width)]
            )
            for r in range(_TILE)
        ]
        row_b = builder.gep(arr_b.data, [builder.mul(args[3], width)])
        n_vec = builder.udiv(width, ir.Constant(size_t, _LANES))

        def load(row: Any, word: Any, ty: Any) -> Any:
            return builder.load(builder.bitcast(builder.gep(row, [word]), ty.as_pointer()), align=8)

        sums = [cgutils.alloca_once_value(builder, ir.Constant(v4, [0] * _LANES)) for _ in rows_a]
        if _AVX2:
            ctpop = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(v32, [v32]), "llvm.ctpop.v32i8"
            )
            psad = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(v4, [v32, v32]), "llvm.x86.avx2.psad.bw"
            )
            zero = ir.Constant(v32, [0] * (8 * _LANES))
            counts = [cgutils.alloca_once_value(builder, zero) for _ in rows_a]
            flush = ir.Constant(size_t, _FLUSH)
            with cgutils.for_range_slice(builder, ir.Constant(size_t, 0), n_vec, flush) as (
                chunk,
                _,
            ):
                # at most _FLUSH vectors per chunk: a byte never counts past 8 * _FLUSH < 256
                end = builder.add(chunk, flush)
                end = builder.select(builder.icmp_unsigned("<", end, n_vec), end, n_vec)
                for acc in counts:
                    builder.store(zero, acc)
                with cgutils.for_range_slice(builder, chunk, end, ir.Constant(size_t, 1)) as (
                    vec,
                    _,
                ):
                    at = builder.mul(vec, ir.Constant(size_t, _LANES))
                    vb = load(row_b, at, v32)
                    for row, acc in zip(rows_a, counts, strict=True):
                        bits = builder.call(ctpop, [builder.and_(load(row, at, v32), vb)])
                        builder.store(builder.add(builder.load(acc), bits), acc)
                for acc, total in zip(counts, sums, strict=True):
                    wide = builder.call(psad, [builder.load(acc), zero])
                    builder.store(builder.add(builder.load(total), wide), total)
        else:
            ctpop = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(v4, [v4]), f"llvm.ctpop.v{_LANES}i64"
            )
            with cgutils.for_range(builder, n_vec) as loop:
                at = builder.mul(loop.index, ir.Constant(size_t, _LANES))
                vb = load(row_b, at, v4)
                for row, total in zip(rows_a, sums, strict=True):
                    bits = builder.call(ctpop, [builder.and_(load(row, at, v4), vb)])
                    builder.store(builder.add(builder.load(total), bits), total)
        # words past the last whole vector, one at a time, into lane 0 of the row's total
        tail_start = builder.mul(n_vec, ir.Constant(size_t, _LANES))
        with cgutils.for_range_slice(builder, tail_start, width, ir.Constant(size_t, 1)) as (k, _):
            word_b = builder.load(builder.gep(row_b, [k]))
            for row, total in zip(rows_a, sums, strict=True):
                bits = builder.ctpop(builder.and_(builder.load(builder.gep(row, [k])), word_b))
                lane0 = builder.insert_element(
                    ir.Constant(v4, [0] * _LANES), bits, ir.Constant(ir.IntType(32), 0)
                )
                builder.store(builder.add(builder.load(total), lane0), total)

        def pick(x: Any, y: Any, lanes: list[int]) -> Any:
            return builder.shuffle_vector(
                x, y, ir.Constant(ir.VectorType(ir.IntType(32), 4), lanes)
            )

        limit = builder.insert_element(
            ir.Constant(v4, ir.Undefined), args[4], ir.Constant(ir.IntType(32), 0)
        )
        limit = pick(limit, limit, [0, 0, 0, 0])
        hit = None
        for q in range(0, _TILE, 4):
            v = [builder.load(total) for total in sums[q : q + 4]]
            # lane r of the result: the total of row q + r (a 4 x 4 transpose, added as it goes)
            pairs01 = builder.add(pick(v[0], v[1], [0, 4, 2, 6]), pick(v[0], v[1], [1, 5, 3, 7]))
            pairs23 = builder.add(pick(v[2], v[3], [0, 4, 2, 6]), pick(v[2], v[3], [1, 5, 3, 7]))
            totals = builder.add(
                pick(pairs01, pairs23, [0, 1, 4, 5]), pick(pairs01, pairs23, [2, 3, 6, 7])
            )
            reach = builder.icmp_signed(">=", totals, limit)
            hit = reach if hit is None else builder.or_(hit, reach)
        return builder.icmp_unsigned(
            "!=", builder.bitcast(hit, ir.IntType(4)), ir.Constant(ir.IntType(4), 0)
        )

    return sig, codegen


@njit(cache=True, nogil=True, parallel=True)
def row_popcounts(words: Any) -> Any:
    out = np.empty(words.shape[0], np.int64)
    for i in prange(words.shape[0]):
        total = 0
        for w in range(words.shape[1]):
            total += word_popcount(words[i, w])
        out[i] = total
    return out


@njit(cache=True, nogil=True, inline="always")
def dice_at(shared: int, denom: int, threshold: float) -> float:
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
    need: Any,
    offsets: Any,
    room: Any,
    out_j: Any,
    out_s: Any,
    counts: Any,
) -> None:
    """For each row i of a: every j >= lo[i] of b with popcount(a[i] & b[j]) >= need[pa[i] +
    pb[j]] (that is, Dice >= the threshold). The first room[i] go to out_j/out_s from offsets[i]
    on; counts[i] is the true number, so a caller can rescan the rows that did not fit.

    Rows of a go in tiles of _TILE (a.shape[0] is a multiple of it). a is sorted by popcount,
    so a tile's rows have nearly the same window and scanning their union costs little; and
    since need[] grows with the popcount sum, need[min popcount of the tile + pb[j]] is a bound
    no row of the tile can pass below, so one vector test rejects almost every (tile, j)."""
    for tile in prange(a.shape[0] // _TILE):
        first = tile * _TILE
        start, stop, least = lo[first], hi[first], pa[first]
        for row in range(first, first + _TILE):
            start = min(start, lo[row])
            stop = max(stop, hi[row])
            least = min(least, pa[row])
            counts[row] = 0
        for j in range(start, stop):
            if not _tile_reaches(a, first, b, j, need[least + pb[j]]):
                continue
            for row in range(first, first + _TILE):
                if j < lo[row]:
                    continue
                shared = intersection_count(a, row, b, j)
                denom = pa[row] + pb[j]
                if shared >= need[denom]:
                    found = counts[row]
                    if found < room[row]:
                        out_j[offsets[row] + found] = j
                        out_s[offsets[row] + found] = 2.0 * shared / denom
                    counts[row] = found + 1


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
            score = dice_at(intersection_count(a, i, b, j), pa[i] + pb[j], threshold)
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


def as_words(packed: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
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
    wa = as_words(a)
    wb = wa if b is None else as_words(b)
    if wa.shape[1] != wb.shape[1]:
        raise ValueError("a and b must hold filters of the same length")
    previous = numba.get_num_threads()
    if threads is not None:
        most = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
        numba.set_num_threads(max(1, min(threads, most)))
    # tiles are dealt to threads a few at a time: windows differ in length with the popcount,
    # so equal contiguous shares (the default) leave one thread idle while the other finishes
    chunk = numba.set_parallel_chunksize(_CHUNK_TILES)
    try:
        return _candidates(wa, wb, dedup, threshold, k, max_candidates)
    finally:
        numba.set_parallel_chunksize(chunk)
        numba.set_num_threads(previous)


def _candidates(
    wa: npt.NDArray[np.uint64],
    wb: npt.NDArray[np.uint64],
    dedup: bool,
    threshold: float,
    k: int | None,
    max_candidates: int,
) -> Candidates:
    # both sides sorted by popcount: each row of a scans a window of b, and consecutive rows
    # of a (one tile) have nearly the same window
    pa_orig = row_popcounts(wa)
    order_a = np.argsort(pa_orig, kind="stable").astype(np.int64)
    order_b = order_a if dedup else np.argsort(row_popcounts(wb), kind="stable").astype(np.int64)
    sorted_a = np.ascontiguousarray(wa[order_a])
    sorted_b = sorted_a if dedup else np.ascontiguousarray(wb[order_b])
    pa = pa_orig[order_a]
    pb = pa if dedup else row_popcounts(sorted_b)
    need = _need(threshold, pa.max(initial=0) + pb.max(initial=0))
    rows: list[npt.NDArray[np.int64]] = []
    cols: list[npt.NDArray[np.int64]] = []
    scores: list[npt.NDArray[np.float64]] = []
    total = 0
    for start in range(0, wa.shape[0], BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, wa.shape[0])
        ids = np.arange(start, stop, dtype=np.int64)
        block_a, block_pa = sorted_a[start:stop], pa[start:stop]
        lo, hi = _windows(block_pa, pb, threshold)
        if k is not None:
            skip = ids if dedup else np.full(len(ids), -1, np.int64)
            out_j = np.empty((len(ids), k), np.int64)
            out_s = np.empty((len(ids), k), np.float64)
            counts = np.empty(len(ids), np.int64)
            _scan_topk(
                block_a,
                block_pa,
                sorted_b,
                pb,
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
                lo = np.maximum(lo, ids + 1)
                hi = np.maximum(hi, lo)
            try:
                local, found_j, found_s = _threshold_block(
                    block_a, block_pa, sorted_b, pb, lo, hi, need, max_candidates - total
                )
            except _TooMany:
                raise _overflow(max_candidates, threshold) from None
        total += len(local)
        if total > max_candidates:
            raise _overflow(max_candidates, threshold)
        rows.append(order_a[ids[local]])
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


def _need(threshold: float, max_denom: int) -> npt.NDArray[np.int64]:
    """need[d]: the fewest shared bits with which two filters whose popcounts sum to d score
    Dice >= threshold, exactly as the float64 score 2*shared/d compares; more than any
    possible overlap for d = 0 (two empty filters never match). One table lookup per pair then
    replaces a division."""
    d = np.arange(max_denom + 1, dtype=np.int64)
    safe = np.maximum(d, 1)
    need: npt.NDArray[np.int64] = np.ceil(threshold * d / 2.0).astype(np.int64)
    while True:  # the float ceil may be one off either way: settle on the exact boundary
        lower = (need > 0) & (2.0 * (need - 1) / safe >= threshold)
        higher = 2.0 * need / safe < threshold
        if not (lower.any() or higher.any()):
            break
        need += higher.astype(np.int64) - lower.astype(np.int64)
    need[0] = max_denom + 1
    return need


def _threshold_block(
    a: npt.NDArray[np.uint64],
    pa: npt.NDArray[np.int64],
    b: npt.NDArray[np.uint64],
    pb: npt.NDArray[np.int64],
    lo: npt.NDArray[np.int64],
    hi: npt.NDArray[np.int64],
    need: npt.NDArray[np.int64],
    room: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(local row, sorted position in b, score) of one block's matches: one pass with a few
    slots a row (as many as a sample of rows suggests), then an exact-room rescan of the rows
    that overflowed them. ``room`` is how many candidates may still be returned; past it,
    nothing more is allocated."""
    n = a.shape[0]
    a, pa, lo, hi = _pad_to_tiles(a, pa, lo, hi)
    slots = np.full(len(pa), _slots(a, pa, b, pb, lo, hi, need), np.int64)
    slots[n:] = 0
    width = int(slots[0]) if n else 0
    out_j = np.empty(len(pa) * width, np.int64)
    out_s = np.empty(len(pa) * width, np.float64)
    counts = np.empty(len(pa), np.int64)
    offsets = np.arange(len(pa), dtype=np.int64) * width
    _scan_threshold(a, pa, b, pb, lo, hi, need, offsets, slots, out_j, out_s, counts)
    counts = counts[:n]
    if int(counts.sum()) > room:
        raise _TooMany()
    fits = counts <= width
    kept = np.where(fits, counts, 0)
    # where each kept candidate lies in the buffers: its row's offset plus its rank in the row
    rank = np.arange(int(kept.sum())) - np.repeat(np.cumsum(kept) - kept, kept)
    where = np.repeat(offsets[:n], kept) + rank
    rows = [np.repeat(np.arange(n), kept)]
    cols = [out_j[where]]
    scores = [out_s[where]]
    over = np.flatnonzero(~fits)
    if over.size:
        sub_counts = counts[over]
        sub_a, sub_pa, sub_lo, sub_hi = _pad_to_tiles(a[over], pa[over], lo[over], hi[over])
        sub_room = np.zeros(len(sub_pa), np.int64)
        sub_room[: over.size] = sub_counts
        sub_offsets = np.zeros(len(sub_pa), np.int64)
        sub_offsets[: over.size] = np.concatenate([[0], np.cumsum(sub_counts)[:-1]])
        flat_j = np.empty(int(sub_counts.sum()), np.int64)
        flat_s = np.empty(len(flat_j), np.float64)
        _scan_threshold(
            sub_a,
            sub_pa,
            b,
            pb,
            sub_lo,
            sub_hi,
            need,
            sub_offsets,
            sub_room,
            flat_j,
            flat_s,
            np.empty(len(sub_pa), np.int64),
        )
        rows.append(np.repeat(over, sub_counts))
        cols.append(flat_j)
        scores.append(flat_s)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(scores)


def _pad_to_tiles(
    a: npt.NDArray[np.uint64],
    pa: npt.NDArray[np.int64],
    lo: npt.NDArray[np.int64],
    hi: npt.NDArray[np.int64],
) -> tuple[
    npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    """Rows up to a whole number of tiles. A pad row copies the window of the last real row,
    so its tile scans nothing more; it is given no room, so what it finds is never written."""
    pad = (-len(pa)) % _TILE
    if not pad or not len(pa):
        return a, pa, lo, hi
    return (
        np.concatenate([a, np.zeros((pad, a.shape[1]), a.dtype)]),
        np.concatenate([pa, np.zeros(pad, pa.dtype)]),
        np.concatenate([lo, np.full(pad, lo[-1])]),
        np.concatenate([hi, np.full(pad, hi[-1])]),
    )


def _slots(
    a: npt.NDArray[np.uint64],
    pa: npt.NDArray[np.int64],
    b: npt.NDArray[np.uint64],
    pb: npt.NDArray[np.int64],
    lo: npt.NDArray[np.int64],
    hi: npt.NDArray[np.int64],
    need: npt.NDArray[np.int64],
) -> int:
    """Buffer slots per row: twice what the busiest of a sample of rows found (about one tile
    in 64 is counted), so that few rows need the rescan however low the threshold, and no
    fewer than ROW_BUFFER. Bounded so one block's buffers stay within _SLOT_BYTES."""
    tiles = len(pa) // _TILE
    if tiles == 0:
        return ROW_BUFFER
    picked = np.arange(0, tiles, max(1, tiles // _SAMPLE_TILES))
    rows = (picked[:, None] * _TILE + np.arange(_TILE)[None, :]).ravel()
    counts = np.empty(len(rows), np.int64)
    none = np.zeros(len(rows), np.int64)
    _scan_threshold(
        np.ascontiguousarray(a[rows]),
        pa[rows],
        b,
        pb,
        lo[rows],
        hi[rows],
        need,
        none,
        none,
        none[:0],
        np.zeros(0, np.float64),
        counts,
    )
    most = _SLOT_BYTES // (16 * len(pa))
    return int(min(max(ROW_BUFFER, 2 * int(np.quantile(counts, 0.99))), max(most, ROW_BUFFER)))


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
