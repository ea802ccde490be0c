"""Linking a month: the new or changed records, with every record of each person they are
candidates of, through the one :class:`~linkage.matching.Linker`, starting from what the
store knew (each person's records one group; a clerk's rulings hold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, select

from linkage.bynamelist.ingestion.records import Records
from linkage.bynamelist.ingestion.summary import IngestSummary
from linkage.bynamelist.store import Store
from linkage.bynamelist.store.schema import (
    decisions,
)
from linkage.matching import Candidates, Linker, Scored
from linkage.matching.scoring import Comparisons, Population, population
from linkage.progress import Progress

Rows = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ReviewPair:
    """A pair of the linked records (their rows) for a clerk to decide, and why."""

    a: int
    b: int
    score: float
    reason: str


@dataclass(frozen=True)
class Linked:
    """What linking some records decided: an entity label per record, the scored pairs the
    decision rests on (rows of those records), the pairs for review, and the people a
    clerk's "same" ruling joins (pairs of person ids, low first)."""

    labels: Rows
    rows_a: Rows
    rows_b: Rows
    scores: npt.NDArray[np.float64]
    review: list[ReviewPair]
    clerical: set[tuple[str, str]]

    def best_joins(self, person: list[str | None]) -> dict[tuple[str, str], float]:
        """Best score of a linked pair joining two different existing people (``person``
        per record), keyed by the pair of their ids, low first."""
        best: dict[tuple[str, str], float] = {}
        same = self.labels[self.rows_a] == self.labels[self.rows_b]
        joined = zip(
            self.rows_a[same].tolist(),
            self.rows_b[same].tolist(),
            self.scores[same].tolist(),
            strict=True,
        )
        for a, b, s in joined:
            pa, pb = person[a], person[b]
            if pa is None or pb is None or pa == pb:
                continue
            key = (min(pa, pb), max(pa, pb))
            best[key] = max(best.get(key, 0.0), s)
        return best


@dataclass(frozen=True)
class LinkedMonth:
    """A month's linking: which of the table's rows were linked, those records, and what
    linking them decided."""

    rows: Rows
    part: Records
    linked: Linked


def link_month(
    conn: Connection,
    store: Store,
    table: Records,
    report: IngestSummary,
    progress: Progress | None,
) -> LinkedMonth | None:
    """Link what this ingest brought: the dirty records (new or re-encoded), with every
    record of each person a dirty record scores at least ``lower`` with (below it a pair
    counts for nothing) or a clerk's ruling names; None when there is nothing to link.

    The pairs among old records were scored before and left their people as they are; only
    the old pairs inside the people brought in are scored again, for the majority rule
    weighs whole people. Every pair is scored with one model: u, the value frequencies and
    the record count from the whole list, m from this month's candidates."""
    n = len(table)
    dirty = table.dirty
    if dirty.all():
        everyone = np.arange(n, dtype=np.int64)
        if progress:
            progress(f"linking {n:,} of the {n:,} records")
        return LinkedMonth(everyone, table, link_rows(conn, store, table, report, progress))
    ruled = _ruled_people(conn, table)
    if not dirty.any() and not ruled:
        return None
    config = store.config
    whole = table.uploads(store)
    pop = population_of(store, table)
    if progress:
        progress(f"finding the candidates of {int(dirty.sum()):,} new or changed records")
    linker = Linker(config, progress=progress)
    found = linker.score(whole, linker.find(whole, fresh=dirty), population=pop, searched=dirty)
    ra, rb, scores, scorer = found.rows_a, found.rows_b, found.scores, found.scorer
    counted = scores >= config.thresholds.lower
    touched = np.unique(np.concatenate([ra[counted], rb[counted]])).tolist()
    persons = {table.person[i] for i in touched} | ruled
    persons.discard(None)
    wanted = np.fromiter((p in persons for p in table.person), np.bool_, n)
    rows = np.flatnonzero(dirty | wanted).astype(np.int64)
    inside = np.zeros(n, np.bool_)
    inside[rows] = True
    keep = inside[ra] & inside[rb]
    ra, rb, scores = ra[keep], rb[keep], scores[keep]
    old = rows[~dirty[rows]]
    if len(old) > 1:  # the old pairs inside the people brought in
        inner = Linker(config).find(table.take(old).uploads(store), scale=n, whole_keys=table.keys)
        oa, ob = old[inner.rows_a], old[inner.rows_b]
        model = None if scorer is None else scorer.model
        os = linker.score(
            whole, Candidates(oa, ob, inner.dice, {}), population=pop, model=model
        ).scores
        ra, rb, scores = (
            np.concatenate([ra, oa]),
            np.concatenate([rb, ob]),
            np.concatenate([scores, os]),
        )
    at = np.full(n, -1, np.int64)
    at[rows] = np.arange(len(rows))  # rows ascend: a low row stays the low one
    part = table.take(rows)
    if progress:
        progress(f"linking {len(part):,} of the {n:,} records")
    linked = link_rows(
        conn,
        store,
        part,
        report,
        progress,
        scored=Scored(
            at[ra],
            at[rb],
            scores,
            found.blocking,
            found.model,
            None if scorer is None else scorer.through(rows),
        ),
    )
    return LinkedMonth(rows, part, linked)


