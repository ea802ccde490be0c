"""The monthly by-name-list report, suppressed for publication.

Built from the figures an ingest stored (so a report is a read of a few hundred rows, however
long the list), with small cells and the cells that would give them away hidden
(:mod:`linkage.bynamelist.suppress`). Reliability is judged on the true figures and shown as
yes or no; the difference itself is shown only where no small cell can be derived from it,
and so is the verdict, which bounds the difference (with a tolerance under one person, "yes"
would say it is zero and give the hidden cells of its relation away). The run of reliable
months is hidden with this month's verdict for everyone.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select

from linkage.bynamelist.counts import month_counts
from linkage.bynamelist.households import ROWS as HOUSEHOLD_ROWS
from linkage.bynamelist.interval import active_sentence, stored_estimate
from linkage.bynamelist.monthly import previous_month
from linkage.bynamelist.slices import group_figures
from linkage.bynamelist.status import INFLOW, MEASURES, OUTFLOW, POPULATIONS, reliable
from linkage.bynamelist.store import Store, StoreError
from linkage.bynamelist.store.schema import coverage, figures
from linkage.bynamelist.suppress import suppress
from linkage.matching.resolve import PeopleEstimate

#: Consecutive reliable months that make a quality by-name list (Built for Zero).
QUALITY_MONTHS = 3
COLUMNS = ("active_before", *MEASURES)


@dataclass
class MonthReport:
    """One month's figures as they may be published (None: suppressed)."""

    month: str
    previous: str | None
    threshold: int
    rows: dict[str, dict[str, int | None]]
    #: per population: True/False; None in the list's first month (nothing to balance) or
    #: where the difference is suppressed
    reliable: dict[str, bool | None]
    #: reliable months in a row ending with this one (population "all"); None: suppressed
    reliable_streak: int | None
    coverage: list[dict[str, Any]] = field(default_factory=list)
    #: count-only agencies of the month, their figures summed (not deduplicated), and the
    #: list's active count plus theirs ("active_with_list")
    count_only_agencies: list[str] = field(default_factory=list)
    count_only: dict[str, dict[str, int | None]] = field(default_factory=dict)
    #: the actively homeless as the match probabilities see them (everyone, whole people):
    #: {"estimate", "low", "high", "level"}; None where the month has none, or where its
    #: active count is suppressed (the estimate would give it away)
    active_estimate: dict[str, float] | None = None
    #: the group of agencies the figures are for (None: the whole list)
    group: str | None = None
    #: the household rows (:data:`linkage.bynamelist.households.ROWS`), with
    #: ``active_before``; empty for a month computed before the list counted households
    households: dict[str, dict[str, int | None]] = field(default_factory=dict)

    @property
    def quality(self) -> bool | None:
        if self.reliable_streak is None:
            return None
        return self.reliable_streak >= QUALITY_MONTHS


def _stored(store: Store, month: str) -> dict[str, dict[str, int]]:
    with store.engine.connect() as conn:
        query = select(figures.c.population, figures.c.measure, figures.c.value).where(
            figures.c.month == month
        )
        out: dict[str, dict[str, int]] = {}
        for population, measure, value in conn.execute(query):
            out.setdefault(population, {})[measure] = value
    return out


def latest_month(store: Store) -> str:
    """The list's latest month (refused when nothing has been ingested)."""
    with store.engine.connect() as conn:
        month: str | None = conn.execute(select(func.max(figures.c.month))).scalar()
    if month is None:
        raise StoreError("the list has no month yet", "ingest uploads with 'linkage bnl ingest'")
    return month


def build_report(store: Store, month: str) -> MonthReport:
    """The suppressed report of ``month``."""
    return build_reports(store, [month])[0]


def build_reports(store: Store, months: list[str]) -> list[MonthReport]:
    """The suppressed reports of ``months``, built once each with every earlier month's.

    A month's active count is the next month's "active last month": one value in two
    published tables. So a month is suppressed knowing what its previous month's report
    hid and showed (:func:`linkage.bynamelist.suppress.suppress`), and that report knowing
    its own previous one, back to the list's first month.
    """
    built: dict[str, MonthReport] = {}
    return [_build(store, month, built) for month in months]


