"""The month's actively homeless count as sure as the model is of it: an estimate with an
interval, kept beside the month's figures.

The list's active count is the people its links decided. Each of those decisions had a match
probability, and a list whose links are right three times in four is not as sure of its
count as one whose links are all near 1. So after an ingest, the records of every person
active at the month's end have their candidate pairs found and scored afresh (one model
fitted to them), and the uncertain decisions are sampled as
:func:`linkage.matching.resolve.people_estimate` does, counting only people who hold an active
record. Scoring every active person, not only those this month's uploads touched, is what
makes the interval the whole list's: a pair decided months ago at 0.6 is as uncertain now.

That is a search over the whole active list, so it runs after the ingest has committed, not
inside its transaction: the store's write lock is held only for the short write of the
result, and an ingest of a million people is not kept waiting by it (``bnl ingest``, the
service's ingest jobs and the demo run it straight after each ingest). It is written only if
no ingest, rollback or ruling changed the list meanwhile (an ingest's own estimate follows
it).

Pairs that blocking never reaches cannot be sampled (the estimate is high by as many people
as those pairs would have merged), and a clerk's rulings after the month's estimate do not
move it: like the month's other figures, it is frozen once written.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, delete, func, insert, select

from linkage.bynamelist.ingestion.records import load_records
from linkage.bynamelist.monthly import RecordActivity, latest_upload_month, month_end
from linkage.bynamelist.status import Status, combine, statuses
from linkage.bynamelist.store import Store, StoreError, writing
from linkage.bynamelist.store.schema import decisions, estimates, events, uploads
from linkage.formats.config import Config
from linkage.matching import Candidates, Linker, Uploads
from linkage.matching.resolve import PeopleEstimate, people_estimate
from linkage.progress import Progress


def active_estimate(
    config: Config,
    whole: Uploads,
    activity: RecordActivity,
    month: str,
    progress: Progress | None = None,
) -> PeopleEstimate | None:
    """The actively homeless people at ``month``'s end, estimated from fresh match
    probabilities of the active people's records (``activity`` aligned on ``whole``'s rows);
    None for a config that does not score with weights (no probabilities to sample)."""
    if config.match.score != "weights" or whole.field_clks is None:
        return None
    end = month_end(month).toordinal()
    days = config.bynamelist.inactive_after_days
    _, person = np.unique(activity.person, return_inverse=True)
    n = len(person)

    def active(of: npt.NDArray[np.int64], count: int) -> npt.NDArray[np.bool_]:
        people = combine(of, count, activity.last_activity, activity.situation, activity.flags)
        return np.asarray(statuses(people, end, days) == Status.ACTIVE)

    own = active(np.arange(n, dtype=np.int64), n)  # each record as a person of its own
    rows = np.flatnonzero(active(person, int(person.max()) + 1 if n else 0)[person])
    if not len(rows):
        return PeopleEstimate(0.0, 0.0, 0.0, 0.9)
    if progress:
        progress(f"estimating the active count from {len(rows):,} records")
    part = whole.take(rows)
    linker = Linker(config)
    found = linker.find(part, scale=n, whole_keys=whole.block_keys)
    a, b = rows[found.rows_a], rows[found.rows_b]
    searched = np.zeros(n, np.bool_)
    searched[rows] = True
    # no population given: the score takes it from every record of ``whole``
    p = linker.score(whole, Candidates(a, b, found.dice, found.blocking), searched=searched).scores
    at = np.full(n, -1, np.int64)
    at[rows] = np.arange(len(rows))
    labels = np.unique(person[rows], return_inverse=True)[1].astype(np.int64)
    return people_estimate(labels, at[a], at[b], p, counted=own[rows])


def estimate_month(
    store: Store, month: str, progress: Progress | None = None
) -> PeopleEstimate | None:
    """Estimate the actively homeless at the end of ``month`` (the list's latest, just
    ingested) and keep it with the month's figures, unless the list changed meanwhile (then
    the ingest that changed it estimates again). Returns the estimate; None when the config
    does not score with weights or nothing was kept."""
    if progress:
        progress("loading the records to estimate the active count")
    with store.engine.connect() as conn:
        stamp = _stamp(conn)
        if latest_upload_month(conn) != month:
            raise StoreError(
                f"{month} is not the list's latest month: its estimate was kept when it was",
                "estimate only the month just ingested",
            )
        table = load_records(conn)
    found = active_estimate(
        store.config, table.uploads(store), table.activity_now(), month, progress
    )
    with writing(store) as conn:
        if _stamp(conn) != stamp:
            return None
        _save(conn, month, found)
    return found


def _stamp(conn: Connection) -> tuple[object, ...]:
    """The list's newest upload, event and ruling: every ingest, rollback, ruling and
    withdrawal changes one of them (an id freed by a rollback may be given again, a time
    will not)."""
    newest = [
        select(func.max(uploads.c.id)).scalar_subquery(),
        select(func.max(events.c.at)).scalar_subquery(),
        select(func.max(decisions.c.decided_at)).scalar_subquery(),
    ]
    return tuple(conn.execute(select(*newest)).one())


def _save(conn: Connection, month: str, found: PeopleEstimate | None) -> None:
    """Keep ``month``'s estimate (None keeps none)."""
    conn.execute(delete(estimates).where(estimates.c.month == month))
    if found is not None:
        conn.execute(
            insert(estimates).values(
                month=month,
                active=found.estimate,
                low=found.low,
                high=found.high,
                level=found.level,
            )
        )


def active_sentence(guess: PeopleEstimate) -> str:
    """How a report, an ingest and an ingest job say a month's estimate."""
    return (
        "actively homeless, estimated from the links' probabilities: "
        f"{guess.estimate:,.0f} ({guess.level:.0%} interval {guess.low:,.0f} "
        f"to {guess.high:,.0f})"
    )


def stored_estimate(conn: Connection, month: str) -> PeopleEstimate | None:
    """``month``'s kept estimate (None for a month ingested without one)."""
    row = conn.execute(select(estimates).where(estimates.c.month == month)).first()
    if row is None:
        return None
    return PeopleEstimate(row.active, row.low, row.high, row.level)
