"""The coordinator's batch command: ``match`` links uploaded encodings into entities."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from linkage.cli.common import example

if TYPE_CHECKING:
    from linkage.matching import MatchSummary


@click.command(
    epilog=example(
        "linkage match uploads/*.clk -o results",
        "linkage match febrl-a.clk febrl-b.clk --config configs/febrl.toml --one-to-one -o out",
        "linkage match uploads/*.clk --work-dir /scratch -o results   # filters on disk",
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
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the uploads' filters in files in a folder made here, memory-mapped, instead "
    "of in memory (for uploads larger than memory); the folder is removed when the run ends.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary.")
def match(
    files: tuple[Path, ...],
    config: Path | None,
    one_to_one_mode: bool,
    output: Path,
    work_dir: Path | None,
    quiet: bool,
) -> None:
    """Link and deduplicate the agencies' uploads into entities (people).

    Runs on the coordinator; reads .clk files only. Writes OUTPUT/entities.csv (agency,
    record_id, entity_id for every record), OUTPUT/review.csv (pairs in the review band, for a
    person to decide) and OUTPUT/summary.json.
    """
    from linkage._atomic import refuse_overwrite
    from linkage.matching import OUTPUT_FILES, run_match

    if not files:
        raise click.UsageError("give at least one .clk file")
    for name in OUTPUT_FILES:
        refuse_overwrite(output / name, files, "upload")
    show = not quiet and sys.stderr.isatty()

    def step(message: str) -> None:
        if show:
            click.echo(f"  {message}...", err=True)

    report = run_match(
        list(files),
        output,
        config_path=config,
        one_to_one_mode=one_to_one_mode,
        progress=step,
        work_dir=work_dir,
    )
    if quiet:
        return
    for line in summary_lines(report, output):
        click.echo(line)


def _estimate_lines(report: MatchSummary) -> list[str]:
    guess = report.people_estimate
    if guess is None:
        return []
    return [
        f"  people: {guess['estimate']:,.0f} estimated from the match probabilities, "
        f"{guess['level']:.0%} interval {guess['low']:,.0f} to {guess['high']:,.0f} "
        f"(the {report.entities:,} entities are the best single answer)"
    ]


def summary_lines(report: MatchSummary, output: Path) -> list[str]:
    """The one-screen summary of a match run."""
    total = sum(report.records.values())
    lines = [
        f"matched {total:,} records from {len(report.records)} agencies "
        f"({report.mode} mode) in {report.seconds:.1f}s",
        "  records: " + ", ".join(f"{a} {n:,}" for a, n in report.records.items()),
        f"  candidates: {report.candidates:,} pairs by {report.blocking['method']}"
        + (
            f" ({report.blocking['key_candidates']:,} of them through a specific blocking key "
            "alone)"
            if report.blocking.get("key_candidates")
            else ""
        ),
        f"  entities: {report.entities:,} ({report.multi_record_entities:,} with several records, "
        f"{report.cross_agency_entities:,} seen by several agencies, "
        f"{report.within_agency_duplicates:,} duplicate records within an agency)",
        *_estimate_lines(report),
        f"  links: {report.links:,} automatic; {report.review:,} pairs to review",
    ]
    if "reduction_ratio" in report.blocking:
        lines.append(
            f"  blocking: {report.blocking['comparisons']:,} comparisons, "
            f"reduction ratio {report.blocking['reduction_ratio']:.6f}"
        )
    if report.refused:
        why = ", ".join(f"{n} {r}" for r, n in sorted(report.refused.items()))
        lines.append(f"  merges refused (sent to review): {why}")
    lines.extend(f"warning: {w}" for w in report.warnings)
    lines.append(f"wrote {output / 'entities.csv'}, {output / 'review.csv'}, summary.json")
    return lines


COMMANDS: tuple[click.Command, ...] = (match,)
