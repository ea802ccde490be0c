"""A scenario's year run through the whole by-name-list pipeline, scored month by month.

Each month, every agency's export is encoded as ``linkage encode FOLDER/`` does (activity
included) and the month's uploads are ingested as ``linkage bnl ingest`` does. Then the list
is compared with the scenario's truth: its figures with the true ones, and its grouping of
records with the true people.

The linkage error bounds how far a figure may fairly be off. A true person is **misgrouped**
when their records are not exactly one person's on the list (split, or mixed with someone
else's). Everyone else is on the list exactly once, with their own records only, so their
status is right whenever the status logic is; the misgrouped people and the list's people
holding their records are the only ones whose contributions may differ. So a month's count
may be off by at most the larger of those two numbers (:attr:`MonthScore.bound`), and a flow,
which compares two months, by the sum of both months' bounds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sqlalchemy import select

from linkage.agency.consent import read_consent_list
from linkage.agency.encoding.pipeline import encode_file
from linkage.agency.hmis.enrollments import activity_table
from linkage.bynamelist.ingestion import IngestSummary, ingest
from linkage.bynamelist.interval import estimate_month
from linkage.bynamelist.monthly import month_statuses
from linkage.bynamelist.status import Status
from linkage.bynamelist.store import Store
from linkage.bynamelist.store.schema import figures, records
from linkage.formats.config import Config
from linkage.matching.resolve import PeopleEstimate
from linkage.research.datasets import read_truth
from linkage.research.evaluation.metrics import Quality, pairwise_quality
from linkage.research.synthetic.scenario import (
    CONSENT_FILE,
    Scenario,
    read_households,
    read_statuses,
    true_figures,
)


@dataclass(frozen=True)
class MonthScore:
    """One month of the list against the truth."""

    month: str
    found: dict[str, dict[str, int]]  # population -> measure -> the list's (unsuppressed) value
    true: dict[str, dict[str, int]]
    linkage: Quality  # over every record ingested so far
    misgrouped: int  # true people whose records are not exactly one person's on the list
    holding: int  # people on the list holding a misgrouped person's records
    # (true person, found person) -> (true status and flags, found status and flags), for the
    # people the list holds exactly (not misgrouped)
    exact: dict[str, tuple[tuple[Status, int], tuple[Status, int] | None]]
    # the month's actively homeless as the links' probabilities estimate them (None: the
    # config does not score with weights)
    active_estimate: PeopleEstimate | None = None

    @property
    def bound(self) -> int:
        """How far this month's counts may be off through linkage alone."""
        return max(self.misgrouped, self.holding)

    @property
    def statuses_right(self) -> int:
        """People held exactly whose status on the list is their true one."""
        return sum(1 for true, held in self.exact.values() if held and held[0] == true[0])


def upload_path(uploads: Path, month: str, agency: str) -> Path:
    """Where :func:`encode_month` puts an agency's upload of a month."""
    return uploads / f"month_{month}" / f"{agency}.clk"


def encode_month(
    scenario: Scenario, month: str, config: Config, secret: bytes, uploads: Path
) -> list[Path]:
    """Encode each agency's export of ``month`` as the agency would; return the upload paths."""
    paths = []
    for folder in scenario.exports(month):
        table, _ = activity_table(folder)
        target = upload_path(uploads, month, folder.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        consent = read_consent_list(folder / CONSENT_FILE, config.id_column)
        encode_file(
            config,
            secret,
            folder / "Client.csv",
            target,
            folder.name,
            activity=table,
            consent_list=consent,
        )
        paths.append(target)
    return paths


def run_scenario(
    scenario: Scenario, store: Store, secret: bytes, uploads: Path
) -> Iterator[tuple[IngestSummary, MonthScore]]:
    """Encode and ingest the scenario month after month, scoring each month as it lands."""
    truth = read_truth(scenario.truth)
    true_statuses = read_statuses(scenario.statuses)
    true_table = true_figures(true_statuses, read_households(scenario.households))
    for month in scenario.months:
        paths = encode_month(scenario, month, store.config, secret, uploads)
        report = ingest(store, paths, month)
        guess = estimate_month(store, month)
        score = score_month(store, month, truth, true_statuses.get(month, {}), true_table)
        yield report, replace(score, active_estimate=guess)


def score_month(
    store: Store,
    month: str,
    truth: dict[tuple[str, str], str],
    true_statuses: dict[str, tuple[Status, int]],
    true_table: dict[str, dict[str, dict[str, int]]],
) -> MonthScore:
    """The list's ``month`` (just ingested: its grouping is the month's) against the truth."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(records.c.agency, records.c.record_id, records.c.person_id))
        found_of = {(a, r): p for a, r, p in rows}
        found: dict[str, dict[str, int]] = defaultdict(dict)
        query = select(figures.c.population, figures.c.measure, figures.c.value).where(
            figures.c.month == month
        )
        for population, measure, value in conn.execute(query):
            found[population][measure] = value
        stored = month_statuses(conn, month)
    found_status = (
        {}
        if stored is None
        else {
            p: (Status(s), f)
            for p, s, f in zip(
                stored.person_ids(), stored.status.tolist(), stored.flags.tolist(), strict=True
            )
            if s != Status.UNKNOWN
        }
    )
    keys = sorted(found_of)
    true_people: dict[str, set[str]] = defaultdict(set)
    found_people: dict[str, set[str]] = defaultdict(set)
    for key in keys:
        true_people[truth[key]].add(found_of[key])
        found_people[found_of[key]].add(truth[key])
    misgrouped = {
        t
        for t, held in true_people.items()
        if len(held) > 1 or len(found_people[next(iter(held))]) > 1
    }
    holding = {f for t in misgrouped for f in true_people[t]}
    exact = {
        t: (status, found_status.get(next(iter(true_people[t]))))
        for t, status in true_statuses.items()
        if t in true_people and t not in misgrouped
    }
    labels = np.unique([found_of[k] for k in keys], return_inverse=True)[1]
    true_labels = np.unique([truth[k] for k in keys], return_inverse=True)[1]
    return MonthScore(
        month=month,
        found=dict(found),
        true=true_table.get(month, {}),
        linkage=pairwise_quality(labels.astype(np.int64), true_labels.astype(np.int64)),
        misgrouped=len(misgrouped),
        holding=len(holding),
        exact=exact,
    )
