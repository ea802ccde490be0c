"""Cryptanalysis of our own encodings: how many records can an attacker who holds the
coordinator's data re-identify?

The attacker model is the honest-but-curious coordinator, or anyone who steals its files. It
holds every upload (record and field filters), knows the config (it travels with the files and
is public) and has public name data: a table of name frequencies (a census; here the very
tables the synthetic population was drawn from, the attacker's best case) or a register of
people (a voter file) holding a given share of the encoded people. It does not hold the secret.
An insider may also know the names behind a few records.

Three attacks:

* **frequency alignment** (Kuzu et al. 2011; Christen et al. 2017): identical values give
  identical field filters, so the most frequent first-name filter is guessed to be the most
  frequent first name, the second the second, and so on; likewise for surnames. No
  deterministic hardening (balancing, XOR-folding, Rule 90) changes a filter's frequency;
* **the pattern attack** (:mod:`linkage.research.attacks.pattern`): from the filters it can name,
  learn which bits each token sets, then read every filter, rare names included;
* **the graph attack** (:mod:`linkage.research.attacks.graph`): match the graph of similarities
  between filters with the one between the register's values, grown from seeds; it reads
  no bit position, so it is the one hardening that keeps similarities cannot stop.

Salting makes filters of different salts incomparable, so under a salted config every
attack runs once per salt, on the records that share it. The attacker is told which records
share a salt and its register gives each person's salt (a voter file's year of birth): the
generous case, and where the config's salt field holds the year only, what its field filter
shows anyway (it is the same for every record of one year).

A record is **re-identified** when the attacker recovers both its first name and its surname
exactly (as recorded, after normalisation). The share of single fields recovered is reported
too. Scoring uses the plaintext, which only the evaluation holds; the attacks never read it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from statistics import fmean, stdev
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import t as student_t

from linkage.agency.normalize import Status, normalize_name
from linkage.formats.config import Config, FieldSpec
from linkage.research.attacks.graph import graph_attack
from linkage.research.attacks.pattern import Field, pattern_attack
from linkage.research.synthetic.names import NameTable

#: The attacks :func:`reidentification` runs, by name.
ATTACKS = ("frequency", "pattern", "graph")


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
    names, _ = _public_values(table)
    return align(filters, names)


def align(
    filters: npt.NDArray[np.uint8], ranked: Sequence[str], known: Mapping[int, str] | None = None
) -> list[str | None]:
    """Frequency alignment of one field's packed filters (one row per record) with values
    ranked most frequent first: the value guessed for each record. A filter of a record in
    ``known`` (row -> value) takes that value, for every record that holds it, and leaves the
    ranking; an empty filter is a missing value, and the attacker knows it."""
    distinct, inverse, counts = np.unique(filters, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    empty: npt.NDArray[np.bool_] = np.asarray(~distinct.any(axis=1), dtype=bool)
    guess_of: dict[int, str] = {}
    for row, value in (known or {}).items():
        if not empty[inverse[row]]:
            guess_of[int(inverse[row])] = value
    taken = set(guess_of.values())
    left = [v for v in ranked if v not in taken]
    counts = np.where(empty, 0, counts)
    order = [d for d in np.argsort(-counts, kind="stable").tolist() if d not in guess_of]
    for d, value in zip(order, left, strict=False):
        if counts[d] > 0:
            guess_of[d] = value
    return [None if empty[d] else guess_of.get(d) for d in inverse.tolist()]


def date_part(spec: FieldSpec, text: str) -> str:
    """The part of a normalised date (``YYYYMMDD`` or ``YYYY``) that a date field's tokens
    encode, and so all its filter can tell: the year, the day and month, or the whole."""
    parts = {t.part for t in spec.tokens}
    if parts <= {"year", "decade"}:
        return text[:4]
    if parts <= {"month", "day", "day_month"}:
        return text[4:]
    return text


def public_reference(
    values: Sequence[str],
    people: Sequence[str],
    table: NameTable,
    overlap: float,
    rng: np.random.Generator,
) -> Counter[str]:
    """The register the pattern and graph attacks read names from (a voter file, a census
    extract): one value per person for an ``overlap`` share of the encoded people (their
    first record's), and as many other people, drawn from the public table, as make it the
    population's size."""
    kept, size = _registered(values, people, overlap, rng)
    names, probs = _public_values(table)
    others = rng.choice(len(names), size - len(kept), p=probs / probs.sum())
    return Counter(kept + [names[i] for i in others.tolist()])


def _registered(
    values: Sequence[str], people: Sequence[str], overlap: float, rng: np.random.Generator
) -> tuple[list[str], int]:
    """The values of an ``overlap`` share of the people who have one (their first record's),
    and how many people have one."""
    if not 0.0 < overlap <= 1.0:
        raise ValueError("overlap is a share of the encoded people in (0, 1]")
    first: dict[str, str] = {}
    for person, value in zip(people, values, strict=True):
        if person not in first:
            first[person] = value
    chosen = [v for v in first.values() if v]
    size = len(chosen)
    return [chosen[i] for i in rng.permutation(size)[: round(overlap * size)].tolist()], size


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
    salts: Sequence[str] = (),
    overlap: float = 1.0,
    known: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Run one attack on the first-name and surname field filters (``field_filters`` is
    the coordinator's field-filter matrix); score it against the normalised plaintext in
    ``truth`` (field name -> value per record, "" when missing).

    The frequency attack aligns with the public ``tables`` themselves (the attacker's best
    case). The pattern and graph attacks read values from a register of the ``people``
    (each record's person) with ``overlap`` of them in it, and know the values of ``known``
    records drawn at random (an insider); ``seed`` draws both. ``salts`` gives each record's
    salt where the config salts (its year of birth): every attack then runs per salt."""
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}: one of {', '.join(ATTACKS)}")
    width = config.output_field_length // 8
    index = {f.name: i for i, f in enumerate(config.fields)}
    attacked: list[str] = [f for f in ("first_name", "last_name") if f in index and f in tables]
    if len(attacked) < 2:
        raise ValueError("the attack needs first_name and last_name fields")
    dated = [f.name for f in config.fields if f.kind == "date" and f.name in truth]
    n = field_filters.shape[0]
    column = {
        name: field_filters[:, index[name] * width : (index[name] + 1) * width]
        for name in attacked + dated
    }
    rng = np.random.default_rng(seed)
    insider = set(rng.permutation(n)[:known].tolist())
    guessed: dict[str, list[str | None]] = {name: [None] * n for name in attacked + dated}
    for rows in _salt_groups(salts if config.salt_field else (), n):
        part = {name: column[name][rows] for name in attacked + dated}
        for name in dated:
            kept, _ = _registered(
                [truth[name][r] for r in rows], [people[r] for r in rows], overlap, rng
            )
            seen = {} if attack == "frequency" else _told(truth[name], rows, insider)
            ranked = sorted(Counter(kept).items(), key=lambda kv: (-kv[1], kv[0]))
            for i, value in enumerate(align(part[name], [v for v, _ in ranked], seen)):
                guessed[name][rows[i]] = value
        if attack == "frequency":
            found = {name: frequency_attack(part[name], tables[name]) for name in attacked}
        else:
            fields = {
                name: Field(
                    part[name],
                    config.fields[index[name]],
                    public_reference(
                        [truth[name][r] for r in rows],
                        [people[r] for r in rows],
                        tables[name],
                        overlap,
                        rng,
                    ),
                )
                for name in attacked
            }
            told = {name: _told(truth[name], rows, insider) for name in attacked}
            if attack == "pattern":
                found = pattern_attack(fields, told, tuple(s.step for s in config.hardening))
            else:
                found = graph_attack(fields, told)
        for name in attacked:
            for i, r in enumerate(rows):
                guessed[name][r] = found[name][i]
    results: dict[str, Any] = {"records": n, "attack": attack, "fields": {}}
    hits = {}
    for name in attacked + dated:
        right = np.array(
            [g is not None and g == a for g, a in zip(guessed[name], truth[name], strict=True)],
            dtype=bool,
        )
        hits[name] = right
        results["fields"][name] = float(right.mean()) if n else 0.0
    both = hits[attacked[0]] & hits[attacked[1]]
    results["reidentified"] = float(both.mean()) if n else 0.0
    if dated:
        whole = np.logical_and.reduce([hits[name] for name in dated])
        results["dates"] = float(whole.mean()) if n else 0.0
    return results


def _told(values: Sequence[str], rows: Sequence[int], insider: set[int]) -> dict[int, str]:
    """What the insider knows of one field in a salt's rows: position in ``rows`` -> value."""
    return {i: values[r] for i, r in enumerate(rows) if r in insider and values[r]}


def _salt_groups(salts: Sequence[str], n: int) -> list[list[int]]:
    """The rows of each salt (all rows in one group where nothing is salted)."""
    if not salts:
        return [list(range(n))]
    groups: dict[str, list[int]] = {}
    for row, salt in enumerate(salts):
        groups.setdefault(salt, []).append(row)
    return list(groups.values())
