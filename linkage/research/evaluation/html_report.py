"""The evaluation report: ``metrics.json`` and a self-contained ``report.html`` whose charts are
drawn from the same data (matplotlib, embedded as PNG data URIs: one file to mail or archive,
nothing fetched when it opens).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from linkage._atomic import atomic_write


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6.4, 3.8))


def chart_sweep(data: dict[str, Any]) -> str:
    """Precision, recall and F1 against the threshold, with the config's threshold marked."""
    rows = data["sweep"]["rows"]
    t = [r["threshold"] for r in rows]
    fig, ax = _figure()
    ax.plot(t, [r["precision"] for r in rows], label="precision", color="#1f77b4")
    ax.plot(t, [r["recall"] for r in rows], label="recall", color="#d62728")
    ax.plot(t, [r["f1"] for r in rows], label="F1", color="#2ca02c", linewidth=2)
    ax.plot(t, [r["pair_precision"] for r in rows], ":", color="#1f77b4", label="pair precision")
    ax.plot(t, [r["pair_recall"] for r in rows], ":", color="#d62728", label="pair recall")
    ax.axvline(data["thresholds"]["upper"], color="grey", linestyle="--", label="config upper")
    ax.set_xlabel("threshold (match probability)")
    ax.set_ylabel("share")
    ax.set_title("Quality against threshold")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return _png(fig)


def chart_histogram(data: dict[str, Any]) -> str:
    """Score histograms of candidate pairs: true matches and non-matches."""
    h = data["histogram"]
    edges = h["edges"]
    width = edges[1] - edges[0]
    fig, ax = _figure()
    ax.bar(edges[:-1], h["non_matches"], width=width, align="edge", alpha=0.6, label="non-matches")
    ax.bar(edges[:-1], h["matches"], width=width, align="edge", alpha=0.6, label="true matches")
    ax.set_yscale("log")
    ax.axvline(data["thresholds"]["upper"], color="grey", linestyle="--", label="upper")
    ax.axvline(data["thresholds"]["lower"], color="grey", linestyle=":", label="lower")
    ax.set_xlabel("score of a candidate pair")
    ax.set_ylabel("pairs (log scale)")
    ax.set_title("Scores of true matches and non-matches")
    ax.legend(fontsize=8)
    return _png(fig)


