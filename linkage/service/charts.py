"""The dashboard's charts, drawn as SVG from :func:`linkage.service.overview.overview`'s
data and nothing else: the page's tables and its charts cannot disagree.

matplotlib's object API (a ``Figure`` of its own per chart, never pyplot's global state),
imported with this module and drawing one chart at a time: its font cache and first import are
not safe across the server's threads, and a chart takes a tenth of a second. A suppressed
figure is a gap in its line, never a zero.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Callable
from functools import wraps
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from linkage.bynamelist.status import INFLOW, OUTFLOW

_LABELS = {
    "all": "everyone",
    "single_adults": "single adults",
    "youth": "youth",
    "families": "families",
    "veterans": "veterans",
    "chronic": "chronic",
    "newly_identified": "newly identified",
    "returned_from_housing": "returned from housing",
    "returned_from_inactive": "returned from inactive",
    "entered": "entered the population",
    "housed": "housed",
    "moved_to_inactive": "moved to inactive",
    "no_longer_meets": "no longer meets criteria",
    "inflow": "inflow",
    "outflow": "outflow",
}
_NOTE = "gaps: suppressed (fewer than {n}, or would reveal such a count)"


_DRAWING = threading.Lock()


def _one_at_a_time(draw: Callable[[dict[str, Any]], bytes]) -> Callable[[dict[str, Any]], bytes]:
    @wraps(draw)
    def drawn(data: dict[str, Any]) -> bytes:
        with _DRAWING:
            return draw(data)

    return drawn


def _axes(title: str) -> tuple[Any, Any]:
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    return fig, ax


def _svg(fig: Any) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="svg", bbox_inches="tight")
    return out.getvalue()


def _footnote(ax: Any, text: str) -> None:
    """A line under the axis (as its label, so it never overlaps the ticks)."""
    ax.set_xlabel(text, fontsize=7, color="grey")


def _value(v: int | None) -> float:
    return math.nan if v is None else float(v)


def _series(ax: Any, data: dict[str, Any], rows: list[tuple[str, str]]) -> None:
    """One line per (population, measure) across the months."""
    months = data["months"]
    for population, measure in rows:
        values = [_value(data["figures"][m][population][measure]) for m in months]
        label = _LABELS[population] if measure == "active" else _LABELS[measure]
        bold = population == "all" and measure in ("active", "inflow", "outflow")
        ax.plot(months, values, marker="o", linewidth=2.4 if bold else 1.2, label=label)
    ax.set_ylabel("people")
    ax.set_ylim(bottom=0)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _footnote(ax, _NOTE.format(n=data["suppress_below"]))


def active(data: dict[str, Any]) -> bytes:
    """Actively homeless people at each month's end, everyone and each population, with
    everyone's count as the links' probabilities estimate it: a dashed line in its shaded
    interval (a month without an estimate is a gap)."""
    fig, ax = _axes("Actively homeless")
    months = data["months"]
    guesses = [data["active_estimates"].get(m) for m in months]
    if any(guesses):
        pick = [(g or {}) for g in guesses]
        low, high, mid = ([_value(g.get(k)) for g in pick] for k in ("low", "high", "estimate"))
        ax.fill_between(months, low, high, color="grey", alpha=0.25, linewidth=0)
        level = next(g["level"] for g in guesses if g)
        ax.plot(months, mid, "--", color="grey", label=f"everyone, estimated ({level:.0%})")
    _series(ax, data, [(p, "active") for p in data["populations"]])
    return _svg(fig)


def inflow(data: dict[str, Any]) -> bytes:
    """Inflow by type, with its total."""
    fig, ax = _axes("Inflow by type")
    _series(ax, data, [("all", m) for m in ("inflow", *INFLOW)])
    return _svg(fig)


def outflow(data: dict[str, Any]) -> bytes:
    """Outflow by type, with its total."""
    fig, ax = _axes("Outflow by type")
    _series(ax, data, [("all", m) for m in ("outflow", *OUTFLOW)])
    return _svg(fig)


def reliability(data: dict[str, Any]) -> bytes:
    """Each month's reliability difference (active - last month's - inflow + outflow), coloured
    by the verdict: a month without one (the first, or a hidden difference) is grey."""
    fig, ax = _axes("Reliability: active − last month − inflow + outflow")
    months = data["months"]
    colour = {True: "#2ca02c", False: "#d62728", None: "#999999"}
    heights = [_value(data["figures"][m]["all"]["difference"]) for m in months]
    shown = [0.0 if math.isnan(h) else h for h in heights]
    colours = [colour[data["reliable"][m]] for m in months]
    ax.bar(months, shown, color=colours, width=0.5)
    ax.scatter(months, shown, color=colours, zorder=3)  # a difference of zero still shows
    for x, h in enumerate(heights):
        if math.isnan(h):
            ax.annotate("*", (x, 0), ha="center", va="bottom", color="grey")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylim(min(-1.0, *shown) - 0.5, max(1.0, *shown) + 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("people")
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    streak = data["reliable_streak"]
    _footnote(
        ax,
        "green: reliable, red: not, grey: no verdict (first month, or hidden: *)\n"
        + ("run hidden" if streak is None else f"reliable months in a row: {streak}"),
    )
    return _svg(fig)


def coverage(data: dict[str, Any]) -> bytes:
    """Each agency's share of the latest month's actively homeless people."""
    fig, ax = _axes(f"Agency coverage, {data['latest_month'] or 'no month yet'}")
    rows = data["agencies"]
    names = [a["agency"] for a in rows]
    shares = [100 * (a["share"] or 0.0) for a in rows]
    ax.barh(names, shares, color="#1f77b4")
    for y, a in enumerate(rows):
        if a["share"] is None:
            ax.annotate(" *", (0, y), va="center", color="grey")
    ax.set_xlim(0, 100)
    ax.invert_yaxis()
    ax.set_xlabel("% of the actively homeless the agency knows (*: suppressed, or none yet)")
    return _svg(fig)


def overlap(data: dict[str, Any]) -> bytes:
    """How many actively homeless people each pair of groups (or agencies) both know, as a
    heat map; the diagonal is how many each knows. A suppressed cell is left blank."""
    table = data.get("overlap")
    fig, ax = _axes(
        f"Overlap by {table['by']}, {table['month']}" if table else "Overlap: no month yet"
    )
    if table and table["units"]:
        units = table["units"]
        at = {u: k for k, u in enumerate(units)}
        grid = [[math.nan] * len(units) for _ in units]
        for k, n in enumerate(table["known"]):
            grid[k][k] = math.nan if n is None else n
        for a, b, n in table["shared"]:
            value = math.nan if n is None else n
            grid[at[a]][at[b]] = grid[at[b]][at[a]] = value
        for i in range(len(units)):
            for j in range(len(units)):
                if i != j and math.isnan(grid[i][j]) and not _hidden(table, units[i], units[j]):
                    grid[i][j] = 0.0  # a pair that shares nobody
        shown = ax.imshow(grid, cmap="Blues")
        fig.colorbar(shown, ax=ax, label="people known to both")
        ax.set_xticks(range(len(units)), units, rotation=90, fontsize=7)
        ax.set_yticks(range(len(units)), units, fontsize=7)
        ax.grid(False)
    _footnote(
        ax,
        "blank: suppressed (fewer than {n}, or would reveal such a count)".format(
            n=data["suppress_below"]
        ),
    )
    return _svg(fig)


def _hidden(table: dict[str, Any], a: str, b: str) -> bool:
    """Whether the pair's cell is one the table suppressed (rather than absent: zero)."""
    return any({x, y} == {a, b} and n is None for x, y, n in table["shared"])


#: The charts the dashboard shows, by name.
CHARTS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    draw.__name__: _one_at_a_time(draw)
    for draw in (active, inflow, outflow, reliability, coverage, overlap)
}
