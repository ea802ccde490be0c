"""Blocking: compare only records that share a block, so a million records need not meet each
other (5e11 pairs).

Two ways of putting records into blocks, both ending in the same in-block kernel:

* **keyed blocking keys**, computed by each agency from plaintext parts (a phonetic code of the
  surname with the birth year, ...) and HMAC-ed with the shared secret before they leave, so the
  coordinator sees 64-bit opaque keys only. One block per distinct key value, per key.
* **Hamming LSH** on the filters themselves, for partners without blocking keys: each of
  ``tables`` tables samples ``bits`` bit positions; records agreeing on all of them share a
  bucket. A pair whose filters differ in a fraction h of bits collides in one table with
  probability (1 - h)^bits, so the chance of never colliding falls geometrically with the
  number of tables (:func:`lsh_parameters`).

Within a block every pair is scored with record-level Dice (popcount-pruned) and kept at or
above the threshold; pairs met in several blocks are reported once. Blocks larger than
``max_block`` records (records with an empty filter are never compared and do not count) are
not compared (they would cost max_block^2/2 comparisons each, and
such blocks come from a key that separates nothing, like a missing value): they are counted
and reported, and their records are still compared through the other keys or tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from linkage.matching.candidates.kernel import as_words, dice_at, intersection_count, row_popcounts
from linkage.matching.candidates.pairs import pair_dice
from linkage.matching.candidates.reference import Candidates

#: Default size above which a block is left out (and reported).
MAX_BLOCK = 2_000
#: Scores buffered per parallel pass (float32): bounds memory whatever the blocks.
_PASS_PAIRS = 1 << 24


@dataclass
class BlockingStats:
    """What blocking did: enough to judge its cost and its risk."""

    method: str
    comparisons: int = 0
    blocks: int = 0
    oversized_blocks: int = 0
    oversized_records: int = 0
    candidates: int = 0
    per_key: dict[str, int] = field(default_factory=dict)

    def reduction_ratio(self, n_records: int) -> float:
        """1 - comparisons / all pairs: the share of the all-pairs work saved."""
        total = n_records * (n_records - 1) // 2
        return 1.0 - self.comparisons / total if total else 0.0


@njit(cache=True, nogil=True, parallel=True)
def _block_scores(
    words: Any,
    pop: Any,
    members: Any,
    starts: Any,
    sizes: Any,
    heads: Any,
    offsets: Any,
    party: Any,
    cross_only: bool,
    threshold: float,
    out: Any,
) -> None:
    """Scores of the pairs in the first ``heads`` rows of each block's upper triangle (all of
    it when heads == sizes; -1 where pruned or same-party in cross mode)."""
    for blk in prange(starts.shape[0]):
        s = starts[blk]
        n = sizes[blk]
        k = offsets[blk]
        for x in range(heads[blk]):
            i = members[s + x]
            for y in range(x + 1, n):
                j = members[s + y]
                if cross_only and party[i] == party[j]:
                    out[k] = -1.0
                else:
                    out[k] = dice_at(
                        intersection_count(words, i, words, j), pop[i] + pop[j], threshold
                    )
                k += 1


@njit(cache=True, nogil=True)
def _unrank(
    hits: Any, blk: Any, offsets: Any, starts: Any, sizes: Any, members: Any, ra: Any, rb: Any
) -> None:
    """Record pair of each hit from its block and its index in the block's upper triangle."""
    for h in range(hits.shape[0]):
        b = blk[h]
        n = sizes[b]
        k = hits[h] - offsets[b]
        # row x holds pairs [x*(2n-x-1)/2, (x+1)*(2n-x-2)/2); start from the float root
        x = int(((2 * n - 1) - math.sqrt((2 * n - 1) ** 2 - 8 * k)) // 2)
        x = max(0, min(x, n - 2))
        while x > 0 and x * (2 * n - x - 1) // 2 > k:
            x -= 1
        while (x + 1) * (2 * n - x - 2) // 2 <= k:
            x += 1
        y = k - x * (2 * n - x - 1) // 2 + x + 1
        i = members[starts[b] + x]
        j = members[starts[b] + y]
        ra[h] = min(i, j)
        rb[h] = max(i, j)


@dataclass(frozen=True)
class _Blocks:
    """Blocks of equal keys: members in key order, each block's start and size, and how many
    of its first members head a row of pairs (every member but the last in full mode; the
    fresh members, sorted first, in fresh mode). Oversized blocks are counted, not kept."""

    members: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]
    sizes: npt.NDArray[np.int64]
    heads: npt.NDArray[np.int64]
    oversized: int
    oversized_records: int

    def pairs(self) -> npt.NDArray[np.int64]:
        """Pairs per block: the first ``heads`` rows of its upper triangle."""
        h, n = self.heads, self.sizes
        return np.asarray(h * (2 * n - h - 1) // 2, np.int64)


def _groups(
    keys: npt.NDArray[np.uint64],
    valid: npt.NDArray[np.bool_],
    max_block: int,
    fresh: npt.NDArray[np.bool_] | None,
) -> _Blocks:
    """Blocks of equal keys; singletons are dropped (nothing to compare), and so are blocks
    without a fresh record in fresh mode."""
    idx = np.flatnonzero(valid).astype(np.int64)
    if fresh is None:
        order = idx[np.argsort(keys[idx], kind="stable")]
    else:
        order = idx[np.lexsort((~fresh[idx], keys[idx]))]
    sk = keys[order]
    if len(sk) == 0:
        empty = np.zeros(0, np.int64)
        return _Blocks(order, empty, empty, empty, 0, 0)
    edges = np.flatnonzero(np.concatenate(([True], sk[1:] != sk[:-1], [True])))
    starts, sizes = edges[:-1].astype(np.int64), np.diff(edges).astype(np.int64)
    big = sizes > max_block
    keep = (sizes > 1) & ~big
    if fresh is None:
        heads = sizes - 1
    else:
        heads = np.add.reduceat(fresh[order].astype(np.int64), starts)
        heads = np.minimum(heads, sizes - 1)
        keep &= heads > 0
    return _Blocks(
        order, starts[keep], sizes[keep], heads[keep], int(big.sum()), int(sizes[big].sum())
    )


def _compare_blocks(
    words: npt.NDArray[np.uint64],
    pop: npt.NDArray[np.int64],
    blocks: _Blocks,
    party: npt.NDArray[np.int32],
    cross_only: bool,
    threshold: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(low row, high row) of every in-block pair at or above ``threshold``, in passes of at
    most ``_PASS_PAIRS`` scores (blocks are capped, so one block always fits a pass)."""
    members, starts, sizes, heads = blocks.members, blocks.starts, blocks.sizes, blocks.heads
    pairs = blocks.pairs()
    found_a: list[npt.NDArray[np.int64]] = []
    found_b: list[npt.NDArray[np.int64]] = []
    # interleave large and small blocks so that the threads' shares of work are even
    order = np.random.default_rng(0).permutation(len(sizes))
    cum = np.cumsum(pairs[order])
    first = 0
    while first < len(order):
        budget = (cum[first - 1] if first else 0) + _PASS_PAIRS
        last = max(int(np.searchsorted(cum, budget, side="right")), first + 1)
        chosen = order[first:last]
        first = last
        sub_pairs = pairs[chosen]
        offsets = np.concatenate(([0], np.cumsum(sub_pairs)[:-1])).astype(np.int64)
        out = np.empty(int(sub_pairs.sum()), np.float32)
        sub_starts, sub_sizes = starts[chosen], sizes[chosen]
        _block_scores(
            words,
            pop,
            members,
            sub_starts,
            sub_sizes,
            heads[chosen],
            offsets,
            party,
            cross_only,
            threshold,
            out,
        )
        hits = np.flatnonzero(out >= np.float32(threshold) * np.float32(1 - 1e-6))
        blk = np.searchsorted(offsets, hits, side="right") - 1
        ra = np.empty(len(hits), np.int64)
        rb = np.empty(len(hits), np.int64)
        _unrank(hits, blk, offsets, sub_starts, sub_sizes, members, ra, rb)
        found_a.append(ra)
        found_b.append(rb)
    if not found_a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(found_a), np.concatenate(found_b)


def _distinct(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Sorted distinct values. (numpy 2.3's hash-based ``np.unique`` took 20 s on 25M pair
    codes here; sorting takes under 2.)"""
    values = np.sort(values)
    if len(values) < 2:
        return values
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


#: One way of putting records into blocks: a name, a key per record, and where it is valid.
KeyColumn = tuple[str, npt.NDArray[np.uint64], npt.NDArray[np.bool_]]


def key_columns(keys: npt.NDArray[np.uint64]) -> Iterator[KeyColumn]:
    """The columns of a (records x keys) matrix of agency blocking keys (0: no key)."""
    for c in range(keys.shape[1]):
        column = np.ascontiguousarray(keys[:, c])
        yield f"key {c + 1}", column, column != 0


def blocked_candidates(
    filters: npt.NDArray[np.uint8],
    columns: Iterable[KeyColumn],
    threshold: float,
    *,
    party: npt.NDArray[np.int32] | None = None,
    fresh: npt.NDArray[np.bool_] | None = None,
    max_block: int = MAX_BLOCK,
    method: str = "keys",
) -> tuple[Candidates, BlockingStats]:
    """Pairs sharing a block under any key column, with record-level Dice >= ``threshold``.

    Each column gives every record a key, used where it is valid; columns are consumed one at
    a time, so LSH tables are made and dropped one by one. With ``party`` (one integer per
    record), only pairs of different parties are returned (two-party linkage); without it,
    every pair once (deduplication). With ``fresh`` (a mask), only pairs with at least one
    fresh record: what a by-name list needs when a month's new records meet the old ones,
    whose pairs among themselves were scored before. Blocks are the same either way (sizes
    count every record), so fresh mode finds exactly the full run's pairs that touch a fresh
    record. Returns ``(rows_a, rows_b, scores)`` with rows_a < rows_b, sorted, and the
    blocking statistics (comparisons: the pairs actually scored).
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError("threshold must be in (0, 1]")
    words = as_words(filters)
    n = len(words)
    pop = row_popcounts(words)
    cross = party is not None
    parties = np.zeros(n, np.int32) if party is None else np.asarray(party, np.int32)
    stats = BlockingStats(method=method)
    found = np.zeros(0, np.int64)  # pairs as low * n + high, kept unique
    batch: list[npt.NDArray[np.int64]] = []
    pending = 0
    nonempty = pop > 0  # two empty filters never match
    for name, keys, valid in columns:
        if keys.shape != (n,) or valid.shape != (n,):
            raise ValueError("each key column must hold one key per record")
        blocks = _groups(keys, valid & nonempty, max_block, fresh)
        stats.blocks += len(blocks.sizes)
        stats.oversized_blocks += blocks.oversized
        stats.oversized_records += blocks.oversized_records
        done = int(blocks.pairs().sum())
        stats.comparisons += done
        stats.per_key[name] = done
        ra, rb = _compare_blocks(words, pop, blocks, parties, cross, threshold)
        batch.append(ra * n + rb)
        pending += len(ra)
        if pending > max(len(found), 1 << 20):  # the same pair recurs across tables: fold
            found = _distinct(np.concatenate([found, *batch]))
            batch, pending = [], 0
    found = _distinct(np.concatenate([found, *batch]))
    ra, rb = found // max(n, 1), found % max(n, 1)
    # rescored in float64 as the kernel scores them: the block passes kept float32
    scores = pair_dice(filters, filters, ra, rb)
    sure = scores >= threshold
    ra, rb, scores = ra[sure], rb[sure], scores[sure]
    stats.candidates = len(ra)
    return (ra, rb, scores), stats


def lsh_parameters(
    n_records: int, bits: int, density: float, design_dice: float, target: float = 0.99
) -> tuple[int, int]:
    """(bits sampled per table, tables) for Hamming LSH on ``n_records`` filters.

    Bits per table: enough that two unrelated filters (which agree on a bit with probability
    density^2 + (1-density)^2) share a bucket rarely, about one expected collision per record
    per table. Tables: enough that a pair at ``design_dice`` is found with probability
    ``target``. Its Hamming distance is about (1 - dice) times the sum of its popcounts.
    """
    density = min(max(density, 0.01), 0.99)
    agree_random = density**2 + (1 - density) ** 2
    sample = math.ceil(math.log(2.0 / max(n_records, 2)) / math.log(agree_random))
    sample = max(8, min(sample, 64))
    agree_true = 1.0 - 2.0 * density * (1.0 - design_dice)
    hit = agree_true**sample
    tables = math.ceil(math.log(1.0 - target) / math.log(1.0 - hit)) if hit < 1 else 1
    return sample, max(1, tables)


def lsh_columns(
    filters: npt.NDArray[np.uint8], sample: int, tables: int, seed: int = 0
) -> Iterator[KeyColumn]:
    """One key column per LSH table: each table's sampled bits packed into a uint64.

    The positions are drawn from ``seed`` alone; they need not be secret (the coordinator
    already holds the filters), only the same for every record."""
    if not 1 <= sample <= 64:
        raise ValueError("bits per table must be between 1 and 64")
    rng = np.random.default_rng(seed)
    n_bits = filters.shape[1] * 8
    everyone = np.ones(filters.shape[0], dtype=bool)
    for t in range(tables):
        positions = rng.choice(n_bits, size=min(sample, n_bits), replace=False)
        key = np.zeros(filters.shape[0], np.uint64)
        for pos in positions.tolist():
            bit = (filters[:, pos >> 3] >> np.uint8(7 - (pos & 7))) & np.uint8(1)
            key = (key << np.uint64(1)) | bit.astype(np.uint64)
        yield f"table {t + 1}", key, everyone
