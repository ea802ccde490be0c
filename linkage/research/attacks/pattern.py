"""The pattern attack: learn which bits each token sets, then read every field filter.

Frequency alignment (:mod:`linkage.research.attacks.reidentify`) can only name the values whose
filters are frequent. But a field filter is the OR of its tokens' bits, every token (a bigram, a
Metaphone code) always sets the same bits under one secret, and the config that says which
tokens a value has is public. So an attacker who can name a few filters can learn each token's
bits from them, then name every filter whose tokens it has seen, however rare the value (Kroll
and Steinmetzer 2015; Christen et al. 2018 mine the same bit patterns without any named filter).
Names that are hashed alike (a config group, kept comparable so that a swapped first and last
name is seen) share the tokens' bits, so each field teaches the other.

The attack here, per round:

1. *learn*: for each token, the bits most often set in the named filters of values that
   hold it, against how often they are set in all named filters (as many bits as the
   config's weight for that token);
2. *read*: each distinct filter is given the reference value whose learnt bits match it best
   (Dice), and the reading's margin over the runner-up says how sure it is;
3. the surest readings, twice as many each round, name the filters for the next round.

It starts from what the attacker can name: the filters frequency alignment ranks first, and
the records whose values it knows (``known``: an insider who knows some clients). Hardening
that maps a token's bits to other fixed bits (XOR-folding, Rule 90, a keyed permutation)
does not stop step 1 once enough filters are named, because a token's bits still move
together; it only adds noise where two tokens' bits cancel. Only a filter that differs from
one record to the next (salting, randomisation per record) does.

It reads nothing but filters, the config and the attacker's own knowledge; the plaintext
that scores it stays with the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linkage.agency.encoding.tokens import tokenize
from linkage.formats.config import FieldSpec

#: Rounds of learning and reading.
ROUNDS = 7
#: Starts tried: how many filters frequency alignment names per field. Too few teach too
#: few tokens; too many include ranks where close frequencies swap names, and wrong names
#: teach wrong bits. Which works depends on the data, so each is tried and the attacker
#: keeps the one whose readings fit the filters best (no truth needed for that).
STARTS = (10, 20, 30, 50, 100)
#: Readings taken as named for the next round, per filter named at the start (doubling
#: each round).
TAKE = 4
#: Distinct filters read at once (bounds the filters x values score matrix).
_CHUNK = 2048


@dataclass(frozen=True)
class Field:
    """One attacked field as the attacker holds it: each record's field filter (packed),
    the config's field, and the public reference's values with their counts."""

    filters: npt.NDArray[np.uint8]
    spec: FieldSpec
    reference: Mapping[str, int]


def value_tokens(spec: FieldSpec, text: str) -> list[tuple[str, int]]:
    """The tokens a normalised value sets in a field filter, each with its weight (bits),
    named so that the fields of one group share a token's name, as they share its bits."""
    out: list[tuple[str, int]] = []
    for index, token_spec in enumerate(spec.tokens):
        if spec.group:
            t = token_spec  # named by what it is, as the encoder keys a group's tokens
            tag = f"{spec.group}/{t.type}/{t.n}/{int(t.padding)}/{t.algorithm}/{t.max_canonicals}"
        else:
            tag = f"{spec.name}/{index}"
        out.extend((f"{tag}|{token}", token_spec.weight) for token in tokenize(text, token_spec))
    return out


@dataclass
class _Observed:
    """One field's distinct non-empty filters (as 0/1 floats), which of them each record
    holds (-1: empty), and the reference values as rows of token incidence."""

    bits: npt.NDArray[np.float32]
    counts: npt.NDArray[np.int64]
    of_record: npt.NDArray[np.int64]
    values: list[str]
    incidence: npt.NDArray[np.float32]
    frequent: npt.NDArray[np.int64]
    fixed: dict[int, int]