def _ruled_people(conn: Connection, table: Records) -> set[str | None]:
    """The people holding a record a clerk's ruling names (rulings are few)."""
    d = decisions.c
    ruled = conn.execute(select(d.agency_a, d.record_a, d.agency_b, d.record_b)).all()
    if not ruled:
        return set()
    where = dict(zip(zip(table.agency, table.record_id, strict=True), table.person, strict=True))
    return {where.get((a, r)) for aa, ra, ab, rb in ruled for a, r in ((aa, ra), (ab, rb))}


def population_of(
    store: Store, table: Records, rows: npt.NDArray[np.int64] | None = None
) -> Population | None:
    """What the weights take from every record when ``rows`` (default: all) are linked
    (None when the config does not score with weights)."""
    if store.config.match.score != "weights" or table.field_clks is None:
        return None
    return population(table.field_clks, Comparisons.of(store.config), rows)


def link_rows(
    conn: Connection,
    store: Store,
    part: Records,
    report: IngestSummary,
    progress: Progress | None,
    *,
    seed_groups: bool = True,
    population: Population | None = None,
    scale: int | None = None,
    whole_keys: npt.NDArray[np.uint64] | None = None,
    scored: Scored | None = None,
) -> Linked:
    """Link ``part``'s records, each person's starting as one group (unless ``seed_groups``
    is off), with the clerk's rulings applied among them. Its candidate pairs are found and
    scored here unless ``scored`` brings them (with how they were found and the model);
    ``population`` and ``scale`` carry the whole list's statistics and size when ``part`` is
    only some of it."""
    n = len(part)
    index = {key: i for i, key in enumerate(zip(part.agency, part.record_id, strict=True))}
    persons = sorted({p for p in part.person if p is not None})
    person_label = {p: i for i, p in enumerate(persons)}
    groups = np.array(
        [
            person_label[p] if p is not None and seed_groups else len(persons) + i
            for i, p in enumerate(part.person)
        ],
        np.int64,
    )
    ruled_apart: list[tuple[int, int]] = []
    clerical: set[tuple[str, str]] = set()
    for kind, aa, ra, ab, rb in conn.execute(
        select(
            decisions.c.kind,
            decisions.c.agency_a,
            decisions.c.record_a,
            decisions.c.agency_b,
            decisions.c.record_b,
        )
    ):
        ia, ib = index.get((aa, ra)), index.get((ab, rb))
        if ia is None or ib is None:
            continue
        if kind == "same":
            ga, gb = groups[ia], groups[ib]
            groups[groups == gb] = ga
            pa, pb = part.person[ia], part.person[ib]
            if pa is not None and pb is not None and pa != pb:
                clerical.add((min(pa, pb), max(pa, pb)))
        else:
            ruled_apart.append((ia, ib))
    never_pairs = [(a, b) for a, b in ruled_apart if groups[a] != groups[b]]
    if len(never_pairs) < len(ruled_apart):
        report.warnings.append(
            f"{len(ruled_apart) - len(never_pairs)} 'never' rulings lie inside one person "
            "(split them with 'linkage bnl review')"
        )
    if n < 2:
        empty = np.zeros(0, np.int64)
        return Linked(np.zeros(n, np.int64), empty, empty, np.zeros(0), [], clerical)
    never = None
    if never_pairs:
        apart = np.array(never_pairs, np.int64)
        never = (apart[:, 0].copy(), apart[:, 1].copy())
    uploads = part.uploads(store)
    linker = Linker(store.config, progress=progress)
    if scored is None:
        scored = linker.score(
            uploads,
            linker.find(uploads, scale=scale, whole_keys=whole_keys),
            population=population,
        )
    result = linker.resolve(uploads, scored, groups=groups, never=never)
    report.warnings.extend(result.report.warnings)
    review = [
        ReviewPair(int(result.rows_a[p]), int(result.rows_b[p]), float(result.scores[p]), why)
        for p, why in zip(result.review.tolist(), result.review_reasons, strict=True)
    ]
    return Linked(result.labels, result.rows_a, result.rows_b, result.scores, review, clerical)
