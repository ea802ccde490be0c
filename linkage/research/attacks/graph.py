"""The graph attack: match the encodings' similarity graph with the register's.

Linkage needs two field filters of similar values to be similar, so whatever hardening keeps
linkage working keeps the graph of similarities between filters: that is what this attack
reads, and not a single bit position (Vidanage, Christen, Ranbaduge and Schnell 2020 match
such graphs by node features; Narayanan and Shmatikov 2009 grow a matching from seeds). An
attacker builds the same graph over the register's values from the config's public token
rules (two values are as similar as the bits of their shared tokens make them) and matches
the two.

It grows the matching from seeds: the filters frequency alignment names and those of records
an insider knows. Each filter is then described by its similarities to the seeds' filters,
each value by its similarities to the seeds' values; both are standardised per seed (the two
graphs' scales differ: hashing collisions and hardening raise or lower every filter's Dice)
and each filter is given the value whose description correlates best with its own. The
surest readings, twice as many each round, become seeds of the next round. Like the pattern
attack it tries several starts and keeps the one whose readings fit best, which needs no
truth.

Hardening that preserves similarity (XOR-folding, Rule 90, a diffusion layer, random bit
flips) can make its start harder, since frequency's seeds are less often right, but it leaves
the graph to be read once the seeds are right. Only where filters cannot be compared at all,
across salts, is there no graph to read.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from linkage.research.attacks.pattern import Field, value_tokens

#: Rounds of reading and taking the surest readings as seeds.
ROUNDS = 8
#: Starts tried: how many filters frequency alignment names per field (0: only the records
#: an insider knows). A wrong seed misleads every reading it describes, so the start with
#: none of frequency's guesses is tried too.
STARTS = (0, 10, 20, 30)
#: Readings taken as seeds for the next round, per seed at the start (doubling each round);
#: growing faster lets wrong readings in as seeds sooner.
TAKE = 2
#: Most seeds a filter is described by (the surest first): enough to tell values apart,
#: and it bounds the work of a round.
MAX_SEEDS = 400
#: Distinct filters read at once (bounds the filters x values score matrix).
_CHUNK = 2048

Matrix = npt.NDArray[np.float32]


def graph_attack(
    fields: Mapping[str, Field], known: Mapping[str, Mapping[int, str]] | None = None
) -> dict[str, list[str | None]]:
    """Each record's guessed value per field (None where its filter is empty); ``known``
    gives, per field, record rows whose value the attacker knows."""
    return {
        name: _attack_field(field, (known or {}).get(name, {})) for name, field in fields.items()
    }


def _attack_field(field: Field, known: Mapping[int, str]) -> list[str | None]:
    bits = np.unpackbits(field.filters, axis=1)
    distinct, inverse, counts = np.unique(bits, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    present: npt.NDArray[np.bool_] = np.asarray(distinct.any(axis=1), dtype=bool)
    renumber = np.cumsum(present) - 1
    of_record = np.where(present[inverse], renumber[inverse], -1).astype(np.int64)
    filters = distinct[present].astype(np.float32)
    kept = np.asarray(counts[present], np.int64)
    values = sorted(field.reference, key=lambda v: (-field.reference[v], v))
    if not len(filters) or not values:
        return [None] * len(of_record)
    weighted = _weighted_tokens(field, values)
    row_of = {v: r for r, v in enumerate(values)}
    fixed = {
        int(of_record[record]): row_of[value]
        for record, value in known.items()
        if of_record[record] >= 0 and value in row_of
    }
    frequent = np.argsort(-kept, kind="stable")[: min(max(STARTS), len(values))]
    graphs = _Graphs(filters, weighted)
    runs = [
        _run(graphs, kept, frequent[:start], fixed, max(start, len(fixed)))
        for start in STARTS
        if start or fixed
    ]
    best, _ = max(runs, key=lambda run: run[1])
    return [values[best[j]] if j >= 0 else None for j in of_record.tolist()]


def _weighted_tokens(field: Field, values: list[str]) -> Matrix:
    """Values x tokens: each value's tokens, weighted by the bits the config gives them."""
    vocabulary: dict[str, int] = {}
    cells: list[tuple[int, int, int]] = []
    for row, value in enumerate(values):
        for token, weight in value_tokens(field.spec, value):
            column = vocabulary.setdefault(token, len(vocabulary))
            cells.append((row, column, weight))
    out = np.zeros((len(values), len(vocabulary)), np.float32)
    for row, column, weight in cells:
        out[row, column] = weight
    return out


