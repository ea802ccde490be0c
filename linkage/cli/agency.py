"""The agency's commands: everything that runs where the plaintext and the secret are.

``keygen``, ``config check``, ``encode``, ``inspect``, ``export``, and the agency's side of the
coordinator's service (``upload``, ``results``). These need only the base install.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from linkage.cli.common import example, progress_bar

_SECRET_HELP = (
    "File holding the shared secret (made by 'linkage keygen'). Or set LINKAGE_SECRET_FILE, "
    "or put the secret itself in LINKAGE_SECRET. Never pass a secret on the command line."
)


@click.command(epilog=example("linkage keygen -o community.key"))
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
    from linkage.agency.encoding.keys import write_secret

    write_secret(output, force=force)
    click.echo(f"wrote a new secret to {output} (mode 0600)")


@click.group("config", epilog=example("linkage config check configs/hmis.toml"))
def config_group() -> None:
    """Work with linkage configs."""


@config_group.command("check", epilog=example("linkage config check configs/hmis.toml"))
@click.argument("file", type=click.Path(path_type=Path))
def config_check(file: Path) -> None:
    """Validate a config and print its fingerprint.

    Partners whose fingerprints are equal produce comparable encodings.
    """
    from linkage.formats.config import load_config

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
    from linkage.agency.hmis.client import looks_like_client_csv, read_header
    from linkage.errors import ConfigError
    from linkage.formats.config import builtin_config_path, load_config

    if config is not None:
        return load_config(config)
    if not looks_like_client_csv(read_header(input_path)):
        from linkage.agency.csvfile import BlockReader

        with BlockReader(input_path):  # the file's own problem first: missing, empty, not text
            pass
        raise ConfigError(
            f"{input_path} is not an HMIS Client.csv, so no default config applies",
            "pass --config FILE (for example configs/febrl.toml)",
        )
    return load_config(builtin_config_path("hmis"))


@click.command(
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
@click.option(
    "--consent-column",
    metavar="COLUMN",
    help="A column of INPUT saying, yes or no, whether each client consented to be named to "
    "partner agencies under a sharing agreement (blank: no).",
)
@click.option(
    "--consent-ids",
    type=click.Path(path_type=Path),
    help="Instead of --consent-column: a file of the consenting clients' record ids, one a line.",
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
    consent_column: str | None,
    consent_ids: Path | None,
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

    With --consent-column or --consent-ids each record also carries one bit: whether its
    client consented to be named to a partner agency (joint-participant lists, notices). A
    record without consent is never named to anyone but you.
    """
    from linkage._atomic import refuse_overwrite
    from linkage.agency.encoding.keys import exposure, read_secret
    from linkage.agency.encoding.pipeline import encode_file
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
    if consent_column is not None and consent_ids is not None:
        raise click.UsageError("give --consent-column or --consent-ids, not both")
    consent_list = None
    if consent_ids is not None:
        from linkage.agency.consent import read_consent_list

        refuse_overwrite(output, [consent_ids], "consent list")
        consent_list = read_consent_list(consent_ids, cfg.id_column)
    activity = None
    if folder is not None:
        from linkage.agency.hmis.enrollments import activity_table

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
            consent_column=consent_column,
            consent_list=consent_list,
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
    if report.consented is not None:
        click.echo(
            f"  {report.consented} of {report.records} records consent to be named to "
            "partners under an agreement"
        )
    if report.consent_unmatched:
        click.echo(
            f"  warning: {report.consent_unmatched} id(s) of {consent_ids} match no record "
            "of the export (left out)"
        )
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


@click.command(epilog=example("linkage inspect shelter-north.clk"))
@click.argument("file", type=click.Path(path_type=Path))
def inspect(file: Path) -> None:
    """Show a .clk file's header and popcount statistics, and verify its checksum."""
    from linkage.errors import printable
    from linkage.formats.summary import summarize

    for line in summarize(file):  # a crafted header's newline must not fake an output line
        click.echo(printable(line))


@click.command(epilog=example("linkage export shelter-north.clk -o shelter-north.json"))
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="JSON file to write."
)
def export(file: Path, output: Path) -> None:
    """Export record-level filters to the JSON format of clkhash and anonlink.

    Writes {"clks": [base64, ...]} in record order, for use with anonlink-based tools.
    """
    from linkage._atomic import refuse_overwrite
    from linkage.formats.interop import export_anonlink_json

    refuse_overwrite(output, [file])
    n = export_anonlink_json(file, output)
    click.echo(f"wrote {n} filters to {output}")


_TOKEN_HELP = (
    "File holding your token (from 'linkage token add'). Or set LINKAGE_TOKEN. Never pass a "
    "token on the command line."
)


