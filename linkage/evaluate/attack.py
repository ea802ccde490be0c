"""Cryptanalysis of our own encodings: how many records can an attacker who holds the
coordinator's data re-identify?

The attacker model is the honest-but-curious coordinator, or anyone who steals its files. It
holds every upload (record and field filters), knows the config (it travels with the files and
is public) and has a public name table with frequencies (a census or voter file; here the very
tables the synthetic population was drawn from, the attacker's best case). It does not hold
the secret.

The attack is **frequency alignment** (Kuzu et al. 2011; Christen et al. 2017): identical
values give identical field filters, so the most frequent first-name filter is guessed to be
the most frequent first name, the second the second, and so on; likewise for surnames. It is
the attack no deterministic hardening (balancing, XOR-folding, Rule 90) can stop, because each
maps equal filters to equal filters; only randomness per record (BLIP) or salting does.

A record is **re-identified** when the attacker recovers both its first name and its surname
exactly (as recorded, after normalisation). The share of single fields recovered is reported
too. Scoring uses the plaintext, which only the evaluation holds; the attacks never read it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from linkage.config import Config
from linkage.evaluate.names import NameTable
from linkage.normalize import Status, normalize_name


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


def reidentification(
    config: Config,
    field_filters: npt.NDArray[np.uint8],
    truth: dict[str, list[str]],
    tables: dict[str, NameTable],
) -> dict[str, Any]:
    """Run the attack on the first-name and surname field filters (``field_filters`` is the
    coordinator's field-filter matrix); score them against the normalised plaintext in
    ``truth`` (field name -> value per record, "" when missing)."""
    width = config.output_field_length // 8
    index = {f.name: i for i, f in enumerate(config.fields)}
    attacked = [f for f in ("first_name", "last_name") if f in index and f in tables]
    if len(attacked) < 2:
        raise ValueError("the attack needs first_name and last_name fields")
    n = field_filters.shape[0]
    results: dict[str, Any] = {"records": n, "fields": {}}
    hits = {}
    for name in attacked:
        i = index[name]
        guesses = frequency_attack(field_filters[:, i * width : (i + 1) * width], tables[name])
        right = np.array(
            [g is not None and g == a for g, a in zip(guesses, truth[name], strict=True)]
        )
        hits[name] = right
        results["fields"][name] = float(right.mean()) if n else 0.0
    both = hits[attacked[0]] & hits[attacked[1]]
    results["reidentified"] = float(both.mean()) if n else 0.0
    return results