def build_group_report(
    store: Store, group: str, agencies: Sequence[str], month: str
) -> MonthReport:
    """The suppressed report of ``month`` for the group of ``agencies``: the list's people
    they know, counted once (:mod:`linkage.bynamelist.slices`), suppressed as the list's own
    report is, each month knowing what the month before hid; no coverage, count-only figures
    or estimate (those are the whole list's)."""
    return build_group_reports(store, group, agencies, [month])[0]


def build_group_reports(
    store: Store, group: str, agencies: Sequence[str], months: list[str]
) -> list[MonthReport]:
    """The group's reports of ``months``, from one slicing of the list's history."""
    with store.engine.connect() as conn:
        sliced = group_figures(conn, agencies, max(months)) if months else {}
    built: dict[str, MonthReport] = {}
    return [replace(_build(store, m, built, sliced), group=group) for m in months]


def _build(
    store: Store,
    month: str,
    built: dict[str, MonthReport],
    sliced: dict[str, dict[str, dict[str, int]]] | None = None,
) -> MonthReport:
    """One month's report, from the stored figures, or from a group's ``sliced`` ones."""
    if month in built:
        return built[month]
    settings = store.config.bynamelist
    now = _stored(store, month) if sliced is None else sliced.get(month, {})
    if not now:
        raise StoreError(
            f"the list has no figures for {month}", "ingest that month's uploads first"
        )
    with store.engine.connect() as conn:
        previous = previous_month(conn, month)
        query = select(figures.c.month, figures.c.measure, figures.c.value).where(
            (figures.c.population == "all") & (figures.c.month <= month)
        )
        everyone: dict[str, dict[str, int]] = {}
        if sliced is None:
            for m, measure, value in conn.execute(query):
                everyone.setdefault(m, {})[measure] = value
            cover = conn.execute(
                select(
                    coverage.c.agency, coverage.c.last_month, coverage.c.records, coverage.c.active
                )
                .where(coverage.c.month == month)
                .order_by(coverage.c.agency)
            ).all()
            count_agencies, counted = month_counts(conn, month)
            guess = stored_estimate(conn, month)
        else:
            everyone = {m: rows["all"] for m, rows in sliced.items() if m <= month}
            cover, count_agencies, counted, guess = [], [], {}, None
    if sliced is None:
        before = _stored(store, previous) if previous else {}
    else:
        before = sliced.get(previous, {}) if previous else {}
    earlier = _build(store, previous, built, sliced) if previous else None
    carried = {f"{name}.active_before" for name in POPULATIONS}
    hidden_before = {
        f"{name}.active_before"
        for name in POPULATIONS
        if earlier is not None and earlier.rows[name]["active"] is None
    }
    households = {name: now[name] for name in HOUSEHOLD_ROWS if name in now}
    for name in households:
        if earlier is not None and name in earlier.households:  # its active_before was shown
            carried.add(f"{name}.active_before")
            if earlier.households[name]["active"] is None:
                hidden_before.add(f"{name}.active_before")
    cells: dict[str, int] = {}
    relations: list[frozenset[str]] = []
    for name in POPULATIONS:
        row = {"active_before": before.get(name, {}).get("active", 0), **now[name]}
        cells.update({f"{name}.{k}": v for k, v in row.items()})
        relations += [
            frozenset(f"{name}.{k}" for k in group)
            for group in (
                ("inflow", *INFLOW),
                ("outflow", *OUTFLOW),
                ("active", "active_before", "inflow", "outflow", "difference"),
            )
        ]
    for name, row in households.items():
        cells.update({f"{name}.{k}": v for k, v in row.items()})
        relations.append(
            frozenset(
                f"{name}.{k}"
                for k in ("active", "active_before", "inflow", "outflow", "difference")
            )
        )
    for name, row in counted.items():
        mine = {f"counted.{name}.{k}": v for k, v in row.items()}
        mine[f"counted.{name}.active_with_list"] = row.get("active", 0) + now[name]["active"]
        cells.update(mine)
        for group in (("inflow", *INFLOW), ("outflow", *OUTFLOW)):
            relations.append(frozenset(f"counted.{name}.{k}" for k in group) & mine.keys())
        with_list = {f"counted.{name}.active_with_list", f"{name}.active"}
        relations.append(frozenset(with_list | ({f"counted.{name}.active"} & mine.keys())))
    people_counts = [c for c in cells if not c.endswith(".difference")]
    hidden = suppress(
        cells,
        relations,
        settings.suppress_below,
        people_counts,
        hidden_before=hidden_before,
        published=carried - hidden_before,
    )
    rows = {
        name: {k: None if f"{name}.{k}" in hidden else cells[f"{name}.{k}"] for k in COLUMNS}
        for name in POPULATIONS
    }
    within = settings.reliable_within
    verdict: dict[str, bool | None] = {
        name: reliable(now[name], within)
        if previous and f"{name}.difference" not in hidden
        else None
        for name in POPULATIONS
    }
    # the list's first month has nothing to balance against, so a run stops there
    history = sorted(everyone)
    run = 0
    for at in range(len(history) - 1, 0, -1):
        if not reliable(everyone[history[at]], within):
            break
        run += 1
    streak = None if "all.difference" in hidden else run
    active_all = now["all"]["active"]
    agencies = [
        {
            "agency": agency,
            "last_upload_month": last,
            "records": n,
            "active_known": known if not 0 < known < settings.suppress_below else None,
            "share": known / active_all
            if active_all and not 0 < known < settings.suppress_below
            else None,
        }
        for agency, last, n, known in cover
    ]
    count_only = {
        name: {
            k: None if f"counted.{name}.{k}" in hidden else cells[f"counted.{name}.{k}"]
            for k in (*row, "active_with_list")
        }
        for name, row in counted.items()
    }
    built[month] = MonthReport(
        month,
        previous,
        settings.suppress_below,
        rows,
        verdict,
        streak,
        coverage=agencies,
        count_only_agencies=count_agencies,
        count_only=count_only,
        active_estimate={
            "estimate": round(guess.estimate),
            "low": round(guess.low),
            "high": round(guess.high),
            "level": guess.level,
        }
        if guess is not None and rows["all"]["active"] is not None
        else None,
        households={
            name: {k: None if f"{name}.{k}" in hidden else v for k, v in row.items()}
            for name, row in households.items()
        },
    )
    return built[month]