def _server_option(f: click.decorators.FC) -> click.decorators.FC:
    """--server, and --ca-file for a service whose certificate the system does not trust."""
    f = click.option(
        "--ca-file",
        type=click.Path(path_type=Path),
        help="Trust only this PEM certificate authority for the server's certificate "
        "(default: the system's, or SSL_CERT_FILE).",
    )(f)
    return click.option(
        "--server",
        envvar="LINKAGE_SERVER",
        required=True,
        help="The coordinator's service, e.g. https://linkage.example.org. Or set LINKAGE_SERVER.",
    )(f)


@click.command(
    "upload",
    epilog=example(
        "linkage upload north-2026-10.clk --month 2026-10 --server https://linkage.example.org \\",
        "    --token-file north.token",
    ),
)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--month", required=True, help="The month the upload is for, YYYY-MM.")
@_server_option
@click.option("--token-file", type=click.Path(path_type=Path), help=_TOKEN_HELP)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
def upload(
    file: Path,
    month: str,
    server: str,
    ca_file: Path | None,
    token_file: Path | None,
    quiet: bool,
) -> None:
    """Send your agency's .clk file for a month to the coordinator's service.

    The service checks it (checksum, config, secret, your agency) before keeping it; sending
    the same file again is harmless. Network failures are retried.
    """
    from linkage.agency.upload import read_token, trust
    from linkage.agency.upload import upload as send

    secret = read_token(token_file)
    verify = trust(ca_file)
    bar = progress_bar(not quiet, "uploading")
    bar.total = file.stat().st_size if file.is_file() else 0
    try:
        answer = send(server, secret, file, month, progress=bar.update, verify=verify)
    finally:
        bar.close()
    if not quiet:
        again = "" if answer["fresh"] else " (already received: nothing new)"
        click.echo(
            f"sent {file}: {answer['records']:,} records of {answer['agency']} for "
            f"{answer['month']}, upload {answer['id']}{again}"
        )


@click.command(
    "results",
    epilog=example(
        "linkage results --server https://linkage.example.org --token-file north.token -o ids.csv",
        "linkage results --token-file north.token --joint-with outreach-east -o joint.csv",
        "linkage results --token-file north.token --notices --since 2026-10 -o notices.csv",
    ),
)
@_server_option
@click.option("--token-file", type=click.Path(path_type=Path), help=_TOKEN_HELP)
@click.option(
    "--joint-with",
    metavar="AGENCY",
    help="Instead: your consented clients that this partner also serves (case conferencing, "
    "under an agreement in force).",
)
@click.option(
    "--notices",
    "want_notices",
    is_flag=True,
    help="Instead: events on the clients you serve with a partner under a notification agreement.",
)
@click.option("--since", help="With --notices: only notices of this month (YYYY-MM) and later.")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="Write the CSV here."
)
def results(
    server: str,
    ca_file: Path | None,
    token_file: Path | None,
    joint_with: str | None,
    want_notices: bool,
    since: str | None,
    output: Path,
) -> None:
    """Fetch your agency's records and the person id the list gives each (CSV).

    With --joint-with, fetch your joint participants with a partner instead: your own record
    ids of the people you both serve whose clients consented at both agencies, with the
    list's person id, status and last activity; never the partner's ids. With --notices,
    fetch the events on such people (reappeared, returned from housing, went inactive,
    housed), each under your own record id.
    """
    from linkage._atomic import refuse_overwrite
    from linkage.agency.upload import joint, notices, read_token, trust
    from linkage.agency.upload import results as fetch

    if joint_with is not None and want_notices:
        raise click.UsageError("give --joint-with or --notices, not both")
    if since is not None and not want_notices:
        raise click.UsageError("--since needs --notices")
    if since is not None and not _is_month(since):
        raise click.UsageError(f"--since takes a month as YYYY-MM, not {since[:20]!r}")
    refuse_overwrite(output, [token_file], "token file")
    refuse_overwrite(output, [ca_file], "certificate authority file")
    token, verify = read_token(token_file), trust(ca_file)
    if want_notices:
        count = notices(server, token, output, since, verify=verify)
        said = f"wrote {count:,} notices to {output}"
    elif joint_with is not None:
        count = joint(server, token, joint_with, output, verify=verify)
        said = f"wrote {count:,} of your records of people {joint_with} also serves to {output}"
    else:
        count = fetch(server, token, output, verify=verify)
        said = f"wrote {count:,} records to {output}"
    click.echo(said, err=not sys.stdout.isatty())


def _is_month(text: str) -> bool:
    """Whether ``text`` is a month as YYYY-MM (the agency's install has no store to ask)."""
    return len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:] in _MONTHS


_MONTHS = {f"{m:02d}" for m in range(1, 13)}


COMMANDS: tuple[click.Command, ...] = (
    keygen,
    config_group,
    encode,
    inspect,
    export,
    upload,
    results,
)
