"""The coordinator's batch command: ``match`` links uploaded encodings into entities."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from linkage.cli.common import example


@click.command(
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
    from linkage.matching.pipeline import OUTPUT_FILES, run_match, summary_lines

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


COMMANDS: tuple[click.Command, ...] = (match,)