_LABELS = {
    "active_before": "active last month",
    "active": "actively homeless",
    "newly_identified": "  newly identified",
    "returned_from_housing": "  returned from housing",
    "returned_from_inactive": "  returned from inactive",
    "entered": "  entered the population",
    "inflow": "inflow",
    "housed": "  housed",
    "moved_to_inactive": "  moved to inactive",
    "no_longer_meets": "  no longer meets criteria",
    "outflow": "outflow",
    "difference": "reliability difference",
}
_ORDER = (
    "active_before",
    "inflow",
    *INFLOW,
    "outflow",
    *OUTFLOW,
    "active",
    "difference",
)


#: The household table's measures, in print order, and their labels.
_HOUSEHOLD_LABELS = {
    "active_before": "active last month",
    "inflow": "inflow",
    "outflow": "outflow",
    "active": "actively homeless",
    "persons": "  persons in them",
    "several_heads": "  with two heads or more",
    "difference": "reliability difference",
}


def _cell(value: int | None) -> str:
    return "*" if value is None else f"{value:,}"


def _household_lines(report: MonthReport) -> list[str]:
    """The households table: all households and family households across."""
    if not report.households:
        return []
    names = list(report.households)
    width = max(len(n) for n in names) + 2
    lines = ["households:", f"{'':<28}" + "".join(f"{n:>{width}}" for n in names)]
    for measure, label in _HOUSEHOLD_LABELS.items():
        values = [report.households[n] for n in names]
        shown = "".join(f"{_cell(v[measure]) if measure in v else '-':>{width}}" for v in values)
        lines.append(f"{label:<28}{shown}")
    return lines