def chart_calibration(data: dict[str, Any]) -> str:
    """True share of one-person pairs against mean match probability, per tenth."""
    c = data["calibration"]
    points = [
        (p, t, n)
        for p, t, n in zip(c["mean_probability"], c["true_share"], c["pairs"], strict=True)
        if n
    ]
    fig, ax = _figure()
    ax.fill_between([0, 1], [-0.05, 0.95], [0.05, 1.05], color="grey", alpha=0.15, label="±0.05")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="calibrated")
    ax.plot([p for p, _, _ in points], [t for _, t, _ in points], marker="o", label="candidates")
    for p, t, n in points:
        ax.annotate(f"{n:,}", (p, t), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("mean match probability of the candidates in a tenth")
    ax.set_ylabel("share truly one person")
    ax.set_title("Calibration of the match probabilities")
    ax.legend(fontsize=8, loc="upper left")
    return _png(fig)


def chart_clusters(data: dict[str, Any]) -> str:
    """How many people hold 1, 2, 3... records: found against true."""
    found = {int(k): v for k, v in data["cluster_sizes"]["found"].items()}
    true = {int(k): v for k, v in data["cluster_sizes"].get("true", {}).items()}
    sizes = sorted(set(found) | set(true))
    fig, ax = _figure()
    x = range(len(sizes))
    ax.bar([i - 0.2 for i in x], [found.get(s, 0) for s in sizes], width=0.4, label="found")
    if true:
        ax.bar([i + 0.2 for i in x], [true.get(s, 0) for s in sizes], width=0.4, label="true")
    ax.set_xticks(list(x), [str(s) for s in sizes])
    ax.set_yscale("log")
    ax.set_xlabel("records per person")
    ax.set_ylabel("people (log scale)")
    ax.set_title("Cluster sizes")
    ax.legend(fontsize=8)
    return _png(fig)


def chart_tradeoff(rows: list[dict[str, Any]]) -> str:
    """F1 against re-identification: one point per hardening setting and attack, with the
    rate's 90% interval over secrets as a bar; the config's own setting is a star."""
    fig, ax = _figure()
    kinds = list(rows[0]["attacks"]) if rows else []
    for colour, kind in enumerate(kinds):
        for r in rows:
            rate = r["attacks"][kind]["reidentified"]
            x, y = 100 * rate["mean"], r["f1"]
            ax.errorbar(
                [x],
                [y],
                xerr=[[x - 100 * rate["low"]], [100 * rate["high"] - x]],
                fmt="*" if r["default"] else "o",
                markersize=10 if r["default"] else 6,
                color=f"C{colour}",
                capsize=3,
                label=kind if r is rows[0] else None,
            )
            ax.annotate(
                r["hardening"], (x, y), textcoords="offset points", xytext=(5, 5), fontsize=7
            )
    ax.axvline(1.0, color="grey", linestyle="--", label="goal: under 1%")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("records re-identified (%, 90% interval over secrets)")
    ax.set_ylabel("F1")
    ax.set_title("Privacy against accuracy, by hardening and attack")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def _rate(cell: dict[str, float] | None, repeats: int) -> str:
    """A rate in percent, with its interval where there were several secrets ("n/a": not
    measured)."""
    if cell is None:
        return "n/a"
    text = _pct(cell["mean"])
    if repeats > 1:
        text += f" ({100 * cell['low']:.2f}–{100 * cell['high']:.2f})"
    return text


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _quality_rows(label: str, q: dict[str, Any]) -> str:
    cells = [
        label,
        _num(q["precision"]),
        _num(q["recall"]),
        _num(q["f1"]),
        _num(q["bcubed_f1"]),
        f"{q['entities']:,} / {q['true_entities']:,}",
        f"{100 * q['count_error']:+.2f}%",
    ]
    return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def render_html(data: dict[str, Any]) -> str:
    """The report page: headline numbers, then charts with one line on how to read each."""
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>linkage evaluation: {e(data['dataset'])}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem;color:#222}table{border-collapse:collapse;margin:1rem 0}"
        "td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
        "figure{margin:1.5rem 0}figcaption{color:#555;font-size:.9rem}</style></head><body>",
        f"<h1>Evaluation of <code>{e(data['config']['name'])}</code> on "
        f"<code>{e(data['dataset'])}</code></h1>",
        f"<p>{data['records']:,} records from {len(data['agencies'])} source(s); mode "
        f"{e(data['mode'])}; thresholds upper {data['thresholds']['upper']}, lower "
        f"{data['thresholds']['lower']}; config fingerprint "
        f"<code>{e(data['config']['fingerprint'][:16])}…</code></p>",
    ]
    if "linkage" in data:
        parts.append(
            "<h2>Match quality</h2><table id='quality'><tr><th>method</th><th>precision</th>"
            "<th>recall</th><th>F1</th><th>B-cubed F1</th><th>people found / true</th>"
            "<th>count error</th></tr>"
        )
        parts.append(_quality_rows("linkage (encoded)", data["linkage"]))
        if "baseline" in data:
            parts.append(_quality_rows("plaintext, recordlinkage", data["baseline"]["linkage"]))
            parts.append(_quality_rows("plaintext, 2 of 3 exact", data["baseline"]["two_of_three"]))
        parts.append("</table>")
        if "baseline" in data:
            gap = data["linkage"]["f1"] - data["baseline"]["linkage"]["f1"]
            side = "above" if gap >= 0 else "below"
            parts.append(
                f"<p id='privacy-cost'>The encoded linkage is <strong>{100 * abs(gap):.2f} "
                f"points of F1 {side}</strong> the plaintext baseline "
                f"({e(data['baseline']['method'])}).</p>"
            )
        if "people_estimate" in data:
            g = data["people_estimate"]
            parts.append(
                f"<p id='people-estimate'>People: {data['linkage']['entities']:,} entities "
                f"decided; <strong>{g['estimate']:,.0f} estimated</strong> from the match "
                f"probabilities ({g['level']:.0%} interval {g['low']:,.0f} to "
                f"{g['high']:,.0f}); truly {g['true']:,} (estimate {g['error']:+.1%}; the "
                f"interval {'holds' if g['holds'] else 'misses'} the truth).</p>"
            )
        b = data["blocking"]
        parts.append(
            f"<p>Candidate generation ({e(str(b['method']))}): pair completeness "
            f"{_num(b['pair_completeness'])}, reduction ratio {_num(b['reduction_ratio'])}, "
            f"{b['candidates']:,} candidate pairs.</p>"
        )
    for key, title in (("sampled", "From a sample of pairs"), ("labelled", "From labelled pairs")):
        if key in data:
            s = data[key]
            parts.append(
                f"<h2>{title}</h2><table><tr><th>metric</th><th>estimate</th>"
                "<th>95% interval</th><th>pairs</th></tr>"
            )
            for metric in ("precision", "recall"):
                m = s[metric]
                parts.append(
                    f"<tr><td>{metric}</td><td>{_num(m['estimate'])}</td>"
                    f"<td>{_num(m['low'])} – {_num(m['high'])}</td><td>{m['pairs']}</td></tr>"
                )
            parts.append("</table>")
    if "privacy" in data:
        p = data["privacy"]
        s = p.get("summary", {})
        if s:
            parts.append(
                f"<h2>Privacy</h2><p id='privacy-headline'>With its hardening "
                f"(<code>{e(s['hardening'])}</code>) the config lets the strongest attack "
                f"({e(s['strongest'])}) re-identify "
                f"<strong>{_rate(s['reidentified'], s['repeats'])}</strong> of records and "
                f"recover {_rate(s['first_names'], s['repeats'])} of first names (unhardened: "
                f"{_pct(s['unhardened_reidentified']['mean'])} of records, by the "
                f"{e(s['unhardened_strongest'])} attack), at a cost of "
                f"<strong>{100 * s['f1_cost']:.2f} points of F1</strong> and "
                f"{100 * s['count_cost']:.2f} points of count error against no hardening"
                + (
                    f" (mean of {s['repeats']} secrets; F1 cost {100 * s['f1_cost_range'][0]:.2f}"
                    f" to {100 * s['f1_cost_range'][1]:.2f})"
                    if s["repeats"] > 1
                    else ""
                )
                + ".</p>"
            )
        parts.append(
            "<table><tr><th>hardening</th><th>F1</th><th>count error</th><th>attack</th>"
            "<th>first names recovered</th><th>surnames recovered</th>"
            "<th>dates of birth recovered</th><th>records re-identified</th></tr>"
        )
        for r in p["rows"]:
            for kind, a in r["attacks"].items():
                parts.append(
                    f"<tr><td>{e(r['hardening'])}{' (config)' if r['default'] else ''}</td>"
                    f"<td>{_num(r['f1'])}</td><td>{100 * r['count_error']:+.2f}%</td>"
                    f"<td>{e(kind)}</td>"
                    + "".join(
                        f"<td>{_rate(c, r['repeats'])}</td>"
                        for c in (
                            a["fields"]["first_name"],
                            a["fields"]["last_name"],
                            a.get("dates"),
                            a["reidentified"],
                        )
                    )
                    + "</tr>"
                )
        parts.append("</table>")
    figures = []
    if "sweep" in data:
        figures.append(
            (
                chart_sweep(data),
                "Quality against threshold",
                "Solid lines: after resolution into people; dotted: candidate pairs alone.",
            )
        )
        figures.append(
            (
                chart_histogram(data),
                "Score histograms",
                "Where the two humps overlap, a threshold must trade errors.",
            )
        )
    if "calibration" in data:
        figures.append(
            (
                chart_calibration(data),
                "Calibration",
                "On the diagonal, a pair scored p is one person p of the time; the numbers are "
                "pairs per tenth.",
            )
        )
    figures.append(
        (
            chart_clusters(data),
            "Cluster sizes",
            "Too many singletons: missed links; too few: merged strangers.",
        )
    )
    if "privacy" in data:
        figures.append(
            (
                chart_tradeoff(data["privacy"]["rows"]),
                "Privacy against accuracy",
                "Up and to the left is better; one colour per attack, the star is the config's "
                "own setting.",
            )
        )
    parts.append("<h2>Charts</h2>")
    for png, alt, caption in figures:
        parts.append(
            f"<figure><img alt='{e(alt)}' src='data:image/png;base64,{png}'>"
            f"<figcaption>{e(caption)}</figcaption></figure>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(data: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write ``metrics.json`` and ``report.html`` into ``folder`` (atomically, each)."""
    folder.mkdir(parents=True, exist_ok=True)
    metrics, page = folder / "metrics.json", folder / "report.html"
    with atomic_write(metrics) as fh:
        fh.write(json.dumps(data, indent=2).encode() + b"\n")
    with atomic_write(page) as fh:
        fh.write(render_html(data).encode())
    return metrics, page
