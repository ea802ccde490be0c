"""The pure by-name-list logic: statuses at a month's end, and small-cell suppression."""

from __future__ import annotations

import datetime as dt

import numpy as np

from linkage.bynamelist.status import Month, Status, combine, figures, statuses
from linkage.bynamelist.suppress import suppress
from linkage.formats.activity import Situation

END = dt.date(2026, 3, 31).toordinal()


def _people(last: list[int], situation: list[int], flags: list[int] | None = None):
    n = len(last)
    return combine(
        np.arange(n),
        n,
        np.array(last, np.int64),
        np.array(situation, np.int64),
        np.array(flags or [0] * n, np.int64),
    )


def test_inactivity_threshold_is_inclusive_and_later_activity_counts() -> None:
    people = _people([END - 90, END - 91, END + 3, 0], [Situation.HOMELESS] * 3 + [0])
    assert statuses(people, END, 90).tolist() == [
        Status.ACTIVE,
        Status.INACTIVE,
        Status.ACTIVE,
        Status.UNKNOWN,
    ]
    assert statuses(people, END, 30).tolist()[:2] == [Status.INACTIVE, Status.INACTIVE]


def test_situations_map_to_statuses_whatever_the_date() -> None:
    kinds = [Situation.HOUSED, Situation.DECEASED, Situation.INSTITUTION, Situation.TEMPORARY]
    people = _people([END - 400] * 4, kinds)
    assert statuses(people, END, 90).tolist() == [
        Status.HOUSED,
        Status.DECEASED,
        Status.NOT_HOMELESS,
        Status.NOT_HOMELESS,
    ]


def test_the_latest_record_speaks_and_ties_go_to_the_most_final() -> None:
    person = np.array([0, 0, 1, 1, 2, 2], np.int64)
    last = np.array([END - 10, END - 5, END - 5, END - 5, END - 5, 0], np.int64)
    sit = np.array([4, 1, 1, 4, 0, 5], np.int64)  # a record without activity has no say
    flags = np.array([1, 0, 0, 8, 2, 4], np.int64)
    people = combine(person, 3, last, sit, flags)
    assert people.situation.tolist() == [Situation.HOMELESS, Situation.HOUSED, Situation.UNKNOWN]
    assert people.flags.tolist() == [1, 8, 6]
    assert people.last_activity.tolist() == [END - 5] * 3


def test_inflow_and_outflow_balance_without_corrections() -> None:
    rng = np.random.default_rng(3)
    n = 500
    before = Month(rng.integers(0, 6, n), rng.integers(0, 16, n), rng.random(n) < 0.8)
    before.status[~before.existed] = 0
    now = Month(rng.integers(0, 6, n), rng.integers(0, 16, n), np.ones(n, np.bool_))
    ever = {
        p: rng.random(n) < 0.3
        for p in ("all", "single_adults", "youth", "families", "veterans", "chronic")
    }
    rows = figures(now, before, ever)
    listed_before = int(((before.status == Status.ACTIVE) & before.existed).sum())
    everyone = rows["all"]
    assert everyone["active"] - listed_before - everyone["inflow"] + everyone["outflow"] == 0
    kinds = ("newly_identified", "returned_from_housing", "returned_from_inactive", "entered")
    for row in rows.values():
        assert row["inflow"] == sum(row[k] for k in kinds)
    assert rows["all"]["entered"] == 0 and rows["all"]["no_longer_meets"] > 0
    assert rows["veterans"]["entered"] > 0


def test_suppression_hides_small_counts_and_what_would_reveal_them() -> None:
    cells = {"total": 25, "a": 3, "b": 12, "c": 10, "diff": 0}
    hidden = suppress(cells, [frozenset({"total", "a", "b", "c"})], 10, ["total", "a", "b", "c"])
    assert hidden == {"a", "c"}  # c: the smaller of the parts still shown
    # zero is shown; a difference is hidden only second, and a chain of relations is followed
    cells = {"x": 0, "y": 4, "t": 30, "u": 26, "d": 2}
    relations = [frozenset({"t", "y", "u"}), frozenset({"u", "d", "x"})]
    hidden = suppress(cells, relations, 10, ["x", "y", "t", "u"])
    assert "x" not in suppress({"x": 0}, [], 10, ["x"])
    assert hidden == {"y", "u", "x"}
    assert all(len(r & hidden) != 1 for r in relations)


def test_a_value_shared_with_another_table_is_hidden_in_both_or_shown_in_both() -> None:
    cells = {"before": 11, "inflow": 3, "outflow": 12, "active": 26}
    relation = [frozenset(cells)]
    people = ["before", "inflow", "outflow", "active"]
    # alone, the smallest shown cell ("before") would hide inflow's value
    assert suppress(cells, relation, 10, people) == {"inflow", "before"}
    # but "before" was shown in last month's table: another cell must do
    assert suppress(cells, relation, 10, people, published=["before"]) == {"inflow", "outflow"}
    # and one hidden there stays hidden here, with what would reveal it
    hidden = suppress({**cells, "inflow": 30, "active": 53}, relation, 10, people, ["before"])
    assert hidden == {"before", "outflow"}