def render_text(report: MonthReport) -> str:
    """A plain-text table: populations across, measures down."""
    names = list(POPULATIONS)
    width = max(len(n) for n in names) + 2
    lines = [
        f"By-name list{f' of group {report.group}' if report.group else ''}, {report.month}"
        + (f" (compared with {report.previous})" if report.previous else " (first month)"),
        f"{'':<28}" + "".join(f"{n:>{width}}" for n in names),
    ]
    for measure in _ORDER:
        lines.append(
            f"{_LABELS[measure]:<28}"
            + "".join(f"{_cell(report.rows[n][measure]):>{width}}" for n in names)
        )
    marks = {True: "yes", False: "no", None: "*" if report.previous else "-"}
    lines.append(
        f"{'reliable':<28}" + "".join(f"{marks[report.reliable[n]]:>{width}}" for n in names)
    )
    if report.reliable_streak is None:
        lines.append("reliable months in a row: * (hidden with this month's difference)")
    else:
        lines.append(
            f"reliable months in a row: {report.reliable_streak}"
            + (" (a quality by-name list)" if report.quality else f" (quality: {QUALITY_MONTHS})")
        )
    if report.active_estimate is not None:
        lines.append(active_sentence(PeopleEstimate(**report.active_estimate)))
    lines += _household_lines(report)
    lines.append(f"* suppressed: fewer than {report.threshold}, or would reveal such a count")
    if report.count_only_agencies:
        lines.append(
            f"count-only agencies (not deduplicated: their people may also be counted above): "
            f"{', '.join(report.count_only_agencies)}"
        )
        for measure, label in (
            ("active", "  their actively homeless"),
            ("inflow", "  their inflow"),
            ("outflow", "  their outflow"),
            ("active_with_list", "  list + theirs, active"),
        ):
            values = [report.count_only.get(n, {}) for n in names]
            shown = "".join(
                f"{_cell(v[measure]) if measure in v else '-':>{width}}" for v in values
            )
            lines.append(f"{label:<28}{shown}")
    if report.coverage:
        lines.append("agencies:")
        for a in report.coverage:
            share = "*" if a["share"] is None else f"{a['share']:.0%}"
            lines.append(
                f"  {a['agency']:<24} last upload {a['last_upload_month']}  "
                f"{a['records']:>8,} records  knows {_cell(a['active_known'])} active ({share})"
            )
    return "\n".join(lines) + "\n"


def render_csv(report: MonthReport) -> str:
    """One row per population and measure; suppressed cells are empty with ``suppressed`` 1."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["month", "population", "measure", "value", "suppressed"])
    # the people's rows hold COLUMNS in order, the households' their own measures
    for name, row in [*report.rows.items(), *report.households.items()]:
        for measure, value in row.items():
            writer.writerow(
                [report.month, name, measure, "" if value is None else value, int(value is None)]
            )
    hidden = int(report.rows["all"]["active"] is None)
    for measure in ("estimate", "low", "high"):
        guess = None if report.active_estimate is None else report.active_estimate[measure]
        writer.writerow(
            [report.month, "all", f"active_{measure}", "" if guess is None else guess, hidden]
        )
    for name, row in report.count_only.items():
        for measure, value in row.items():
            writer.writerow(
                [
                    report.month,
                    name,
                    f"count_only_{measure}",
                    "" if value is None else value,
                    int(value is None),
                ]
            )
    return out.getvalue()


def render_json(report: MonthReport) -> str:
    data = {
        **({"group": report.group} if report.group else {}),
        "month": report.month,
        "previous_month": report.previous,
        "suppress_below": report.threshold,
        "figures": report.rows,
        # (none for a month computed before the list counted households)
        **({"households": report.households} if report.households else {}),
        "reliable": report.reliable,
        "reliable_streak": report.reliable_streak,
        "quality_list": report.quality,
        "active_estimate": report.active_estimate,
        "agencies": report.coverage,
        "count_only_agencies": report.count_only_agencies,
        "count_only_not_deduplicated": report.count_only,
    }
    return json.dumps(data, indent=2) + "\n"
