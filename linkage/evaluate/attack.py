"""Cryptanalysis of our own encodings: how many records can an attacker who holds the
coordinator's data re-identify?

The attacker model is the honest-but-curious coordinator, or anyone who steals its files. It
holds every upload (record and field filters), knows the config (it travels with the files and
is public) and has public name data: a table of name frequencies (a census; here the very
tables the synthetic population was drawn from, the attacker's best case) or a register of
people (a voter file) holding a given share of the encoded people. It does not hold the secret.
An insider may also know the names behind a few records.

Two attacks:

* **frequency alignment** (Kuzu et al. 2011; Christen et al. 2017): identical values give
  identical field filters, so the most frequent first-name filter is guessed to be the most
  frequent first name, the second the second, and so on; likewise for surnames. No
  deterministic hardening (balancing, XOR-folding, Rule 90) changes a filter's frequency;
* **the pattern attack** (:mod:`linkage.evaluate.pattern`): from the filters it can name,
  learn which bits each token sets, then read every filter, rare names included.

A record is **re-identified** when the attacker recovers both its first name and its surname
exactly (as recorded, after normalisation). The share of single fields recovered is reported
too. Scoring uses the plaintext, which only the evaluation holds; the attacks never read it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from statistics import fmean, stdev
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import t as student_t

from linkage.config import Config
from linkage.evaluate.names import NameTable
from linkage.evaluate.pattern import Field, pattern_attack
from linkage.normalize import Status, normalize_name

#: The attacks :func:`reidentification` runs, by name.
ATTACKS = ("frequency", "pattern")


def _public_values(table: NameTable) -> tuple[list[str], npt.NDArray[np.float64]]:
    """The public table normalised as the encoder normalises, duplicates merged, most
    frequent first."""
    merged: dict[str, float] = {}
    for name, p in zip(table.names, table.probs, strict=True):
        value = normalize_name(name)
        if value.status is Status.PRESENT:
            merged[value.text] = merged.get(value.text, 0.0) + float(p)
    names = sorted(merged, key=lambda k: -merged[k])
    return names, np.array([merged[k] for k in names])


def frequency_attack(filters: npt.NDArray[np.uint8], table: NameTable) -> list[str | None]:
    """Align one field's packed filters (one row per record) with the public table: the
    name guessed for each record, None where its filter is empty (a missing value) or ranks
    below the table's end."""
    bits = np.unpackbits(filters, axis=1).astype(bool)
    # an all-zero filter is a missing value, and the attacker knows it
    present: npt.NDArray[np.bool_] = np.asarray(bits.any(axis=1), dtype=bool)
    distinct, inverse, counts = np.unique(bits, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    empty = ~distinct.any(axis=1)
    counts = np.where(empty, 0, counts)
    order = np.argsort(-counts, kind="stable")
    names, _ = _public_values(table)
    guess_of: dict[int, str] = {}
    for rank, d in enumerate(order[: min(len(order), len(names))].tolist()):
        if counts[d] > 0:
            guess_of[d] = names[rank]
    return [
        guess_of.get(d) if p else None
        for d, p in zip(inverse.tolist(), present.tolist(), strict=True)
    ]


def public_reference(
    values: Sequence[str],
    people: Sequence[str],
    table: NameTable,
    overlap: float,
    rng: np.random.Generator,
) -> Counter[str]:
    """The register the pattern attack reads values from (a voter file, a census extract):
    one value per person for an ``overlap`` share of the encoded people (their first
    record's), and as many other people, drawn from the public table, as make it the
    population's size."""
    if not 0.0 < overlap <= 1.0:
        raise ValueError("overlap is a share of the encoded people in (0, 1]")
    first: dict[str, str] = {}
    for person, value in zip(people, values, strict=True):
        if person not in first:
            first[person] = value
    chosen = [v for v in first.values() if v]
    size = len(chosen)
    kept = [chosen[i] for i in rng.permutation(size)[: round(overlap * size)].tolist()]
    names, probs = _public_values(table)
    others = rng.choice(len(names), size - len(kept), p=probs / probs.sum())
    return Counter(kept + [names[i] for i in others.tolist()])


def interval(runs: Sequence[float], level: float = 0.9) -> tuple[float, float]:
    """A ``level`` interval for the mean rate over repeated secrets (Student's t; a single
    run gives its own value twice): which secret a run draws moves the rates more than the
    records sampled do."""
    if len(runs) < 2:
        return runs[0], runs[0]
    half = float(student_t.ppf(0.5 + level / 2, len(runs) - 1)) * stdev(runs) / len(runs) ** 0.5
    mean = fmean(runs)
    return max(0.0, mean - half), min(1.0, mean + half)


def reidentification(
    config: Config,
    field_filters: npt.NDArray[np.uint8],
    truth: dict[str, list[str]],
    tables: dict[str, NameTable],
    attack: str = "frequency",
    *,
    people: Sequence[str] = (),
    overlap: float = 1.0,
    known: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Run one attack on the first-name and surname field filters (``field_filters`` is
    the coordinator's field-filter matrix); score it against the normalised plaintext in
    ``truth`` (field name -> value per record, "" when missing).

    The frequency attack aligns with the public ``tables`` themselves (the attacker's best
    case). The pattern attack reads values from a register of the ``people`` (each record's
    person) with ``overlap`` of them in it, and knows the values of ``known`` records drawn
    at random (an insider); ``seed`` draws both."""
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}: one of {', '.join(ATTACKS)}")
    width = config.output_field_length // 8
    index = {f.name: i for i, f in enumerate(config.fields)}
    attacked: list[str] = [f for f in ("first_name", "last_name") if f in index and f in tables]
    if len(attacked) < 2:
        raise ValueError("the attack needs first_name and last_name fields")
    n = field_filters.shape[0]
    results: dict[str, Any] = {"records": n, "attack": attack, "fields": {}}
    column = {
        name: field_filters[:, index[name] * width : (index[name] + 1) * width] for name in attacked
    }
    if attack == "frequency":
        guessed = {name: frequency_attack(column[name], tables[name]) for name in attacked}
    else:
        rng = np.random.default_rng(seed)
        fields = {
            name: Field(
                column[name],
                config.fields[index[name]],
                public_reference(truth[name], people, tables[name], overlap, rng),
            )
            for name in attacked
        }
        insider = rng.permutation(n)[:known].tolist()
        told = {name: {r: truth[name][r] for r in insider if truth[name][r]} for name in attacked}
        guessed = pattern_attack(fields, told, tuple(s.step for s in config.hardening))
    hits = {}
    for name in attacked:
        guesses = guessed[name]
        right = np.array(
            [g is not None and g == a for g, a in zip(guesses, truth[name], strict=True)]
        )
        hits[name] = right
        results["fields"][name] = float(right.mean()) if n else 0.0
    both = hits[attacked[0]] & hits[attacked[1]]
    results["reidentified"] = float(both.mean()) if n else 0.0
    return results
