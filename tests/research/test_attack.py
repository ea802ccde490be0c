"""The frequency attack: it must find what frequencies give away, and nothing when they don't."""

from __future__ import annotations

import numpy as np
import pytest

from linkage.research.attacks.reidentify import align, frequency_attack
from linkage.research.synthetic.names import NameTable, public_tables

_TABLE = NameTable(("Anna", "Bruno", "Chloe", "Denis"), np.array([0.4, 0.3, 0.2, 0.1]))


def _filters(values: list[str], rng: np.random.Generator) -> np.ndarray:
    """One fixed random 256-bit filter per distinct value, as a deterministic encoding gives."""
    pattern = {v: rng.integers(0, 256, 32, dtype=np.uint8) for v in sorted(set(values)) if v}
    return np.array([pattern[v] if v else np.zeros(32, np.uint8) for v in values])


def test_equal_values_give_equal_filters_and_are_aligned_by_frequency() -> None:
    rng = np.random.default_rng(1)
    values = ["anna"] * 40 + ["bruno"] * 30 + ["chloe"] * 20 + ["denis"] * 10 + [""] * 5
    guesses = frequency_attack(_filters(values, rng), _TABLE)
    assert guesses[:100] == values[:100]
    assert guesses[100:] == [None] * 5  # an empty filter is a missing value: no guess


def test_frequencies_out_of_order_mislead_it() -> None:
    rng = np.random.default_rng(2)
    values = ["denis"] * 40 + ["chloe"] * 30 + ["bruno"] * 20 + ["anna"] * 10
    guesses = frequency_attack(_filters(values, rng), _TABLE)
    assert sum(g == v for g, v in zip(guesses, values, strict=True)) == 0


def test_a_random_filter_per_record_defeats_it() -> None:
    rng = np.random.default_rng(3)
    values = ["anna"] * 40 + ["bruno"] * 30 + ["chloe"] * 30
    filters = rng.integers(0, 256, (len(values), 32), dtype=np.uint8)
    guesses = frequency_attack(filters, _TABLE)
    # every filter is unique: ranks are arbitrary, so at most the top rank's one record is right
    assert sum(g == v for g, v in zip(guesses, values, strict=True)) <= 1


def test_public_tables_are_normalised_like_the_encoder() -> None:
    tables = public_tables()
    first = tables["first_name"]
    assert first.probs.sum() == pytest.approx(1.0)
    assert list(first.probs) == sorted(first.probs, reverse=True)


def test_alignment_takes_an_insiders_values_for_every_equal_filter_first() -> None:
    filters = np.array([[1], [1], [1], [2], [2], [3], [0]], np.uint8)
    # by frequency alone: 1 -> a, 2 -> b, 3 -> c; an empty filter is missing
    assert align(filters, ["a", "b", "c"]) == ["a", "a", "a", "b", "b", "c", None]
    # the insider knows record 5 is "a": its filter is "a", the rest align with what is left
    assert align(filters, ["a", "b", "c"], {5: "a"}) == ["b", "b", "b", "c", "c", "a", None]
    assert align(filters, ["a"], {6: "a"}) == ["a", "a", "a", None, None, None, None]
