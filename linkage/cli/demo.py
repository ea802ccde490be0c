"""``linkage demo``: a synthetic community's by-name list, end to end, on one machine."""

from __future__ import annotations

from pathlib import Path

import click

from linkage.cli.common import example


@click.command(
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
        from linkage.research.demo_service import run_service_demo

        lines = run_service_demo(out, people, agencies, months, seed, port, keep_serving)
    else:
        from linkage.research.demo import run_demo

        lines = run_demo(out, people=people, agencies=agencies, months=months, seed=seed)
    try:
        for line in lines:
            click.echo(line)
    except KeyboardInterrupt:
        click.echo("service stopped", err=True)


COMMANDS: tuple[click.Command, ...] = (demo,)
