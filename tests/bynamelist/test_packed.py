"""A month's statuses packed into one row: values kept per person, foreign layouts and damaged
columns refused in one line, ids looked up as a dict would."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from linkage.bynamelist import StoreError
from linkage.bynamelist.packed import MonthStatuses, id_array, pack, positions, unpack


def _ids(rng: np.random.Generator, n: int) -> list[str]:
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))
    return ["P" + "".join(rng.choice(letters, 12)) for _ in range(n)]


def _month(rng: np.random.Generator, n: int) -> MonthStatuses:
    return MonthStatuses(
        id_array(_ids(rng, n)),
        rng.integers(0, 6, n),
        rng.integers(0, 64, n),
        rng.integers(0, 64, n),
    )


@pytest.mark.parametrize("n", [0, 1, 500])
def test_each_person_keeps_their_values(n: int) -> None:
    month = _month(np.random.default_rng(n), n)
    back = unpack({"month": "2026-01", **pack(month)}, "2026-01")
    assert len(back) == n
    assert back.people.tolist() == sorted(month.people.tolist())  # sorted by id
    given = {
        p: (s, f, b)
        for p, s, f, b in zip(
            month.person_ids(), month.status, month.flags, month.listed, strict=True
        )
    }
    kept = {
        p: (s, f, b)
        for p, s, f, b in zip(back.person_ids(), back.status, back.flags, back.listed, strict=True)
    }
    assert kept == given


def test_a_person_twice_is_refused() -> None:
    month = _month(np.random.default_rng(1), 3)
    twice = dataclasses.replace(month, people=month.people[[0, 1, 0]])
    with pytest.raises(ValueError, match="appears twice"):
        pack(twice)


def test_later_layouts_and_damaged_columns_are_refused_in_one_line() -> None:
    row = pack(_month(np.random.default_rng(2), 40))
    with pytest.raises(StoreError, match="statuses of 2026-02 are in layout 2") as caught:
        unpack({**row, "layout": 2}, "2026-02")
    assert "\n" not in str(caught.value)
    with pytest.raises(StoreError, match="statuses of 2026-02 are damaged"):
        unpack({**row, "status": b"not compressed"}, "2026-02")
    with pytest.raises(StoreError, match="unequal length"):
        unpack({**row, "people_count": 41}, "2026-02")
    shorter = pack(_month(np.random.default_rng(3), 39))
    with pytest.raises(StoreError, match="unequal length"):
        unpack({**row, "flags": shorter["flags"]}, "2026-02")


def test_positions_are_a_dict_lookup() -> None:
    rng = np.random.default_rng(4)
    known = sorted(set(_ids(rng, 300)))
    asked = [*rng.choice(known, 200).tolist(), *_ids(rng, 50), ""]
    rng.shuffle(asked)
    index = {p: i for i, p in enumerate(known)}
    expected = [index.get(p, -1) for p in asked]
    assert positions(id_array(known), id_array(asked)).tolist() == expected
    assert positions(id_array([]), id_array(asked)).tolist() == [-1] * len(asked)