class _Graphs:
    """The two similarity graphs, computed a seed column at a time."""

    def __init__(self, filters: Matrix, weighted: Matrix) -> None:
        self.filters = filters
        self.filter_size = filters.sum(axis=1)
        self.weighted = weighted
        self.holds = (weighted > 0).astype(np.float32)
        self.value_size = weighted.sum(axis=1)

    def encoded(self, seeds: list[int]) -> Matrix:
        """Dice of every filter with each seed filter."""
        shared = self.filters @ self.filters[seeds].T
        return np.asarray(
            2.0 * shared / (self.filter_size[:, None] + self.filter_size[seeds][None, :] + 1e-9),
            np.float32,
        )

    def plain(self, seeds: list[int]) -> Matrix:
        """The Dice every value's filter would have with each seed value's: twice the bits
        of the tokens they share over the bits of both."""
        shared = self.weighted @ self.holds[seeds].T
        return np.asarray(
            2.0 * shared / (self.value_size[:, None] + self.value_size[seeds][None, :] + 1e-9),
            np.float32,
        )


def _described(similarity: Matrix) -> Matrix:
    """Each row's similarities to the seeds, standardised per seed, to unit length: rows
    of two graphs are then compared by correlation, whatever each graph's scale."""
    centred = similarity - similarity.mean(axis=0, keepdims=True)
    centred /= centred.std(axis=0, keepdims=True) + 1e-6
    norm = np.linalg.norm(centred, axis=1, keepdims=True)
    return np.asarray(centred / (norm + 1e-6), np.float32)


def _run(
    graphs: _Graphs,
    counts: npt.NDArray[np.int64],
    frequent: npt.NDArray[np.int64],
    fixed: dict[int, int],
    size: int,
) -> tuple[npt.NDArray[np.int64], float]:
    """The matching grown from one start of ``size`` seeds: each distinct filter's value,
    and how well the readings fit (the records' mean correlation with their reading)."""
    seeds = {int(j): rank for rank, j in enumerate(frequent.tolist())} | fixed
    best = np.zeros(len(graphs.filters), np.int64)
    score = np.zeros(len(graphs.filters), np.float64)
    for round_ in range(ROUNDS + 1):
        if len(seeds) < 2:
            break
        best, margin, score = _read(graphs, seeds)
        if round_ == ROUNDS:
            break
        surest = np.argsort(-margin, kind="stable")[: TAKE * size * 2**round_]
        seeds = fixed | {int(j): int(best[j]) for j in surest if int(j) not in fixed}
    fit = float(np.dot(score, counts)) / max(int(counts.sum()), 1)
    return best, fit


def _read(
    graphs: _Graphs, seeds: Mapping[int, int]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Best value of each distinct filter, its margin over the next and its correlation;
    seeds are taken in the order given (the surest first), up to ``MAX_SEEDS``."""
    chosen = list(seeds.items())[:MAX_SEEDS]
    left = _described(graphs.encoded([j for j, _ in chosen]))
    right = _described(graphs.plain([r for _, r in chosen]))
    n = len(left)
    best = np.zeros(n, np.int64)
    margin = np.zeros(n, np.float64)
    score = np.zeros(n, np.float64)
    for start in range(0, n, _CHUNK):
        block = left[start : start + _CHUNK] @ right.T
        stop = start + len(block)
        best[start:stop] = np.argmax(block, axis=1)
        score[start:stop] = block.max(axis=1)
        if block.shape[1] > 1:
            top = np.partition(block, block.shape[1] - 2, axis=1)[:, -2:]
            margin[start:stop] = top[:, 1] - top[:, 0]
    return best, margin, score
