"""The by-name list's commands (``linkage bnl ...``): the coordinator's longitudinal store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from linkage.cli.common import db_option, example, refuse_over_store

#: The CSV file a command writes (never over the store: see refuse_over_store).
_csv_output = click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="CSV file to write."
)


@click.group(
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
    from linkage.formats.config import builtin_config_path

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
    from linkage.bynamelist.interval import active_sentence

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
@_csv_output
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
        "linkage bnl report --db community.db --group downtown",
    ),
)
@db_option
@click.option("--month", help="The month to report, YYYY-MM (default: the list's latest).")
@click.option(
    "--group", help="Only the people a group's agencies know, counted once (bnl group add)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "csv", "json"]),
    default="text",
    show_default=True,
    help="Table for people, or data for charts.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write here, not stdout.")
def bnl_report(
    db: str, month: str | None, group: str | None, fmt: str, output: Path | None
) -> None:
    """The month's by-name-list figures, safe to publish.

    Per population (all, single adults, youth, families, veterans, chronic): actively
    homeless, inflow (newly identified, returned from housing, returned from inactive,
    entered the population), outflow (housed, moved to inactive, no longer meets criteria),
    the reliability check and how many reliable months in a row; per agency, its latest
    upload and how much of the list it knows. Counts under [bynamelist] suppress_below, and
    the cells that would reveal them, are shown as * (empty in CSV).

    With --group, the same figures for the people the group's agencies know, each counted
    once: the group's own trends, suppressed alike.
    """
    from linkage._atomic import atomic_write
    from linkage.bynamelist import StoreError, build_report, latest_month, open_store
    from linkage.bynamelist.groups import list_groups
    from linkage.bynamelist.monthly import check_month
    from linkage.bynamelist.report import (
        build_group_report,
        render_csv,
        render_json,
        render_text,
    )

    if output is not None:
        refuse_over_store(output, db)
    store = open_store(db)
    chosen = check_month(month) if month else latest_month(store)
    if group is None:
        report = build_report(store, chosen)
    else:
        found = {g.name: g for g in list_groups(store)}.get(group)
        if found is None:
            raise StoreError(f"no group {group[:64]}", "see 'linkage bnl group list'")
        report = build_group_report(store, group, found.agencies, chosen)
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


@bnl.group(
    "agreement",
    epilog=example(
        "linkage bnl agreement add --db community.db --agencies shelter-north,outreach-east \\",
        "    --purpose case-conferencing --start 2026-11-01 --end 2027-10-31 --note 'MOU 2026-14'",
        "linkage bnl agreement list --db community.db",
        "linkage bnl agreement end --db community.db --id 3 --reason 'MOU withdrawn'",
    ),
)
def bnl_agreement() -> None:
    """Sharing agreements between agencies: nothing is named to a partner without one.

    An agreement names two or more agencies, a purpose (case-conferencing: joint-participant
    lists and agendas; notification: notices of events on shared clients) and a term. Only
    clients who consented (linkage encode --consent-column or --consent-ids) are ever named,
    and only to the agencies of an agreement in force.
    """


_DAY = click.DateTime(["%Y-%m-%d"])


@bnl_agreement.command(
    "add",
    epilog=example(
        "linkage bnl agreement add --db community.db --agencies shelter-north,outreach-east \\",
        "    --purpose case-conferencing --start 2026-11-01 --end 2027-10-31 --note 'MOU 2026-14'",
    ),
)
@db_option
@click.option("--agencies", required=True, help="The agencies party to it, comma-separated.")
@click.option(
    "--purpose",
    required=True,
    type=click.Choice(["case-conferencing", "notification"]),
    help="What it allows.",
)
@click.option("--start", required=True, type=_DAY, help="Its first day, YYYY-MM-DD.")
@click.option("--end", required=True, type=_DAY, help="Its last day, YYYY-MM-DD.")
@click.option(
    "--note", default="", help="A reference for the audit trail (the MOU's number; never a name)."
)
def bnl_agreement_add(
    db: str, agencies: str, purpose: str, start: Any, end: Any, note: str
) -> None:
    """Record a sharing agreement (audited)."""
    from linkage.bynamelist import open_store
    from linkage.bynamelist.agreements import add_agreement

    made = add_agreement(
        open_store(db), agencies.split(","), purpose, start.date(), end.date(), note
    )
    click.echo(
        f"agreement {made.id} ({made.purpose.replace('_', '-')}) between "
        f"{', '.join(made.agencies)} from {made.starts} to {made.ends} recorded"
    )


@bnl_agreement.command("list", epilog=example("linkage bnl agreement list --db community.db"))
@db_option
def bnl_agreement_list(db: str) -> None:
    """Every agreement, ended ones too, with whether it is in force today."""
    from datetime import date

    from linkage.bynamelist import open_store
    from linkage.bynamelist.agreements import list_agreements

    found = list_agreements(open_store(db))
    if not found:
        click.echo("no agreements")
        return
    today = date.today()
    for a in found:
        note = f"  ({a.note})" if a.note else ""
        click.echo(
            f"{a.id:>4}  {a.purpose.replace('_', '-'):<17} {a.starts} to {a.ends}  "
            f"{a.state(today):<17} {', '.join(a.agencies)}{note}"
        )


@bnl_agreement.command(
    "end",
    epilog=example("linkage bnl agreement end --db community.db --id 3 --reason 'MOU withdrawn'"),
)
@db_option
@click.option("--id", "agreement_id", required=True, type=click.IntRange(1), help="Its number.")
@click.option("--reason", required=True, help="Why, for the audit trail (never a name).")
def bnl_agreement_end(db: str, agreement_id: int, reason: str) -> None:
    """End an agreement before its term: from today nothing is shared under it (audited)."""
    from linkage.bynamelist import open_store
    from linkage.bynamelist.agreements import end_agreement

    end_agreement(open_store(db), agreement_id, reason)
    click.echo(f"agreement {agreement_id} ended; nothing is shared under it from today")


@bnl.command(
    "joint",
    epilog=example(
        "linkage bnl joint --db community.db --agency shelter-north --with outreach-east \\",
        "    -o north-with-east.csv",
    ),
)
@db_option
@click.option("--agency", required=True, help="The agency the list is for (its own ids).")
@click.option("--with", "partner", required=True, help="The partner agency.")
@_csv_output
def bnl_joint(db: str, agency: str, partner: str, output: Path) -> None:
    """Joint participants: the agency's own clients that a partner also serves.

    Lists the agency's own record ids of people both agencies serve, where both records'
    clients consented and a case-conferencing agreement between the two is in force today:
    each with the list's person id, status and last activity. Nothing of the partner's
    record ids; the partner asking gets the same people under its own ids.
    """
    from linkage._atomic import write_text
    from linkage.bynamelist import open_store
    from linkage.bynamelist.joint import joint_csv, joint_list

    refuse_over_store(output, db)
    rows = joint_list(open_store(db), agency, partner)
    write_text(output, joint_csv(rows))
    click.echo(f"wrote {len(rows)} of {agency}'s records of people it shares with {partner}")


@bnl.command(
    "agenda",
    epilog=example(
        "linkage bnl agenda --db community.db \\",
        "    --agencies shelter-north,outreach-east,clinic-west -o conference-2026-11/",
    ),
)
@db_option
@click.option("--agencies", required=True, help="The agencies at the meeting, comma-separated.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder to write one CSV an agency into (AGENCY.csv, its own ids only).",
)
def bnl_agenda(db: str, agencies: str, output: Path) -> None:
    """A case conference's agenda: for each agency at the meeting, its own clients that any
    other attendee also serves under an agreement, the most shared first.

    Each agency gets its own file, with only its own record ids; the person ids are the
    list's, the same in every file, so the partners can speak of one person without naming
    them.
    """
    from linkage._atomic import write_text
    from linkage.bynamelist import open_store
    from linkage.bynamelist.joint import agenda, joint_csv

    lists = agenda(open_store(db), agencies.split(","))
    targets = {agency: output / f"{_file_name(agency)}.csv" for agency in lists}
    if len(set(targets.values())) < len(targets):
        raise click.UsageError("two agencies' names make the same file name; run them apart")
    for target in targets.values():
        refuse_over_store(target, db)
    output.mkdir(parents=True, exist_ok=True)
    for agency, rows in lists.items():
        target = targets[agency]
        write_text(target, joint_csv(rows))
        click.echo(f"{target}: {len(rows)} records of {agency}")


@bnl.command(
    "notices",
    epilog=example(
        "linkage bnl notices --db community.db --agency shelter-north --since 2026-10 \\",
        "    -o north-notices.csv",
    ),
)
@db_option
@click.option("--agency", required=True, help="The agency told (its own record ids).")
@click.option("--since", help="Only notices of this month (YYYY-MM) and later.")
@_csv_output
def bnl_notices(db: str, agency: str, since: str | None, output: Path) -> None:
    """Notices for an agency: events on people it serves with a partner under a notification
    agreement (reappeared, returned from housing, went inactive, housed).

    Each row is one of the agency's own records, with the month, the list's person id and the
    event; only people whose clients consented at both agencies, never a partner's ids.
    """
    from linkage._atomic import write_text
    from linkage.bynamelist import open_store
    from linkage.bynamelist.monthly import check_month
    from linkage.bynamelist.notices import notices_csv, notices_for

    refuse_over_store(output, db)
    found = notices_for(open_store(db), agency, check_month(since) if since else None)
    write_text(output, notices_csv(found))
    click.echo(f"wrote {len(found)} notices for {agency} to {output}")


@bnl.command(
    "review-list",
    epilog=example(
        "linkage bnl review-list --db community.db --agency shelter-north --quarter 2026Q4 \\",
        "    -o north-2026Q4.csv",
        "linkage bnl review-list --db community.db --quarter 2026Q4 --counts -o task-force.csv",
    ),
)
@db_option
@click.option("--quarter", required=True, help="The quarter, as YYYYQn (2026Q4).")
@click.option("--agency", help="The agency whose own clients to list.")
@click.option("--counts", is_flag=True, help="Instead: the task force's counts by status.")
@click.option("--group", help="With --counts: only the people this group's agencies know.")
@_csv_output
def bnl_review_list(
    db: str, quarter: str, agency: str | None, counts: bool, group: str | None, output: Path
) -> None:
    """The quarterly review: an agency's own clients on the list, with their status at each
    month's end of the quarter, what changed, and months on the list.

    With --counts, the task force's table instead: people by status at each month's end,
    small cells suppressed as in the monthly report; never an identity.
    """
    from linkage._atomic import write_text
    from linkage.bynamelist import StoreError, open_store
    from linkage.bynamelist.groups import list_groups
    from linkage.bynamelist.quarterly import (
        counts_csv,
        quarter_months,
        review_csv,
        review_list,
        task_force_counts,
    )

    if (agency is None) == (not counts):
        raise click.UsageError("give --agency A or --counts")
    if group is not None and not counts:
        raise click.UsageError("--group needs --counts")
    months = quarter_months(quarter)
    refuse_over_store(output, db)
    store = open_store(db)
    if agency is not None:
        rows = review_list(store, agency, quarter)
        write_text(output, review_csv(rows, months))
        click.echo(f"wrote {len(rows)} of {agency}'s records of people on the list in {quarter}")
    else:
        chosen = None
        if group is not None:
            chosen = {g.name: g for g in list_groups(store)}.get(group)
            if chosen is None:
                raise StoreError(f"no group {group[:64]}", "see 'linkage bnl group list'")
        table = task_force_counts(store, quarter, chosen)
        write_text(output, counts_csv(table))
        click.echo(f"wrote the counts by status of {len(table)} months of {quarter} to {output}")


@bnl.group(
    "group",
    epilog=example(
        "linkage bnl group add --db community.db --name downtown --kind geographic \\",
        "    --agencies shelter-north,outreach-east",
        "linkage bnl group list --db community.db",
        "linkage bnl group remove --db community.db --name downtown --agencies outreach-east",
    ),
)
def bnl_group() -> None:
    """Groups of agencies (geographic or population clusters); an agency may be in several."""


@bnl_group.command(
    "add",
    epilog=example(
        "linkage bnl group add --db community.db --name youth --kind population \\",
        "    --agencies drop-in-youth,shelter-north",
    ),
)
@db_option
@click.option("--name", required=True, help="The group's name (letters, digits, . - _).")
@click.option(
    "--kind",
    type=click.Choice(["geographic", "population", "other"]),
    default="geographic",
    show_default=True,
    help="What the group is drawn by.",
)
@click.option("--agencies", required=True, help="Agencies to put in it, comma-separated.")
def bnl_group_add(db: str, name: str, kind: str, agencies: str) -> None:
    """Put agencies in a group, making it if it is new (audited)."""
    from linkage.bynamelist import open_store
    from linkage.bynamelist.groups import add_to_group

    group = add_to_group(open_store(db), name, kind, agencies.split(","))
    click.echo(f"group {group.name} ({group.kind}): {', '.join(group.agencies)}")


@bnl_group.command("list", epilog=example("linkage bnl group list --db community.db"))
@db_option
def bnl_group_list(db: str) -> None:
    """Every group and its agencies."""
    from linkage.bynamelist import open_store
    from linkage.bynamelist.groups import list_groups

    found = list_groups(open_store(db))
    for g in found:
        click.echo(f"{g.name} ({g.kind}, {len(g.agencies)}): {', '.join(g.agencies)}")
    if not found:
        click.echo("no groups")


@bnl_group.command(
    "remove",
    epilog=example("linkage bnl group remove --db community.db --name downtown"),
)
@db_option
@click.option("--name", required=True, help="The group.")
@click.option("--agencies", help="Only these agencies, comma-separated (default: the group).")
def bnl_group_remove(db: str, name: str, agencies: str | None) -> None:
    """Take agencies out of a group, or remove the group (audited)."""
    from linkage.bynamelist import open_store
    from linkage.bynamelist.groups import remove_from_group

    remove_from_group(open_store(db), name, agencies.split(",") if agencies else ())
    click.echo(f"group {name}: {'those agencies taken out' if agencies else 'removed'}")


@bnl.command(
    "overlap",
    epilog=example(
        "linkage bnl overlap --db community.db --by group -o overlap.csv",
        "linkage bnl overlap --db community.db --by agency --month 2026-10 -o agencies.csv",
    ),
)
@db_option
@click.option(
    "--by",
    type=click.Choice(["agency", "group"]),
    default="agency",
    show_default=True,
    help="Agencies, or groups of agencies.",
)
@click.option("--month", help="The month (default: the list's latest).")
@_csv_output
def bnl_overlap(db: str, by: str, month: str | None, output: Path) -> None:
    """How many of the month's actively homeless people each agency (or group) knows, its
    share of the list, and how many each pair knows both; counts only, suppressed."""
    from linkage._atomic import write_text
    from linkage.bynamelist import open_store
    from linkage.bynamelist.groups import overlap, overlap_csv
    from linkage.bynamelist.monthly import check_month

    refuse_over_store(output, db)
    table = overlap(open_store(db), by, check_month(month) if month else None)
    write_text(output, overlap_csv(table))
    click.echo(
        f"wrote the overlap of {len(table.known)} {by} units and {len(table.shared)} pairs "
        f"({table.month}) to {output}"
    )


def _file_name(agency: str) -> str:
    """An agency's name as a file name: letters, digits, dot, dash and underscore."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in agency).strip(".") or "_"


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


COMMANDS: tuple[click.Command, ...] = (bnl,)