def undo_rule90(bits: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Rule 90 undone, as far as it can be: each output bit is the XOR of its two
    neighbours, so the even input bits follow from the odd output bits one after another
    (and the odd from the even), given the first of each. Each half thus has two inverses,
    one the other's complement; the sparser is taken, since filters are under half full.
    Rows of 0/1 bits of even length in, the same out."""
    out = np.empty_like(bits)
    for half in (0, 1):  # the input bits at even, then odd, positions
        # x[i + 2] = x[i] ^ y[i + 1]: starting from x[half] = 0
        steps = bits[:, half + 1 :: 2][:, : bits.shape[1] // 2 - 1]
        chain = np.bitwise_xor.accumulate(steps, axis=1)
        guess = np.concatenate([np.zeros((len(bits), 1), np.uint8), chain], axis=1)
        flip = guess.sum(axis=1) * 2 > guess.shape[1]
        out[:, half::2] = np.where(flip[:, None], 1 - guess, guess)
    return out


def pattern_attack(
    fields: Mapping[str, Field],
    known: Mapping[str, Mapping[int, str]] | None = None,
    hardening: tuple[str, ...] = (),
) -> dict[str, list[str | None]]:
    """Each record's guessed value per field (None where its filter is empty). ``known``
    gives, per field, record rows whose value the attacker knows; ``hardening`` names the
    config's hardening steps, in order: the Rule 90 steps at its end are undone first
    (:func:`undo_rule90`), as the attacker, who knows the config, would."""
    undo = 0
    for step in reversed(hardening):
        if step != "rule90":
            break
        undo += 1
    tokens_of = {
        name: [value_tokens(f.spec, v) for v in _by_count(f.reference)]
        for name, f in fields.items()
    }
    vocabulary: dict[str, int] = {}
    weights: list[int] = []
    for lists in tokens_of.values():
        for tokens in lists:
            for token, weight in tokens:
                if token not in vocabulary:
                    vocabulary[token] = len(vocabulary)
                    weights.append(weight)
    seen = {
        name: _observe(f, tokens_of[name], vocabulary, (known or {}).get(name, {}), undo)
        for name, f in fields.items()
    }
    token_weights = np.array(weights, np.int64)
    runs = [_run(seen, token_weights, start) for start in STARTS]
    readings, _ = max(runs, key=lambda run: run[1])
    return {
        name: [obs.values[readings[name][j]] if j >= 0 else None for j in obs.of_record.tolist()]
        for name, obs in seen.items()
    }


def _run(
    seen: Mapping[str, _Observed], weights: npt.NDArray[np.int64], start: int
) -> tuple[dict[str, npt.NDArray[np.int64]], float]:
    """The attack from one start: each field's reading of each distinct filter, and how
    well the readings fit (the records' mean Dice between filter and reading)."""
    named = {
        name: {int(j): rank for rank, j in enumerate(obs.frequent[:start].tolist())} | obs.fixed
        for name, obs in seen.items()
    }
    for round_ in range(ROUNDS):
        positions, learnt = _learn(seen, named, weights)
        for name, obs in seen.items():
            best, margin, _ = _read(obs, positions, learnt)
            surest = np.argsort(-margin, kind="stable")[: TAKE * start * 2**round_]
            named[name] = {int(j): int(best[j]) for j in surest} | obs.fixed
    positions, learnt = _learn(seen, named, weights)
    readings, fit, records = {}, 0.0, 0
    for name, obs in seen.items():
        best, _, dice = _read(obs, positions, learnt)
        readings[name] = best
        fit += float(np.dot(dice, obs.counts))
        records += int(obs.counts.sum())
    return readings, fit / max(records, 1)


def _by_count(reference: Mapping[str, int]) -> list[str]:
    return sorted(reference, key=lambda v: (-reference[v], v))


def _observe(
    field: Field,
    tokens: list[list[tuple[str, int]]],
    vocabulary: dict[str, int],
    known: Mapping[int, str],
    undo: int,
) -> _Observed:
    bits = np.unpackbits(field.filters, axis=1)
    for _ in range(undo):
        bits = undo_rule90(bits)
    distinct, inverse, counts = np.unique(bits, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    present: npt.NDArray[np.bool_] = np.asarray(distinct.any(axis=1), dtype=bool)
    renumber = np.cumsum(present) - 1
    of_record = np.where(present[inverse], renumber[inverse], -1).astype(np.int64)
    values = _by_count(field.reference)
    incidence = np.zeros((len(values), len(vocabulary)), np.float32)
    for row, value_tokens_ in enumerate(tokens):
        for token, _ in value_tokens_:
            incidence[row, vocabulary[token]] = 1.0
    kept = np.asarray(counts[present], np.int64)
    # the most frequent filters are guessed to be the most frequent values
    frequent = np.argsort(-kept, kind="stable")[: min(max(STARTS), len(values))]
    row_of = {v: r for r, v in enumerate(values)}
    fixed = {
        int(of_record[record]): row_of[value]
        for record, value in known.items()
        if of_record[record] >= 0 and value in row_of
    }
    return _Observed(
        distinct[present].astype(np.float32),
        kept,
        of_record,
        values,
        incidence,
        frequent,
        fixed,
    )


def _learn(
    seen: Mapping[str, _Observed],
    named: Mapping[str, dict[int, int]],
    weights: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Each token's bits (tokens x bits, 0/1) from every field's named filters (distinct
    filter -> reference value), and which tokens were seen in them at all."""
    rows = [obs.bits[list(named[k])] for k, obs in seen.items() if named[k]]
    holds = [obs.incidence[list(named[k].values())] for k, obs in seen.items() if named[k]]
    width = next(iter(seen.values())).bits.shape[1] if seen else 0
    positions = np.zeros((len(weights), width), np.float32)
    if not rows:
        return positions, np.zeros(len(weights), np.bool_)
    x, t = np.concatenate(rows), np.concatenate(holds)
    holding = t.sum(axis=0)
    share_in = (t.T @ x) / np.maximum(holding, 1.0)[:, None]
    lift = share_in - x.mean(axis=0)[None, :]
    learnt = holding > 0
    for token in np.flatnonzero(learnt).tolist():
        positions[token, np.argsort(-lift[token], kind="stable")[: weights[token]]] = 1.0
    return positions, learnt


def _read(
    obs: _Observed, positions: npt.NDArray[np.float32], learnt: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Best reference value of each distinct filter, its Dice margin over the next, and
    its Dice."""
    expected = np.minimum(obs.incidence[:, learnt] @ positions[learnt], 1.0)
    size = expected.sum(axis=1)
    best = np.zeros(len(obs.bits), np.int64)
    margin = np.zeros(len(obs.bits), np.float64)
    score = np.zeros(len(obs.bits), np.float64)
    if len(obs.values) == 0:
        return best, margin, score
    for start in range(0, len(obs.bits), _CHUNK):
        block = obs.bits[start : start + _CHUNK]
        dice = 2.0 * (block @ expected.T) / (block.sum(axis=1)[:, None] + size[None, :] + 1e-9)
        best[start : start + len(block)] = np.argmax(dice, axis=1)
        score[start : start + len(block)] = dice.max(axis=1)
        if dice.shape[1] > 1:
            top = np.partition(dice, dice.shape[1] - 2, axis=1)[:, -2:]
            margin[start : start + len(block)] = top[:, 1] - top[:, 0]
    return best, margin, score
